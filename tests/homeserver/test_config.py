"""Configuration loading and checking (`homeserver.config`) and the CLI around it."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from core.errors import M_USER_IN_USE, MatrixError
from homeserver.__main__ import example_config, main
from homeserver.config import Config, ConfigError, JwtConfig, RateLimit
from homeserver.config_loader import load_config

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Path]:
    """Write YAML text to a config file and return its path."""

    def write(text: str) -> Path:
        path = tmp_path / "homeserver.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


def config_error(path: Path | None, overrides: dict[str, object] | None = None) -> str:
    """The message of the ConfigError that loading raises, checked to be one line."""
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides or {})
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("config: ")
    return message


def test_defaults() -> None:
    config = load_config(None, {})
    assert config == Config()
    assert config.server_name == "localhost"
    assert config.port == 8008
    assert config.base_url == "http://localhost:8008/"
    assert config.database_url == "sqlite:///data/homeserver.db"
    assert config.signing_key_file == Path("data/signing.key")
    assert config.rate_limits.login == RateLimit(0.17, 3)
    assert config.rate_limits.message == RateLimit(10.0, 50)
    assert config.cors_origins == ("*",)
    assert config.jwt == JwtConfig()
    assert config.default_room_version == "12"


def test_derived_defaults() -> None:
    config = Config(server_name="example.org:8448", port=9000, data_dir=Path("/srv/hs"))
    assert config.base_url == "http://example.org:9000/"
    assert config.database_url == "sqlite:////srv/hs/homeserver.db"
    assert config.signing_key_file == Path("/srv/hs/signing.key")
    assert Config(server_name="[::1]").base_url == "http://[::1]:8008/"
    explicit = Config(public_baseurl="https://matrix.example.org", signing_key_path=Path("k"))
    assert explicit.base_url == "https://matrix.example.org/"
    assert explicit.signing_key_file == Path("k")


def test_yaml_with_nested_keys(write_config: Callable[[str], Path]) -> None:
    path = write_config(
        """
server_name: example.org
port: 8448
data_dir: /var/lib/tessera
database: postgresql://tessera@db/tessera
enable_registration: yes
trusted_proxies: ["127.0.0.1", "10.0.0.0/8"]
log_level: debug
jwt:
  enabled: true
  secret: a-long-shared-secret
  audiences: [tessera]
rate_limits:
  login:
    burst: 5
  message: {per_second: 2, burst: 20}
