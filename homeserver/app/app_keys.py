"""Keys of the values the app stores on its `web.Application`."""

from __future__ import annotations

from aiohttp import web

from core.signing import SigningKey
from homeserver.clock import Clock
from homeserver.config import Config
from homeserver.storage.factory import Stores

STORES = web.AppKey("stores", Stores)
CONFIG = web.AppKey("config", Config)
SIGNING_KEY = web.AppKey("signing_key", SigningKey)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
