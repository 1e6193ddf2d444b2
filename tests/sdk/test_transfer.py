"""Streaming file bodies without a network: `FileSource`/`FileSink` chunking, progress, restarts,
and the attachment encryptor/decryptor streamed through them (same bytes as the whole-file path;
a tampered download never reaches its target path)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sdk.crypto.errors import AttachmentError, AttachmentHashMismatch
from sdk.crypto.protocol.attachments import (
    AttachmentDecryptor,
    AttachmentEncryptor,
    decrypt_attachment,
)
from sdk.transfer import ChunkTransform, FileSink, FileSource

DATA = os.urandom(700_000)


async def collect(source: FileSource) -> bytes:
    return b"".join([chunk async for chunk in source.chunks()])


async def sink_all(sink: FileSink, data: bytes, chunk: int = 100_000) -> None:
    await sink.start(len(data))
    for i in range(0, len(data), chunk):
        await sink.write(data[i : i + chunk])


async def test_file_source_reads_in_chunks_with_progress(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(DATA)
    seen: list[tuple[int, int | None]] = []
    source = FileSource(path, progress=lambda done, total: seen.append((done, total)))
    assert source.size == len(DATA)
    assert await collect(source) == DATA
    assert seen[0] == (0, len(DATA))
    assert seen[-1] == (len(DATA), len(DATA))
    assert len(seen) > 2
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert await collect(source) == DATA  # a second pass (a retry) starts over


async def test_file_sink_appears_only_on_commit(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    seen: list[tuple[int, int | None]] = []
    sink = FileSink(target, progress=lambda done, total: seen.append((done, total)))
    await sink_all(sink, b"stale partial attempt")
    await sink_all(sink, DATA)  # a retry truncates what the first attempt wrote
    assert not target.exists()
    await sink.commit()
    assert target.read_bytes() == DATA
    assert seen[-1] == (len(DATA), len(DATA))
    assert os.listdir(tmp_path) == [target.name]


async def test_file_sink_abort_leaves_nothing(tmp_path: Path) -> None:
    sink = FileSink(tmp_path / "out.bin")
    await sink_all(sink, DATA)
    await sink.abort()
    assert os.listdir(tmp_path) == []


async def test_streamed_encryption_matches_the_spec_format(tmp_path: Path) -> None:
    path = tmp_path / "plain.bin"
    path.write_bytes(DATA)
    encryptor = AttachmentEncryptor()
    with pytest.raises(AttachmentError):
        encryptor.file_info("mxc://example.org/x")  # no complete pass yet
    transform: ChunkTransform = encryptor
    source = FileSource(path, transform=transform)
    first = await collect(source)
    again = await collect(source)  # a retried upload sends the very same ciphertext
    assert first == again
    assert first != DATA
    file_info = encryptor.file_info("mxc://example.org/x")
    assert file_info["v"] == "v2"
    assert decrypt_attachment(first, file_info) == DATA

    target = tmp_path / "decrypted.bin"
    sink = FileSink(target, transform=AttachmentDecryptor(file_info))
    await sink_all(sink, first)
    await sink.commit()
    assert target.read_bytes() == DATA


async def test_tampered_stream_never_reaches_the_target(tmp_path: Path) -> None:
    encryptor = AttachmentEncryptor()
    ciphertext = encryptor.update(DATA)
    encryptor.finish()
    file_info = encryptor.file_info("mxc://example.org/x")
    tampered = bytes([ciphertext[0] ^ 1]) + ciphertext[1:]
    target = tmp_path / "decrypted.bin"
    sink = FileSink(target, transform=AttachmentDecryptor(file_info))
    await sink_all(sink, tampered)
    with pytest.raises(AttachmentHashMismatch):
        await sink.commit()
    assert os.listdir(tmp_path) == []
    with pytest.raises(AttachmentError):
        AttachmentDecryptor({**file_info, "v": "v1"})
