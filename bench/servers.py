"""Starting and stopping the homeservers under test, each on 127.0.0.1 with a fresh data dir.

Tessera runs from this repository's venv. Synapse runs from a separate venv (created on first
use with `pip install matrix-synapse`), with a generated config edited for the benchmark:
SQLite, a client-only listener on loopback, open registration, rate limits out of the way,
bcrypt rounds lowered (setup speed only), no key servers, WARNING logging (Tessera gets the same).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml

REPO = Path(__file__).resolve().parent.parent
_UNLIMITED = 1_000_000
_READY_SECONDS = 180.0
_STOP_SECONDS = 20.0


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(slots=True)
class ServerProcess:
    """A running homeserver."""

    name: str
    version: str
    base_url: str
    proc: asyncio.subprocess.Process
    log_path: Path
    needs_password: bool

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.proc.pid

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period."""
        if self.proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), _STOP_SECONDS)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()


async def _wait_ready(base_url: str, proc: asyncio.subprocess.Process, log: Path) -> None:
    deadline = time.monotonic() + _READY_SECONDS
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise RuntimeError(f"server exited with {proc.returncode}; see {log}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                url = base_url + "/_matrix/client/versions"
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.25)
    raise RuntimeError(f"server not ready after {_READY_SECONDS:.0f}s; see {log}")


async def _spawn(argv: list[str], cwd: Path, log: Path) -> asyncio.subprocess.Process:
    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            *argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )


def _git_version() -> str:
    def git(*args: str) -> str:
        argv = ["git", *args]
        done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=False)  # noqa: S603
        return done.stdout.strip()

    return git("rev-parse", "--short", "HEAD") + ("-dirty" if git("status", "--porcelain") else "")


@dataclass(frozen=True, slots=True)
class _Launch:
    argv: list[str]
    cwd: Path
    port: int
    log: Path
    version: str


def _prepare_tessera(
    workdir: Path, server_name: str, extra: dict[str, Any], port: int | None
) -> _Launch:
    workdir.mkdir(parents=True, exist_ok=True)
    big = {"per_second": _UNLIMITED, "burst": _UNLIMITED}
    actions = ("login", "login_failures", "registration", "message", "join")
    config = {
        "enable_registration": True,
        "log_level": "WARNING",
        "rate_limits": dict.fromkeys(actions, big),
        **extra,
    }
    cfg = workdir / "tessera.yaml"
    cfg.write_text(yaml.safe_dump(config))
    port = port or free_port()
    argv = [sys.executable, "-m", "homeserver", "serve", "--server-name", server_name]
    argv += ["--bind", "127.0.0.1", "--port", str(port), "--data-dir", str(workdir)]
    argv += ["--database", f"sqlite:///{workdir / 'hs.db'}", "--config", str(cfg)]
    return _Launch(argv, REPO, port, workdir / "server.log", _git_version())


async def _launch(name: str, launch: _Launch, *, needs_password: bool) -> ServerProcess:
    proc = await _spawn(launch.argv, launch.cwd, launch.log)
    base_url = f"http://127.0.0.1:{launch.port}"
    try:
        await _wait_ready(base_url, proc, launch.log)
    except BaseException:
        server = ServerProcess(name, launch.version, base_url, proc, launch.log, needs_password)
        await server.stop()
        raise
    return ServerProcess(name, launch.version, base_url, proc, launch.log, needs_password)


async def start_tessera(
    workdir: Path,
    *,
    server_name: str = "localhost",
    extra_config: dict[str, Any] | None = None,
    port: int | None = None,
) -> ServerProcess:
    """Tessera on `port` (a free one if None) with SQLite in `workdir` and rate limits raised;
    `extra_config` adds top-level config keys (e.g. a `federation` section)."""
    launch = await asyncio.to_thread(
        _prepare_tessera, workdir, server_name, extra_config or {}, port
    )
    return await _launch("tessera", launch, needs_password=False)


