"""The prepared world every fuzz request lands in, the valid example of each request, and health.

`build_world` registers an owner (three devices), another user and a scratch user, and gives the
owner a room the other user joined, a message, an alias, uploaded media, a filter, account data,
a key backup with a session, a push rule and a to-device message waiting, so mutated requests
reach real code rather than a 404. `PARAMS` and `BODIES` are the valid path parameters and request
bodies per endpoint (with `$NAME` placeholders the world fills in); the fuzzers mutate them.
`health` reads everything back afterwards.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import PIL.Image

from tests.fuzz.harness import Answer, Client

CLIENT = "/_matrix/client/v3"
PASSWORD = "fuzz password 1"
BACKUP_ALGORITHM = "m.megolm_backup.v1.curve25519-aes-sha2"

# Parameter values by spec name, and per-endpoint overrides.
PARAMS: dict[str, str] = {
    "userId": "$OWNER",
    "type": "m.fuzz",
    "roomId": "$ROOM",
    "deviceId": "$SPARE_DEVICE",
    "keyName": "displayname",
    "filterId": "$FILTER",
    "roomIdOrAlias": "$ALIAS",
    "eventType": "m.room.message",
    "stateKey": "",
    "eventId": "$EVENT",
    "receiptType": "m.read",
    "roomAlias": "#fuzz-extra:localhost",
    "scope": "global",
    "kind": "override",
    "ruleId": "fuzz.rule",
    "serverName": "localhost",
    "mediaId": "$MEDIA",
    "fileName": "image.png",
    "version": "$BACKUP",
    "sessionId": "fuzzsession",
    "ip": "127.0.0.1",
}
OVERRIDES: dict[str, dict[str, str]] = {
    "send_state": {"eventType": "m.fuzz.state"},
    "get_state_event": {"eventType": "m.fuzz.state"},
    "send_to_device": {"eventType": "m.fuzz.to_device"},
    "upload_to": {"mediaId": "$PENDING_MEDIA"},
    "typing": {"userId": "$OWNER"},
    "leave": {"roomId": "$SIDE_ROOM"},
    "forget": {"roomId": "$SIDE_ROOM"},
}

_UIA = {
    "auth": {
        "type": "m.login.password",
        "password": "wrong",
        "session": "x",
        "identifier": {"type": "m.id.user", "user": "$OWNER"},
    }
}
_SESSION = {
    "first_message_index": 0,
    "forwarded_count": 0,
    "is_verified": False,
    "session_data": {"ephemeral": "e", "ciphertext": "c", "mac": "m"},
}
_FILTER = {
    "room": {"timeline": {"limit": 10, "types": ["m.room.message"]}, "rooms": ["$ROOM"]},
    "event_fields": ["content.body"],
    "presence": {"not_types": ["m.presence"]},
}

# A plausible valid body per endpoint that takes one (the rest are fuzzed from `{}`).
BODIES: dict[str, Any] = {
    "register": {
        "username": "fuzzreg",
        "password": PASSWORD,
        "device_id": "D",
        "initial_device_display_name": "d",
        "inhibit_login": True,
        "auth": {"type": "m.login.dummy"},
    },
    "login": {
        "type": "m.login.password",
        "password": "wrong",
        "device_id": "D",
        "identifier": {"type": "m.id.user", "user": "$OWNER"},
    },
    "refresh": {"refresh_token": "nope"},
    "admin_add_ip_block": {"ip": "192.0.2.1", "reason": "fuzz", "duration_ms": 1000},
    "admin_purge_room_history": {"before_ts": 1},
    "change_password": {"new_password": "x", "logout_devices": False, **_UIA},
    "deactivate": {"erase": False, **_UIA},
    "set_account_data": {"a": [1, "b", {"c": True}], "n": None},
    "set_room_account_data": {"tags": {"u.x": {"order": 1}}},
    "update_device": {"display_name": "phone"},
    "delete_device": _UIA,
    "delete_devices": {"devices": ["$SPARE_DEVICE"], **_UIA},
    "set_profile_field": {"displayname": "Fuzz Owner"},
    "set_presence": {"presence": "online", "status_msg": "fuzzing"},
    "create_filter": _FILTER,
    "create_room": {
        "name": "r",
        "topic": "t",
        "preset": "private_chat",
        "visibility": "private",
        "invite": ["$OTHER"],
        "is_direct": False,
        "room_version": "11",
        "initial_state": [{"type": "m.room.topic", "state_key": "", "content": {"topic": "x"}}],
        "creation_content": {"m.federate": False},
        "power_level_content_override": {"users_default": 0},
    },
    "join": {"reason": "r"},
    "join_room_id": {"reason": "r"},
    "knock": {"reason": "r"},
    "invite": {"user_id": "$OTHER", "reason": "r"},
    "kick": {"user_id": "$SCRATCH", "reason": "r"},
    "ban": {"user_id": "$SCRATCH", "reason": "r"},
    "unban": {"user_id": "$SCRATCH", "reason": "r"},
    "leave": {"reason": "r"},
    "forget": {},
    "send_message": {
        "msgtype": "m.text",
        "body": "hello",
        "format": "org.matrix.custom.html",
        "formatted_body": "<b>hello</b>",
        "m.relates_to": {"rel_type": "m.thread", "event_id": "$EVENT"},
    },
    "send_state": {"a": 1, "b": ["c"], "d": {"e": "f"}},
    "redact": {"reason": "spam"},
    "typing": {"typing": True, "timeout": 30000},
    "receipt": {"thread_id": "main"},
    "read_markers": {"m.fully_read": "$EVENT", "m.read": "$EVENT"},
    "set_alias": {"room_id": "$ROOM"},
    "set_room_visibility": {"visibility": "public"},
    "public_rooms_filtered": {
        "limit": 10,
        "since": "0",
        "filter": {"generic_search_term": "f"},
        "include_all_networks": False,
    },
    "user_directory_search": {"search_term": "fuzz", "limit": 10},
    "search": {
        "search_categories": {
            "room_events": {
                "search_term": "fuzz message",
                "keys": ["content.body", "content.name"],
                "filter": {"limit": 5, "rooms": ["$ROOM"]},
                "order_by": "rank",
                "event_context": {"before_limit": 1, "after_limit": 1, "include_profile": True},
                "include_state": True,
                "groupings": {"group_by": [{"key": "room_id"}, {"key": "sender"}]},
            }
        }
    },
    "set_push_rule": {
        "actions": ["notify", {"set_tweak": "sound", "value": "default"}],
        "conditions": [{"kind": "event_match", "key": "content.body", "pattern": "x*"}],
    },
    "set_push_rule_enabled": {"enabled": True},
    "set_push_rule_actions": {"actions": ["notify"]},
    "keys_upload": {
        "one_time_keys": {"curve25519:AAAA": "a2V5"},
        "fallback_keys": {
            "signed_curve25519:AAAB": {
                "key": "a2V5",
                "fallback": True,
                "signatures": {"$OWNER": {"ed25519:D": "c2ln"}},
            }
        },
    },
    "keys_query": {"device_keys": {"$OWNER": [], "$OTHER": ["D"]}, "timeout": 10000},
    "keys_claim": {"one_time_keys": {"$OWNER": {"$SPARE_DEVICE": "signed_curve25519"}}},
    "keys_device_signing_upload": {
        "master_key": {"user_id": "$OWNER", "usage": ["master"], "keys": {"ed25519:k": "k"}},
        **_UIA,
    },
    "keys_signatures_upload": {
        "$OWNER": {
            "$SPARE_DEVICE": {"user_id": "$OWNER", "device_id": "$SPARE_DEVICE", "signatures": {}}
        }
    },
    "send_to_device": {"messages": {"$OWNER": {"*": {"a": 1, "b": ["c"]}}}},
    "room_keys_version_create": {"algorithm": BACKUP_ALGORITHM, "auth_data": {"public_key": "k"}},
    "room_keys_version_update": {
        "algorithm": BACKUP_ALGORITHM,
        "auth_data": {"public_key": "k"},
        "version": "$BACKUP",
    },
    "room_keys_put": {"rooms": {"$ROOM": {"sessions": {"s2": _SESSION}}}},
    "room_keys_room_put": {"sessions": {"s3": _SESSION}},
    "room_keys_session_put": _SESSION,
}

# Endpoints whose success ends the session or the state the others need: fuzzed last, and with
# the scratch user where they act on the caller.
LAST = ("delete", "leave", "forget", "logout", "deactivate", "kick", "ban")
SCRATCH_CALLER = frozenset({"logout", "logout_all"})


@dataclass
class World:
    """Who and what exists; `values` fills `$NAME` placeholders."""

    values: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    since: dict[str, str] = field(default_factory=dict)
    txn: int = 0

    def fill(self, value: Any) -> Any:
        """`value` with every `$NAME` placeholder (in keys too) replaced."""
        if isinstance(value, str):
            return re.sub(r"\$([A-Z_]+)", lambda m: self.values.get(m.group(1), m.group(0)), value)
        if isinstance(value, list):
            return [self.fill(item) for item in value]
        if isinstance(value, dict):
            return {self.fill(k): self.fill(v) for k, v in value.items()}
        return value

    def params(self, name: str, wanted: tuple[str, ...]) -> dict[str, str]:
        """Valid path parameters for endpoint `name` (a fresh transaction ID each time)."""
        self.txn += 1
        chosen = {**PARAMS, **OVERRIDES.get(name, {}), "txnId": f"fz{self.txn}"}
        return {param: self.fill(chosen[param]) for param in wanted}

    def token_for(self, name: str, client: Client) -> str:
        """The owner's token, or a scratch token (logged in anew if the last one was ended)."""
        if name not in SCRATCH_CALLER:
            return self.tokens["owner"]
        answer = client.request("GET", CLIENT + "/account/whoami", token=self.tokens["scratch"])
        if answer.status != 200:
            self.tokens["scratch"] = login(client, self.values["SCRATCH"])[0]
        return self.tokens["scratch"]


