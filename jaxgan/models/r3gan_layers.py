"""R3GAN's building blocks (Huang et al. 2024, "The GAN is dead; long live the GAN! A Modern Baseline GAN"),
after brownvc/R3GAN: R3GAN/Networks.py (MSRInitializer, Convolution, ResidualBlock, UpsampleLayer,
DownsampleLayer, GenerativeBasis, DiscriminativeBasis), R3GAN/FusedOperators.py (BiasedActivation) and
R3GAN/Resamplers.py (CreateLowpassKernel; the Interpolative resamplers, upfirdn2d.upsample2d and
downsample2d of torch_utils/ops/upfirdn2d.py, whose FIR filtering is models.stylegan2_layers').

Layout: NHWC; conv kernels HWIO [k, k, in / groups, out] (official [out, in / groups, k, k]: transpose
(2, 3, 1, 0)), dense kernels [in, out] (official nn.Linear [out, in]: transpose), G's basis [4, 4, C]
(official [C, 4, 4]) and D's depthwise basis [4, 4, C] (official [C, 1, 4, 4]). No convolution has a bias
and nothing is normalised: the only biases are those of the activations. Each layer computes in the dtype
of its input, the weights cast to it, as the official `weight.to(x.dtype)` does.
"""

from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.models.convolution import conv_general_dilated
from jaxgan.models.stylegan2_layers import downsample2d, upsample2d

LRELU_SLOPE = 0.2  # FusedOperators.py, BiasedActivation: leaky ReLU 0.2 ('lrelu' of bias_act, gain=1)
# FusedOperators.py, BiasedActivation.Gain: the leaky ReLU's variance gain sqrt(2 / (1 + 0.2^2)), used by
# the initialisation only (the activation itself is bias_act's lrelu with gain=1).
ACTIVATION_GAIN = math.sqrt(2.0 / (1.0 + LRELU_SLOPE ** 2))
LINEAR_LAYERS = 3  # Networks.py, ResidualBlock: NumberOfLinearLayers = 3
RESAMPLING_FILTER = (1, 2, 1)  # Networks.py, Generator / Discriminator: ResamplingFilter=[1, 2, 1]
DIMENSIONS = ('NHWC', 'HWIO', 'NHWC')


def create_lowpass_kernel(weights=RESAMPLING_FILTER, inplace: bool = False) -> np.ndarray:
    """Resamplers.py, CreateLowpassKernel: the 2-D kernel of the taps (Inplace=False: convolved with
    [1, 1] first, [1, 2, 1] -> [1, 3, 3, 1]), its outer product normalised to unit sum."""
    taps = np.asarray(weights, np.float64) if inplace else np.convolve(weights, [1, 1]).astype(np.float64)
    kernel = np.outer(taps, taps)
    return (kernel / kernel.sum()).astype(np.float32)


LOWPASS = create_lowpass_kernel()


def block_gain(variance_scaling: int) -> float:
    """Networks.py, ResidualBlock: the ActivationGain of a block's first two layers, BiasedActivation.Gain *
    VarianceScalingParameter ** (-1 / (2 * NumberOfLinearLayers - 2)) (the fix-up style scaling; the
    third layer's gain is 0)."""
    return ACTIVATION_GAIN * variance_scaling ** (-1.0 / (2 * LINEAR_LAYERS - 2))


def msr_init(gain: float, fan_in: int):
    """Networks.py, MSRInitializer: N(0, (gain / sqrt(fan_in))^2), fan_in = in / groups * k * k; gain 0:
    zeros."""
    std = gain / math.sqrt(fan_in)
    return lambda key, shape, dtype=jnp.float32: std * jax.random.normal(key, shape, dtype)


class Convolution(nn.Module):
    """Networks.py, Convolution: a k x k convolution, padding (k - 1) // 2, `groups` groups, no bias,
    MSR-initialised with `gain`."""

    features: int
    kernel_size: int = 1
    groups: int = 1
    gain: float = 1.0

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array) -> jax.Array:
        k, fan_in = self.kernel_size, x_BxHxWxC.shape[-1] // self.groups
        kernel = self.param('kernel', msr_init(self.gain, fan_in * k * k), (k, k, fan_in, self.features))
        p = (k - 1) // 2
        return conv_general_dilated(x_BxHxWxC, kernel.astype(x_BxHxWxC.dtype), (1, 1), ((p, p), (p, p)),
                                    dimension_numbers=DIMENSIONS, feature_group_count=self.groups)


class Linear(nn.Module):
    """Networks.py: MSRInitializer(nn.Linear(in, out, bias=False), gain): y = x W."""

    features: int
    gain: float = 1.0

    @nn.compact
    def __call__(self, x_BxI: jax.Array) -> jax.Array:
        kernel = self.param('kernel', msr_init(self.gain, x_BxI.shape[-1]), (x_BxI.shape[-1], self.features))
        return x_BxI @ kernel.astype(x_BxI.dtype)


