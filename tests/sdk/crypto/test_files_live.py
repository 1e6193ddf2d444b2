"""Signed encrypted files between SDK clients on a live Tessera: the round trip, trust levels,
and refusal of tampered files, forged signatures and mismatched claims."""

from __future__ import annotations

import copy

import pytest

from sdk import requests
from sdk.crypto.errors import AttachmentHashMismatch, FileSignatureInvalid, UnsignedFile
from sdk.crypto.protocol.attachments import encrypt_attachment
from sdk.crypto.protocol.signed_files import SIGNED_FILE_KEY, FileTrust
from sdk.events import RoomEvent
from tests.conftest import LiveServer
from tests.sdk.crypto.helpers import Peer, peers, sync_all, sync_until

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40


async def _room(alice: Peer, bob: Peer, *, encrypted: bool = True) -> str:
    room_id = await alice.client.create_room(invite=[bob.user_id], encrypted=encrypted)
    await sync_all(bob)
    await bob.client.join(room_id)
    await sync_all(alice, bob)
    return room_id


def _file_event(peer: Peer, name: str) -> RoomEvent:
    return next(
        e for e in peer.events if e.type == "m.room.message" and e.content.get("body") == name
    )


async def _send_raw(peer: Peer, room_id: str, content: dict[str, object]) -> None:
    """Send an event as a tampering client or server would, encrypted but unchecked."""
    encrypted = await peer.e2ee.encrypt(room_id, "m.room.message", content)
    await peer.client.request_json(
        requests.send_message(room_id, "m.room.encrypted", peer.client.new_txn_id(), encrypted)
    )


async def test_signed_encrypted_file_round_trip(server: LiveServer) -> None:
    async with peers(server.url) as make:
        alice, bob = await make("alice"), await make("bob")
        room_id = await _room(alice, bob)
        await alice.e2ee.send_file(room_id, PDF, filename="report.pdf", mimetype="application/pdf")
        await sync_until(
            [alice, bob], lambda: any(e.content.get("body") == "report.pdf" for e in bob.events)
        )
        event = _file_event(bob, "report.pdf")
        assert event.encrypted is not None
        assert event.content["msgtype"] == "m.file"
        file_info = event.content["file"]
        assert file_info["v"] == "v2"
        assert file_info["key"]["alg"] == "A256CTR"
        assert "url" not in event.content
        # The server holds only the ciphertext.
        stored = (await bob.client.download(file_info["url"])).body
        assert stored != PDF
        assert b"%PDF" not in stored

        downloaded = await bob.e2ee.download_file(event)
        assert downloaded.data == PDF
        assert downloaded.trust is FileTrust.UNVERIFIED_DEVICE
        assert (downloaded.device_id, downloaded.mimetype, downloaded.filename) == (
            alice.device_id,
            "application/pdf",
            "report.pdf",
        )
        await bob.e2ee.verify_device(alice.user_id, alice.device_id, alice.e2ee.ed25519)
        assert (await bob.e2ee.download_file(event)).trust is FileTrust.VERIFIED


async def test_signed_file_in_an_unencrypted_room(server: LiveServer) -> None:
    async with peers(server.url) as make:
        alice, bob = await make("alice"), await make("bob")
        room_id = await _room(alice, bob, encrypted=False)
        await alice.e2ee.send_file(
            room_id, b"plain text file", filename="notes.txt", mimetype="text/plain"
        )
        await sync_until(
            [alice, bob], lambda: any(e.content.get("body") == "notes.txt" for e in bob.events)
        )
        event = _file_event(bob, "notes.txt")
        assert "url" in event.content
        assert SIGNED_FILE_KEY in event.content
        downloaded = await bob.e2ee.download_file(event)
        assert downloaded.data == b"plain text file"
        assert downloaded.trust is FileTrust.UNVERIFIED_DEVICE


async def test_tampered_files_and_forged_signatures_are_refused(server: LiveServer) -> None:
    async with peers(server.url) as make:
        alice, bob = await make("alice"), await make("bob")
        room_id = await _room(alice, bob)
        await alice.e2ee.send_file(
            room_id, PDF, filename="original.pdf", mimetype="application/pdf"
        )
        await sync_until(
            [alice, bob], lambda: any(e.content.get("body") == "original.pdf" for e in bob.events)
        )
        genuine = _file_event(bob, "original.pdf").content

        # 1. Other bytes behind the same event metadata: the ciphertext hash catches it.
        swapped = encrypt_attachment(b"malware")
        uri = await alice.client.upload(swapped.ciphertext, "application/octet-stream")
        content = copy.deepcopy(genuine)
        content["file"]["url"], content["body"] = uri, "swapped.pdf"
        await _send_raw(alice, room_id, content)
        # 2. A consistently re-encrypted different file under the original signature.
        other = encrypt_attachment(PDF[:-1] + b"!")
        uri = await alice.client.upload(other.ciphertext, "application/octet-stream")
        content = copy.deepcopy(genuine)
        content["file"], content["body"] = other.file_info(uri), "reencrypted.pdf"
        await _send_raw(alice, room_id, content)
        # 3. A forged signature and 4. claims edited after signing.
        content = copy.deepcopy(genuine)
        content["body"] = "forged.pdf"
        claims = content[SIGNED_FILE_KEY]
        claims["signatures"][alice.user_id][f"ed25519:{alice.device_id}"] = "A" * 86
        await _send_raw(alice, room_id, content)
        content = copy.deepcopy(genuine)
        content["body"] = "relabelled.pdf"
        content["info"]["mimetype"] = content[SIGNED_FILE_KEY]["signed"]["mimetype"] = "text/html"
        await _send_raw(alice, room_id, content)
        # 5. No signature at all.
        content = copy.deepcopy(genuine)
        content["body"] = "unsigned.pdf"
        del content[SIGNED_FILE_KEY]
        await _send_raw(alice, room_id, content)

        names = ["swapped.pdf", "reencrypted.pdf", "forged.pdf", "relabelled.pdf", "unsigned.pdf"]
        await sync_until(
            [alice, bob],
            lambda: all(any(e.content.get("body") == n for e in bob.events) for n in names),
        )
        with pytest.raises(AttachmentHashMismatch):
            await bob.e2ee.download_file(_file_event(bob, "swapped.pdf"))
        with pytest.raises(AttachmentHashMismatch):
            await bob.e2ee.download_file(_file_event(bob, "reencrypted.pdf"))
        with pytest.raises(FileSignatureInvalid, match="does not verify"):
            await bob.e2ee.download_file(_file_event(bob, "forged.pdf"))
        with pytest.raises(FileSignatureInvalid, match="does not verify"):
            await bob.e2ee.download_file(_file_event(bob, "relabelled.pdf"))
        unsigned = await bob.e2ee.download_file(_file_event(bob, "unsigned.pdf"))
        assert unsigned.trust is FileTrust.UNSIGNED
        assert unsigned.data == PDF
        with pytest.raises(UnsignedFile):
            await bob.e2ee.download_file(_file_event(bob, "unsigned.pdf"), require_signature=True)
