"""pix2pix's U-Net generator (Isola et al. 2017), after `UnetGenerator` and `UnetSkipConnectionBlock` in
models/networks.py of junyanz/pytorch-CycleGAN-and-pix2pix.

An encoder of `num_downs` stride-2 4x4 convolutions down to 1x1 (unet_256: 8 at 256 pixels), widths
width * min(2^i, 8) (64-128-256-512-512-512-512-512), each but the first and the innermost followed by
the normalisation, each but the first preceded by LeakyReLU(0.2); a decoder of stride-2 4x4 transposed
convolutions back up, each preceded by ReLU and, but for the last, followed by the normalisation, taking
the concatenation [encoder feature of its level, decoder output below] (the skip connections); tanh
out. Dropout(0.5) follows the normalisation of the decoder layers of the 512 -> 512 levels between the
innermost one and the four outer ones (unet_256: three, at 4x4, 8x8 and 16x16), as the official code's
`use_dropout` places it; pix2pix trains with it on.

Biases: as the official code, a convolution followed by batch normalisation has none (its bias rule); the
outermost transposed convolution always has one. With norm 'instance' (affine-free, as the official
`InstanceNorm2d(affine=False)`) every convolution has a bias, as there; with 'none' too (the official
code, testing for instance norm only, drops them there, leaving a network with no offsets at all).
Weights N(0, 0.02), batch-norm scales N(1, 0.02), biases 0 (its `init_weights`).

Fewer than 5 downsamplings (images under 32 pixels, for the demos) keep the same widths per level and
drop the middle blocks: the official layout needs at least 5.

Train and evaluation: `train=True` uses batch statistics and dropout (random numbers from the 'dropout'
stream); `train=False` running averages and no dropout. The pix2pix paper runs its generator at test
time as in training (dropout on, statistics of the test batch): call it with train=True,
mutable=['batch_stats'] (and drop the updated statistics) and a 'dropout' key to get that.
"""

from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.errors import UserError
from jaxgan.models.convolution import Conv, ConvTranspose
from jaxgan.models.layers import norm_layer

weight_init = nn.initializers.normal(0.02)
NORMS = ('batch', 'instance', 'none')


def num_downs(image_size: int) -> int:
    """The downsamplings that take an image_size image to 1x1: log2(image_size) (8 at 256, unet_256)."""
    if image_size < 4 or image_size & (image_size - 1):
        raise UserError(f'image size {image_size}: the U-Net generator makes square images of a power-of-two '
                        'size, at least 4')
    return int(math.log2(image_size))


def level_widths(depth: int, width: int) -> list[int]:
    """The encoder's output widths, outermost first: width * min(2^i, 8)."""
    return [width * min(2 ** i, 8) for i in range(depth)]


class UNetGenerator(nn.Module):
    """x [B, H, W, C_in] in [-1, 1] -> image [B, H, W, channels] in [-1, 1] (float32); H and W multiples
    of 2^num_downs."""

    channels: int = 3
    num_downs: int = 8
    width: int = 64
    norm: str = 'batch'  # batch | instance | none
    dropout: float = 0.5  # in the middle decoder blocks; 0: none
    dtype: Any = jnp.float32
    bn_axis_name: str | None = None

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, *, train: bool) -> jax.Array:
        n = self.num_downs
        if self.norm not in NORMS:
            raise ValueError(f'U-Net norm {self.norm!r} is not one of {", ".join(NORMS)}')
        if n < 2:
            raise ValueError(f'the U-Net needs at least 2 downsamplings, not {n}')
        h, w = x_BxHxWxC.shape[1:3]
        if h % 2 ** n or w % 2 ** n:
            raise UserError(f'image size {h}x{w}: a U-Net of {n} downsamplings needs sides that are multiples '
                            f'of {2 ** n}')
        use_bias = self.norm != 'batch'
        norm = lambda: norm_layer(self.norm, train=train, dtype=self.dtype, axis_name=self.bn_axis_name)
        pad = ((1, 1), (1, 1))  # PyTorch's padding 1 for the 4x4 stride-2 convolution
        conv = lambda f: Conv(f, (4, 4), (2, 2), padding=pad, use_bias=use_bias, kernel_init=weight_init,
                                 dtype=self.dtype)
        # PyTorch's ConvTranspose2d(k=4, s=2, p=1) pads the dilated input by k - 1 - p = 2 on each side.
        deconv = lambda f, bias: ConvTranspose(f, (4, 4), (2, 2), padding=((2, 2), (2, 2)), use_bias=bias,
                                                  kernel_init=weight_init, dtype=self.dtype)
        widths = level_widths(n, self.width)
        skips = []
        x = x_BxHxWxC.astype(self.dtype)
        for i in range(n):
            if i > 0:
                x = nn.leaky_relu(x, 0.2)
            x = conv(widths[i])(x)
            if 0 < i < n - 1:
                x = norm()(x)
            skips.append(x)
        for i in reversed(range(1, n)):
            if i < n - 1:
                x = jnp.concatenate([skips[i], x], axis=-1)
            x = norm()(deconv(widths[i - 1], use_bias)(nn.relu(x)))
            if self.dropout and 4 <= i <= n - 2:
                x = nn.Dropout(self.dropout, deterministic=not train)(x)
        x = deconv(self.channels, True)(nn.relu(jnp.concatenate([skips[0], x], axis=-1)))
        return jnp.tanh(x.astype(jnp.float32))
