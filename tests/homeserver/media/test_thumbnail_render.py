"""Thumbnail geometry and rendering, called directly (no server, no worker process)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from homeserver.services.media.render import (
    ImageTooLargeError,
    ThumbnailRefusedError,
    ThumbnailSpec,
    plan,
    render_thumbnails,
)
from tests.homeserver.media import samples

MAX_PIXELS = 40_000_000


@pytest.mark.parametrize(
    ("source", "request_", "method", "size"),
    [
        ((1000, 800), (320, 240), "scale", (320, 256)),
        ((800, 1000), (320, 240), "scale", (320, 400)),
        ((4000, 1000), (320, 240), "scale", (960, 240)),
        ((100, 80), (320, 240), "scale", (100, 80)),
        ((1000, 800), (96, 96), "crop", (96, 96)),
        ((1000, 800), (2000, 1000), "crop", (1000, 500)),
        ((100, 50), (96, 96), "crop", (50, 50)),
        ((1, 1), (32, 32), "crop", (1, 1)),
        ((3, 10000), (32, 32), "scale", (3, 10000)),
    ],
)
def test_plan(
    source: tuple[int, int], request_: tuple[int, int], method: str, size: tuple[int, int]
) -> None:
    geometry = plan(*source, *request_, method)
    assert (geometry.width, geometry.height) == size
    left, top, right, bottom = geometry.box
    assert 0 <= left <= right <= source[0]
    assert 0 <= top <= bottom <= source[1]
    if method == "crop":
        aspect = request_[0] / request_[1]
        assert abs((right - left) / (bottom - top) - aspect) < 0.01


def test_render_several_sizes_at_once() -> None:
    specs = (ThumbnailSpec(32, 32, "crop"), ThumbnailSpec(320, 240, "scale"))
    result = render_thumbnails(samples.png(1000, 800), specs, MAX_PIXELS)
    assert (result.source_width, result.source_height, result.animated_source) == (1000, 800, False)
    sizes = [Image.open(io.BytesIO(t.data)).size for t in result.thumbnails]
    assert sizes == [(32, 32), (320, 256)]
    assert [t.content_type for t in result.thumbnails] == ["image/jpeg", "image/jpeg"]


def test_probe_reads_only_the_header() -> None:
    result = render_thumbnails(samples.jpeg_with_gps(400, 200, orientation=6), (), MAX_PIXELS)
    assert (result.source_width, result.source_height) == (200, 400)  # oriented
    assert result.thumbnails == ()


def test_large_jpeg_is_decoded_at_reduced_scale() -> None:
    image = Image.new("RGB", (4000, 3000), (10, 200, 30))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    result = render_thumbnails(out.getvalue(), (ThumbnailSpec(32, 32, "crop"),), MAX_PIXELS)
    assert Image.open(io.BytesIO(result.thumbnails[0].data)).size == (32, 32)


def test_animated_gif_to_animated_webp() -> None:
    spec = ThumbnailSpec(60, 45, "scale", animated=True)
    result = render_thumbnails(samples.animated_gif(120, 90, frames=4), (spec,), MAX_PIXELS)
    (thumb,) = result.thumbnails
    assert result.animated_source
    assert thumb.animated
    assert thumb.content_type == "image/webp"
    moving = Image.open(io.BytesIO(thumb.data))
    assert getattr(moving, "n_frames", 1) == 4


def test_exif_is_never_copied() -> None:
    spec = ThumbnailSpec(2000, 2000, "scale")  # original size: still re-encoded
    result = render_thumbnails(samples.jpeg_with_gps(), (spec,), MAX_PIXELS)
    thumb = Image.open(io.BytesIO(result.thumbnails[0].data))
    assert thumb.size == (200, 400)
    assert len(thumb.getexif()) == 0


@pytest.mark.parametrize(
    "data",
    [
        samples.decompression_bomb(8000),
        samples.png_header_bomb(),
        samples.png_header_bomb(7000, 7000),
    ],
)
def test_bombs_are_refused_from_the_header(data: bytes) -> None:
    with pytest.raises(ImageTooLargeError):
        render_thumbnails(data, (ThumbnailSpec(32, 32, "crop"),), MAX_PIXELS)


@pytest.mark.parametrize("data", [samples.svg(), samples.wav(), b"", b"\x89PNG\r\n\x1a\ngarbage"])
def test_non_images_are_refused(data: bytes) -> None:
    with pytest.raises(ThumbnailRefusedError):
        render_thumbnails(data, (ThumbnailSpec(32, 32, "crop"),), MAX_PIXELS)


def test_formats_outside_the_list_are_refused() -> None:
    out = io.BytesIO()
    Image.new("RGB", (50, 50)).save(out, "BMP")
    with pytest.raises(ThumbnailRefusedError):
        render_thumbnails(out.getvalue(), (ThumbnailSpec(32, 32, "crop"),), MAX_PIXELS)