class BiasedActivation(nn.Module):
    """FusedOperators.py, BiasedActivation: leaky ReLU (slope 0.2, gain 1) of x plus a learned bias (init 0)
    over the last axis."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        bias = self.param('bias', nn.initializers.zeros, (x.shape[-1],))
        return jax.nn.leaky_relu(x + bias.astype(x.dtype), LRELU_SLOPE)


class ResidualBlock(nn.Module):
    """Networks.py, ResidualBlock: x + conv3(act2(conv2(act1(conv1(x))))): conv1 1x1 to C * expansion,
    conv2 k x k grouped in `cardinality` groups, conv3 1x1 back to C and initialised to 0; conv1 and conv2
    initialised with block_gain(variance_scaling)."""

    cardinality: int
    expansion: int
    kernel_size: int
    variance_scaling: int

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array) -> jax.Array:
        c = x_BxHxWxC.shape[-1]
        expanded, gain = c * self.expansion, block_gain(self.variance_scaling)
        y = Convolution(expanded, 1, gain=gain, name='conv1')(x_BxHxWxC)
        y = Convolution(expanded, self.kernel_size, self.cardinality, gain, name='conv2')(BiasedActivation(name='act1')(y))
        y = Convolution(c, 1, gain=0.0, name='conv3')(BiasedActivation(name='act2')(y))
        return x_BxHxWxC + y


class UpsampleLayer(nn.Module):
    """Networks.py, UpsampleLayer: a 1x1 convolution (when the width changes), then 2x up-sampling with the
    low-pass kernel (upfirdn2d.upsample2d: zeros inserted, filtered with gain 4)."""

    features: int

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array) -> jax.Array:
        if x_BxHxWxC.shape[-1] != self.features:
            x_BxHxWxC = Convolution(self.features, 1, name='linear')(x_BxHxWxC)
        return upsample2d(x_BxHxWxC, LOWPASS)


class DownsampleLayer(nn.Module):
    """Networks.py, DownsampleLayer: 2x down-sampling with the low-pass kernel (upfirdn2d.downsample2d),
    then a 1x1 convolution (when the width changes)."""

    features: int

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array) -> jax.Array:
        x = downsample2d(x_BxHxWxC, LOWPASS)
        return Convolution(self.features, 1, name='linear')(x) if x.shape[-1] != self.features else x


class GenerativeBasis(nn.Module):
    """Networks.py, GenerativeBasis: a learned 4x4 basis [4, 4, C] (N(0, 1)) scaled per channel by a
    linear map of the input vector: [B, I] -> [B, 4, 4, C]."""

    features: int

    @nn.compact
    def __call__(self, x_BxI: jax.Array) -> jax.Array:
        basis = self.param('basis', nn.initializers.normal(1.0), (4, 4, self.features))
        scale = Linear(self.features, name='linear')(x_BxI)
        return basis.astype(x_BxI.dtype)[None] * scale[:, None, None, :]


class DiscriminativeBasis(nn.Module):
    """Networks.py, DiscriminativeBasis: a depthwise 4x4 'valid' convolution (the official grouped Conv2d,
    MSR gain 1, fan-in 16) of the 4x4 map to a vector [B, C], then a linear map to `features`. Returns
    (output [B, features], the vector [B, C])."""

    features: int

    @nn.compact
    def __call__(self, x_Bx4x4xC: jax.Array) -> tuple[jax.Array, jax.Array]:
        basis = self.param('basis', msr_init(1.0, 16), (4, 4, x_Bx4x4xC.shape[-1]))
        pooled = jnp.einsum('bhwc,hwc->bc', x_Bx4x4xC, basis.astype(x_Bx4x4xC.dtype))
        return Linear(self.features, name='linear')(pooled), pooled


class GeneratorStage(nn.Module):
    """Networks.py, GeneratorStage: the transition (the GenerativeBasis in the first stage, else an
    UpsampleLayer), then `blocks` residual blocks, all in `dtype` (the official x.to(DataType))."""

    features: int
    cardinality: int
    blocks: int
    expansion: int
    kernel_size: int
    variance_scaling: int
    first: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = x.astype(self.dtype)
        x = (GenerativeBasis(self.features, name='basis') if self.first
             else UpsampleLayer(self.features, name='upsample'))(x)
        for j in range(self.blocks):
            x = ResidualBlock(self.cardinality, self.expansion, self.kernel_size, self.variance_scaling,
                              name=f'block{j}')(x)
        return x


class DiscriminatorStage(nn.Module):
    """Networks.py, DiscriminatorStage: `blocks` residual blocks, then the transition (a DownsampleLayer,
    or in the last stage the DiscriminativeBasis), all in `dtype`. Returns (output, the basis's vector or
    None)."""

    features: int
    cardinality: int
    blocks: int
    expansion: int
    kernel_size: int
    variance_scaling: int
    last: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array | None]:
        x = x.astype(self.dtype)
        for j in range(self.blocks):
            x = ResidualBlock(self.cardinality, self.expansion, self.kernel_size, self.variance_scaling,
                              name=f'block{j}')(x)
        if self.last:
            return DiscriminativeBasis(self.features, name='basis')(x)
        return DownsampleLayer(self.features, name='downsample')(x), None
