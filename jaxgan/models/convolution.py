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
import jax.numpy as jnp

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
    """`jax.lax.conv_general_dilated`, computed by the chosen implementation. Under 'nhwc_gradients' a
    grouped convolution (1 < groups < input channels, NHWC/HWIO) runs as one dense convolution with a
    block-diagonal kernel (`block_diagonal`): XLA:CPU's grouped convolution is slow, its gradients most
    (R3GAN's 3x3 convolution of 128 maps in 8 groups at 32x32, batch 32, forward and both gradients:
    16.4 s grouped, 0.63 s dense; 32 groups at 16x16: 8.1 s against 0.19 s), where the dense one does
    `groups` times the arithmetic in Eigen's fast form. Depthwise convolutions (groups = channels) stay
    XLA's, which runs them as fast (0.14 s and 0.12 s for 128 maps at 16x16)."""
    implementation = nhwc.conv_general_dilated if chosen() == 'nhwc_gradients' else jax.lax.conv_general_dilated
    if (implementation is nhwc.conv_general_dilated and 1 < feature_group_count < lhs.shape[-1]
            and batch_group_count == 1 and tuple(dimension_numbers or ()) == nhwc.NHWC_HWIO):
        rhs, feature_group_count = block_diagonal(rhs, feature_group_count), 1
    return implementation(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation, dimension_numbers,
                          feature_group_count, batch_group_count, precision, preferred_element_type)


def block_diagonal(kernel: jax.Array, groups: int) -> jax.Array:
    """A grouped HWIO kernel [kh, kw, in / groups, out] as the dense kernel [kh, kw, in, out] of the same
    convolution: zero where an input channel's group is not its output channel's."""
    per_group_in, out = kernel.shape[2], kernel.shape[3]
    inputs = per_group_in * groups
    same_group = (jnp.arange(inputs)[:, None] // per_group_in) == (jnp.arange(out)[None, :] // (out // groups))
    return jnp.tile(kernel, (1, 1, groups, 1)) * same_group.astype(kernel.dtype)


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
