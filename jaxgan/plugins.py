"""Families and architectures from outside jaxgan: the modules that register them, imported once.

A module that calls `jaxgan.family.register` or `jaxgan.models.register` is a plugin. jaxgan imports
plugins before it looks a name up in either registry, from two places:

- the `jaxgan.plugins` entry-point group of installed packages (in a package's pyproject.toml:
  `[project.entry-points."jaxgan.plugins"]` then `my_gans = "my_gans.families"`), the standard way for
  an installed package to extend another (importlib.metadata);
- the environment variable JAXGAN_PLUGINS: module names, comma-separated, importable from the current
  directory or the Python path (`JAXGAN_PLUGINS=my_arch python -m experiments.dcgan_celeba ...`).

A checkpoint also records the modules its family and architecture came from (`modules_of`), and the
tools import them before rebuilding its model (`import_modules`), so that `jaxgan.sample` and the
others read a run of a plugin's model without being told again.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os

from jaxgan.errors import UserError

GROUP = 'jaxgan.plugins'
ENV = 'JAXGAN_PLUGINS'
_loaded: set[str] = set()


def import_modules(names) -> None:
    """Imports each module of `names` (once), a one-line UserError naming one that cannot be imported."""
    for name in names:
        if not name or name in _loaded:
            continue
        try:
            importlib.import_module(name)
        except ImportError as e:
            raise UserError(f'cannot import the plugin module {name!r} ({e}): install it, or run from the '
                            'directory that holds it') from None
        _loaded.add(name)


def load() -> None:
    """Imports the entry points' and JAXGAN_PLUGINS' modules (each once)."""
    names = [ep.value.split(':')[0] for ep in importlib.metadata.entry_points(group=GROUP)]
    names += [n.strip() for n in os.environ.get(ENV, '').split(',')]
    import_modules(names)
