"""Jobs the command line runs against the database without serving: accounts and registration
tokens. Each opens the configured database (migrating it like the server would) and closes it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from core.errors import M_FORBIDDEN, M_INVALID_USERNAME, MatrixError
from core.identifiers import parse_server_name, parse_user_id, server_name_of
from homeserver.app.contexts import at_rest_settings
from homeserver.app.wiring import build_services
from homeserver.clock import SystemClock
from homeserver.config import Config, ConfigError
from homeserver.keyfile import load_or_create_signing_key
from homeserver.services.accounts.registration_tokens import RegistrationTokenService, TokenStatus
from homeserver.storage.accounts.ui_auth import RegistrationToken
from homeserver.storage.at_rest import DatabaseKeyError
from homeserver.storage.factory import Stores, open_stores


@asynccontextmanager
async def _opened(config: Config) -> AsyncIterator[Stores]:
    try:
        stores = await open_stores(config.database_url, at_rest=at_rest_settings(config))
    except DatabaseKeyError as exc:
        raise ConfigError(f"cannot unlock the database: {exc}") from exc
    try:
        yield stores
    finally:
        await stores.close()


async def register_user_cli(config: Config, name: str, password: str | None, admin: bool) -> str:
    """Create an account from the shell; returns its user ID.

    Args:
        config: The server's configuration (database, server name).
        name: A localpart, or a full user ID on this server.
        password: The password, or None for an account that cannot log in with one.
        admin: Whether the account is a server admin.

    Raises:
        MatrixError: The name is a user ID of another server or invalid, or it is taken.
    """
    localpart = local_name(name, config.server_name)
    async with _opened(config) as stores:
        key = load_or_create_signing_key(config.signing_key_file)
        services = build_services(config, stores, SystemClock(), key)
        return await services.accounts.create_user(localpart, password, admin=admin)


def local_name(name: str, server_name: str) -> str:
    """The localpart of `name`: a localpart as given, or a user ID's if it is on `server_name`.

    Raises:
        MatrixError: `name` is not a valid user ID, or one of another server.
    """
    if not name.startswith("@"):
        return name
    try:
        user_id = parse_user_id(name)
    except ValueError as exc:
        raise MatrixError(M_INVALID_USERNAME, f"{name!r} is not a valid user ID") from exc
    if server_name_of(user_id) != parse_server_name(server_name):
        raise MatrixError(
            M_FORBIDDEN,
            f"{name} belongs to another server; this server's users end in :{server_name}",
        )
    return user_id[1:].partition(":")[0]


async def create_registration_token_cli(
    config: Config, *, uses_allowed: int | None, expires_in_ms: int | None, token: str | None
) -> RegistrationToken:
    """Issue a registration token (random unless `token` is given)."""
    async with _opened(config) as stores:
        service = RegistrationTokenService(stores.ui_auth, SystemClock())
        return await service.create(
            uses_allowed=uses_allowed, expires_in_ms=expires_in_ms, token=token
        )


async def list_registration_tokens_cli(config: Config) -> list[TokenStatus]:
    """Every registration token with whether it is usable now."""
    async with _opened(config) as stores:
        return await RegistrationTokenService(stores.ui_auth, SystemClock()).list_tokens()


async def delete_registration_token_cli(config: Config, token: str) -> bool:
    """Delete a registration token; False if there was none."""
    async with _opened(config) as stores:
        return await RegistrationTokenService(stores.ui_auth, SystemClock()).delete(token)
