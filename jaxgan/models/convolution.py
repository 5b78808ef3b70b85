"""The convolution every architecture uses, and the one place that chooses how it is computed.

Model files write `Conv`, `ConvTranspose` (Flax's modules: same fields, parameters, names and
initialisation) and `conv_general_dilated` (`jax.lax`'s signature) from here, and know nothing of the
hardware. Which implementation runs is chosen per run, not per model:

    'xla'            XLA's own convolution and gradients (Flax's modules as they are).
    'nhwc_gradients' models.conv: the gradients rewritten as NHWC/HWIO convolutions, which XLA:CPU runs
                     in its fast form inside loops and conditionals (19x on a DCGAN discriminator's
                     gradient in a 25-step scan, 40x on a ProGAN layer in its stage conditional:
                     models.conv's docstring has the measurements). It has no forward mode.

`chosen()` is what a trace uses: the implementation `choose` set for the process, or inside `using`,
else BEST for the backend (measured: the rewrite on a CPU; XLA's own elsewhere, where the rewrite was
not measured). The choice is read when a function is traced, so it is made before a run's step is
first called (jax.jit keeps what it traced).
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Iterator

import flax.linen as nn
import jax

from jaxgan.models import conv as nhwc

IMPLEMENTATIONS = ('xla', 'nhwc_gradients')
BEST = {'cpu': 'nhwc_gradients'}  # backend -> the measured best; others: 'xla'

_process: str | None = None  # `choose`'s choice for the process (None: BEST)
_scoped: contextvars.ContextVar[str | None] = contextvars.ContextVar('convolution', default=None)


def _checked(implementation: str) -> str:
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(f'convolution {implementation!r} is not one of {", ".join(IMPLEMENTATIONS)}')
    return implementation


def choose(implementation: str | None) -> None:
    """The implementation of every convolution traced from now on in this process (None: BEST for the
    backend); a run's builder calls it before the run's functions are traced."""
    global _process
    _process = None if implementation is None else _checked(implementation)


@contextlib.contextmanager
def using(implementation: str) -> Iterator[None]:
    """The implementation of the convolutions traced inside the block."""
    token = _scoped.set(_checked(implementation))
    try:
        yield
    finally:
        _scoped.reset(token)


def chosen(backend: str | None = None) -> str:
    """The implementation a trace uses now: `using`'s, else `choose`'s, else BEST for `backend` (None:
    JAX's default backend)."""
    return _scoped.get() or _process or BEST.get(backend or jax.default_backend(), 'xla')


def conv_general_dilated(lhs: jax.Array, rhs: jax.Array, window_strides, padding, lhs_dilation=None,
                         rhs_dilation=None, dimension_numbers: Any = None, feature_group_count: int = 1,
                         batch_group_count: int = 1, precision: Any = None,
                         preferred_element_type: Any = None) -> jax.Array:
    """`jax.lax.conv_general_dilated`, computed by the chosen implementation."""
    implementation = nhwc.conv_general_dilated if chosen() == 'nhwc_gradients' else jax.lax.conv_general_dilated
    return implementation(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation, dimension_numbers,
                          feature_group_count, batch_group_count, precision, preferred_element_type)


class Conv(nn.Conv):
    """`flax.linen.Conv` on the chosen implementation (same parameters and names: 'Conv_0', ...)."""

    conv_general_dilated_cls: Any = lambda: conv_general_dilated


class ConvTranspose(nhwc.ConvTranspose):
    """`flax.linen.ConvTranspose` on the chosen implementation (same parameters and names:
    'ConvTranspose_0', ...): models.conv's form with the rewritten gradients, else Flax's own."""

    @nn.compact
    def __call__(self, inputs: jax.Array) -> jax.Array:
        if chosen() == 'nhwc_gradients':
            return super().__call__(inputs)
        return nn.ConvTranspose.__call__(self, inputs)
