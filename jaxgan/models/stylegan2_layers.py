"""StyleGAN2's building blocks (Karras et al. 2020), after NVlabs/stylegan2-ada-pytorch: the sizes of its
networks (training/networks.py), the FIR resampling of torch_utils/ops/upfirdn2d.py and
conv2d_resample.py, the activations of bias_act.py, the equalised-learning-rate layers
(FullyConnectedLayer, Conv2dLayer), the second-moment normalisation and the minibatch standard
deviation. models.stylegan2 builds its networks from them, and models.progan shares the last two (see
models.stylegan2's docstring for the conventions: NHWC, HWIO kernels, equalised learning rate).
"""

from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan.checks import check
from jaxgan.errors import UserError
from jaxgan.models.convolution import conv_general_dilated
from jaxgan.models.layers import is_portable

ACTIVATIONS = ('linear', 'lrelu')
LRELU_SLOPE = 0.2  # bias_act.py, activation_funcs['lrelu']: def_alpha=0.2
LRELU_GAIN = math.sqrt(2.0)  # bias_act.py, activation_funcs['lrelu']: def_gain=np.sqrt(2)
RESAMPLE_TAPS = (1, 3, 3, 1)  # networks.py: resample_filter=[1,3,3,1] in every resampling layer
DIMENSIONS = ('NHWC', 'HWIO', 'NHWC')

# ---------------------------------------------------------------- sizes

def check_resolution(resolution: int, what: str = 'StyleGAN2') -> int:
    """resolution, if a power of two of at least 4 (SynthesisNetwork's assertion); UserError otherwise."""
    if not isinstance(resolution, (int, np.integer)) or resolution < 4 or resolution & (resolution - 1):
        raise UserError(f'resolution {resolution!r}: {what} needs a power of two of at least 4 pixels')
    return int(resolution)


def block_resolutions(resolution: int) -> list[int]:
    """G's blocks, 4, 8, ..., resolution (networks.py, SynthesisNetwork.block_resolutions)."""
    return [2 ** i for i in range(2, int(math.log2(resolution)) + 1)]


