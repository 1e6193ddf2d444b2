"""Thumbnail rendering with Pillow: pure functions that run in worker processes.

Nothing here touches the event loop, the database or the disk: `render_thumbnails` takes the
source bytes and returns encoded thumbnails, so it can run in a process pool, isolated from the
server (a decoder crash or memory blow-up kills a worker, not the homeserver).

Invariants, per the spec's "Thumbnails" section and the media issue:
- Only JPEG, PNG (and APNG), GIF and WebP are decoded; Pillow is told so (`formats=`), so a
  file claiming `image/png` is never handed to another decoder. SVG and anything else is refused
  before Pillow sees it.
- Decompression bombs are refused from the header alone: more than `max_pixels` pixels (per
  frame, and `max_pixels * 4` over all frames of an animation) raises `ImageTooLargeError`
  before any pixel is decoded; workers also set `Image.MAX_IMAGE_PIXELS` and turn Pillow's bomb
  warning into an error.
- Never upscaled; EXIF orientation is applied (`ImageOps.exif_transpose`) and no metadata
  (EXIF with GPS, XMP, ICC, comments) is copied into a thumbnail.
- `crop` yields exactly the requested aspect ratio; `scale` keeps the source's aspect and covers
  the requested box (both sides at least as large as asked), as far as the source allows.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageOps, ImageSequence

__all__ = [
    "THUMBNAILABLE_TYPES",
    "Geometry",
    "ImageTooLargeError",
    "RenderResult",
    "RenderedThumbnail",
    "ThumbnailRefusedError",
    "ThumbnailSpec",
    "configure_worker",
    "plan",
    "render_thumbnails",
]

THUMBNAILABLE_TYPES = frozenset(
    {"image/jpeg", "image/jpg", "image/pjpeg", "image/png", "image/apng", "image/gif", "image/webp"}
)
_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")
_MAX_FRAMES = 500
_JPEG_QUALITY = 80
_ORIENTATION_TAG = 0x0112
_SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})


class ThumbnailRefusedError(Exception):
    """The content cannot be thumbnailed (not a supported image, or corrupt)."""


class ImageTooLargeError(ThumbnailRefusedError):
    """The image has too many pixels to decode safely."""


@dataclass(frozen=True, slots=True)
class ThumbnailSpec:
    """A requested thumbnail: the minimum box the client wants and how to fit the image."""

    width: int
    height: int
    method: str
    animated: bool = False

    @classmethod
    def parse(cls, text: str) -> ThumbnailSpec:
        """A spec from its config form, `"WIDTHxHEIGHT crop"` or `"WIDTHxHEIGHT scale"`."""
        size, method = text.split()
        width, height = size.split("x")
        return cls(int(width), int(height), method)


@dataclass(frozen=True, slots=True)
class Geometry:
    """Output size and the region of the (oriented) source it shows, in source pixels."""

    width: int
    height: int
    box: tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class RenderedThumbnail:
    """One encoded thumbnail."""

    spec: ThumbnailSpec
    width: int
    height: int
    animated: bool
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class RenderResult:
    """The oriented source size, whether it is animated, and the thumbnails asked for."""

    source_width: int
    source_height: int
    animated_source: bool
    thumbnails: tuple[RenderedThumbnail, ...]


def plan(src_w: int, src_h: int, spec_w: int, spec_h: int, method: str) -> Geometry:
    """The output size and source region of a thumbnail, never larger than the source.

    Args:
        src_w: Source width after orientation.
        src_h: Source height after orientation.
        spec_w: Requested width (at least 1).
        spec_h: Requested height (at least 1).
        method: `crop` or `scale`.
    """
    if method == "crop":
        # The largest centred region with the requested aspect ratio, shrunk to the request.
        aspect = spec_w / spec_h
        box_w, box_h = (
            (src_h * aspect, float(src_h))
            if src_w / src_h > aspect
            else (
                float(src_w),
                src_w / aspect,
            )
        )
        factor = min(1.0, max(spec_w / box_w, spec_h / box_h))
        width = max(1, min(src_w, round(box_w * factor)))
        height = max(1, min(src_h, round(box_h * factor)))
        left, top = (src_w - box_w) / 2, (src_h - box_h) / 2
        return Geometry(width, height, (left, top, left + box_w, top + box_h))
    factor = min(1.0, max(spec_w / src_w, spec_h / src_h))
    width = max(1, min(src_w, math.ceil(src_w * factor - 1e-9)))
    height = max(1, min(src_h, math.ceil(src_h * factor - 1e-9)))
    return Geometry(width, height, (0.0, 0.0, float(src_w), float(src_h)))


def configure_worker(max_pixels: int) -> None:
    """Process-pool initializer: Pillow's own bomb guard at our limit, and as an error."""
    Image.MAX_IMAGE_PIXELS = max_pixels
    warnings.simplefilter("error", Image.DecompressionBombWarning)


