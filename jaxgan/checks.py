"""One-line checks of config fields, shared by config.validate and the sections architectures register:
each raises a UserError naming the field and its value."""

from __future__ import annotations

from typing import Any, Iterable

from jaxgan.errors import UserError


def check(ok: bool, message: str) -> None:
    if not ok:
        raise UserError(message)


def lookup(config: Any, dotted: str) -> Any:
    """`lookup(c, 'data.crop')` is `c.data.crop`."""
    for part in dotted.split('.'):
        config = config[part]
    return config


def assign(config: Any, dotted: str, value: Any) -> None:
    """`assign(c, 'data.crop', 8)` is `c.data.crop = 8`."""
    *parents, last = dotted.split('.')
    for part in parents:
        config = config[part]
    config[last] = value


def one_of(config: Any, field: str, choices: Iterable) -> None:
    value = lookup(config, field)
    choices = tuple(choices)
    check(value in choices, f'config.{field}={value!r} is not one of {", ".join(map(str, choices))}')


def positive(config: Any, *fields: str) -> None:
    for field in fields:
        value = lookup(config, field)
        check(isinstance(value, int) and value > 0, f'config.{field}={value!r} must be a positive integer')
