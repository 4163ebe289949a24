"""Strict dataclasses from YAML-like data: the converter behind `pipeline.config`.

`parse(cls, data, "content.model")` builds frozen dataclass `cls` from a mapping, converting
lists to tuples and checking every value against its type hint (int, float, bool, str, Literal,
Optional, tuples, dicts, nested dataclasses) and its `knob(ge=..., lt=...)` range. An unknown or
missing key, a wrong type or an out-of-range value raises `ConfigError` whose message starts with
the dotted key; a dataclass's own `__post_init__` checks (`check(...)`) are prefixed the same way.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import field
from typing import Literal

from pipeline.errors import UserError


class ConfigError(UserError):
    """A bad params value; the message starts with the dotted key."""


def knob(default=dataclasses.MISSING, *, ge=None, gt=None, le=None, lt=None):
    """A dataclass field with an optional numeric range, checked by `parse`."""
    bounds = {k: v for k, v in (("ge", ge), ("gt", gt), ("le", le), ("lt", lt)) if v is not None}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: default, metadata=bounds)
    return field(default=default, metadata=bounds)


# --- the converter -----------------------------------------------------------------------------
def parse(cls, data, where: str):
    """Build dataclass `cls` from mapping `data` (the params section at dotted key `where`)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a mapping, got {_show(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{_key(where, unknown[0])}: unknown key (known: {', '.join(fields)})")
    values = {}
    for name, spec in fields.items():
        key = _key(where, name)
        if name not in data:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{key}: missing")
            continue
        values[name] = _convert(hints[name], data[name], key)
        _check_range(values[name], spec.metadata, key)
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (ValueError, TypeError) as err:
        raise ConfigError(f"{where}: {err}" if where else str(err)) from None


def _convert(hint, value, key: str):
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(inner, value, key)
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{key}: must be one of {', '.join(map(str, args))}, got {_show(value)}")
        return value
    if dataclasses.is_dataclass(hint):
        return parse(hint, value, key)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: must be a list, got {_show(value)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{key}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{key}: must be a list of {len(args)}, got {_show(value)}")
        return tuple(_convert(a, v, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: must be a mapping, got {_show(value)}")
        return {_convert(args[0], k, key): _convert(args[1], v, _key(key, k)) for k, v in value.items()}
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: must be true or false, got {_show(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: must be an integer, got {_show(value)}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: must be a number, got {_show(value)}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: must be a string, got {_show(value)}")
        return value
    raise TypeError(f"config: no converter for {hint!r}")  # a bug in this module, not the user's


def _check_range(value, bounds: dict, key: str) -> None:
    if value is None or not bounds:
        return
    for item in _leaves(value):
        for op, limit in bounds.items():
            ok = {"ge": item >= limit, "gt": item > limit, "le": item <= limit, "lt": item < limit}[op]
            if not ok:
                sign = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}[op]
                raise ConfigError(f"{key}: must be {sign} {limit}, got {_show(value)}")


def _leaves(value):
    """Every number in a value, nested tuples and dict values included (a range applies to each)."""
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, tuple):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def _key(where: str, name) -> str:
    return f"{where}.{name}" if where else str(name)


def _show(value) -> str:
    return repr(list(value) if isinstance(value, tuple) else value)


def to_dict(config) -> dict:
    """A config as plain data (tuples -> lists): MLflow params, checkpoints."""
    def plain(value):
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value
    return plain(dataclasses.asdict(config))


def check(condition: bool, message: str) -> None:
    """Cross-field checks in `__post_init__`: `parse` prefixes the section's key."""
    if not condition:
        raise ValueError(message)