def channels_at(res: int, channel_base: int, channel_max: int) -> int:
    """Feature maps at resolution res: min(channel_base // res, channel_max) (networks.py, channels_dict)."""
    return min(channel_base // res, channel_max)


def num_ws(resolution: int) -> int:
    """The ws G's synthesis takes: one per conv layer (1 at 4x4, 2 above) plus the last ToRGB's
    (networks.py, SynthesisNetwork.num_ws): 18 at 1024."""
    return 2 * int(math.log2(resolution)) - 2


def block_dtype(res: int, resolution: int, num_fp16_res: int | None, dtype: Any) -> Any:
    """The compute dtype of the block at res: `dtype` from fp16_resolution = max(2^(log2 R + 1 -
    num_fp16_res), 8) up (networks.py, SynthesisNetwork / Discriminator), float32 below; None: `dtype`."""
    if num_fp16_res is None:
        return dtype
    fp16_resolution = max(2 ** (int(math.log2(resolution)) + 1 - num_fp16_res), 8)
    return dtype if res >= fp16_resolution else jnp.float32


# ---------------------------------------------------------------- FIR resampling (upfirdn2d.py, conv2d_resample.py)

def setup_filter(taps=RESAMPLE_TAPS) -> np.ndarray:
    """The 2-D filter [k, k] of 1-D taps, normalised to unit sum (upfirdn2d.setup_filter: a 1-D filter of
    fewer than 8 taps becomes its outer product; normalize=True divides by the sum)."""
    f = np.asarray(taps, np.float32)
    f = np.outer(f, f) if f.ndim == 1 else f
    return f / f.sum()


FIR = setup_filter()


def upfirdn2d(x_BxHxWxC: jax.Array, f: np.ndarray, *, up: int = 1, down: int = 1,
              padding: tuple[int, int, int, int] = (0, 0, 0, 0), gain: float = 1.0) -> jax.Array:
    """upfirdn2d.upfirdn2d (flip_filter=False) on NHWC: insert up - 1 zeros after each pixel, pad by
    padding (x0, x1, y0, y1; negative crops), convolve each channel with f * gain, keep every down-th
    pixel. One depthwise `conv_general_dilated`; the zeros and padding by `lax.pad`."""
    px0, px1, py0, py1 = padding
    c = x_BxHxWxC.shape[-1]
    # up - 1 zeros after each pixel, the last pixel's included, make the size H * up, as upfirdn2d's
    # reshape-and-pad does; then the edges (negative edges crop).
    x = zero_insert(x_BxHxWxC, up, ((py0, py1), (px0, px1)))
    f = np.flip(np.asarray(f, np.float64), (0, 1)) * gain  # convolution: correlate with the flipped filter
    fy, fx = f.sum(1), f.sum(0) / f.sum()
    if np.allclose(np.outer(fy, fx), f, rtol=1e-6, atol=1e-9):
        # A separable filter (every one the official networks use): two 1-D passes of shifted, weighted
        # slices, element-wise work that XLA fuses; a depthwise convolution is far slower on CPUs.
        return _fir_1d(_fir_1d(x, fy, down, axis=1), fx, down, axis=2)
    kernel = jnp.asarray(np.broadcast_to(f[:, :, None, None], (*f.shape, 1, c)), x.dtype)
    return jax.lax.conv_general_dilated(x, kernel, (down, down), 'VALID', feature_group_count=c,
                                        dimension_numbers=DIMENSIONS)


def zero_insert(x_BxHxWxC: jax.Array, up: int, pads: tuple[tuple[int, int], tuple[int, int]]) -> jax.Array:
    """x with up - 1 zeros after each pixel along H and W ([B, H * up, W * up, C]), then padded by pads
    ((top, bottom), (left, right); negative crops). Training takes lax.pad's interior padding; under
    models.layers.portable (jaxgan.export) the zeros are stacked and reshaped in and the edges sliced
    and concatenated, the same numbers in operations every exporter converts (ONNX's Pad has no interior
    padding, and jax2onnx's pad wants a constant batch size). The portable form is not the training one:
    it measured about 15% slower on stylegan2_digits' step on a CPU
    (benchmarks/results/zero_insert_speed.json)."""
    x = x_BxHxWxC
    (top, bottom), (left, right) = pads
    if not is_portable():
        return jax.lax.pad(x, jnp.zeros((), x.dtype), ((0, 0, 0), (top, bottom + up - 1, up - 1),
                                                       (left, right + up - 1, up - 1), (0, 0, 0)))
    if up > 1:
        b, h, w, c = x.shape
        zeros = [jnp.zeros_like(x)] * (up - 1)
        x = jnp.stack([x, *zeros], axis=2).reshape(b, h * up, w, c)
        x = jnp.stack([x, *[jnp.zeros_like(x)] * (up - 1)], axis=3).reshape(b, h * up, w * up, c)
    return _pad_edges(_pad_edges(x, top, bottom, axis=1), left, right, axis=2)


def _pad_edges(x: jax.Array, before: int, after: int, axis: int) -> jax.Array:
    """x with zeros added (or, negative, rows cropped) at both ends of `axis`: slices and a concatenation,
    which ONNX converters take with a symbolic batch size (lax.pad they do not)."""
    x = jax.lax.slice_in_dim(x, max(-before, 0), x.shape[axis] - max(-after, 0), axis=axis)
    shape = list(x.shape)
    parts = []
    for n in (max(before, 0), None, max(after, 0)):
        if n is None:
            parts.append(x)
        elif n:
            shape[axis] = n
            parts.append(jnp.zeros(shape, x.dtype))
    return jnp.concatenate(parts, axis=axis) if len(parts) > 1 else x


def _fir_1d(x: jax.Array, taps: np.ndarray, down: int, axis: int) -> jax.Array:
    """The correlation of x with `taps` along `axis` ('VALID'), every down-th output kept."""
    n = x.shape[axis] - len(taps) + 1
    out = None
    for t, weight in enumerate(taps):
        if weight == 0:
            continue
        part = jax.lax.slice_in_dim(x, t, t + (n - 1) // down * down + 1, stride=down, axis=axis)
        part = part * jnp.asarray(weight, x.dtype)
        out = part if out is None else out + part
    return out


def upsample2d(x_BxHxWxC: jax.Array, f: np.ndarray = FIR, up: int = 2) -> jax.Array:
    """2x the size, zeros inserted and filtered with gain up^2 (upfirdn2d.upsample2d: padding
    ((k + up - 1) // 2, (k - up) // 2))."""
    k = f.shape[0]
    p0, p1 = (k + up - 1) // 2, (k - up) // 2
    return upfirdn2d(x_BxHxWxC, f, up=up, padding=(p0, p1, p0, p1), gain=up * up)


def downsample2d(x_BxHxWxC: jax.Array, f: np.ndarray = FIR, down: int = 2) -> jax.Array:
    """Half the size, filtered then every other pixel (upfirdn2d.downsample2d: padding
    ((k - down + 1) // 2, (k - down) // 2))."""
    k = f.shape[0]
    p0, p1 = (k - down + 1) // 2, (k - down) // 2
    return upfirdn2d(x_BxHxWxC, f, down=down, padding=(p0, p1, p0, p1))


def _conv(x: jax.Array, w_HWIO: jax.Array, *, stride: int = 1, padding: int = 0, dilation: int = 1) -> jax.Array:
    return conv_general_dilated(x, w_HWIO, (stride, stride), ((padding, padding), (padding, padding)),
                                lhs_dilation=(dilation, dilation), dimension_numbers=DIMENSIONS)


def conv2d_resample(x_BxHxWxC: jax.Array, w_HWIO: jax.Array, f: np.ndarray = FIR, *, up: int = 1, down: int = 1,
                    padding: int = 0, flip_weight: bool = True) -> jax.Array:
    """conv2d_resample.conv2d_resample: a square convolution (flip_weight True: correlation, as
    torch's conv2d; False: true convolution) of the image up-sampled by `up` or down-sampled by `down`
    with the filter f, `padding` with respect to the up-sampled image, taking the official fast paths:
    1x1 down: filter and subsample, then convolve; 1x1 up: convolve, then up-sample; k x k down: filter,
    then a stride-`down` convolution; k x k up: a transposed convolution (stride `up`), then filter."""
    if up > 1 and down > 1:
        raise ValueError('conv2d_resample: up- and down-sampling at once is not supported')
    k, fk = w_HWIO.shape[0], f.shape[0]
    w = w_HWIO if flip_weight else jnp.flip(w_HWIO, (0, 1))  # as correlation
    p0 = p1 = padding
    if up > 1:
        p0, p1 = p0 + (fk + up - 1) // 2, p1 + (fk - up) // 2
    if down > 1:
        p0, p1 = p0 + (fk - down + 1) // 2, p1 + (fk - down) // 2
    x = x_BxHxWxC
    if k == 1 and down > 1:
        return _conv(upfirdn2d(x, f, down=down, padding=(p0, p1, p0, p1)), w)
    if k == 1 and up > 1:
        return upfirdn2d(_conv(x, w), f, up=up, padding=(p0, p1, p0, p1), gain=up * up)
    if down > 1:
        return _conv(upfirdn2d(x, f, padding=(p0, p1, p0, p1)), w, stride=down)
    if up > 1:
        # torch's conv_transpose2d(stride=up, padding=pt) = correlation of the input dilated by `up` and
        # padded by k - 1 - pt with the flipped kernel; `w` is already the correlation kernel wanted.
        p0, p1 = p0 - (k - 1), p1 - (k - up)
        pt = max(min(-p0, -p1), 0)
        # The zeros inserted by lax.pad and a plain convolution: the same as lhs_dilation, whose gradient
        # XLA computes ten times slower on CPUs.
        q = k - 1 - pt
        x = _conv(zero_insert(x, up, ((q, q - up + 1), (q, q - up + 1))), w)
        return upfirdn2d(x, f, padding=(p0 + pt, p1 + pt, p0 + pt, p1 + pt), gain=up * up)
    if p0 != p1:
        raise ValueError(f'conv2d_resample: asymmetric padding {p0}, {p1}')
    return _conv(x, w, padding=p0)


# ---------------------------------------------------------------- equalised-learning-rate layers

def bias_act(x: jax.Array, b: jax.Array | None = None, *, activation: str = 'linear', gain: float = 1.0,
             clamp: float | None = None) -> jax.Array:
    """bias_act.bias_act over the last axis: x + b, the activation, times its default gain (lrelu:
    sqrt(2); linear: 1) and `gain`, clipped to [-clamp, clamp]."""
    if activation not in ACTIVATIONS:
        raise ValueError(f'activation {activation!r} is not one of {", ".join(ACTIVATIONS)}')
    if b is not None:
        x = x + b.astype(x.dtype)
    if activation == 'lrelu':
        x = jax.nn.leaky_relu(x, LRELU_SLOPE)
        gain = gain * LRELU_GAIN
    if gain != 1:
        x = x * jnp.asarray(gain, x.dtype)
    if clamp is not None:
        x = jnp.clip(x, -clamp, clamp)
    return x


def _scaled_normal(scale: float):
    """N(0, scale^2): the official torch.randn(...) / lr_multiplier."""
    return lambda key, shape, dtype=jnp.float32: scale * jax.random.normal(key, shape, dtype)


class FullyConnected(nn.Module):
    """networks.py, FullyConnectedLayer: y = act(x (W lr_multiplier / sqrt(in)) + b lr_multiplier), W
    stored N(0, 1) / lr_multiplier, b stored at bias_init."""

    features: int
    bias: bool = True
    activation: str = 'linear'
    lr_multiplier: float = 1.0
    bias_init: float = 0.0
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x_BxI: jax.Array) -> jax.Array:
        fan_in = x_BxI.shape[-1]
        kernel = self.param('kernel', _scaled_normal(1.0 / self.lr_multiplier), (fan_in, self.features))
        w = (kernel * (self.lr_multiplier / math.sqrt(fan_in))).astype(self.dtype)
        b = None
        if self.bias:
            b = self.param('bias', nn.initializers.constant(self.bias_init), (self.features,)) * self.lr_multiplier
        return bias_act(x_BxI.astype(self.dtype) @ w, b, activation=self.activation)


class Conv2dLayer(nn.Module):
    """networks.py, Conv2dLayer: a k x k convolution (padding k // 2) of weight N(0, 1) / sqrt(in k^2),
    optionally up- or down-sampling 2x with the FIR filter, then bias_act with gain and clamp scaled by
    the call's `gain`."""

    features: int
    kernel_size: int
    bias: bool = True
    activation: str = 'linear'
    up: int = 1
    down: int = 1
    conv_clamp: float | None = None
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, gain: float = 1.0) -> jax.Array:
        k, fan_in = self.kernel_size, x_BxHxWxC.shape[-1]
        kernel = self.param('kernel', _scaled_normal(1.0), (k, k, fan_in, self.features))
        w = (kernel * (1.0 / math.sqrt(fan_in * k * k))).astype(self.dtype)
        x = conv2d_resample(x_BxHxWxC.astype(self.dtype), w, up=self.up, down=self.down, padding=k // 2,
                            flip_weight=self.up == 1)
        b = self.param('bias', nn.initializers.zeros, (self.features,)) if self.bias else None
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        return bias_act(x, b, activation=self.activation, gain=gain, clamp=clamp)



