"""The PatchGAN discriminators of pix2pix and CycleGAN (Isola et al. 2017; Zhu et al. 2017), after
`NLayerDiscriminator` and `PixelDiscriminator` in models/networks.py of
junyanz/pytorch-CycleGAN-and-pix2pix.

PatchDiscriminator(num_layers): a 4x4 stride-2 convolution of width W, LeakyReLU(0.2); num_layers - 1
more stride-2 4x4 convolutions of widths W * min(2^n, 8), each normalised, LeakyReLU(0.2); one stride-1
4x4 convolution of width W * min(2^num_layers, 8), normalised, LeakyReLU(0.2); a stride-1 4x4
convolution to one logit per patch. Every convolution pads 1, so a 256x256 input gives 30x30 logits
with num_layers=3 ('basic', the 70x70 PatchGAN: each logit sees a 70x70 patch). num_layers=1 sees 16x16
patches. PixelDiscriminator ('pixel', the 1x1 PatchGAN): 1x1 convolutions of widths W, 2W, then 1.

Biases and normalisation as the official code (see unet.py): none on the convolutions followed by batch
normalisation; the first and last 4x4 convolutions always have one (the pixel D's last has one only
where the others do); 'none' keeps the biases. Weights N(0, 0.02).

A conditional D (pix2pix) sees input and output concatenated along channels: the caller concatenates,
the module takes whatever channels it is given. Output: {'logits': [B, H', W']} in float32, one logit
per patch; the losses average over the patches.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.errors import UserError
from jaxgan.models.convolution import Conv
from jaxgan.models.layers import norm_layer

weight_init = nn.initializers.normal(0.02)
NORMS = ('batch', 'instance', 'none')


def receptive_field(num_layers: int) -> int:
    """The side of the input patch one logit of PatchDiscriminator(num_layers) sees (70 for 3)."""
    rf = 4 + 3  # the two stride-1 4x4 convolutions at the end
    for _ in range(num_layers):
        rf = 2 * rf + 2  # a 4x4 stride-2 convolution below them
    return rf


def output_size(image_size: int, num_layers: int) -> int:
    """The side of the logit map for an image_size input."""
    for _ in range(num_layers):
        image_size = (image_size + 2 - 4) // 2 + 1
    return image_size - 2


class PatchDiscriminator(nn.Module):
    num_layers: int = 3
    width: int = 64
    norm: str = 'batch'  # batch | instance | none
    dtype: Any = jnp.float32
    bn_axis_name: str | None = None

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, *, train: bool) -> dict:
        if self.norm not in NORMS:
            raise ValueError(f'PatchGAN norm {self.norm!r} is not one of {", ".join(NORMS)}')
        size = min(x_BxHxWxC.shape[1:3])
        if self.num_layers < 1 or output_size(size, self.num_layers) < 1:
            raise UserError(f'image size {size}: too small for a PatchGAN discriminator of {self.num_layers} '
                            'layers (no logit left)')
        use_bias = self.norm != 'batch'
        conv = lambda f, stride, bias: Conv(f, (4, 4), (stride, stride), padding=((1, 1), (1, 1)),
                                               use_bias=bias, kernel_init=weight_init, dtype=self.dtype)
        norm = lambda: norm_layer(self.norm, train=train, dtype=self.dtype, axis_name=self.bn_axis_name)
        x = nn.leaky_relu(conv(self.width, 2, True)(x_BxHxWxC.astype(self.dtype)), 0.2)
        for n in range(1, self.num_layers):
            x = nn.leaky_relu(norm()(conv(self.width * min(2 ** n, 8), 2, use_bias)(x)), 0.2)
        x = nn.leaky_relu(norm()(conv(self.width * min(2 ** self.num_layers, 8), 1, use_bias)(x)), 0.2)
        logits = conv(1, 1, True)(x)
        return {'logits': logits[..., 0].astype(jnp.float32)}


class PixelDiscriminator(nn.Module):
    width: int = 64
    norm: str = 'batch'
    dtype: Any = jnp.float32
    bn_axis_name: str | None = None

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, *, train: bool) -> dict:
        if self.norm not in NORMS:
            raise ValueError(f'PatchGAN norm {self.norm!r} is not one of {", ".join(NORMS)}')
        use_bias = self.norm != 'batch'
        conv = lambda f, bias: Conv(f, (1, 1), use_bias=bias, kernel_init=weight_init, dtype=self.dtype)
        x = nn.leaky_relu(conv(self.width, True)(x_BxHxWxC.astype(self.dtype)), 0.2)
        x = norm_layer(self.norm, train=train, dtype=self.dtype, axis_name=self.bn_axis_name)(
            conv(2 * self.width, use_bias)(x))
        logits = conv(1, use_bias)(nn.leaky_relu(x, 0.2))
        return {'logits': logits[..., 0].astype(jnp.float32)}


def discriminator(patch: int, **kwargs) -> nn.Module:
    """The PatchGAN whose logits each see a patch x patch input square: 70 (pix2pix's and CycleGAN's
    default, 'basic'), 34, 16 ('n_layers' with 2 or 1 layers), or 1 ('pixel')."""
    if patch == 1:
        return PixelDiscriminator(**kwargs)
    layers = {receptive_field(n): n for n in range(1, 6)}
    if patch not in layers:
        raise UserError(f'PatchGAN patch {patch}: one of 1, {", ".join(map(str, layers))}')
    return PatchDiscriminator(layers[patch], **kwargs)
