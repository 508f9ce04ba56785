"""Typed dataclass configs from YAML mappings.

`from_dict(cls, mapping)` builds dataclass `cls`, coercing YAML scalars to the
annotated types where that is safe (`64.0` -> `64` for an `int`) and
rejecting unknown keys with the closest valid name:

>>> from dataclasses import dataclass
>>> @dataclass
... class Section:
...     units: int = 64
...     rate: float = 0.1
>>> from_dict(Section, {"units": 32.0}, "model")
Section(units=32, rate=0.1)
>>> from_dict(Section, {"unit": 32}, "model")
Traceback (most recent call last):
...
textlstm.errors.ConfigError: unknown key 'model.unit'. Did you mean 'units'?

Nested dataclasses, and lists of them, are built recursively. A dataclass's
`__post_init__` runs its own checks, so a bad value fails when the file is read.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any

from textlstm.errors import ConfigError


def suggest(key: str, options) -> str:
    """`" Did you mean 'x'?"` for the option closest to `key`, or `""`.

    Args:
        key: the unknown name.
        options: the valid names.
    """
    close = difflib.get_close_matches(key, list(options), n=1, cutoff=0.5)
    return f" Did you mean '{close[0]}'?" if close else ""


def check_type(value, hint, where: str):
    """`value` coerced to the annotated type `hint`, or a `ConfigError` naming `where`.

    Args:
        value: the value read from YAML.
        hint: the field's type annotation (a type, `X | None`, `list[X]`, a dataclass).
        where: the dotted key, for messages.
    """
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any or hint is dict or origin is dict:
        return value
    if dataclasses.is_dataclass(hint):
        return value if isinstance(value, hint) else from_dict(hint, value, where)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in args:  # keep the YAML type when it is one of the options
            if isinstance(arg, type) and not dataclasses.is_dataclass(arg) and type(value) is arg:
                return value
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return check_type(value, arg, where)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if errors else f"{where}: bad value {value!r}")
    if origin is list:
        if not isinstance(value, (list, tuple)):
            value = [value]
        return [check_type(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)] if args else list(value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return int(value)
    if hint is float:
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return str(value)
    return value


def from_dict(cls, data: dict | None, where: str = ""):
    """Build dataclass `cls` from a mapping, rejecting unknown keys with a suggestion.

    Args:
        cls: the dataclass to build.
        data: the mapping read from YAML (None: all defaults).
        where: the dotted path of the section, for messages.
    """
    if data is None:
        return cls()
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'pipeline'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in names:
            raise ConfigError(f"unknown key '{path}'.{suggest(str(key), names)}")
        kwargs[key] = check_type(value, hints[key], path)
    try:
        return cls(**kwargs)
    except ConfigError as err:
        # A section's own check (`__post_init__`) may name its keys relative to the section.
        message = str(err)
        raise ConfigError(message if not where or message.startswith(where) else f"{where}: {message}") from None


def choice(value, choices, where: str):
    """Raise a `ConfigError` unless `value` is one of `choices`.

    Args:
        value: the configured value.
        choices: the allowed values.
        where: the dotted key, for the message.

    >>> choice("max", ("last", "max", "mean"), "pooling")
    >>> choice("sum", ("last", "max", "mean"), "pooling")
    Traceback (most recent call last):
    ...
    textlstm.errors.ConfigError: pooling must be last, max or mean, got 'sum'
    """
    if value not in choices:
        names = [str(c) for c in choices]
        raise ConfigError(f"{where} must be {', '.join(names[:-1])} or {names[-1]}, got {value!r}")
