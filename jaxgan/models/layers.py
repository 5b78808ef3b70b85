"""Layers the architectures share: normalisation by name, spectral normalisation, nearest-neighbour
upsampling, and the layers of Salimans et al. (2016): minibatch discrimination and virtual batch
normalisation."""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Callable, Iterator

import flax.linen as nn
import jax
import jax.numpy as jnp

_PORTABLE = contextvars.ContextVar('portable', default=False)


@contextlib.contextmanager
def portable() -> Iterator[None]:
    """Within it, networks traced use only operations that exporters convert (jaxgan.export's ONNX), where
    the form they train with has none (StyleGAN2's and R3GAN's zero insertion: lax.pad's interior
    padding): the same numbers, and for training the faster form."""
    token = _PORTABLE.set(True)
    try:
        yield
    finally:
        _PORTABLE.reset(token)


def is_portable() -> bool:
    return _PORTABLE.get()

NORMS = ('batch', 'layer', 'virtual_batch', 'instance', 'none')
# The module `norm_layer` makes for each kind, as Flax names it in the params ('BatchNorm_0', ...).
NORM_MODULES = {'batch': 'BatchNorm', 'layer': 'LayerNormAllAxes', 'virtual_batch': 'VirtualBatchNorm',
                'instance': None, 'none': None}  # instance norm: no params


def layer_names(module: str | None, start: int, count: int) -> tuple[str, ...]:
    """The Flax names of `count` layers of class `module` made after `start` others: ('Conv_3', 'Conv_4');
    () for module None (a norm of kind 'none', which has no layer)."""
    return tuple(f'{module}_{i}' for i in range(start, start + count)) if module else ()


def bn_scale_init(key, shape, dtype=jnp.float32):
    """N(1, 0.02): DCGAN's initialisation of normalisation scales."""
    return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)


class VirtualBatchNorm(nn.Module):
    """Normalises each example with the statistics of a fixed reference batch plus the example itself.

    Input [R + B, ..., C] whose first R rows are the reference batch's activations: those rows are
    normalised with the reference statistics alone, and row i > R with mean and mean square
    (R * ref + x_i) / (R + 1), statistics over examples and spatial positions per channel. An example's
    output therefore does not depend on the other examples of its batch.
    """

    reference_size: int
    epsilon: float = 1e-5
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        r = self.reference_size
        axes = tuple(range(1, x.ndim - 1))
        xf = x.astype(jnp.float32)
        mean_i = jnp.mean(xf, axis=axes) if axes else xf  # [R + B, C]
        square_i = jnp.mean(jnp.square(xf), axis=axes) if axes else jnp.square(xf)
        ref_mean, ref_square = jnp.mean(mean_i[:r], axis=0), jnp.mean(square_i[:r], axis=0)
        w = 1.0 / (r + 1.0)
        mean = jnp.concatenate([jnp.broadcast_to(ref_mean, mean_i[:r].shape),
                                (1.0 - w) * ref_mean + w * mean_i[r:]])
        square = jnp.concatenate([jnp.broadcast_to(ref_square, square_i[:r].shape),
                                  (1.0 - w) * ref_square + w * square_i[r:]])
        var = jnp.maximum(square - jnp.square(mean), 0.0)
        shape = (x.shape[0],) + (1,) * len(axes) + (x.shape[-1],)
        y = (xf - mean.reshape(shape)) * jax.lax.rsqrt(var.reshape(shape) + self.epsilon)
        scale = self.param('scale', bn_scale_init, (x.shape[-1],))
        bias = self.param('bias', nn.initializers.zeros, (x.shape[-1],))
        return (y * scale + bias).astype(self.dtype)


def norm_layer(kind: str, *, train: bool, dtype: Any, axis_name: str | None = None,
               reference_size: int = 0) -> Callable[[jax.Array], jax.Array]:
    """The normalisation `kind` (NORMS) as a function of x, created in the calling compact module."""
    if kind == 'batch':
        return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                            scale_init=bn_scale_init, dtype=dtype, axis_name=axis_name)
    if kind == 'layer':  # per example, over every axis but the batch: as WGAN-GP's critic wants
        return LayerNormAllAxes(dtype=dtype)
    if kind == 'virtual_batch':
        return VirtualBatchNorm(reference_size, dtype=dtype)
    if kind == 'instance':
        return lambda x: instance_norm(x).astype(dtype)
    if kind == 'none':
        return lambda x: x
    raise ValueError(f'unknown norm {kind!r}')


def upsample_nearest(x_BxHxWxC: jax.Array, factor: int = 2) -> jax.Array:
    """Nearest-neighbour upsampling: each pixel repeated factor x factor times."""
    if factor == 1:
        return x_BxHxWxC
    return jnp.repeat(jnp.repeat(x_BxHxWxC, factor, axis=1), factor, axis=2)


def instance_norm(x_BxHxWxC: jax.Array, epsilon: float = 1e-5) -> jax.Array:
    """Each example's channels normalised over the positions, without scale or bias: PyTorch's
    InstanceNorm2d(affine=False), as pix2pix and CycleGAN use it (statistics of the example itself in
    training and in evaluation alike). Computed in float32."""
    x = x_BxHxWxC.astype(jnp.float32)
    mean = jnp.mean(x, axis=(1, 2), keepdims=True)
    var = jnp.var(x, axis=(1, 2), keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + epsilon)


def reflect_pad(x_BxHxWxC: jax.Array, pad: int) -> jax.Array:
    """x padded by `pad` positions on each side of H and W, mirrored without repeating the edge
    (PyTorch's ReflectionPad2d)."""
    return jnp.pad(x_BxHxWxC, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode='reflect')


