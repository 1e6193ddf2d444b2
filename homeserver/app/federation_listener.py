"""The TLS listener for other servers: a second site of the same runner on `federation.port`.

It runs when federation is enabled with a certificate and key; without them (a reverse proxy
terminating TLS in front) the federation routes are served on the client listener only. The
certificate files were checked when the configuration was loaded; they are read again here,
so a certificate renewed on disk is picked up by a restart.
"""

from __future__ import annotations

import socket
import ssl

from aiohttp import web

from homeserver.config import Config
from homeserver.config_federation import FederationConfig

__all__ = ["federation_site", "federation_ssl_context"]


def federation_ssl_context(federation: FederationConfig) -> ssl.SSLContext:
    """The server-side TLS context presenting the configured certificate chain.

    Raises:
        ValueError: If no certificate is configured.
        OSError: If the files cannot be read (ssl.SSLError if they do not match).
    """
    cert, key = federation.tls_certificate_path, federation.tls_private_key_path
    if cert is None or key is None:
        raise ValueError("federation has no TLS certificate configured")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


def federation_site(
    runner: web.BaseRunner, config: Config, sock: socket.socket | None = None
) -> web.BaseSite | None:
    """The federation listener's site (not started), or None when there is none to run.

    Args:
        runner: The set-up runner of the app.
        config: The server's configuration.
        sock: A bound socket to serve on instead of `federation.bind`/`port` (tests).
    """
    federation = config.federation
    if not federation.enabled or not federation.tls:
        return None
    context = federation_ssl_context(federation)
    if sock is not None:
        return web.SockSite(runner, sock, ssl_context=context)
    return web.TCPSite(runner, federation.bind, federation.port, ssl_context=context)
