"""DCGAN (Radford et al. 2015): all-convolutional G and D with BatchNorm, no pooling, no dense layers.

G: z -> 4x4 transposed conv -> (stride-2 transposed conv, BN, ReLU) ... -> tanh image.
D: image -> stride-2 conv, LeakyReLU(0.2) -> (stride-2 conv, BN, LeakyReLU) ... -> 4x4 conv -> logit.
Weights N(0, 0.02), BN scales N(1, 0.02), as in the paper and the reference PyTorch example; no biases
before BatchNorm. Widths double per layer away from the image: for 64x64 and width 64, G has
512-256-128-64 channels and D 64-128-256-512.
"""

from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

weight_init = nn.initializers.normal(0.02)


def bn_scale_init(key, shape, dtype=jnp.float32):
    return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)


def num_resolutions(image_size: int) -> int:
    """Stride-2 layers between 4x4 and image_size x image_size."""
    return int(math.log2(image_size)) - 2


class Generator(nn.Module):
    image_size: int
    channels: int
    width: int = 64
    dtype: Any = jnp.float32
    bn_axis_name: str | None = None  # set to the mesh axis for cross-device BatchNorm

    @nn.compact
    def __call__(self, z_BxZ: jax.Array, *, train: bool) -> jax.Array:
        n = num_resolutions(self.image_size)
        bn = lambda: nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                                  scale_init=bn_scale_init, dtype=self.dtype, axis_name=self.bn_axis_name)
        deconv = lambda features, **kw: nn.ConvTranspose(
            features, (4, 4), use_bias=False, kernel_init=weight_init, dtype=self.dtype, **kw)
        x = z_BxZ.reshape(z_BxZ.shape[0], 1, 1, -1)
        x = nn.relu(bn()(deconv(self.width * 2 ** (n - 1), padding='VALID')(x)))  # 4x4
        for i in reversed(range(n - 1)):
            x = nn.relu(bn()(deconv(self.width * 2 ** i, strides=(2, 2), padding=((2, 2), (2, 2)))(x)))
        x = deconv(self.channels, strides=(2, 2), padding=((2, 2), (2, 2)))(x)
        return jnp.tanh(x.astype(jnp.float32))


class Discriminator(nn.Module):
    image_size: int
    width: int = 64
    dtype: Any = jnp.float32
    bn_axis_name: str | None = None

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, *, train: bool) -> jax.Array:
        n = num_resolutions(self.image_size)
        conv = lambda features, **kw: nn.Conv(features, (4, 4), use_bias=False, kernel_init=weight_init,
                                              dtype=self.dtype, **kw)
        x = nn.leaky_relu(conv(self.width, strides=(2, 2), padding=((1, 1), (1, 1)))(x_BxHxWxC), 0.2)
        for i in range(1, n):
            x = conv(self.width * 2 ** i, strides=(2, 2), padding=((1, 1), (1, 1)))(x)
            x = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                             scale_init=bn_scale_init, dtype=self.dtype, axis_name=self.bn_axis_name)(x)
            x = nn.leaky_relu(x, 0.2)
        x = conv(1, padding='VALID')(x)  # 4x4 -> 1x1
        return x.reshape(x.shape[0]).astype(jnp.float32)