class LayerNormAllAxes(nn.Module):
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return nn.LayerNorm(epsilon=1e-5, reduction_axes=tuple(range(1, x.ndim)), dtype=self.dtype,
                            scale_init=bn_scale_init)(x)


def with_spectral_norm(layer: nn.Module, enabled: bool, train: bool) -> Callable[[jax.Array], jax.Array]:
    """`layer`, its weight divided by its largest singular value (Miyato et al. 2018) if enabled.

    Flax's SpectralNorm estimates it by one power iteration per training call; the iterate lives in the
    'spectral' variable collection, part of the model state.
    """
    if not enabled:
        return layer
    wrapped = nn.SpectralNorm(layer, n_steps=1, collection_name='spectral')
    return lambda x: wrapped(x, update_stats=train)


class MinibatchDiscrimination(nn.Module):
    """Salimans et al. (2016): features f [B, A] -> [B, A + K] with, for each of K kernels,
    o_k(x_i) = sum_j exp(-||M_ik - M_jk||_1), M = f T reshaped to [B, K, kernel_dim]."""

    num_kernels: int = 100
    kernel_dim: int = 5

    @nn.compact
    def __call__(self, f: jax.Array) -> jax.Array:
        t = self.param('T', nn.initializers.normal(0.05), (f.shape[-1], self.num_kernels * self.kernel_dim))
        m = (f.astype(jnp.float32) @ t).reshape(f.shape[0], self.num_kernels, self.kernel_dim)
        l1 = jnp.sum(jnp.abs(m[:, None] - m[None, :]), axis=-1)  # [B, B, K]
        return jnp.concatenate([f, jnp.sum(jnp.exp(-l1), axis=1).astype(f.dtype)], axis=-1)


class ConditionalBatchNorm(nn.Module):
    """BatchNorm whose scale and bias are looked up per class (de Vries et al. 2017; Miyato & Koyama
    2018): normalise, then x * gamma[y] + beta[y]."""

    num_classes: int
    train: bool
    dtype: Any = jnp.float32
    axis_name: str | None = None

    @nn.compact
    def __call__(self, x: jax.Array, y: jax.Array) -> jax.Array:
        x = nn.BatchNorm(use_running_average=not self.train, momentum=0.9, epsilon=1e-5, use_scale=False,
                         use_bias=False, dtype=self.dtype, axis_name=self.axis_name)(x)
        c = x.shape[-1]
        gamma = nn.Embed(self.num_classes, c, embedding_init=nn.initializers.ones, name='scale')(y)
        beta = nn.Embed(self.num_classes, c, embedding_init=nn.initializers.zeros, name='bias')(y)
        shape = (x.shape[0],) + (1,) * (x.ndim - 2) + (c,)
        return (x * gamma.reshape(shape) + beta.reshape(shape)).astype(self.dtype)


def one_hot_channels(x: jax.Array, y: jax.Array, num_classes: int) -> jax.Array:
    """x [B, ..., C] with one-hot(y) appended to its last axis, broadcast over the positions."""
    onehot = jax.nn.one_hot(y, num_classes, dtype=x.dtype)
    onehot = onehot.reshape((x.shape[0],) + (1,) * (x.ndim - 2) + (num_classes,))
    return jnp.concatenate([x, jnp.broadcast_to(onehot, x.shape[:-1] + (num_classes,))], axis=-1)


class Heads(nn.Module):
    """What a discriminator puts on its body's last hidden layer h [B, F]: a dict of outputs.

    'logits' [B]: real versus fake (the body's own where it has one); + <embed(y), h> with projection
    conditioning (Miyato & Koyama 2018). 'class_logits' [B, K]: AC-GAN's auxiliary classifier, or the
    semi-supervised GAN's K classes, whose log-sum-exp is then the real/fake logit (Salimans et al.
    2016). 'q_categorical', 'q_continuous': InfoGAN's Q head (Chen et al. 2016). 'features': h.
    """

    num_classes: int = 0
    conditioning: str = 'none'  # none | concat | projection | acgan
    semi_supervised: bool = False
    q_categorical: int = 0
    q_continuous: int = 0
    spectral_norm: bool = False
    train: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, h: jax.Array, y: jax.Array | None = None, logits: jax.Array | None = None) -> dict:
        dense = lambda n, name: with_spectral_norm(nn.Dense(n, dtype=self.dtype, name=name), self.spectral_norm,
                                                   self.train)
        out = {'features': h.astype(jnp.float32)}
        if self.semi_supervised:
            class_logits = dense(self.num_classes, 'classes')(h).astype(jnp.float32)
            out['class_logits'] = class_logits
            logits = jax.nn.logsumexp(class_logits, axis=-1)
        elif logits is None:
            logits = dense(1, 'logit')(h).reshape(h.shape[0])
        logits = logits.astype(jnp.float32)
        if self.conditioning == 'projection':
            embed = nn.Embed(self.num_classes, h.shape[-1], embedding_init=nn.initializers.normal(0.02),
                             name='projection')(y)
            logits = logits + jnp.sum(embed.astype(jnp.float32) * h.astype(jnp.float32), axis=-1)
        if self.conditioning == 'acgan':
            out['class_logits'] = dense(self.num_classes, 'classes')(h).astype(jnp.float32)
        if self.q_categorical or self.q_continuous:
            q = nn.leaky_relu(nn.Dense(128, dtype=self.dtype, name='q_hidden')(h), 0.2)
            if self.q_categorical:
                out['q_categorical'] = nn.Dense(self.q_categorical, name='q_categorical')(q).astype(jnp.float32)
            if self.q_continuous:
                out['q_continuous'] = nn.Dense(self.q_continuous, name='q_continuous')(q).astype(jnp.float32)
        out['logits'] = logits
        return out
