"""The homeserver's configuration: typed records with a check per constrained field.

Invariant: a `Config` from `load_config` has been checked key by key, generically: `_build` walks
each dataclass's fields and type hints, converts and type-checks the raw value, runs the field's
own check (kept in its metadata), then the record's `_config_problem` hook for rules spanning
fields. A new key needs only a field (and a check if its values are constrained), never new
loader code. Every problem is one `ConfigError`, a single line naming the dotted key.
"""

from __future__ import annotations

import ipaddress
import re
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from core.base64 import decode_unpadded
from core.identifiers import parse_server_name
from core.room_versions import KNOWN_ROOM_VERSIONS
from homeserver.config_federation import FederationConfig
from homeserver.config_moderation import ModerationConfig

__all__ = [
    "Config",
    "ConfigError",
    "DatabaseEncryptionConfig",
    "JwtConfig",
    "MediaConfig",
    "ModerationConfig",
    "RateLimit",
    "RateLimits",
    "RetentionConfig",
    "UrlPreviewConfig",
]

_T = TypeVar("_T")
_Num = TypeVar("_Num", int, float)

CHECK_KEY = "tessera.config.check"
_HOSTNAME = re.compile(r"^[A-Za-z0-9\-.]{1,255}$")
_LOG_LEVELS = frozenset({"CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"})
_HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
_KEY_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"})
_KEY_ALGORITHMS |= {"ES256", "ES256K", "ES384", "ES512"}
NO_OVERRIDES: Mapping[str, object] = types.MappingProxyType({})


class ConfigError(ValueError):
    """A configuration problem, always rendered as one line: `config: KEY: PROBLEM`.

    Attributes:
        key: The dotted key at fault (`rate_limits.login.burst`), or None for file-level problems.
        problem: What is wrong, on one line.
    """

    def __init__(self, problem: str, *, key: str | None = None) -> None:
        self.key = key
        self.problem = " ".join(problem.split())
        super().__init__(f"config: {key}: {self.problem}" if key else f"config: {self.problem}")


def _checked(default: _T, check: Callable[[_T], _T]) -> _T:
    return field(default=default, metadata={CHECK_KEY: check})


def _optional(check: Callable[[_T], _T]) -> _T | None:
    """A field defaulting to None whose non-None values must pass `check`."""
    return field(default=None, metadata={CHECK_KEY: check})


def _each(default: tuple[_T, ...], check: Callable[[_T], _T]) -> tuple[_T, ...]:
    """A tuple field whose items must each pass `check` (errors name `key[index]`)."""
    return field(default=default, metadata={CHECK_KEY: check})


def _rule(problem: str, test: Callable[[_T], object]) -> Callable[[_T], _T]:
    """A check refusing, with `problem`, each value for which `test` is false or raises."""

    def check(value: _T) -> _T:
        try:
            passed = test(value)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            passed = False
        if not passed:
            raise ValueError(problem)
        return value

    return check


def _positive(value: _Num) -> _Num:
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


def _is_url(value: str, *, origin: bool) -> bool:
    parts = urlsplit(value)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.netloc)
        and not (parts.query or parts.fragment or (origin and parts.path))
    )


def _log_level(value: str) -> str:
    if value.upper() not in _LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(sorted(_LOG_LEVELS))}")
    return value.upper()


_port: Callable[[int], int] = _rule("must be between 1 and 65535", lambda v: 1 <= v <= 65535)
_non_empty: Callable[[str], str] = _rule("must not be empty", str.strip)
_bind_address: Callable[[str], str] = _rule(
    "expected an IP address or host name",
    lambda v: _HOSTNAME.match(v) or ipaddress.ip_address(v),
)
_network: Callable[[str], str] = _rule(
    "expected an IP address or CIDR network such as 10.0.0.0/8", ipaddress.ip_network
)
_http_url: Callable[[str], str] = _rule(
    "expected an http:// or https:// URL without query or fragment",
    lambda v: _is_url(v, origin=False),
)
_origin: Callable[[str], str] = _rule(
    "expected '*' or an origin such as https://app.example.org",
    lambda v: v == "*" or _is_url(v, origin=True),
)
_database_url: Callable[[str], str] = _rule(
    "expected sqlite:///PATH, postgresql://... or postgres://...",
    lambda v: (
        v.startswith(("postgresql://", "postgres://"))
        or (v.startswith("sqlite:///") and len(v) > len("sqlite:///"))
    ),
)
_pem_public_key: Callable[[str], str] = _rule(
    "not a PEM-encoded public key", lambda v: load_pem_public_key(v.encode())
)
_room_version: Callable[[str], str] = _rule(
    f"expected a supported room version: {', '.join(KNOWN_ROOM_VERSIONS)}",
    lambda v: v in KNOWN_ROOM_VERSIONS,
)
_jwt_algorithm: Callable[[str], str] = _rule(
    "unsupported JWT algorithm", lambda v: v in _HMAC_ALGORITHMS | _KEY_ALGORITHMS
)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A token bucket: refills at `per_second`, holds at most `burst` actions."""

    per_second: float = field(metadata={CHECK_KEY: _positive})
    burst: int = field(metadata={CHECK_KEY: _positive})


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Per-action rate limits, applied per user (or per client IP before login)."""

    login: RateLimit = RateLimit(0.17, 3)
    login_failures: RateLimit = RateLimit(0.17, 3)
    registration: RateLimit = RateLimit(0.17, 3)
    message: RateLimit = RateLimit(10.0, 50)
    join: RateLimit = RateLimit(0.1, 10)