# ---------------------------------------------------------------- normalisation and minibatch statistics

def normalize_2nd_moment(x: jax.Array, eps: float = 1e-8) -> jax.Array:
    """x / sqrt(mean(x^2) + eps) over the last axis (networks.py, normalize_2nd_moment)."""
    return x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=-1, keepdims=True) + eps)



def minibatch_stddev(x_BxHxWxC: jax.Array, group_size: int | None = 4, num_channels: int = 1) -> jax.Array:
    """networks.py, MinibatchStdLayer: append num_channels feature maps holding, per group of
    G = min(group_size, B) examples (example i is in group i mod B/G), the standard deviation over the
    group (sqrt(var + 1e-8)) averaged over positions and the C / num_channels channels of each part."""
    b, h, w, c = x_BxHxWxC.shape
    g = b if group_size is None else min(group_size, b)
    if b % g:
        raise ValueError(f'minibatch standard deviation: batch {b} is not a multiple of the group size {g}')
    f = num_channels
    y = x_BxHxWxC.astype(jnp.float32).reshape(g, b // g, h, w, f, c // f)
    y = y - jnp.mean(y, axis=0)
    y = jnp.sqrt(jnp.mean(jnp.square(y), axis=0) + 1e-8)  # [n, H, W, F, c]
    y = jnp.mean(y, axis=(1, 2, 4))  # [n, F]
    y = jnp.tile(y, (g, 1))[:, None, None, :]  # example i gets its group's, i mod n
    return jnp.concatenate([x_BxHxWxC, jnp.broadcast_to(y, (b, h, w, f)).astype(x_BxHxWxC.dtype)], axis=-1)


def check_mbstd_group(config: ml_collections.ConfigDict, section: str, num_devices: int) -> None:
    """The groups of D's minibatch standard deviation (config.<section>.mbstd_group) must divide each
    device's batch of examples (of packs, with PacGAN)."""
    group_size = config[section].mbstd_group
    per_device = config.batch_size // (num_devices * config.model.pack)
    group = min(group_size, per_device)
    check(per_device % group == 0,
          f'config.{section}.mbstd_group={group_size}: D\'s minibatch standard deviation takes groups of '
          f'{group} of the {per_device} examples on each device, which do not divide into them (make the '
          'per-device batch a multiple of the group, or the group smaller)')
