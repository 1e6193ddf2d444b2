"""Raw-HTTP helpers for the Client-Server API tests: register, log in, answer UIA.

Each helper takes an `aiohttp.ClientSession` and the server's base URL and speaks plain JSON
through `tests.http_client`, so the tests see exactly what a client would.
"""

from __future__ import annotations

import aiohttp

from tests.conftest import serving as serving
from tests.http_client import CLIENT as CLIENT
from tests.http_client import ApiClient
from tests.http_client import JsonBody as JsonBody
from tests.http_client import auth_header as auth_header
from tests.http_client import call as call

# CLIENT, JsonBody, auth_header, call and serving are re-exported for the tests importing them here.

PASSWORD = "correct horse battery staple"


async def register(
    http: aiohttp.ClientSession,
    base: str,
    username: str,
    password: str = PASSWORD,
    **fields: object,
) -> JsonBody:
    """Register `username` through the dummy UIA stage; returns the 200 body."""
    url = f"{base}{CLIENT}/register"
    body: JsonBody = {"username": username, "password": password, **fields}
    status, first = await call(http, "POST", url, body=body)
    assert status == 401, first
    body["auth"] = {"type": "m.login.dummy", "session": first["session"]}
    status, done = await call(http, "POST", url, body=body)
    assert status == 200, done
    return done


async def new_client(http: aiohttp.ClientSession, base: str, username: str) -> ApiClient:
    """Register `username` and return a client for its first device."""
    done = await register(http, base, username)
    return ApiClient(http, base, done["user_id"], done["access_token"], done["device_id"])


async def login(
    http: aiohttp.ClientSession,
    base: str,
    user: str,
    password: str = PASSWORD,
    **fields: object,
) -> JsonBody:
    """Log in with `m.login.password` and an `m.id.user` identifier; returns the 200 body."""
    status, body = await try_login(http, base, user, password, **fields)
    assert status == 200, body
    return body


async def try_login(
    http: aiohttp.ClientSession,
    base: str,
    user: str,
    password: str = PASSWORD,
    **fields: object,
) -> tuple[int, JsonBody]:
    """Attempt a password login; returns the status and body whatever they are."""
    body = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user},
        "password": password,
        **fields,
    }
    return await call(http, "POST", f"{base}{CLIENT}/login", body=body)


async def whoami(http: aiohttp.ClientSession, base: str, token: str) -> tuple[int, JsonBody]:
    """`GET /account/whoami` with `token`."""
    return await call(http, "GET", f"{base}{CLIENT}/account/whoami", token=token)


def password_auth(user: str, session: str, password: str = PASSWORD) -> JsonBody:
    """The `auth` object of an `m.login.password` UIA stage."""
    return {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user},
        "password": password,
        "session": session,
    }


async def with_password_uia(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    token: str,
    user: str,
    body: JsonBody | None = None,
    password: str = PASSWORD,
) -> tuple[int, JsonBody]:
    """Make a request guarded by `m.login.password` UIA: get the 401, then answer it."""
    body = dict(body or {})
    status, challenge = await call(http, method, url, token=token, body=body)
    assert status == 401, challenge
    assert challenge["flows"] == [{"stages": ["m.login.password"]}]
    body["auth"] = password_auth(user, challenge["session"], password)
    return await call(http, method, url, token=token, body=body)