@dataclass(frozen=True, slots=True)
class JwtConfig:
    """Login with `org.matrix.login.jwt` tokens signed by a trusted issuer.

    Attributes:
        enabled: Offer and accept the JWT login type.
        secret: Shared secret for HS256/384/512 (hidden from `repr`).
        public_key: PEM public key for RS*, PS*, ES* and EdDSA.
        algorithm: The one accepted `alg`.
        subject_claim: The claim holding the localpart (or full user ID) to log in as.
        issuer: If set, the required `iss` claim.
        audiences: If non-empty, `aud` must contain one of these.
    """

    enabled: bool = False
    secret: str | None = field(default=None, repr=False, metadata={CHECK_KEY: _non_empty})
    public_key: str | None = field(default=None, repr=False, metadata={CHECK_KEY: _pem_public_key})
    algorithm: str = _checked("HS256", _jwt_algorithm)
    subject_claim: str = _checked("sub", _non_empty)
    issuer: str | None = _optional(_non_empty)
    audiences: tuple[str, ...] = _each((), _non_empty)

    def _config_problem(self) -> tuple[str, str] | None:
        """The (field, problem) of a rule spanning fields, if one is broken."""
        if not self.enabled:
            return None
        needed = "secret" if self.algorithm in _HMAC_ALGORITHMS else "public_key"
        if getattr(self, needed) is None:
            return needed, f"required when jwt is enabled with algorithm {self.algorithm}"
        return None


_thumbnail_size: Callable[[str], str] = _rule(
    "expected WIDTHxHEIGHT and crop or scale, such as '96x96 crop'",
    lambda v: re.fullmatch(r"[1-9][0-9]{0,3}x[1-9][0-9]{0,3} (crop|scale)", v),
)
_master_key: Callable[[str], str] = _rule(
    "expected 32 bytes in Base64 (openssl rand -base64 32)",
    lambda v: len(decode_unpadded(v.strip())) == 32,
)
_MIB = 1024 * 1024
_positive_int: Callable[[int], int] = _positive


@dataclass(frozen=True, slots=True)
class UrlPreviewConfig:
    """URL previews: fetching the pages users link to (see `media.url_preview`)."""

    enabled: bool = False
    allowed_ip_ranges: tuple[str, ...] = _each((), _network)
    max_page_bytes: int = _checked(10 * _MIB, _positive)
    timeout_ms: int = _checked(10_000, _positive)
    cache_ms: int = _checked(3_600_000, _positive)


@dataclass(frozen=True, slots=True)
class MediaConfig:
    """The content repository (see the `media:` section of `example_config.yaml`)."""

    store_path: Path | None = None
    max_upload_bytes: int = _checked(50 * _MIB, _positive)
    user_quota_bytes: int | None = _optional(_positive_int)
    upload_rate: RateLimit = RateLimit(1.0, 30)
    encrypt_at_rest: bool = True
    master_key: str | None = field(default=None, repr=False, metadata={CHECK_KEY: _master_key})
    master_key_path: Path | None = None
    freeze_unauthenticated: bool = True
    legacy_media_before_ms: int = _checked(0, _rule("must be 0 or more", lambda v: v >= 0))
    unused_id_expiry_ms: int = _checked(86_400_000, _positive)
    max_pending_uploads: int = _checked(10, _positive)
    thumbnail_sizes: tuple[str, ...] = _each(
        ("32x32 crop", "96x96 crop", "320x240 scale", "640x480 scale", "800x600 scale"),
        _thumbnail_size,
    )
    dynamic_thumbnails: bool = True
    max_thumbnail_pixels: int = _checked(40_000_000, _positive)
    max_thumbnail_source_bytes: int = _checked(20 * _MIB, _positive)
    thumbnail_workers: int = _checked(2, _positive)
    remote_fetch_timeout_ms: int = _checked(60_000, _positive)
    url_preview: UrlPreviewConfig = UrlPreviewConfig()


@dataclass(frozen=True, slots=True)
class DatabaseEncryptionConfig:
    """Encryption at rest for the database (see the `database_encryption:` section of
    `example_config.yaml`)."""

    enabled: bool = True
    master_key: str | None = field(default=None, repr=False, metadata={CHECK_KEY: _master_key})
    master_key_path: Path | None = None


@dataclass(frozen=True, slots=True)
class SearchConfig:
    """Full-text search of room events (see the `search:` section of `example_config.yaml`)."""

    enabled: bool = True
    rate_limit: RateLimit = RateLimit(2.0, 20)


