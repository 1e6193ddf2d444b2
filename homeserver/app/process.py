"""The server process's life: start-up, serving until SIGINT or SIGTERM, and a short shutdown.

Start-up failures an operator can fix (the port is taken, the data directory is not writable,
the database is unreachable) become one `StartupError` whose message says what could not be
done and why on one line; the command line prints it and exits with status 2, as for a
configuration error. "listening" is logged only once migrations have run and the socket is
bound. At shutdown the `/sync` long-polls are ended first (see `contexts.end_long_polls`), then
requests still in flight get at most `SHUTDOWN_GRACE_S` before they are cancelled.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from aiohttp import web

from homeserver.app.federation_listener import federation_site
from homeserver.config import Config

logger = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 5.0

# Failures of the machine around the server (files, sockets, the database server), as opposed
# to bugs, which keep their traceback.
_ENVIRONMENT_ERRORS = (OSError, sqlite3.Error, asyncpg.PostgresError, asyncpg.InterfaceError)


class StartupError(Exception):
    """The server could not start; the message says why, on one line."""


@contextmanager
def startup_step(what: str) -> Iterator[None]:
    """Turn an environment failure while doing `what` into `StartupError("cannot WHAT: WHY")`."""
    try:
        yield
    except _ENVIRONMENT_ERRORS as exc:
        raise StartupError(f"cannot {what}: {_reason(exc)}") from exc


def safe_database_url(url: str) -> str:
    """`url` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    netloc += f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=netloc))


async def serve(runner: web.AppRunner, config: Config) -> None:
    """Start `runner`'s app, listen on the configured address, and serve until a signal.

    Raises:
        StartupError: Storage could not be opened or the address could not be bound.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    received: list[str] = []

    def on_signal(signum: signal.Signals) -> None:
        received.append(signum.name)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    serving = False
    try:
        with startup_step("start"):
            await runner.setup()  # opens storage and runs the migrations
        with startup_step(f"listen on {config.bind}:{config.port}"):
            await web.TCPSite(runner, config.bind, config.port).start()
        fed = config.federation
        site = federation_site(runner, config)
        if site is not None:
            with startup_step(f"listen for federation on {fed.bind}:{fed.port}"):
                await site.start()
            logger.info("federation listening url=https://%s:%s/", fed.bind, fed.port)
        serving = True
        logger.info("listening url=http://%s:%s/", config.bind, config.port)
        await stop.wait()
        logger.info("stopping signal=%s", received[0] if received else "unknown")
    finally:
        started = loop.time()
        await runner.cleanup()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        if serving:
            logger.info("stopped shutdown_s=%.2f", loop.time() - started)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno is not None and exc.errno in errno.errorcode:
        text = os.strerror(exc.errno)
        if exc.filename is not None:
            text += f": {os.fsdecode(exc.filename)}"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())
