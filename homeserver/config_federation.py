"""The `federation:` section of the configuration (see `example_config.yaml`).

Checked like every other section by `config_loader` (field checks in metadata, rules spanning
fields in `_config_problem`), so each problem is one line naming the dotted key. Files are
checked at load time, not at first use: a certificate that does not parse, a private key that
cannot be read or does not match the certificate, or a CA bundle without certificates stops
start-up before anything listens.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Final, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from core.identifiers import parse_server_name
from core.signing import decode_verify_key
from federation.ip_policy import parse_ranges

__all__ = ["FederationConfig", "TrustedKeyServer"]

_T = TypeVar("_T")
_V = TypeVar("_V")

# The metadata key `config_loader` reads field checks from (the same as `config.CHECK_KEY`,
# repeated because `config` imports this module).
CHECK_KEY: Final = "tessera.config.check"
EMPTY_MAP: Final[Mapping[str, str]] = MappingProxyType({})


def _runner(check: Callable[[_V], object]) -> Callable[[_V], _V]:
    def run(value: _V) -> _V:
        check(value)
        return value

    return run


def _check(check: Callable[[_V], object], default: _T) -> _T:
    """A field with `default` whose values (each item, for tuples) must pass `check`."""
    return field(default=default, metadata={CHECK_KEY: _runner(check)})


def _empty_map() -> Mapping[str, str]:
    return EMPTY_MAP


def _check_map(check: Callable[[Mapping[str, str]], object]) -> Mapping[str, str]:
    """An empty-by-default mapping field whose values must pass `check`."""
    return field(default_factory=_empty_map, metadata={CHECK_KEY: _runner(check)})


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ValueError("file not found") from None
    except OSError as exc:
        raise ValueError(f"cannot read the file ({exc.strerror})") from None


def _certificate(path: Path) -> None:
    data = _read(path)
    try:
        x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise ValueError(f"not a PEM certificate chain: {exc}") from None


def _private_key(path: Path) -> None:
    data = _read(path)
    try:
        load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not an unencrypted PEM private key: {exc}") from None


def _ca_bundle(path: Path) -> None:
    _read(path)
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(f"not a PEM bundle of CA certificates: {exc}") from None


def _range(value: str) -> None:
    parse_ranges([value])


def _host_port(value: str) -> None:
    parse_server_name(value)


def _positive(value: float) -> None:
    if value <= 0:
        raise ValueError("must be greater than 0")


def _port(value: int) -> None:
    if not 1 <= value <= 65535:
        raise ValueError("must be between 1 and 65535")


def _pinned_keys(value: Mapping[str, str]) -> None:
    for key_id, key in value.items():
        decode_verify_key(key_id, key)


def _overrides(value: Mapping[str, str]) -> None:
    for name, target in value.items():
        parse_server_name(name)
        host = parse_server_name(target)
        if not host.rpartition(":")[2].isdigit() or host.endswith("]"):
            raise ValueError(f"each server name must map to host:port ({name} does not)")


@dataclass(frozen=True, slots=True)
class TrustedKeyServer:
    """A notary asked for keys a server cannot give itself.

    Attributes:
        server_name: The notary's server name.
        verify_keys: Its pinned keys, `{"ed25519:auto": "<unpadded base64>"}`; empty to
            fetch them from the notary itself.
    """

    server_name: str = _check(_host_port, "")
    verify_keys: Mapping[str, str] = _check_map(_pinned_keys)

    def _config_problem(self) -> tuple[str, str] | None:
        if not self.server_name:
            return "server_name", "required for each trusted key server"
        return None


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    """A token bucket per requesting server."""

    per_second: float = _check(_positive, 50.0)
    burst: int = _check(_positive, 300)


@dataclass(frozen=True, slots=True)
class FederationConfig:
    """Federation with other Matrix servers over the Server-Server API.

    Attributes mirror the YAML keys; `resolve_overrides` is for tests on one machine only.
    """

    enabled: bool = False
    bind: str = "0.0.0.0"  # noqa: S104 (the federation port is public by design)
    port: int = _check(_port, 8448)
    tls_certificate_path: Path | None = _check(_certificate, None)  # noqa: RUF009 (a field)
    tls_private_key_path: Path | None = _check(_private_key, None)  # noqa: RUF009 (a field)
    ca_certificates_path: Path | None = _check(_ca_bundle, None)  # noqa: RUF009 (a field)
    verify_certificates: bool = True
    ip_range_denylist: tuple[str, ...] | None = _check(_range, None)
    ip_range_allowlist: tuple[str, ...] = _check(_range, ())
    domain_allowlist: tuple[str, ...] | None = _check(_host_port, None)
    trusted_key_servers: tuple[TrustedKeyServer, ...] = ()
    serve_well_known: str | None = _check(_host_port, None)
    inbound_rate_limit: RateLimitConfig = RateLimitConfig()
    resolve_overrides: Mapping[str, str] = _check_map(_overrides)

    @property
    def tls(self) -> bool:
        """Whether the TLS federation listener runs (a certificate and key are configured)."""
        return self.tls_certificate_path is not None

    def _config_problem(self) -> tuple[str, str] | None:
        cert, key = self.tls_certificate_path, self.tls_private_key_path
        if (cert is None) != (key is None):
            missing = "tls_private_key_path" if key is None else "tls_certificate_path"
            return missing, "tls_certificate_path and tls_private_key_path go together"
        if cert is not None and key is not None:
            try:
                ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
            except (ssl.SSLError, OSError) as exc:
                return "tls_private_key_path", f"does not match the certificate: {exc}"
        return None
