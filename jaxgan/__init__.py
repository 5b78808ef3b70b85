"""jaxgan: GANs in JAX and Flax. `jaxgan.load(workdir)` is a trained run from Python (jaxgan.api); the
rest is reached through its modules and command lines. `import jaxgan` itself imports nothing heavy: the
API, and JAX with it, is imported on first use."""

from __future__ import annotations

from typing import Any

__all__ = ['load', 'Trained']


def __getattr__(name: str) -> Any:
    if name in __all__:
        from jaxgan import api
        return getattr(api, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