_non_negative: Callable[[int], int] = _rule("must be 0 or more", lambda v: v >= 0)
_DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class RetentionConfig:
    """Message retention and room lifetimes (see the `retention:` section of
    `example_config.yaml`)."""

    enabled: bool = True
    default_max_lifetime_ms: int | None = _checked(7 * _DAY_MS, _positive)
    allowed_lifetime_min_ms: int | None = _checked(_DAY_MS, _non_negative)
    allowed_lifetime_max_ms: int | None = _optional(_positive_int)
    purge_interval_ms: int = _checked(60_000, _positive)
    dm_room_lifetime_ms: int | None = _checked(7 * _DAY_MS, _positive)

    def _config_problem(self) -> tuple[str, str] | None:
        """The (field, problem) of a rule spanning fields, if one is broken."""
        low, high = self.allowed_lifetime_min_ms, self.allowed_lifetime_max_ms
        if low is not None and high is not None and low > high:
            return "allowed_lifetime_min_ms", "must not be larger than allowed_lifetime_max_ms"
        return None


@dataclass(frozen=True, slots=True)
class WebClientConfig:
    """The web client served at `/` (see the `web_client:` section of `example_config.yaml`)."""

    enabled: bool = True
    path: Path | None = None


@dataclass(frozen=True, slots=True)
class Config:
    """Everything the homeserver process is configured with; see `example_config.yaml`.

    Attributes are the YAML keys. Defaults derived from other keys are properties: `base_url`,
    `database_url`, `signing_key_file`, `media_store_dir`, `media_key_file` and
    `database_key_file`.
    """

    server_name: str = _checked("localhost", parse_server_name)
    bind: str = _checked("127.0.0.1", _bind_address)
    port: int = _checked(8008, _port)
    public_baseurl: str | None = _optional(_http_url)
    data_dir: Path = Path("data")
    database: str | None = _optional(_database_url)
    signing_key_path: Path | None = None
    enable_registration: bool = False
    registration_requires_token: bool = False
    password_login: bool = True
    refresh_tokens: bool = True
    access_token_lifetime_ms: int = _checked(3_600_000, _positive)
    max_request_body_bytes: int = _checked(1_048_576 * 2, _positive)
    request_body_timeout_ms: int = _checked(30_000, _positive)
    request_header_timeout_ms: int = _checked(30_000, _positive)
    max_unfinished_bodies_per_ip: int = _checked(32, _positive)
    ui_auth_session_timeout_ms: int = _checked(600_000, _positive)
    default_room_version: str = _checked("12", _room_version)
    jwt: JwtConfig = JwtConfig()
    rate_limits: RateLimits = RateLimits()
    trusted_proxies: tuple[str, ...] = _each((), _network)
    cors_origins: tuple[str, ...] = _each(("*",), _origin)
    log_level: str = _checked("INFO", _log_level)
    media: MediaConfig = MediaConfig()
    database_encryption: DatabaseEncryptionConfig = DatabaseEncryptionConfig()
    federation: FederationConfig = FederationConfig()  # noqa: RUF009 (frozen, read-only maps)
    search: SearchConfig = SearchConfig()
    retention: RetentionConfig = RetentionConfig()
    moderation: ModerationConfig = ModerationConfig()  # noqa: RUF009 (frozen)
    web_client: WebClientConfig = WebClientConfig()

    @property
    def base_url(self) -> str:
        """The public client URL with a trailing slash; by default `http://HOST:PORT/`."""
        url = self.public_baseurl
        if url is None:
            host = self.server_name
            if not host.endswith("]") and ":" in host:
                host = host.rsplit(":", 1)[0]  # the server name's port is for federation
            url = f"http://{host}:{self.port}/"
        return url if url.endswith("/") else f"{url}/"

    @property
    def database_url(self) -> str:
        """`database`, or SQLite at `data_dir/homeserver.db` (`sqlite:///` + the path)."""
        if self.database is not None:
            return self.database
        return f"sqlite:///{self.data_dir / 'homeserver.db'}"

    @property
    def signing_key_file(self) -> Path:
        """`signing_key_path`, or `data_dir/signing.key`."""
        return self.signing_key_path or self.data_dir / "signing.key"

    @property
    def media_store_dir(self) -> Path:
        """`media.store_path`, or `data_dir/media`."""
        return self.media.store_path or self.data_dir / "media"

    @property
    def web_client_dir(self) -> Path:
        """`web_client.path`, or `web/dist` in the source tree this package was loaded from."""
        return self.web_client.path or Path(__file__).resolve().parent.parent / "web" / "dist"

    @property
    def media_key_file(self) -> Path:
        """`media.master_key_path`, or `data_dir/media.key`."""
        return self.media.master_key_path or self.data_dir / "media.key"

    @property
    def database_key_file(self) -> Path:
        """`database_encryption.master_key_path`, or `data_dir/database.key`."""
        return self.database_encryption.master_key_path or self.data_dir / "database.key"
