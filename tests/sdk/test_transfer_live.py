"""Streamed uploads and downloads on a live Tessera (SQLite and PostgreSQL): a file goes up from
disk and comes back to disk in chunks with progress, plain and as an encrypted attachment
between two E2EE bots; a failed download leaves no file behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sdk import Bot, NotFoundError, RoomEvent
from tests.conftest import LiveServer
from tests.sdk.crypto.helpers import peers, sync_all, sync_until
from tests.sdk.helpers import client_factory

DATA = os.urandom(1_500_000)  # several chunks


class Recorder:
    """A progress callback that remembers every report."""

    def __init__(self) -> None:
        self.reports: list[tuple[int, int | None]] = []

    def __call__(self, done: int, total: int | None) -> None:
        self.reports.append((done, total))

    def check(self, size: int) -> None:
        assert len(self.reports) > 2
        done = [d for d, _ in self.reports]
        assert done == sorted(done)
        assert self.reports[-1] == (size, size)


async def test_plain_file_streams_up_and_down(server: LiveServer, tmp_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    source = files / "video.mp4"
    source.write_bytes(DATA)
    async with client_factory(server.url) as make:
        alice = await make("alice")
        sent, received = Recorder(), Recorder()
        uri = await alice.upload_file(source, progress=sent)
        sent.check(len(DATA))
        target = files / "copy.mp4"
        saved = await alice.download_to(uri, target, progress=received)
        received.check(len(DATA))
        assert target.read_bytes() == DATA
        assert (saved.path, saved.size, saved.content_type) == (target, len(DATA), "video/mp4")
        assert saved.filename == "video.mp4"
        assert (await alice.download(uri)).body == DATA

        missing = files / "missing.bin"
        with pytest.raises(NotFoundError):
            await alice.download_to("mxc://localhost/doesnotexist", missing)
        assert sorted(p.name for p in files.iterdir()) == ["copy.mp4", "video.mp4"]


async def test_encrypted_attachment_streams(server: LiveServer, tmp_path: Path) -> None:
    source = tmp_path / "report.pdf"
    source.write_bytes(DATA)
    async with peers(server.url) as make:
        alice, bob = await make("alice"), await make("bob")
        room_id = await alice.client.create_room(invite=[bob.user_id], encrypted=True)
        await sync_all(bob)
        await bob.client.join(room_id)
        await sync_all(alice, bob)
        sent = Recorder()
        await Bot(alice.client).send_file(room_id, source, progress=sent)
        sent.check(len(DATA))

        def files() -> list[RoomEvent]:
            return [e for e in bob.events if e.msgtype == "m.file" and e.decrypted]

        await sync_until([alice, bob], lambda: bool(files()))
        (event,) = files()
        assert event.body == "report.pdf"
        assert event.mimetype == "application/pdf"
        assert event.size == len(DATA)
        assert event.encrypted_file is not None
        assert "url" not in event.content
        stored = await bob.client.download(event.url or "")
        assert stored.body != DATA  # the server holds ciphertext only
        assert stored.content_type == "application/octet-stream"

        received = Recorder()
        target = tmp_path / "received.pdf"
        saved = await Bot(bob.client).download_to(event, target, progress=received)
        received.check(len(DATA))
        assert target.read_bytes() == DATA
        assert saved.size == len(DATA)
        assert await Bot(bob.client).download_file(event) == DATA