def call(client: Client, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    """A setup request that must succeed; returns the JSON body."""
    data = None if body is None else json.dumps(body).encode()
    answer = client.request(method, path, body=data, token=token)
    assert answer.status == 200, (method, path, answer)
    return answer.json()


def register(client: Client, name: str) -> tuple[str, str, str]:
    """Register `name`; returns its user ID, token and device ID."""
    body = {"username": name, "password": PASSWORD, "auth": {"type": "m.login.dummy"}}
    done = call(client, "POST", CLIENT + "/register", body)
    return done["user_id"], done["access_token"], done["device_id"]


def login(client: Client, user_id: str) -> tuple[str, str]:
    """Log in again as `user_id`; returns a new token and device ID."""
    body = {
        "type": "m.login.password",
        "password": PASSWORD,
        "identifier": {"type": "m.id.user", "user": user_id},
    }
    done = call(client, "POST", CLIENT + "/login", body)
    return done["access_token"], done["device_id"]


def build_world(client: Client) -> World:
    """Register the users and create everything the fuzzed requests refer to."""
    world = World()
    v, t = world.values, world.tokens
    v["OWNER"], t["owner"], v["DEVICE"] = register(client, "fuzzowner")
    t["owner2"], v["DEVICE2"] = login(client, v["OWNER"])
    t["spare"], v["SPARE_DEVICE"] = login(client, v["OWNER"])
    v["OTHER"], t["other"], v["OTHER_DEVICE"] = register(client, "fuzzother")
    v["SCRATCH"], t["scratch"], _ = register(client, "fuzzscratch")
    owner, room_body = t["owner"], {"preset": "public_chat", "room_alias_name": "fuzz"}
    v["ROOM"] = call(client, "POST", CLIENT + "/createRoom", room_body, owner)["room_id"]
    v["SIDE_ROOM"] = call(client, "POST", CLIENT + "/createRoom", {}, owner)["room_id"]
    v["ALIAS"] = "#fuzz:localhost"
    room = f"{CLIENT}/rooms/{_q(v['ROOM'])}"
    for who in ("other", "scratch"):
        call(client, "POST", f"{room}/join", {}, t[who])
    v["EVENT"] = call(
        client,
        "PUT",
        f"{room}/send/m.room.message/setup1",
        {"msgtype": "m.text", "body": "hello"},
        owner,
    )["event_id"]
    call(client, "PUT", f"{room}/state/m.fuzz.state/", {"a": 1}, owner)
    _prepare_stores(client, world)
    return world


def _prepare_stores(client: Client, world: World) -> None:
    v, owner = world.values, world.tokens["owner"]
    user = f"{CLIENT}/user/{_q(v['OWNER'])}"
    v["FILTER"] = call(client, "POST", f"{user}/filter", {}, owner)["filter_id"]
    call(client, "PUT", f"{user}/account_data/m.fuzz", {"a": 1}, owner)
    answer = client.request(
        "POST",
        "/_matrix/media/v3/upload?filename=image.png",
        body=_png(),
        token=owner,
        headers={"Content-Type": "image/png"},
    )
    assert answer.status == 200, answer
    v["MEDIA"] = answer.json()["content_uri"].rsplit("/", 1)[1]
    pending = call(client, "POST", "/_matrix/media/v1/create", {}, owner)["content_uri"]
    v["PENDING_MEDIA"] = pending.rsplit("/", 1)[1]
    backup = {"algorithm": BACKUP_ALGORITHM, "auth_data": {"public_key": "k"}}
    v["BACKUP"] = call(client, "POST", CLIENT + "/room_keys/version", backup, owner)["version"]
    call(
        client,
        "PUT",
        f"{CLIENT}/room_keys/keys/{_q(v['ROOM'])}/fuzzsession?version={v['BACKUP']}",
        _SESSION,
        owner,
    )
    rule = world.fill(BODIES["set_push_rule"])
    call(client, "PUT", f"{CLIENT}/pushrules/global/override/fuzz.rule", rule, owner)
    message = {"messages": {v["OWNER"]: {"*": {"hello": "owner"}}}}
    call(client, "PUT", f"{CLIENT}/sendToDevice/m.fuzz/setup1", message, world.tokens["other"])


def health(client: Client, world: World, *, full: bool = True, initial: bool = False) -> list[str]:
    """Every user's `/sync` and (if `full`) the owner's reads; returns what failed.

    Args:
        client: The fuzz client.
        world: The world whose users and data are read.
        full: Also read the owner's account data, profile, presence, messages, push rules,
            filter and key backup.
        initial: Initial syncs; otherwise each user syncs on from the last health check, which
            returns whatever was stored for them since (cheaper on a busy machine).
    """
    failed = _syncs(client, world, initial)
    if full:
        for label, path in _owner_reads(client, world):
            answer: Answer = client.request("GET", path, token=world.tokens["owner"])
            if answer.status != 200:
                failed.append(f"{label}: GET {path} -> {answer.status} {answer.body[:200]!r}")
    return failed


def _syncs(client: Client, world: World, initial: bool) -> list[str]:
    failed = []
    for who in ("owner", "owner2", "other"):
        path = f"{CLIENT}/sync?timeout=0"
        if not initial and who in world.since:
            path += "&since=" + _q(world.since[who])
        answer = client.request("GET", path, token=world.tokens[who])
        if answer.status != 200:
            failed.append(f"sync as {who}: GET {path} -> {answer.status} {answer.body[:200]!r}")
        else:
            world.since[who] = answer.json()["next_batch"]
    return failed


def _owner_reads(client: Client, world: World) -> list[tuple[str, str]]:
    v, owner = world.values, world.tokens["owner"]
    user = f"{CLIENT}/user/{_q(v['OWNER'])}"
    reads = [
        ("account data", f"{user}/account_data/m.fuzz"),
        ("profile", f"{CLIENT}/profile/{_q(v['OWNER'])}"),
        ("presence", f"{CLIENT}/presence/{_q(v['OWNER'])}/status"),
        ("room messages", f"{CLIENT}/rooms/{_q(v['ROOM'])}/messages?dir=b&limit=50"),
        ("push rules", f"{CLIENT}/pushrules/"),
        ("filter", f"{user}/filter/{v['FILTER']}"),
    ]
    current = client.request("GET", f"{CLIENT}/room_keys/version", token=owner)
    if current.status != 404:  # a fuzzed DELETE may have removed it, legitimately
        version = (current.json() or {}).get("version", v["BACKUP"])
        reads.append(("key backup", f"{CLIENT}/room_keys/keys?version={_q(str(version))}"))
    return reads


def _q(value: str) -> str:
    return quote(value, safe="")


def _png() -> bytes:
    """A small real PNG, so thumbnail requests reach the renderer."""
    out = io.BytesIO()
    PIL.Image.new("RGB", (64, 48), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()
