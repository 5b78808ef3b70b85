"""DCGAN (Radford et al. 2015): all-convolutional G and D with BatchNorm, no pooling, no dense layers.

G: z -> 4x4 transposed conv -> (stride-2 transposed conv, BN, ReLU) ... -> tanh image.
D: image -> stride-2 conv, LeakyReLU(0.2) -> (stride-2 conv, BN, LeakyReLU) ... -> 4x4 conv -> logit.
Weights N(0, 0.02), BN scales N(1, 0.02), as in the paper and the reference PyTorch example; no biases
before BatchNorm. Widths double per layer away from the image: for 64x64 and width 64, G has
512-256-128-64 channels and D 64-128-256-512.

Options beyond the paper: G's normalisation ('batch', 'virtual_batch', 'none'); G's upsampling
(UPSAMPLES: the paper's stride-2 4x4 transposed convolutions, or resize-convolutions, nearest-neighbour
2x then a 3x3 convolution, which Odena et al. 2016, "Deconvolution and checkerboard artifacts", Distill,
propose because transposed convolutions leave checkerboard patterns, even where the kernel divides by
the stride as DCGAN's 4 by 2 does, through unevenly learnt weights); D's normalisation ('batch',
'layer', 'none'), spectral normalisation of D's layers, and minibatch discrimination before D's output
(which then is a dense layer on the flattened 4x4 features).
"""

from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from jaxgan.errors import UserError
from jaxgan.models import registry
from jaxgan.models.convolution import Conv, ConvTranspose
from jaxgan.models.layers import (NORM_MODULES, ConditionalBatchNorm, Heads, MinibatchDiscrimination, layer_names,
                                  norm_layer, one_hot_channels, upsample_nearest, with_spectral_norm)

weight_init = nn.initializers.normal(0.02)
UPSAMPLES = ('transposed', 'nearest')  # G's stride-2 layers: the paper's, or Odena et al.'s resize-convolution


def num_resolutions(image_size: int) -> int:
    """Stride-2 layers between 4x4 and image_size x image_size."""
    return int(math.log2(image_size)) - 2


class Generator(nn.Module):
    image_size: int
    channels: int
    width: int = 64
    dtype: Any = jnp.float32
    bn_axis_name: str | None = None  # set to the mesh axis for cross-device BatchNorm
    norm: str = 'batch'
    reference_size: int = 64  # virtual_batch: latents in the fixed reference batch
    num_classes: int = 0
    conditioning: str = 'none'  # none | concat (one-hot y beside z) | cbn (conditional BatchNorm)
    upsample: str = 'transposed'  # UPSAMPLES

    @nn.compact
    def __call__(self, z_BxZ: jax.Array, y: jax.Array | None = None, *, train: bool) -> jax.Array:
        n = num_resolutions(self.image_size)
        r = self.reference_size if self.norm == 'virtual_batch' else 0
        if self.conditioning == 'concat':
            z_BxZ = jnp.concatenate([z_BxZ, jax.nn.one_hot(y, self.num_classes, dtype=z_BxZ.dtype)], axis=-1)
        if r:  # the reference batch's latents: drawn once at init, part of the model state
            ref = self.variable('reference', 'z', lambda: jax.random.normal(
                self.make_rng('params'), (r, z_BxZ.shape[-1]), z_BxZ.dtype))
            z_BxZ = jnp.concatenate([ref.value, z_BxZ])
        if self.conditioning == 'cbn':
            norm = lambda: (lambda x, cbn=ConditionalBatchNorm(self.num_classes, train, self.dtype,
                                                               self.bn_axis_name): cbn(x, y))
        else:
            norm = lambda: norm_layer(self.norm, train=train, dtype=self.dtype, axis_name=self.bn_axis_name,
                                      reference_size=r)
        use_bias = self.norm == 'none'
        deconv = lambda features, **kw: ConvTranspose(
            features, (4, 4), use_bias=use_bias, kernel_init=weight_init, dtype=self.dtype, **kw)

        def up(features: int, x: jax.Array) -> jax.Array:  # 2x the resolution
            if self.upsample == 'transposed':
                return deconv(features, strides=(2, 2), padding=((2, 2), (2, 2)))(x)
            return Conv(features, (3, 3), padding=((1, 1), (1, 1)), use_bias=use_bias, kernel_init=weight_init,
                        dtype=self.dtype)(upsample_nearest(x))  # resize-convolution

        x = z_BxZ.reshape(z_BxZ.shape[0], 1, 1, -1)
        x = nn.relu(norm()(deconv(self.width * 2 ** (n - 1), padding='VALID')(x)))  # 4x4
        for i in reversed(range(n - 1)):
            x = nn.relu(norm()(up(self.width * 2 ** i, x)))
        x = up(self.channels, x)
        return jnp.tanh(x[r:].astype(jnp.float32))


