"""The server's Ed25519 signing key on disk: created on first start, then reused; rotated by
`rotate_signing_key`, which keeps the retired keys' public halves beside it (published as
`old_verify_keys`).

Files are written to a temporary name with mode 0600 and renamed into place, so a crash can
never leave a truncated key behind.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.signing import (
    SigningKey,
    decode_signing_key_file,
    decode_verify_key,
    encode_signing_key_file,
    generate_signing_key,
)
from federation.server_keys import OldVerifyKey


def load_or_create_signing_key(path: Path) -> SigningKey:
    """Read the key at `path`, generating and saving a new one if there is none."""
    if path.exists():
        return decode_signing_key_file(path.read_text(encoding="ascii"))
    key = generate_signing_key()
    _write_private(path, encode_signing_key_file(key) + "\n")
    return key


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path` atomically, readable only by the owner."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def old_keys_file(signing_key_file: Path) -> Path:
    """Where the keys retired by `rotate_signing_key` are kept: beside the signing key."""
    return signing_key_file.with_name(signing_key_file.name + ".old_verify_keys")


def load_old_verify_keys(signing_key_file: Path) -> list[OldVerifyKey]:
    """The retired keys still published under `old_verify_keys` (none before a rotation).

    The file holds one `ed25519 <version> <public key> <expired_ts>` line per key.

    Raises:
        ValueError: If a line is malformed.
    """
    path = old_keys_file(signing_key_file)
    if not path.exists():
        return []
    keys = []
    for line in path.read_text(encoding="ascii").splitlines():
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 4 or not parts[3].isdigit():
            raise ValueError(f"{path}: expected 'ed25519 <version> <key> <expired_ts>' lines")
        verify_key = decode_verify_key(f"{parts[0]}:{parts[1]}", parts[2])
        keys.append(OldVerifyKey(verify_key, int(parts[3])))
    return keys


def rotate_signing_key(signing_key_file: Path, now_ms: int) -> tuple[SigningKey, SigningKey]:
    """Retire the current signing key and start signing with a new one.

    The retired key's public half is appended to `old_keys_file` with `expired_ts = now_ms`,
    so other servers can still check what it signed; then the new key replaces the old one
    in `signing_key_file` (both writes atomic).

    Returns:
        `(old, new)`.
    """
    old = load_or_create_signing_key(signing_key_file)
    new = generate_signing_key()
    while new.version == old.version:
        new = generate_signing_key()
    retired = old_keys_file(signing_key_file)
    previous = retired.read_text(encoding="ascii") if retired.exists() else ""
    line = f"{old.algorithm} {old.version} {old.verify_key.encode()} {now_ms}\n"
    _write_private(retired, previous + line)
    _write_private(signing_key_file, encode_signing_key_file(new) + "\n")
    return old, new
