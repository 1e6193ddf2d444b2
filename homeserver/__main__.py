"""The `python -m homeserver` command line: `serve`, `register-user`, `registration-token`,
`rotate-signing-key` and `generate-config`.

Flags override the config file. A configuration problem exits with status 2 and one line on
stderr, before the application (`homeserver.app`) is even imported; so does a server that
cannot start (port in use, data directory not writable, database unreachable), with
`error: cannot ...`. A refused command (a taken user name, mismatched passwords) exits with
status 1 and `error: ...` on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import getpass
import logging
import re
import sys
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

from core.errors import MatrixError
from homeserver.config import Config, ConfigError
from homeserver.config_loader import load_config

EXIT_REFUSED = 1
EXIT_CONFIG = 2
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Config keys that flags may override; a flag's argparse dest is its config key.
_OVERRIDABLE = (
    "server_name",
    "bind",
    "port",
    "data_dir",
    "database",
    "enable_registration",
    "media.url_preview.enabled",
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command.

    Args:
        argv: The arguments after the program name; None means `sys.argv[1:]`.

    Returns:
        The process exit status.
    """
    args = _parser().parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.command
    try:
        return command(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    except _Refused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except MatrixError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_REFUSED


class _Refused(Exception):
    """A command refused for a reason the user can fix; the message goes to stderr."""


def example_config() -> str:
    """The commented example configuration shipped in the package."""
    return resources.files("homeserver").joinpath("example_config.yaml").read_text("utf-8")


def _serve(args: argparse.Namespace) -> int:
    config = _load(args)
    _setup_logging(config)
    # Only now: a bad config must fail before the app loads.
    from homeserver.app import StartupError, run

    try:
        run(config)
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return 0


def _register_user(args: argparse.Namespace) -> int:
    config = _load(args)
    password: str = args.password if args.password is not None else _prompt_password()
    if not password:
        raise _Refused("the password must not be empty")
    _setup_logging(config)
    from homeserver.app import register_user_cli

    print(asyncio.run(register_user_cli(config, args.name, password, args.admin)))
    return 0


def _create_token(args: argparse.Namespace) -> int:
    config = _load(args)
    from homeserver.app import create_registration_token_cli

    token = asyncio.run(
        create_registration_token_cli(
            config, uses_allowed=args.uses, expires_in_ms=args.expires_in, token=args.token
        )
    )
    print(token.token)
    return 0


def _list_tokens(args: argparse.Namespace) -> int:
    config = _load(args)
    from homeserver.app import list_registration_tokens_cli

    for status in asyncio.run(list_registration_tokens_cli(config)):
        token = status.token
        uses = "unlimited" if token.uses_allowed is None else f"{token.uses_allowed}"
        expiry = "never" if token.expiry_ts is None else _utc(token.expiry_ts)
        state = "valid" if status.usable else "unusable"
        print(f"{token.token}\t{state}\tused {token.completed} of {uses}\texpires {expiry}")
    return 0


def _delete_token(args: argparse.Namespace) -> int:
    config = _load(args)
    from homeserver.app import delete_registration_token_cli

    if not asyncio.run(delete_registration_token_cli(config, args.token)):
        raise _Refused(f"no registration token {args.token}")
    return 0


def _utc(ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


_DURATION = re.compile(r"([1-9][0-9]*)([smhd])")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def _duration_ms(text: str) -> int:
    """`30m`, `12h`, `7d` (or `45s`) in milliseconds, for argparse."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(
            f"expected a duration such as 30m, 12h or 7d, got {text!r}"
        )
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def _rotate_signing_key(args: argparse.Namespace) -> int:
    config = _load(args)
    from homeserver.keyfile import old_keys_file, rotate_signing_key

    now_ms = int(datetime.datetime.now(datetime.UTC).timestamp() * 1000)
    old, new = rotate_signing_key(config.signing_key_file, now_ms)
    print(f"new signing key {new.key_id} in {config.signing_key_file}")
    print(
        f"retired {old.key_id}, still published as an old key ({old_keys_file(config.signing_key_file)})"
    )
    print("restart the server to sign with the new key")
    return 0


def _generate_config(args: argparse.Namespace) -> int:
    sys.stdout.write(example_config())
    return 0


def _prompt_password() -> str:
    password = getpass.getpass("Password: ")
    if password and getpass.getpass("Confirm password: ") != password:
        raise _Refused("the passwords do not match")
    return password


def _load(args: argparse.Namespace) -> Config:
    overrides = {key: getattr(args, key, None) for key in _OVERRIDABLE}
    return load_config(args.config, overrides)


def _setup_logging(config: Config) -> None:
    logging.basicConfig(level=config.log_level, format=LOG_FORMAT)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m homeserver", description="Tessera, a Matrix homeserver."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the homeserver until interrupted")
    _add_config_flags(serve)
    serve.add_argument("--bind", metavar="ADDR", help="address to listen on")
    serve.add_argument("--port", metavar="P", type=int, help="TCP port to listen on")
    serve.add_argument(
        "--enable-registration",
        action="store_true",
        default=None,
        help="let anyone register an account",
    )
    serve.add_argument(
        "--enable-url-previews",
        dest="media.url_preview.enabled",
        action="store_true",
        default=None,
        help="fetch link previews (public addresses only, unless allow-listed in the config)",
    )
    serve.set_defaults(command=_serve)

    register = commands.add_parser("register-user", help="create an account; prints its user ID")
    register.add_argument("name", metavar="NAME", help="localpart or full user ID")
    register.add_argument(
        "--password",
        metavar="P",
        help="the password (prompted for if omitted; flags are visible to other local users)",
    )
    register.add_argument("--admin", action="store_true", help="make the account a server admin")
    _add_config_flags(register)
    register.set_defaults(command=_register_user)

    _add_token_commands(commands)

    rotate = commands.add_parser(
        "rotate-signing-key",
        help="sign with a new server key from the next start; the old one stays verifiable",
    )
    _add_config_flags(rotate)
    rotate.set_defaults(command=_rotate_signing_key)

    generate = commands.add_parser("generate-config", help="print a commented example config")
    generate.set_defaults(command=_generate_config)
    return parser


def _add_token_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tokens = commands.add_parser(
        "registration-token",
        help="issue, list or delete registration tokens (for registration_requires_token)",
    )
    actions = tokens.add_subparsers(required=True, metavar="ACTION")
    create = actions.add_parser("create", help="issue a token; prints it")
    create.add_argument(
        "--uses",
        metavar="N",
        type=_positive_int,
        help="registrations it allows (default: no limit)",
    )
    create.add_argument(
        "--expires-in",
        metavar="DURATION",
        type=_duration_ms,
        help="how long it stays valid: 30m, 12h, 7d... (default: for ever)",
    )
    create.add_argument("--token", metavar="T", help="a chosen token instead of a random one")
    _add_config_flags(create)
    create.set_defaults(command=_create_token)
    listing = actions.add_parser("list", help="show every token, its uses and expiry")
    _add_config_flags(listing)
    listing.set_defaults(command=_list_tokens)
    delete = actions.add_parser("delete", help="delete a token")
    delete.add_argument("token", metavar="TOKEN")
    _add_config_flags(delete)
    delete.set_defaults(command=_delete_token)


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", type=Path, help="YAML configuration file")
    parser.add_argument("--server-name", metavar="N", help="the server name in user IDs")
    parser.add_argument("--data-dir", metavar="D", help="directory for the server's files")
    parser.add_argument("--database", metavar="URL", help="sqlite:///PATH or postgresql://...")


if __name__ == "__main__":
    sys.exit(main())
