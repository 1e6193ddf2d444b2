"""Loading the configuration from YAML plus command-line overrides.

`_build` walks each config dataclass's fields and type hints, converts and type-checks the raw
value, runs the field's own check (kept in its metadata under `CHECK_KEY`), then the record's
`_config_problem` hook for rules spanning fields. A new key needs only a field, never new
loader code. Every problem is one `ConfigError`, a single line naming the dotted key.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, Union, cast, get_args, get_origin, get_type_hints

import yaml

from homeserver.config import CHECK_KEY, NO_OVERRIDES, Config, ConfigError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["ConfigError", "load_config"]

_D = TypeVar("_D", bound="DataclassInstance")


def load_config(path: Path | None, overrides: Mapping[str, object] = NO_OVERRIDES) -> Config:
    """Read and check the configuration.

    Args:
        path: A YAML file, or None for defaults only.
        overrides: Values from CLI flags by (dotted) key, e.g. `{"port": 8448}`; None values
            mean "not given" and are skipped. They win over the file.

    Returns:
        The checked configuration.

    Raises:
        ConfigError: The file is missing, unreadable or not YAML, or any key is unknown,
            of the wrong type or out of range.
    """
    raw = _read_yaml(path) if path is not None else {}
    for dotted, value in overrides.items():
        if value is not None:
            _set_dotted(raw, dotted, value)
    return _build(Config(), raw, "")


def _read_yaml(path: Path) -> dict[object, object]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = ": ".join(filter(None, [exc.context, exc.problem])) or str(exc)
        raise ConfigError(f"invalid YAML in {path}: {where}{what}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML in {path}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level, got {_show(data)}")
    return cast(dict[object, object], data)


def _set_dotted(raw: dict[object, object], dotted: str, value: object) -> None:
    *parents, leaf = dotted.split(".")
    node = raw
    for depth, part in enumerate(parents):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            key = ".".join(parents[: depth + 1])
            raise ConfigError(f"expected a mapping, got {_show(child)}", key=key)
        node = child
    node[leaf] = value


def _build(base: _D, raw: Mapping[object, object], prefix: str) -> _D:
    """`base` with the keys of `raw` (a section whose keys start `prefix`) checked and applied."""
    fields = {f.name: f for f in dataclasses.fields(base)}
    hints = get_type_hints(type(base))
    changes: dict[str, object] = {}
    for name, value in raw.items():
        spec = fields.get(name) if isinstance(name, str) else None
        if spec is None:
            close = difflib.get_close_matches(str(name), fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown key{hint}", key=f"{prefix}{name}")
        key = prefix + spec.name
        changes[spec.name] = _field_value(
            spec, hints[spec.name], value, key, getattr(base, spec.name)
        )
    result = dataclasses.replace(base, **changes)
    problem_of = getattr(result, "_config_problem", None)
    problem = problem_of() if problem_of is not None else None
    if problem is not None:
        raise ConfigError(problem[1], key=prefix + problem[0])
    return result


def _field_value(
    spec: dataclasses.Field[Any], hint: object, value: object, key: str, base: object
) -> object:
    """`value` converted to the field's type, then through the field's check (if any)."""
    secret = not spec.repr
    converted = _convert(hint, value, key, base, secret)
    check = cast(Callable[[object], object] | None, spec.metadata.get(CHECK_KEY))
    if check is None or converted is None:
        return converted
    items = converted if isinstance(converted, tuple) else (converted,)
    checked = []
    for i, item in enumerate(items):
        try:
            checked.append(check(item))
        except ValueError as exc:
            where = f"{key}[{i}]" if isinstance(converted, tuple) else key
            raise ConfigError(f"{exc}, got {_show(item, secret)}", key=where) from None
    return tuple(checked) if isinstance(converted, tuple) else checked[0]


def _convert(hint: object, value: object, key: str, base: object, secret: bool) -> object:
    """`value` as the type `hint` describes, or a ConfigError naming `key`."""
    origin = get_origin(hint)
    if origin is Union or origin is types.UnionType:
        if value is None and type(None) in get_args(hint):
            return None
        (inner,) = (arg for arg in get_args(hint) if arg is not type(None))
        return _convert(inner, value, key, base, secret)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise _type_error(key, "a list", value, secret)
        item = get_args(hint)[0]
        return tuple(_convert(item, v, f"{key}[{i}]", None, secret) for i, v in enumerate(value))
    if origin is Mapping or origin is dict:
        return _mapping(get_args(hint)[1], value, key, secret)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, Mapping):
            raise _type_error(key, "a mapping", value, secret)
        # An item of a list of sections starts from the section's defaults.
        start = base if base is not None else hint()
        return _build(cast("DataclassInstance", start), value, f"{key}.")
    return _scalar(hint, value, key, secret)


def _mapping(item: object, value: object, key: str, secret: bool) -> Mapping[str, object]:
    """A read-only mapping of string keys to values of type `item`."""
    if not isinstance(value, Mapping):
        raise _type_error(key, "a mapping", value, secret)
    converted: dict[str, object] = {}
    for name, entry in value.items():
        if not isinstance(name, str):
            raise _type_error(key, "string keys", name, secret)
        converted[name] = _convert(item, entry, f"{key}.{name}", None, secret)
    return types.MappingProxyType(converted)


def _path(value: str | os.PathLike[str]) -> Path:
    return Path(value).expanduser()


# For each scalar type a field may have: what messages call it, which raw values qualify, and
# how to convert one. YAML gives ints where floats are meant (`per_second: 1`); bools are not ints.
_SCALARS: dict[object, tuple[str, Callable[[Any], bool], Callable[[Any], object]]] = {
    bool: ("true or false", lambda v: isinstance(v, bool), bool),
    int: ("an integer", lambda v: type(v) is int, int),
    float: ("a finite number", lambda v: type(v) in (int, float) and math.isfinite(v), float),
    str: ("a string", lambda v: isinstance(v, str), str),
    Path: ("a path", lambda v: isinstance(v, str | os.PathLike) and bool(str(v)), _path),
}


def _scalar(hint: object, value: object, key: str, secret: bool) -> object:
    if hint not in _SCALARS:
        raise TypeError(f"config key {key} has a type the loader does not handle: {hint!r}")
    expected, accepts, convert = _SCALARS[hint]
    if not accepts(value):
        raise _type_error(key, expected, value, secret)
    return convert(value)


def _type_error(key: str, expected: str, value: object, secret: bool) -> ConfigError:
    return ConfigError(f"expected {expected}, got {_show(value, secret)}", key=key)


def _show(value: object, secret: bool = False) -> str:
    if secret:
        return f"a value of type {type(value).__name__}"
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."
