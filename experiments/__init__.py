"""Experiments: one module each, a config and a few lines that call the library.

    python -m experiments.NAME --workdir=DIR --config.FIELD=VALUE
    python -m jaxgan.main --experiment=NAME ...   (the same)
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from jaxgan.errors import UserError

# Every module but the shared helpers (_translation: the translation experiments' scoring).
NAMES = tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith('_')))


def load(name: str) -> ModuleType:
    """The module experiments.NAME; a one-line UserError naming the experiments if there is none."""
    if name not in NAMES:
        raise UserError(f'--experiment={name!r} is not one of {", ".join(NAMES)}')
    return importlib.import_module(f'{__name__}.{name}')
