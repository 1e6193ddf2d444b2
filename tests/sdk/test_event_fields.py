"""The typed fields of `RoomEvent` that bot authors read: body, msgtype, HTML, replies, edits,
threads, media URLs, age and the decrypted flag — and that malformed content never raises."""

from __future__ import annotations

from typing import Any

from sdk.events import RoomEvent, parse_room_event

ROOM = "!room:example.org"


def event(content: dict[str, Any], **extra: Any) -> RoomEvent:
    raw = {
        "event_id": "$ev",
        "type": "m.room.message",
        "sender": "@alice:example.org",
        "origin_server_ts": 1_700_000_000_000,
        "content": content,
        **extra,
    }
    parsed = parse_room_event(raw, ROOM)
    assert parsed is not None
    return parsed


def test_text_message_fields() -> None:
    e = event(
        {
            "msgtype": "m.text",
            "body": "hello",
            "format": "org.matrix.custom.html",
            "formatted_body": "<b>hello</b>",
        },
        unsigned={"age": 1234},
    )
    assert (e.body, e.msgtype, e.formatted_body, e.age) == ("hello", "m.text", "<b>hello</b>", 1234)
    assert (e.sender, e.room_id, e.event_id) == ("@alice:example.org", ROOM, "$ev")
    assert e.origin_server_ts == 1_700_000_000_000
    assert (e.reply_to, e.replaces, e.thread_root, e.url) == (None, None, None, None)
    assert not e.is_edit
    assert not e.decrypted
    assert not e.is_redacted
    assert e.relates_to == {}


def test_reply_edit_and_thread() -> None:
    reply = event(
        {"body": "> quoted\n\nyes", "m.relates_to": {"m.in_reply_to": {"event_id": "$q"}}}
    )
    assert reply.reply_to == "$q"
    assert reply.thread_root is None
    edit = event(
        {
            "msgtype": "m.text",
            "body": "* fixed",
            "m.new_content": {"msgtype": "m.text", "body": "fixed"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": "$orig"},
        }
    )
    assert edit.is_edit
    assert edit.replaces == "$orig"
    assert edit.new_content == {"msgtype": "m.text", "body": "fixed"}
    in_thread = event(
        {
            "body": "in a thread",
            "m.relates_to": {
                "rel_type": "m.thread",
                "event_id": "$root",
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": "$latest"},
            },
        }
    )
    assert in_thread.thread_root == "$root"
    assert in_thread.reply_to is None  # a thread's fallback is not a chosen reply
    real_reply = event(
        {
            "body": "answering in a thread",
            "m.relates_to": {
                "rel_type": "m.thread",
                "event_id": "$root",
                "m.in_reply_to": {"event_id": "$that-one"},
            },
        }
    )
    assert real_reply.reply_to == "$that-one"
    assert not real_reply.is_edit
    assert real_reply.new_content is None


def test_media_fields() -> None:
    image = event(
        {
            "msgtype": "m.image",
            "body": "cat.png",
            "url": "mxc://example.org/cat",
            "info": {"mimetype": "image/png", "size": 2048},
        }
    )
    assert (image.url, image.mimetype, image.size) == ("mxc://example.org/cat", "image/png", 2048)
    assert image.encrypted_file is None
    file_info = {"url": "mxc://example.org/cipher", "v": "v2"}
    attachment = event({"msgtype": "m.file", "body": "a.bin", "file": file_info})
    assert attachment.url == "mxc://example.org/cipher"
    assert attachment.encrypted_file == file_info


def test_decrypted_and_redacted() -> None:
    encrypted = event({"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "..."})
    clear = encrypted.decrypted_view("m.room.message", {"msgtype": "m.text", "body": "psst"})
    assert clear.decrypted
    assert clear.body == "psst"
    assert not encrypted.decrypted
    redacted = event({}, unsigned={"redacted_because": {"type": "m.room.redaction"}})
    assert redacted.is_redacted
    assert redacted.body == ""
    assert redacted.msgtype is None


def test_malformed_content_reads_as_absent() -> None:
    e = event(
        {
            "body": 5,
            "msgtype": ["m.text"],
            "format": "org.matrix.custom.html",
            "formatted_body": None,
            "m.relates_to": "nope",
            "url": 7,
            "file": {"url": 3},
            "info": [],
        },
        unsigned={"age": True},
    )
    assert (e.body, e.msgtype, e.formatted_body, e.relates_to) == ("", None, None, {})
    assert (e.reply_to, e.replaces, e.thread_root, e.url) == (None, None, None, None)
    assert (e.encrypted_file, e.mimetype, e.size, e.age) == (None, None, None, None)
    bad_reply = event({"m.relates_to": {"m.in_reply_to": "$x", "rel_type": "m.replace"}})
    assert bad_reply.reply_to is None
    assert bad_reply.replaces is None
    assert not bad_reply.is_edit
    html_unmarked = event({"body": "x", "formatted_body": "<i>x</i>"})
    assert html_unmarked.formatted_body is None
