"""A real Synapse on loopback, federating over TLS with the servers of the tests.

Synapse runs from its own venv (`.venv-synapse/`, made by `make synapse` from
`tests/interop/requirements-synapse.txt`) as a subprocess with a config written here:
SQLite, the server name `localhost:<federation port>`, a TLS federation listener presenting a
certificate from the tests' `TestCA` (trusted through `federation_custom_ca_list`), a plain
client listener, loopback taken off its IP blocklist, open registration without verification,
no key servers and rate limits out of the way. `start_synapse` waits until it answers
`/health`; `SynapseServer.stop` ends it.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.signing
import yaml

from tests.federation.tls import IssuedCert, TestCA

REPO = Path(__file__).resolve().parents[2]
SYNAPSE_VENV = REPO / ".venv-synapse"
SYNAPSE_PYTHON = SYNAPSE_VENV / "bin" / "python"
_READY_S = 180.0
_STOP_S = 30.0
_UNLIMITED = 1_000_000


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class SynapseServer:
    """A running Synapse."""

    server_name: str
    url: str
    workdir: Path
    proc: subprocess.Popen[bytes]
    version: str

    @property
    def log_path(self) -> Path:
        """Synapse's own log (INFO and up)."""
        return self.workdir / "homeserver.log"

    def warnings_about(self, text: str) -> list[str]:
        """Synapse's logged warnings and errors so far that mention `text`."""
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [
            line for line in lines if text in line and (" WARNING " in line or " ERROR " in line)
        ]

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period (idempotent)."""
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(_STOP_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _signing_key() -> str:
    """A Synapse signing key file's line: `ed25519 <key version> <unpadded base64 seed>`."""
    seed = bytes(nacl.signing.SigningKey.generate())
    return f"ed25519 a_{secrets.token_hex(2)} {base64.b64encode(seed).decode().rstrip('=')}\n"


def _log_config(workdir: Path) -> dict[str, Any]:
    return {
        "version": 1,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "formatter": "plain",
                "filename": str(workdir / "homeserver.log"),
            }
        },
        "loggers": {"synapse.storage.SQL": {"level": "WARNING"}},
        "root": {"level": "INFO", "handlers": ["file"]},
        "disable_existing_loggers": False,
    }


def _rate_limits() -> dict[str, Any]:
    big = {"per_second": _UNLIMITED, "burst_count": _UNLIMITED}
    limits: dict[str, Any] = dict.fromkeys(
        ("rc_message", "rc_registration", "rc_joins_per_room", "rc_room_creation"), big
    )
    limits["rc_login"] = {"address": big, "account": big, "failed_attempts": big}
    limits["rc_joins"] = {"local": big, "remote": big}
    limits["rc_invites"] = {"per_room": big, "per_user": big, "per_issuer": big}
    limits["rc_presence"] = {"per_user": big}
    limits["rc_federation"] = {
        "window_size": 1000,
        "sleep_limit": _UNLIMITED,
        "sleep_delay": 1,
        "reject_limit": _UNLIMITED,
        "concurrent": _UNLIMITED,
    }
    return limits


def synapse_config(
    workdir: Path, federation_port: int, client_port: int, ca: TestCA, cert: IssuedCert
) -> dict[str, Any]:
    """The homeserver.yaml of a test Synapse named `localhost:<federation_port>`."""
    listener = {"type": "http", "x_forwarded": False, "bind_addresses": ["127.0.0.1"]}
    return {
        "server_name": f"localhost:{federation_port}",
        "report_stats": False,
        "pid_file": str(workdir / "homeserver.pid"),
        "signing_key_path": str(workdir / "signing.key"),
        "macaroon_secret_key": secrets.token_hex(32),
        "form_secret": secrets.token_hex(32),
        "media_store_path": str(workdir / "media_store"),
        "log_config": str(workdir / "log.yaml"),
        "database": {"name": "sqlite3", "args": {"database": str(workdir / "homeserver.db")}},
        "listeners": [
            {
                **listener,
                "port": federation_port,
                "tls": True,
                "resources": [{"names": ["federation"], "compress": False}],
            },
            {
                **listener,
                "port": client_port,
                "tls": False,
                "resources": [{"names": ["client"], "compress": False}],
            },
        ],
        "tls_certificate_path": str(cert.cert_path),
        "tls_private_key_path": str(cert.key_path),
        "federation_verify_certificates": True,
        "federation_custom_ca_list": [str(ca.ca_path)],
        "ip_range_whitelist": ["127.0.0.0/8", "::1/128"],
        "federation_domain_whitelist": None,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "enable_registration": True,
        "enable_registration_without_verification": True,
        "bcrypt_rounds": 4,
        "alias_creation_rules": [{"user_id": "*", "alias": "*", "room_id": "*", "action": "allow"}],
        "room_list_publication_rules": [
            {"user_id": "*", "alias": "*", "room_id": "*", "action": "allow"}
        ],
        "allow_public_rooms_over_federation": True,
        **_rate_limits(),
    }


def _version() -> str:
    probe = [str(SYNAPSE_PYTHON), "-c", "import synapse; print(synapse.__version__)"]
    done = subprocess.run(probe, capture_output=True, text=True, check=True, timeout=120)  # noqa: S603
    return done.stdout.split()[0]


def _healthy(url: str) -> bool:
    health = f"{url}/health"  # plain HTTP on 127.0.0.1
    with (
        contextlib.suppress(urllib.error.URLError, OSError),
        urllib.request.urlopen(health, timeout=5) as resp,  # noqa: S310
    ):
        return bool(resp.status == 200)
    return False


def _wait_ready(server: SynapseServer) -> None:
    # Synapse is a separate process started from a synchronous fixture: poll its /health.
    deadline = time.monotonic() + _READY_S
    while not _healthy(server.url):
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"Synapse exited with {server.proc.returncode}; see {server.workdir}/stdout.log"
            )
        if time.monotonic() > deadline:
            raise RuntimeError(f"Synapse not ready after {_READY_S:.0f} s; see {server.log_path}")
        time.sleep(0.1)


def start_synapse(workdir: Path, ca: TestCA, cert: IssuedCert) -> SynapseServer:
    """Synapse from `.venv-synapse` on free ports with SQLite in `workdir`, once it is ready."""
    if not SYNAPSE_PYTHON.exists():
        raise RuntimeError(f"no Synapse venv at {SYNAPSE_VENV}: run `make synapse` first")
    workdir.mkdir(parents=True, exist_ok=True)
    federation_port, client_port = free_port(), free_port()
    config = synapse_config(workdir, federation_port, client_port, ca, cert)
    (workdir / "signing.key").write_text(_signing_key())
    (workdir / "log.yaml").write_text(yaml.safe_dump(_log_config(workdir)))
    config_path = workdir / "homeserver.yaml"
    config_path.write_text(yaml.safe_dump(config))
    argv = [str(SYNAPSE_PYTHON), "-m", "synapse.app.homeserver", "-c", str(config_path)]
    with (workdir / "stdout.log").open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 (our own venv's python)
            argv, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    server = SynapseServer(
        config["server_name"], f"http://127.0.0.1:{client_port}", workdir, proc, _version()
    )
    try:
        _wait_ready(server)
    except BaseException:
        server.stop()
        raise
    return server