def ensure_synapse_venv(venv: Path) -> Path:
    """The venv's python, creating the venv and installing matrix-synapse if needed."""
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import synapse.app.homeserver"]
    if python.exists() and subprocess.run(probe, capture_output=True, check=False).returncode == 0:  # noqa: S603
        return python
    print(f"creating Synapse venv in {venv} (pip install matrix-synapse) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)  # noqa: S603
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True, timeout=600)  # noqa: S603
    subprocess.run([*pip, "matrix-synapse"], check=True, timeout=1800)  # noqa: S603
    return python


def _synapse_config(cfg: dict[str, Any], workdir: Path, port: int, presence: bool) -> None:
    big = {"per_second": _UNLIMITED, "burst_count": _UNLIMITED}
    cfg["database"] = {"name": "sqlite3", "args": {"database": str(workdir / "homeserver.db")}}
    cfg["listeners"] = [
        {
            "port": port,
            "tls": False,
            "type": "http",
            "x_forwarded": False,
            "bind_addresses": ["127.0.0.1"],
            "resources": [{"names": ["client"], "compress": False}],
        }
    ]
    cfg.update(
        enable_registration=True,
        enable_registration_without_verification=True,
        bcrypt_rounds=4,
        report_stats=False,
        trusted_key_servers=[],
        suppress_key_server_warning=True,
        presence={"enabled": presence},
        media_store_path=str(workdir / "media_store"),
        log_config=str(workdir / "log.yaml"),
    )
    for key in ("rc_message", "rc_registration", "rc_joins_per_room", "rc_room_creation"):
        cfg[key] = big
    cfg["rc_login"] = {"address": big, "account": big, "failed_attempts": big}
    cfg["rc_joins"] = {"local": big, "remote": big}
    cfg["rc_invites"] = {"per_room": big, "per_user": big, "per_issuer": big}
    cfg["rc_presence"] = {"per_user": big}


def _synapse_log_config(workdir: Path) -> str:
    return yaml.safe_dump(
        {
            "version": 1,
            "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
            "handlers": {
                "file": {
                    "class": "logging.FileHandler",
                    "formatter": "plain",
                    "filename": str(workdir / "homeserver.log"),
                }
            },
            "root": {"level": "WARNING", "handlers": ["file"]},
            "disable_existing_loggers": False,
        }
    )


def _prepare_synapse(venv: Path, workdir: Path, presence: bool) -> _Launch:
    python = ensure_synapse_venv(venv)
    workdir.mkdir(parents=True, exist_ok=True)
    cfg_path = workdir / "homeserver.yaml"
    generate = [str(python), "-m", "synapse.app.homeserver", "--server-name", "localhost"]
    generate += ["--config-path", str(cfg_path), "--data-directory", str(workdir)]
    generate += ["--generate-config", "--report-stats=no"]
    subprocess.run(generate, cwd=workdir, check=True, capture_output=True, timeout=120)  # noqa: S603
    cfg = yaml.safe_load(cfg_path.read_text())
    port = free_port()
    _synapse_config(cfg, workdir, port, presence)
    cfg_path.write_text(yaml.safe_dump(cfg))
    (workdir / "log.yaml").write_text(_synapse_log_config(workdir))
    probe = [str(python), "-c", "import synapse; print(synapse.__version__)"]
    done = subprocess.run(probe, capture_output=True, text=True, check=True, timeout=60)  # noqa: S603
    version = f"synapse {done.stdout.strip()} (presence {'on' if presence else 'off'})"
    argv = [str(python), "-m", "synapse.app.homeserver", "--config-path", str(cfg_path)]
    return _Launch(argv, workdir, port, workdir / "stdout.log", version)


async def start_synapse(venv: Path, workdir: Path, *, presence: bool) -> ServerProcess:
    """Synapse from `venv` on a free port with SQLite in `workdir`."""
    launch = await asyncio.to_thread(_prepare_synapse, venv, workdir, presence)
    return await _launch("synapse", launch, needs_password=True)