def render_thumbnails(data: bytes, specs: Sequence[ThumbnailSpec], max_pixels: int) -> RenderResult:
    """Decode `data` (JPEG, PNG, GIF or WebP) and encode one thumbnail per spec.

    With no specs this only reads the header: the source's size and whether it is animated.

    Raises:
        ImageTooLargeError: Too many pixels (a decompression bomb, or just too big).
        ThumbnailRefusedError: Not a supported image, or undecodable.
    """
    try:
        with Image.open(io.BytesIO(data), formats=_FORMATS) as image:
            return _render(image, specs, max_pixels)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLargeError("image has too many pixels") from exc
    except ThumbnailRefusedError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise ThumbnailRefusedError("cannot decode image") from exc


def _render(image: Image.Image, specs: Sequence[ThumbnailSpec], max_pixels: int) -> RenderResult:
    raw_w, raw_h = image.size
    if raw_w < 1 or raw_h < 1 or raw_w * raw_h > max_pixels:
        raise ImageTooLargeError("image has too many pixels")
    frames = int(getattr(image, "n_frames", 1))
    animated = frames > 1
    orientation = int(image.getexif().get(_ORIENTATION_TAG, 1))
    src_w, src_h = (raw_h, raw_w) if orientation in _SWAPPING_ORIENTATIONS else (raw_w, raw_h)
    plans = [(spec, plan(src_w, src_h, spec.width, spec.height, spec.method)) for spec in specs]
    can_animate = (
        animated
        and orientation == 1  # frames are resized unrotated
        and frames <= _MAX_FRAMES
        and frames * raw_w * raw_h <= 4 * max_pixels
    )
    rendered: list[RenderedThumbnail] = []
    static: Image.Image | None = None
    for spec, geometry in plans:
        if spec.animated and can_animate:
            rendered.append(_animated(image, spec, geometry))
            continue
        if static is None:
            static = _load_static(image, [g for s, g in plans if not (s.animated and can_animate)])
        rendered.append(_static(static, spec, geometry, src_w))
    return RenderResult(src_w, src_h, animated, tuple(rendered))


def _load_static(image: Image.Image, plans: Sequence[Geometry]) -> Image.Image:
    """The first frame, oriented, in RGB or RGBA; JPEGs decoded at a reduced scale if enough."""
    image.seek(0)
    if image.format == "JPEG" and plans:
        # DCT scaling: decode at 1/2, 1/4 or 1/8 when the largest thumbnail still fits.
        need_w = max(g.width * image.width / max(g.box[2] - g.box[0], 1.0) for g in plans)
        need_h = max(g.height * image.height / max(g.box[3] - g.box[1], 1.0) for g in plans)
        need = (math.ceil(max(need_w, need_h)),) * 2
        image.draft("RGB", need)
    loaded = ImageOps.exif_transpose(image)
    has_alpha = loaded.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        loaded.mode == "P" and "transparency" in loaded.info
    )
    converted = loaded.convert("RGBA" if has_alpha else "RGB")
    converted.info = {}
    return converted


def _static(
    source: Image.Image, spec: ThumbnailSpec, geometry: Geometry, src_w: int
) -> RenderedThumbnail:
    scale = source.width / src_w  # the decoder may have reduced the image (JPEG draft)
    left, top, right, bottom = geometry.box
    box = (left * scale, top * scale, right * scale, bottom * scale)
    thumb = source.resize((geometry.width, geometry.height), Image.Resampling.LANCZOS, box=box)
    thumb.info = {}
    out = io.BytesIO()
    if thumb.mode == "RGBA":
        thumb.save(out, "PNG", optimize=False)
        content_type = "image/png"
    else:
        thumb.save(out, "JPEG", quality=_JPEG_QUALITY)
        content_type = "image/jpeg"
    return RenderedThumbnail(
        spec, geometry.width, geometry.height, False, content_type, out.getvalue()
    )


def _animated(image: Image.Image, spec: ThumbnailSpec, geometry: Geometry) -> RenderedThumbnail:
    """An animated WebP, as the spec prefers for animated thumbnails."""
    frames: list[Image.Image] = []
    durations: list[int] = []
    for frame in ImageSequence.Iterator(image):
        durations.append(int(frame.info.get("duration", 100)) or 100)
        resized = frame.convert("RGBA").resize(
            (geometry.width, geometry.height), Image.Resampling.LANCZOS, box=geometry.box
        )
        resized.info = {}
        frames.append(resized)
    out = io.BytesIO()
    frames[0].save(
        out,
        "WEBP",
        save_all=True,
        append_images=frames[1:],
        duration=durations,
        loop=0,
        quality=_JPEG_QUALITY,
    )
    return RenderedThumbnail(
        spec, geometry.width, geometry.height, True, "image/webp", out.getvalue()
    )