class Discriminator(nn.Module):
    image_size: int
    width: int = 64
    dtype: Any = jnp.float32
    bn_axis_name: str | None = None
    norm: str = 'batch'
    spectral_norm: bool = False
    minibatch_kernels: int = 0  # minibatch discrimination kernels; 0: none
    num_classes: int = 0
    conditioning: str = 'none'  # none | concat (one-hot y as channels) | projection | acgan
    semi_supervised: bool = False
    q_categorical: int = 0
    q_continuous: int = 0

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, y: jax.Array | None = None, *, train: bool) -> dict:
        """{'logits': [B], 'features': [B, F], and the heads' outputs} (see layers.Heads)."""
        n = num_resolutions(self.image_size)
        if self.conditioning == 'concat':
            x_BxHxWxC = one_hot_channels(x_BxHxWxC, y, self.num_classes)
        use_bias = self.norm == 'none'
        conv = lambda features, **kw: with_spectral_norm(Conv(
            features, (4, 4), use_bias=use_bias, kernel_init=weight_init, dtype=self.dtype, **kw),
            self.spectral_norm, train)
        x = nn.leaky_relu(conv(self.width, strides=(2, 2), padding=((1, 1), (1, 1)))(x_BxHxWxC), 0.2)
        for i in range(1, n):
            x = conv(self.width * 2 ** i, strides=(2, 2), padding=((1, 1), (1, 1)))(x)
            x = norm_layer(self.norm, train=train, dtype=self.dtype, axis_name=self.bn_axis_name)(x)
            x = nn.leaky_relu(x, 0.2)
        hidden, logits = x.reshape(x.shape[0], -1), None
        if self.minibatch_kernels:
            hidden = MinibatchDiscrimination(self.minibatch_kernels)(hidden)
        elif not self.semi_supervised:
            logits = conv(1, padding='VALID')(x).reshape(x.shape[0])  # 4x4 -> 1x1
        return Heads(self.num_classes, self.conditioning, self.semi_supervised, self.q_categorical,
                     self.q_continuous, self.spectral_norm, train, self.dtype)(hidden, y, logits)


def discriminator_blocks(d: Discriminator) -> tuple[tuple[str, ...], ...]:
    """D's blocks from its input (FreezeD, models.frozen_layers), as the names of their layers in D's
    params: each stride-2 conv with the normalisation after it (the first conv has none). The head (the
    last 4x4 conv, minibatch discrimination, layers.Heads) is in none."""
    norm = NORM_MODULES[d.norm]
    return (('Conv_0',),) + tuple((f'Conv_{i}', *layer_names(norm, i - 1, 1))
                                  for i in range(1, num_resolutions(d.image_size)))


def build(config: ml_collections.ConfigDict, shape: tuple[int, ...], *, images: bool, num_classes: int,
          bn_axis: str | None, dtype: Any) -> tuple[nn.Module, nn.Module]:
    m, c = config.model, config.conditioning
    g_norm = ARCHITECTURE.g_norm(config)
    if g_norm == 'virtual_batch' and c.g != 'none':
        raise UserError('virtual batch norm and class conditioning of G do not combine')
    size, channels = shape[0], shape[-1]
    return (Generator(size, channels, m.g_width, dtype, bn_axis, g_norm, m.vbn_reference_size,
                      num_classes=num_classes, conditioning=c.g, upsample=ARCHITECTURE.g_upsample(config)),
            Discriminator(size, m.d_width, dtype, bn_axis, ARCHITECTURE.d_norm(config), m.spectral_norm,
                          m.minibatch_discrimination, **registry.heads(config, num_classes)))


ARCHITECTURE = registry.register(registry.Architecture(
    'dcgan', build, 'Radford et al. 2015: all-convolutional G and D, any power-of-two image size from 8',
    g_norms=('batch', 'virtual_batch', 'none'), d_norms=('batch', 'layer', 'none'),
    g_conditioning=('none', 'concat', 'cbn'), d_conditioning=registry.D_CONDITIONING_ALL,
    g_upsamples=UPSAMPLES, spectral_norm=True, minibatch_discrimination=True, infogan=True, semi_supervised=True,
    discriminator_blocks=discriminator_blocks))
