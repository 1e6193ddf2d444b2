"""Media calls of `AsyncClient`: uploads and downloads, in memory or streamed to and from files.

`upload`/`download` move whole byte strings; `upload_file`/`download_to` stream a file of any
size in chunks (see `sdk.transfer`), report progress, and optionally run the bytes through a
`ChunkTransform` — the crypto layer's attachment encryptor or decryptor, which is how encrypted
files stream too. A streamed download lands at its path only once complete and checked.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aiohttp import multipart

from sdk import requests
from sdk.api_base import ClientBase
from sdk.responses import DownloadResponse, parse_upload
from sdk.transfer import ChunkTransform, FileSink, FileSource, Progress

__all__ = ["MediaApi", "SavedMedia"]


@dataclass(frozen=True, slots=True)
class SavedMedia:
    """Media downloaded to a file.

    Attributes:
        path: Where it was written.
        size: Its size in bytes (after the transform, if any).
        content_type: The media type the server gave.
        filename: The file name the server gave, if any.
    """

    path: Path
    size: int
    content_type: str
    filename: str | None


class MediaApi(ClientBase):
    """Media methods (mixed into `AsyncClient`)."""

    async def upload(
        self,
        data: bytes,
        content_type: str = "application/octet-stream",
        filename: str | None = None,
    ) -> str:
        """Upload bytes to the content repository; return the `mxc://` URI."""
        return parse_upload(await self._http.json(requests.upload(data, content_type, filename)))

    async def upload_file(
        self,
        path: str | os.PathLike[str],
        content_type: str | None = None,
        *,
        filename: str | None = None,
        progress: Progress | None = None,
        transform: ChunkTransform | None = None,
    ) -> str:
        """Upload a file, streamed from disk in chunks; return the `mxc://` URI.

        Args:
            path: The file.
            content_type: Its media type; guessed from the name when None.
            filename: The name to give the server; the file's name when None, none if "".
            progress: Called with (bytes sent, total) as the upload proceeds.
            transform: Applied to each chunk before it is sent (attachment encryption).

        Raises:
            OSError: The file cannot be read.
            MatrixRequestError: The server refused (e.g. `TooLargeError`).
        """
        source = FileSource(path, progress=progress, transform=transform)
        name = source.path.name if filename is None else filename
        if content_type is None:
            content_type = mimetypes.guess_type(name or source.path.name)[0]
        request = requests.upload(None, content_type or "application/octet-stream", name or None)
        return parse_upload(await self._http.json(request, source=source))

    async def download(self, mxc_uri: str, *, filename: str | None = None) -> DownloadResponse:
        """Download media into memory through the authenticated endpoint.

        Raises:
            ValueError: `mxc_uri` is not an mxc URI.
            NotFoundError: No such media.
        """
        raw = await self._http.send(requests.download(mxc_uri, filename=filename))
        return DownloadResponse(raw.body, raw.content_type, _filename(raw.headers))

    async def download_to(
        self,
        mxc_uri: str,
        path: str | os.PathLike[str],
        *,
        progress: Progress | None = None,
        transform: ChunkTransform | None = None,
    ) -> SavedMedia:
        """Download media to a file, streamed to disk in chunks.

        The file appears at `path` only once complete (and, with a transform, checked): it is
        written to `<path>.part` and renamed, and the partial file is removed on any failure.

        Args:
            mxc_uri: The media.
            path: Where to write it (replaced if it exists).
            progress: Called with (bytes received, total or None) as the download proceeds.
            transform: Applied to each chunk before it is written (attachment decryption; its
                final check, the ciphertext hash, runs before the file is moved into place).

        Raises:
            ValueError: `mxc_uri` is not an mxc URI.
            NotFoundError: No such media.
            AttachmentHashMismatch: (with the crypto layer's decryptor) the bytes were tampered.
        """
        sink = FileSink(path, progress=progress, transform=transform)
        try:
            raw = await self._http.send(requests.download(mxc_uri), sink=sink)
            await sink.commit()
        except BaseException:
            await sink.abort()
            raise
        return SavedMedia(sink.path, sink.written, raw.content_type, _filename(raw.headers))


def _filename(headers: Mapping[str, str]) -> str | None:
    """The file name of a `Content-Disposition` header, if any."""
    disposition = headers.get("Content-Disposition")
    if not disposition:
        return None
    _, params = multipart.parse_content_disposition(disposition)
    return multipart.content_disposition_filename(params, "filename")
