"""The ResNet generator and discriminator of Miyato et al. (2018) (SN-GAN), after the CIFAR-10 models of
Gulrajani et al. (2017) (WGAN-GP).

G: z -> Dense to 4x4xW -> 3 up blocks (BN, ReLU, nearest 2x, conv3x3, BN, ReLU, conv3x3; shortcut
   nearest 2x, conv1x1) -> BN, ReLU, conv3x3 -> tanh. W = g_width (256 in SN-GAN).
D: optimised first block (conv3x3, ReLU, conv3x3, avg-pool 2; shortcut avg-pool, conv1x1) -> down block
   -> 2 blocks (ReLU, conv3x3, ReLU, conv3x3; shortcut conv1x1 where the width changes) -> ReLU ->
   sum over positions -> Dense -> logit. W = d_width (128). Spectral normalisation on every D layer as an
   option (SN-GAN), none otherwise (WGAN-GP); D has no normalisation layers by default.
   At 64 and 128 pixels D is the deeper one of the SN-GAN authors' code (Miyato & Koyama 2018,
   `dis_models/snresnet_64.py` and `snresnet_128.py` of pfnet-research/sngan_projection): an optimised
   first block of width W, then down blocks of widths 2W, 4W, 8W, 16W (W = 64 there), and at 128 pixels
   one more block of 16W without downsampling; the shortcut is a 1x1 conv where the width changes.
"""

from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from jaxgan.models import registry
from jaxgan.models.convolution import Conv
from jaxgan.models.layers import (NORM_MODULES, ConditionalBatchNorm, Heads, layer_names, norm_layer, one_hot_channels,
                                  upsample_nearest, with_spectral_norm)

init = nn.initializers.xavier_uniform()


def _down(x: jax.Array) -> jax.Array:
    return nn.avg_pool(x, (2, 2), (2, 2))


class Generator(nn.Module):
    image_size: int
    channels: int
    width: int = 256
    dtype: Any = jnp.float32
    bn_axis_name: str | None = None
    norm: str = 'batch'
    num_classes: int = 0
    conditioning: str = 'none'  # none | concat | cbn (conditional BatchNorm, as SN-GAN's cGAN)

    @nn.compact
    def __call__(self, z: jax.Array, y: jax.Array | None = None, *, train: bool) -> jax.Array:
        if self.conditioning == 'concat':
            z = jnp.concatenate([z, jax.nn.one_hot(y, self.num_classes, dtype=z.dtype)], axis=-1)
        if self.conditioning == 'cbn':
            norm = lambda: (lambda x, cbn=ConditionalBatchNorm(self.num_classes, train, self.dtype,
                                                               self.bn_axis_name): cbn(x, y))
        else:
            norm = lambda: norm_layer(self.norm, train=train, dtype=self.dtype, axis_name=self.bn_axis_name)
        conv = lambda k: Conv(self.width, (k, k), padding='SAME', kernel_init=init, dtype=self.dtype)
        x = nn.Dense(4 * 4 * self.width, kernel_init=init, dtype=self.dtype)(z).reshape(-1, 4, 4, self.width)
        for _ in range(int(math.log2(self.image_size)) - 2):
            h = conv(3)(upsample_nearest(nn.relu(norm()(x))))
            h = conv(3)(nn.relu(norm()(h)))
            x = h + conv(1)(upsample_nearest(x))
        x = nn.relu(norm()(x))
        x = Conv(self.channels, (3, 3), padding='SAME', kernel_init=init, dtype=self.dtype)(x)
        return jnp.tanh(x.astype(jnp.float32))