"""
    )
    config = load_config(path, {})
    assert config.server_name == "example.org"
    assert config.port == 8448
    assert config.data_dir == Path("/var/lib/tessera")
    assert config.database_url == "postgresql://tessera@db/tessera"
    assert config.enable_registration is True
    assert config.trusted_proxies == ("127.0.0.1", "10.0.0.0/8")
    assert config.log_level == "DEBUG"
    assert config.jwt == JwtConfig(
        enabled=True, secret="a-long-shared-secret", audiences=("tessera",)
    )
    assert config.rate_limits.login == RateLimit(0.17, 5)  # per_second keeps its default
    assert config.rate_limits.message == RateLimit(2.0, 20)
    assert isinstance(config.rate_limits.message.per_second, float)
    assert config.rate_limits.join == Config().rate_limits.join


def test_empty_file_gives_defaults(write_config: Callable[[str], Path]) -> None:
    assert load_config(write_config("# nothing set\n"), {}) == Config()


def test_flags_override_file(write_config: Callable[[str], Path]) -> None:
    path = write_config("server_name: example.org\nport: 8448\nbind: ::1\n")
    overrides: dict[str, object] = {
        "port": 9000,
        "bind": None,  # flag not given: the file's value stays
        "data_dir": "/srv/tessera",
        "enable_registration": True,
        "rate_limits.login.burst": 7,
    }
    config = load_config(path, overrides)
    assert config.server_name == "example.org"
    assert config.port == 9000
    assert config.bind == "::1"
    assert config.data_dir == Path("/srv/tessera")
    assert config.enable_registration is True
    assert config.rate_limits.login == RateLimit(0.17, 7)


def test_overrides_are_checked_too() -> None:
    assert config_error(None, {"port": 0}) == "config: port: must be between 1 and 65535, got 0"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("prot: 8008", "config: prot: unknown key (did you mean 'port'?)"),
        ("rate_limits:\n  login:\n    brust: 3", "config: rate_limits.login.brust: unknown key"),
        ("jwt:\n  secret_file: x", "config: jwt.secret_file: unknown key"),
        ("port: '8008'", "config: port: expected an integer, got '8008'"),
        ("port: true", "config: port: expected an integer, got True"),
        ("port: 8008.5", "config: port: expected an integer, got 8008.5"),
        ("enable_registration: 1", "config: enable_registration: expected true or false, got 1"),
        ("server_name: 42", "config: server_name: expected a string, got 42"),
        ("data_dir: null", "config: data_dir: expected a path, got None"),
        (
            "rate_limits:\n  login:\n    burst: x",
            "config: rate_limits.login.burst: expected an integer, got 'x'",
        ),
        (
            "rate_limits:\n  join:\n    per_second: .nan",
            "config: rate_limits.join.per_second: expected a finite number, got nan",
        ),
        (
            "rate_limits:\n  join:\n    per_second: 0",
            "config: rate_limits.join.per_second: must be greater than 0, got 0.0",
        ),
        ("rate_limits: 5", "config: rate_limits: expected a mapping, got 5"),
        ("cors_origins: '*'", "config: cors_origins: expected a list, got '*'"),
        ("trusted_proxies: [127.0.0.1, 7]", "config: trusted_proxies[1]: expected a string, got 7"),
        (
            "trusted_proxies: [127.0.0.1, nope]",
            "config: trusted_proxies[1]: expected an IP address or CIDR network",
        ),
        ("server_name: 'bad name!'", "config: server_name: invalid host in server name"),
        ("server_name: 'example.org:http'", "config: server_name: invalid port in server name"),
        ("port: 0", "config: port: must be between 1 and 65535, got 0"),
        ("port: 65536", "config: port: must be between 1 and 65535, got 65536"),
        ("database: mysql://db/tessera", "config: database: expected sqlite:///PATH"),
        ("database: 'sqlite://'", "config: database: expected sqlite:///PATH"),
        ("log_level: LOUD", "config: log_level: expected one of CRITICAL, DEBUG, ERROR"),
        ("public_baseurl: matrix.example.org", "config: public_baseurl: expected an http://"),
        ("cors_origins: [https://a.example/path]", "config: cors_origins[0]: expected '*'"),
        ("bind: 'not a host!'", "config: bind: expected an IP address or host name"),
        ("access_token_lifetime_ms: -1", "config: access_token_lifetime_ms: must be greater"),
        ("jwt:\n  algorithm: none", "config: jwt.algorithm: unsupported JWT algorithm"),
        ("jwt:\n  public_key: nope", "config: jwt.public_key: not a PEM-encoded public key"),
        (
            "jwt:\n  enabled: true",
            "config: jwt.secret: required when jwt is enabled with algorithm HS256",
        ),
        (
            "jwt:\n  enabled: true\n  algorithm: RS256\n  secret: shared",
            "config: jwt.public_key: required when jwt is enabled with algorithm RS256",
        ),
        ("- a list", "expected a mapping of keys at the top level, got ['a list']"),
        (
            "default_room_version: '9'",
            "config: default_room_version: expected a supported room version: 10, 11, 12, got '9'",
        ),
        ("default_room_version: 12", "config: default_room_version: expected a string, got 12"),
    ],
)
def test_invalid_values_name_the_key(
    write_config: Callable[[str], Path], text: str, expected: str
) -> None:
    assert expected in config_error(write_config(text))


def test_secret_values_are_not_echoed(write_config: Callable[[str], Path]) -> None:
    message = config_error(write_config("jwt:\n  secret: 123456789\n"))
    assert message == "config: jwt.secret: expected a string, got a value of type int"
    config = load_config(write_config("jwt:\n  secret: hunter2-hunter2\n"), {})
    assert "hunter2" not in repr(config)


def test_jwt_with_public_key(write_config: Callable[[str], Path]) -> None:
    pem = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    indented = "".join(f"    {line}\n" for line in pem.splitlines())
    path = write_config(f"jwt:\n  enabled: true\n  algorithm: EdDSA\n  public_key: |\n{indented}")
    jwt = load_config(path, {}).jwt
    assert jwt.enabled
    assert jwt.public_key == pem


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "absent.yaml"
    assert config_error(missing) == f"config: file not found: {missing}"


def test_invalid_yaml(write_config: Callable[[str], Path]) -> None:
    path = write_config("server_name: example.org\nport: [8008\n")
    message = config_error(path)
    assert message.startswith(f"config: invalid YAML in {path}: line ")


def test_example_config_documents_the_defaults() -> None:
    text = example_config()
    path = REPO_ROOT / "homeserver" / "example_config.yaml"
    assert path.read_text(encoding="utf-8") == text
    config = load_config(path, {})
    assert config == Config()
    assert config.server_name == "localhost"
    assert config.rate_limits.login_failures == RateLimit(0.17, 3)
    assert config.jwt.algorithm == "HS256"
    assert config.max_request_body_bytes == 2 * 1024 * 1024


def test_example_config_shows_every_key() -> None:
    def keys(record: Any, prefix: str = "") -> set[str]:
        found = set()
        for spec in dataclasses.fields(record):
            value = getattr(record, spec.name)
            found.add(prefix + spec.name)
            if dataclasses.is_dataclass(value):
                found |= keys(value, f"{prefix}{spec.name}.")
        return found

    def yaml_keys(mapping: dict[str, Any], prefix: str = "") -> set[str]:
        found = set()
        for name, value in mapping.items():
            found.add(prefix + name)
            if isinstance(value, dict):
                found |= yaml_keys(value, f"{prefix}{name}.")
        return found

    assert yaml_keys(yaml.safe_load(example_config())) == keys(Config())


def test_cli_generate_config(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["generate-config"]) == 0
    out = capsys.readouterr().out
    assert isinstance(yaml.safe_load(out), dict)
    path = tmp_path / "generated.yaml"
    path.write_text(out, encoding="utf-8")
    assert load_config(path, {}) == Config()


def test_cli_bad_config_exits_2_with_one_line(write_config: Callable[[str], Path]) -> None:
    path = write_config("port: 99999\n")
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "homeserver", "serve", "--config", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == "config: port: must be between 1 and 65535, got 99999\n"


def test_cli_config_error_comes_before_the_app_is_imported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "homeserver.app", None)  # importing it would now fail
    assert main(["serve", "--config", str(tmp_path / "absent.yaml")]) == 2
    assert main(["register-user", "alice", "--password", "pw", "--server-name", "bad name"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"config: file not found: {tmp_path / 'absent.yaml'}",
        "config: server_name: invalid host in server name, got 'bad name'",
    ]


@pytest.fixture
def fake_app(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[object, ...]]]:
    """Stand in for `homeserver.app` (which binds sockets and opens storage); records calls."""
    calls: list[tuple[str, tuple[object, ...]]] = []

    async def register_user_cli(config: Config, name: str, password: str, admin: bool) -> str:
        calls.append(("register_user_cli", (config, name, password, admin)))
        if name == "taken":
            raise MatrixError(M_USER_IN_USE, "User ID already taken.")
        return f"@{name}:{config.server_name}"

    module = types.ModuleType("homeserver.app")
    module.StartupError = type("StartupError", (Exception,), {})  # type: ignore[attr-defined]
    module.run = lambda config: calls.append(("run", (config,)))  # type: ignore[attr-defined]
    module.register_user_cli = register_user_cli  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "homeserver.app", module)
    monkeypatch.setattr(
        "logging.basicConfig", lambda **kwargs: calls.append(("logging", (kwargs,)))
    )
    return calls


def test_cli_serve_merges_flags_over_file(
    fake_app: list[tuple[str, tuple[object, ...]]], write_config: Callable[[str], Path]
) -> None:
    path = write_config("server_name: example.org\nport: 8448\nlog_level: warning\n")
    argv = ["serve", "--config", str(path), "--port", "9000", "--enable-registration"]
    assert main(argv) == 0
    (_, (logging_kwargs,)), (name, (config,)) = fake_app
    assert logging_kwargs == {
        "level": "WARNING",
        "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
    }
    assert name == "run"
    assert config == Config(
        server_name="example.org", port=9000, enable_registration=True, log_level="WARNING"
    )


def test_cli_register_user(
    fake_app: list[tuple[str, tuple[object, ...]]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["register-user", "alice", "--password", "pw", "--admin"]) == 0
    assert capsys.readouterr().out == "@alice:localhost\n"
    assert fake_app[-1] == ("register_user_cli", (Config(), "alice", "pw", True))

    assert main(["register-user", "taken", "--password", "pw"]) == 1
    assert capsys.readouterr().err == "error: User ID already taken.\n"


def test_cli_register_user_prompts_twice(
    fake_app: list[tuple[str, tuple[object, ...]]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = iter(["s3cret", "s3cret", "s3cret", "typo"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    assert main(["register-user", "bob"]) == 0
    assert fake_app[-1] == ("register_user_cli", (Config(), "bob", "s3cret", False))
    assert main(["register-user", "carol"]) == 1
    assert capsys.readouterr().err == "error: the passwords do not match\n"
    assert all(call[1][1] != "carol" for call in fake_app if call[0] == "register_user_cli")
