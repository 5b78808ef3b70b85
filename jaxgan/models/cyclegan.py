"""CycleGAN's ResNet generator (Zhu et al. 2017, after Johnson et al. 2016), after `ResnetGenerator` and
`ResnetBlock` in models/networks.py of junyanz/pytorch-CycleGAN-and-pix2pix.

Reflection pad 3, 7x7 convolution of width W, norm, ReLU; two 3x3 stride-2 convolutions (pad 1) to 2W
and 4W, each normalised, ReLU; `num_blocks` residual blocks of width 4W (reflection pad 1, 3x3 conv,
norm, ReLU, [dropout 0.5], reflection pad 1, 3x3 conv, norm; plus the input); two 3x3 stride-2
transposed convolutions (padding 1, output_padding 1) to 2W and W, each normalised, ReLU; reflection pad
3, 7x7 convolution to the output channels; tanh. resnet_9blocks at 256 pixels, resnet_6blocks at 128
(`blocks_for`). The CycleGAN model trains it with instance norm (affine-free) and without dropout.

Biases as the official code: none before batch norm, everywhere with instance norm; the last 7x7
convolution always has one; with 'none' every convolution has one (see unet.py). Weights N(0, 0.02).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.errors import UserError
from jaxgan.models.convolution import Conv, ConvTranspose
from jaxgan.models.layers import norm_layer, reflect_pad

weight_init = nn.initializers.normal(0.02)
NORMS = ('instance', 'batch', 'none')


def blocks_for(image_size: int) -> int:
    """The official choice of residual blocks: 9 from 256 pixels up (resnet_9blocks), 6 below."""
    return 9 if image_size >= 256 else 6


class ResnetGenerator(nn.Module):
    """x [B, H, W, C_in] in [-1, 1] -> image [B, H, W, channels] in [-1, 1] (float32); H and W multiples
    of 4, at least 8."""

    channels: int = 3
    num_blocks: int = 9
    width: int = 64
    norm: str = 'instance'  # instance | batch | none
    dropout: float = 0.0  # in the residual blocks (the official --no_dropout off: 0.5)
    dtype: Any = jnp.float32
    bn_axis_name: str | None = None

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, *, train: bool) -> jax.Array:
        if self.norm not in NORMS:
            raise ValueError(f'ResNet generator norm {self.norm!r} is not one of {", ".join(NORMS)}')
        h, w = x_BxHxWxC.shape[1:3]
        if h % 4 or w % 4 or min(h, w) < 8:
            raise UserError(f'image size {h}x{w}: the ResNet generator needs sides that are multiples of 4, '
                            'at least 8')
        use_bias = self.norm != 'batch'
        conv = lambda f, k, stride=1, padding='VALID', bias=use_bias: Conv(
            f, (k, k), (stride, stride), padding=padding, use_bias=bias, kernel_init=weight_init,
            dtype=self.dtype)
        norm = lambda: norm_layer(self.norm, train=train, dtype=self.dtype, axis_name=self.bn_axis_name)
        x = x_BxHxWxC.astype(self.dtype)
        x = nn.relu(norm()(conv(self.width, 7)(reflect_pad(x, 3))))
        for mult in (2, 4):
            x = nn.relu(norm()(conv(self.width * mult, 3, 2, ((1, 1), (1, 1)))(x)))
        for _ in range(self.num_blocks):
            y = nn.relu(norm()(conv(4 * self.width, 3)(reflect_pad(x, 1))))
            if self.dropout:
                y = nn.Dropout(self.dropout, deterministic=not train)(y)
            x = x + norm()(conv(4 * self.width, 3)(reflect_pad(y, 1)))
        for mult in (2, 1):
            # PyTorch's ConvTranspose2d(k=3, s=2, padding=1, output_padding=1): the dilated input padded by
            # k - 1 - padding = 1 before and that plus output_padding = 2 after; 2x the size.
            x = ConvTranspose(self.width * mult, (3, 3), (2, 2), padding=((1, 2), (1, 2)), use_bias=use_bias,
                                 kernel_init=weight_init, dtype=self.dtype)(x)
            x = nn.relu(norm()(x))
        x = conv(self.channels, 7, bias=True)(reflect_pad(x, 3))
        return jnp.tanh(x.astype(jnp.float32))
