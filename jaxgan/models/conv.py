"""Convolutions whose gradients stay fast inside loops and conditionals on XLA:CPU.

XLA on the CPU runs a convolution in its fast (Eigen) form when the input is NHWC and the kernel HWIO.
The convolutions JAX derives for a convolution's gradients have other layouts (the kernel's in and out
swapped for the input's gradient; batch and channels swapped for the kernel's), and XLA rewrites them into
the fast form in a program's top level but not inside a loop or a conditional body. Measured on the
project's 2-core CPU: one DCGAN-sized discriminator's gradient 19 times slower in a `lax.scan` of 25 steps
than as 25 calls (2.7 s against 0.14 s), `jaxgan.bench --experiment=stacked_mnist --steps_per_dispatch=25`
at 1.7 steps/s against 16.9 with one step per dispatch, and a ProGAN layer's gradient 40 times slower
inside the stage conditional. The engine runs several steps per dispatch as a scan, and ProGAN's stages
are a conditional, so both met it.

`conv_general_dilated` is a drop-in for `jax.lax.conv_general_dilated` whose gradients are written, by a
custom VJP, as convolutions again in NHWC/HWIO form:
  the input's:  the output gradient correlated with the kernel flipped in space, in and out swapped, with
                the forward strides as input dilation and the forward input dilation as strides;
  the kernel's: the input with batch and channels swapped, correlated with the output gradient as the
                kernel (batch as its input channels), the forward strides as kernel dilation;
with JAX's own paddings (`jax._src.lax.convolution`, `_conv_general_vjp_lhs_padding` and
`_conv_general_vjp_rhs_padding`). These are the convolutions JAX's own transpose rules make, only laid
out differently, so the values are the same at every order (the gradient penalties differentiate
twice), and the tests compare them.

It is chosen on a CPU (models.convolution, the one place that chooses; accelerators were not measured)
and applies to 2-D NHWC/HWIO convolutions with feature_group_count and batch_group_count 1, the default
precision and no preferred_element_type, outside a shard_map over more than one device. Elsewhere it is
XLA's own convolution, gradients and all: grouped convolutions (StyleGAN2's depthwise blur) and
shard_map over several devices, where the custom rule
crashed XLA's CPU runtime (segmentation faults and heap corruption with 8 simulated devices: in a 4-step
ProGAN test run now and then, within 40 repetitions every time; with XLA's own rule, or on one device,
never; not traced further). Under a one-device shard_map the kernel (replicated) is first marked
varying over the axes the input varies over, as JAX's own rule does implicitly, so that its gradient
has the type the step sums over devices.

A custom VJP has no forward mode: on the CPU, `jax.jvp`, `jacfwd` and `hessian` through these
convolutions raise (JAX's TypeError); nothing in jaxgan uses forward mode.

`Conv` and `ConvTranspose` are Flax's modules (same fields, parameters, names and initialisation) on this
convolution; the architectures use models.convolution's, which are these where this one is chosen.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

NHWC_HWIO = ('NHWC', 'HWIO', 'NHWC')
Pairs = tuple[tuple[int, int], ...]


def conv_general_dilated(lhs: jax.Array, rhs: jax.Array, window_strides: Sequence[int],
                         padding: str | Sequence[tuple[int, int]], lhs_dilation: Sequence[int] | None = None,
                         rhs_dilation: Sequence[int] | None = None, dimension_numbers: Any = None,
                         feature_group_count: int = 1, batch_group_count: int = 1, precision: Any = None,
                         preferred_element_type: Any = None) -> jax.Array:
    """`jax.lax.conv_general_dilated`, with the gradients of the module docstring where they apply."""
    n = lhs.ndim - 2
    lhs_dilation = tuple(lhs_dilation or (1,) * n)
    rhs_dilation = tuple(rhs_dilation or (1,) * n)
    xla = functools.partial(jax.lax.conv_general_dilated, lhs, rhs, window_strides, padding, lhs_dilation,
                            rhs_dilation, dimension_numbers, feature_group_count, batch_group_count, precision,
                            preferred_element_type)
    if not _custom_applies(lhs, rhs, padding, lhs_dilation, dimension_numbers, feature_group_count,
                           batch_group_count, precision, preferred_element_type):
        return xla()
    if isinstance(padding, str):  # as jax.lax.conv_general_dilated resolves it
        window = [_dilated(k, d) for k, d in zip(rhs.shape[:n], rhs_dilation)]
        padding = jax.lax.padtype_to_pads(lhs.shape[1:-1], window, window_strides, padding)
    varying = tuple(_varying_axes(lhs) - _varying_axes(rhs))
    if varying:
        rhs = jax.lax.pcast(rhs, varying, to='varying') if hasattr(jax.lax, 'pcast') else jax.lax.pvary(rhs, varying)
    return _conv(lhs, rhs, tuple(window_strides), tuple((int(lo), int(hi)) for lo, hi in padding), lhs_dilation,
                 rhs_dilation)


def _custom_applies(lhs, rhs, padding, lhs_dilation, dimension_numbers, feature_group_count, batch_group_count,
                    precision, preferred_element_type) -> bool:
    if lhs.ndim != 4 or _inside_a_split_shard_map():
        return False
    if (feature_group_count, batch_group_count, precision, preferred_element_type) != (1, 1, None, None):
        return False
    if isinstance(padding, str) and any(d != 1 for d in lhs_dilation):
        return False  # XLA's call raises JAX's own error: no string padding with input dilation
    canonical = jax.lax.conv_dimension_numbers(lhs.shape, rhs.shape, NHWC_HWIO)
    return jax.lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers) == canonical


def _inside_a_split_shard_map() -> bool:
    """Whether this is traced inside a shard_map over mesh axes of more than one device in all."""
    mesh = jax.sharding.get_abstract_mesh()
    if mesh.empty:
        return False
    return math.prod(mesh.shape[a] for a in getattr(mesh, 'manual_axes', ())) > 1


def _varying_axes(x: jax.Array) -> frozenset:
    """The shard_map axes x varies over (empty outside shard_map)."""
    aval = jax.typeof(x)
    manual = getattr(aval, 'manual_axis_type', None)
    return frozenset(manual.varying if manual is not None else getattr(aval, 'vma', ()))


def _dilated(size: int, dilation: int) -> int:
    return 0 if size == 0 else 1 + dilation * (size - 1)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4, 5))
def _conv(x: jax.Array, w: jax.Array, strides: tuple[int, ...], padding: Pairs, lhs_dilation: tuple[int, ...],
          rhs_dilation: tuple[int, ...]) -> jax.Array:
    return jax.lax.conv_general_dilated(x, w, strides, padding, lhs_dilation, rhs_dilation,
                                        dimension_numbers=NHWC_HWIO)


def _conv_fwd(x, w, strides, padding, lhs_dilation, rhs_dilation):
    return _conv(x, w, strides, padding, lhs_dilation, rhs_dilation), (x, w)


def _conv_bwd(strides, padding, lhs_dilation, rhs_dilation, residuals, g):
    x, w = residuals
    if g.size == 0:  # an empty output: no gradient (XLA's rule gives zeros too)
        return jnp.zeros_like(x), jnp.zeros_like(w)
    n = x.ndim - 2
    x_size = [_dilated(s, d) for s, d in zip(x.shape[1:-1], lhs_dilation)]
    w_size = [_dilated(s, d) for s, d in zip(w.shape[:n], rhs_dilation)]
    g_size = [_dilated(s, d) for s, d in zip(g.shape[1:-1], strides)]
    before = [k - lo - 1 for k, (lo, _) in zip(w_size, padding)]
    dx_padding = tuple((b, xs + k - 1 - gs - b) for b, xs, k, gs in zip(before, x_size, w_size, g_size))
    w_flipped = jnp.flip(w, tuple(range(n))).swapaxes(-1, -2)
    dx = conv_general_dilated(g, w_flipped, lhs_dilation, dx_padding, strides, rhs_dilation, NHWC_HWIO)
    dw_padding = tuple((lo, (gs - xs) + (k - lo - 1)) for (lo, _), gs, xs, k in zip(padding, g_size, x_size, w_size))
    x_cn = jnp.moveaxis(x, (0, -1), (-1, 0))  # [C, H, W, B]: channels as the batch
    g_hwbo = jnp.moveaxis(g, 0, -2)  # [H', W', B, O]: the gradient as a kernel over the batch
    dw = conv_general_dilated(x_cn, g_hwbo, rhs_dilation, dw_padding, lhs_dilation, strides, NHWC_HWIO)
    return dx, jnp.moveaxis(dw, 0, -2)  # [C, kh, kw, O] -> [kh, kw, C, O]


_conv.defvjp(_conv_fwd, _conv_bwd)


class Conv(nn.Conv):
    """`flax.linen.Conv` on `conv_general_dilated` (same parameters and names: 'Conv_0', ...)."""

    conv_general_dilated_cls: Any = lambda: conv_general_dilated


class ConvTranspose(nn.ConvTranspose):
    """`flax.linen.ConvTranspose` on `conv_general_dilated`, for a 2-D kernel on [B, H, W, C] inputs, padding
    'SAME', 'VALID', an int or pairs and transpose_kernel False (what `jax.lax.conv_transpose` computes:
    the input dilated by the strides, correlated with the kernel at stride 1 with the padding of
    `_conv_transpose_padding` in `jax._src.lax.convolution` for a string); Flax's own call for anything
    else (circular padding, a mask, transpose_kernel, other ranks), which a method interceptor such as
    `nn.tabulate` then sees twice. Same parameters and names ('ConvTranspose_0', ...)."""

    @nn.compact
    def __call__(self, inputs: jax.Array) -> jax.Array:
        kernel_size = (self.kernel_size,) if isinstance(self.kernel_size, int) else tuple(self.kernel_size)  # as Flax
        if (len(kernel_size) != 2 or inputs.ndim != 4 or self.mask is not None or self.transpose_kernel
                or (isinstance(self.padding, str) and self.padding not in ('SAME', 'VALID'))):
            return super().__call__(inputs)
        strides = _pair(self.strides)
        dilation = _pair(self.kernel_dilation)
        kernel = self.param('kernel', self.kernel_init, kernel_size + (inputs.shape[-1], self.features),
                            self.param_dtype)
        bias = self.param('bias', self.bias_init, (self.features,), self.param_dtype) if self.use_bias else None
        inputs, kernel, bias = self.promote_dtype(inputs, kernel, bias, dtype=self.dtype)
        if isinstance(self.padding, str):
            padding = [_transpose_padding(_dilated(k, d), s, self.padding)
                       for k, d, s in zip(kernel_size, dilation, strides)]
        else:
            padding = nn.linear.canonicalize_padding(self.padding, 2)
        y = conv_general_dilated(inputs, kernel, (1, 1), tuple(map(tuple, padding)), strides, dilation, NHWC_HWIO,
                                 precision=self.precision, preferred_element_type=self.preferred_element_type)
        return y if bias is None else y + bias.reshape((1,) * (y.ndim - 1) + (-1,))


def _pair(value: int | Sequence[int] | None) -> tuple[int, int]:
    """Strides or dilation as two ints (Flax broadcasts an int, and None is 1)."""
    if value is None:
        return (1, 1)
    return (value,) * 2 if isinstance(value, int) else tuple(value)


def _transpose_padding(k: int, s: int, padding: str) -> tuple[int, int]:
    """jax.lax.conv_transpose's padding for a dilated kernel of size k at stride s."""
    if padding == 'SAME':
        total, before = k + s - 2, (k - 1 if s > k - 1 else math.ceil((k + s - 2) / 2))
    else:  # 'VALID'
        total, before = k + s - 2 + max(k - s, 0), k - 1
    return before, total - before
