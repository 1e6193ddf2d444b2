"""Password hashing with argon2id (libsodium through PyNaCl), off the event loop.

Hashes are libsodium's self-describing `$argon2id$…` strings, so parameters can be raised
later without invalidating stored hashes.
"""

from __future__ import annotations

import asyncio

import nacl.exceptions
import nacl.pwhash

# libsodium's "interactive" limits: ~64 MiB and a few tens of milliseconds per hash.
_OPSLIMIT = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE
_MEMLIMIT = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE

# Checked when the user is unknown, so a wrong user costs as much time as a wrong password.
_DUMMY_HASH = nacl.pwhash.argon2id.str(b"not a real password", _OPSLIMIT, _MEMLIMIT)


def _hash(password: str) -> str:
    return nacl.pwhash.argon2id.str(password.encode(), _OPSLIMIT, _MEMLIMIT).decode()


def _verify(stored: bytes, password: str) -> bool:
    try:
        return bool(nacl.pwhash.verify(stored, password.encode()))
    except nacl.exceptions.InvalidkeyError:
        return False


async def hash_password(password: str) -> str:
    """Hash a password in a worker thread."""
    return await asyncio.to_thread(_hash, password)


async def check_password(stored_hash: str | None, password: str) -> bool:
    """Whether `password` matches `stored_hash`; always pays for one argon2 verification."""
    if stored_hash is None:
        await asyncio.to_thread(_verify, _DUMMY_HASH, password)
        return False
    return await asyncio.to_thread(_verify, stored_hash.encode(), password)