class Discriminator(nn.Module):
    image_size: int
    width: int = 128
    dtype: Any = jnp.float32
    bn_axis_name: str | None = None
    norm: str = 'none'
    spectral_norm: bool = False
    num_classes: int = 0
    conditioning: str = 'none'  # none | concat | projection (SN-GAN's cGAN) | acgan
    semi_supervised: bool = False
    q_categorical: int = 0
    q_continuous: int = 0

    @nn.compact
    def __call__(self, x: jax.Array, y: jax.Array | None = None, *, train: bool) -> dict:
        if self.conditioning == 'concat':
            x = one_hot_channels(x, y, self.num_classes)
        sn = lambda layer: with_spectral_norm(layer, self.spectral_norm, train)
        conv = lambda k: sn(Conv(self.width, (k, k), padding='SAME', kernel_init=init, dtype=self.dtype))
        norm = lambda: norm_layer(self.norm, train=train, dtype=self.dtype, axis_name=self.bn_axis_name)
        if self.image_size >= 64:
            x = self._deep_body(x, sn, norm)
        else:
            h = _down(conv(3)(nn.relu(norm()(conv(3)(x)))))  # the optimised first block
            x = h + conv(1)(_down(x))
            h = _down(conv(3)(nn.relu(norm()(conv(3)(nn.relu(norm()(x)))))))
            x = h + _down(conv(1)(x))
            for _ in range(2):
                x = x + conv(3)(nn.relu(norm()(conv(3)(nn.relu(norm()(x))))))
        hidden = jnp.sum(nn.relu(x), axis=(1, 2))
        return Heads(self.num_classes, self.conditioning, self.semi_supervised, self.q_categorical,
                     self.q_continuous, self.spectral_norm, train, self.dtype)(hidden, y)

    def _deep_body(self, x: jax.Array, sn, norm) -> jax.Array:
        conv = lambda width, k: sn(Conv(width, (k, k), padding='SAME', kernel_init=init, dtype=self.dtype))
        w = self.width
        x = _down(conv(w, 3)(nn.relu(norm()(conv(w, 3)(x))))) + conv(w, 1)(_down(x))  # optimised block
        for width, down in _deep_blocks(self.image_size, w):
            h = conv(width, 3)(nn.relu(norm()(conv(width, 3)(nn.relu(norm()(x))))))
            shortcut = conv(width, 1)(x) if width != x.shape[-1] else x
            x = (_down(h) + _down(shortcut)) if down else h + shortcut
        return x


def _deep_blocks(image_size: int, width: int) -> list[tuple[int, bool]]:
    """(width, downsamples) of each block after the optimised one in the deeper D (64 and 128 pixels)."""
    return [(width * 2 ** i, True) for i in range(1, 5)] + ([(16 * width, False)] if image_size >= 128 else [])


def discriminator_blocks(d: Discriminator) -> tuple[tuple[str, ...], ...]:
    """D's residual blocks from its input (FreezeD, models.frozen_layers), as the names of their layers in
    D's params: each block's convs (its shortcut's 1x1 conv included) and normalisations, in the order
    `Discriminator` makes them. The head (layers.Heads after the sum over positions) is in none."""
    if d.image_size >= 64:  # (convs, norms): the optimised block, then a shortcut conv where the width changes
        widths = [d.width] + [width for width, _ in _deep_blocks(d.image_size, d.width)]
        counts = [(3, 1)] + [(2 + (after != before), 2) for before, after in zip(widths, widths[1:])]
    else:
        counts = [(3, 1), (3, 2), (2, 2), (2, 2)]
    norm, blocks, convs, norms = NORM_MODULES[d.norm], [], 0, 0
    for c, n in counts:
        blocks.append(layer_names('Conv', convs, c) + layer_names(norm, norms, n))
        convs, norms = convs + c, norms + n
    return tuple(blocks)


def build(config: ml_collections.ConfigDict, shape: tuple[int, ...], *, images: bool, num_classes: int,
          bn_axis: str | None, dtype: Any) -> tuple[nn.Module, nn.Module]:
    m, size, channels = config.model, shape[0], shape[-1]
    return (Generator(size, channels, m.g_width, dtype, bn_axis, ARCHITECTURE.g_norm(config),
                      num_classes=num_classes, conditioning=config.conditioning.g),
            Discriminator(size, m.d_width, dtype, bn_axis, ARCHITECTURE.d_norm(config), m.spectral_norm,
                          **registry.heads(config, num_classes)))


ARCHITECTURE = registry.register(registry.Architecture(
    'resnet', build, 'Miyato et al. 2018 / Gulrajani et al. 2017: residual G and D, power-of-two images from 8 to 128',
    g_norms=('batch', 'none'), d_norms=('none', 'layer', 'batch'), g_conditioning=('none', 'concat', 'cbn'),
    d_conditioning=registry.D_CONDITIONING_ALL, sizes=registry.Sizes(8, 128), spectral_norm=True, infogan=True,
    semi_supervised=True, discriminator_blocks=discriminator_blocks))
