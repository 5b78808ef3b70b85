"""StyleGAN2 (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN"): the mapping and
synthesis networks and the residual discriminator, after training/networks.py of
NVlabs/stylegan2-ada-pytorch (the authors' PyTorch code), with the resampling of torch_utils/ops/
upfirdn2d.py and conv2d_resample.py and the activations of bias_act.py; the named configurations are
train.py's `cfg_specs`.

Equalised learning rate everywhere: weights are stored N(0, 1) / lr_multiplier and scaled at run time by
lr_multiplier / sqrt(fan_in); biases stored at their initial value and scaled by lr_multiplier
(FullyConnectedLayer, Conv2dLayer). 'lrelu' is leaky ReLU of slope 0.2 times sqrt(2), 'linear' the
identity (bias_act.py, activation_funcs: def_alpha, def_gain); conv_clamp clips a layer's output after
the activation to +-conv_clamp * gain (bias_act's clamp; train.py sets 256 for every layer of G and D,
not only the float16 ones).

G = mapping + synthesis. Mapping: z normalised by its second moment, [with the label's embedding, also
normalised], `mapping_layers` lrelu FullyConnected layers of w_dim at lr_multiplier 0.01, broadcast to
num_ws = 2 log2(resolution) - 2 copies; truncation w_avg + psi (w - w_avg). Synthesis, architecture
'skip': a learned 4x4 constant, then per resolution 4, 8, ..., R one block of channels(res) =
min(channel_base // res, channel_max): conv0 (3x3, up 2; not in the 4x4 block) and conv1 (3x3), each a
modulated, demodulated convolution with per-pixel noise times a learned strength; ToRGB, a modulated 1x1
convolution without demodulation, added to the previous image up-sampled 2x with the [1,3,3,1] filter.
The image is [B, R, R, C] in float32, NHWC, not squashed (the official G emits it as is; images are
[-1, 1] in training data, and it learns that range).

D, architecture 'resnet' (the official default; 'orig', no skips, for the 'cifar' config): FromRGB (1x1)
at R, then per resolution R, R/2, ..., 8 a block conv0 (3x3), conv1 (3x3, down 2) plus a skip (1x1, down
2, no bias), both scaled by sqrt(0.5); the epilogue at 4x4: minibatch standard deviation (groups of
min(mbstd_group_size, B), 4 by default; B a multiple of the group), conv 3x3, FullyConnected to
channels(4) (flattened in NCHW order, as PyTorch's flatten), to one logit, or with labels a projection
onto the label's mapping (cmap).

Layout: NHWC; conv kernels HWIO [k, k, in, out] (official [out, in, k, k]: transpose (2, 3, 1, 0) to
port), dense kernels [in, out] (official [out, in]), the 4x4 constant [4, 4, C]. The convolutions that
up-sample compute a true convolution (the kernel flipped), as the official ones do (`flip_weight =
(self.up == 1)`), so ported weights give the official outputs.

Variables: 'params' hold what PyTorch's `parameters()` hold, so parameter counts match the official ones;
the official buffers live in the collection 'stats' (STATS): the mapping's w_avg (tracked with beta 0.995
in training: apply with train=True and mutable=['stats']) and each synthesis layer's noise_const. Random
noise comes from the rng stream 'noise' (`rngs={'noise': key}`); noise_mode 'const' uses noise_const,
'none' none. The FIR filter is a constant, not a variable.

Precision: `dtype` is the compute dtype of the blocks at the `num_fp16_res` highest resolutions (None:
every block), the rest in float32, as the official mixed precision does with float16 (train.py: 4);
mapping, affines, D's epilogue and G's image sum stay float32. The official modulated convolution is
fused (grouped convolution with per-example weights) in evaluation and not in training; both are the
same function, and this one always takes the unfused form (one shared convolution between the style and
demodulation scales), cheaper in XLA.

The building blocks (sizes, FIR resampling, bias_act, the equalised-learning-rate layers, the minibatch
standard deviation) are models.stylegan2_layers'. The architecture is registered at the end
(config.model.name=stylegan2): its config section (config.stylegan2), checks and build, with a mapping
network (the game's style mixing and path-length penalty) and noise inputs.

FreezeD (config.freeze_d=k) freezes D's first k blocks from the input, bR, ..., (`discriminator_blocks`; the
official freeze_layers counts layers, three in the first block and two in each other); the epilogue b4 and
the label mapping are never frozen.

Not here: G's 'orig' and 'resnet' architectures and D's 'skip' (neither is used by the official
configs); the per-GPU batch.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from jaxgan.checks import check, one_of, positive
from jaxgan.errors import UserError
from jaxgan.models import registry
from jaxgan.models.stylegan2_layers import (Conv2dLayer, FullyConnected, _scaled_normal, bias_act, block_dtype,
                                            block_resolutions, channels_at, check_mbstd_group, check_resolution,
                                            conv2d_resample, minibatch_stddev, normalize_2nd_moment, num_ws,
                                            upsample2d)

STATS = 'stats'  # the official buffers: w_avg and noise_const (not trained; not in 'params')
RESIDUAL_GAIN = math.sqrt(0.5)  # networks.py, DiscriminatorBlock.forward: gain=np.sqrt(0.5) for 'resnet'
MAPPING_LR_MULTIPLIER = 0.01  # networks.py, MappingNetwork: lr_multiplier=0.01
W_AVG_BETA = 0.995  # networks.py, MappingNetwork: w_avg_beta=0.995
NOISE_MODES = ('random', 'const', 'none')  # networks.py, SynthesisLayer.forward: noise_mode
D_ARCHITECTURES = ('resnet', 'orig')


# ---------------------------------------------------------------- mapping network

def _labels(y: jax.Array, num_classes: int) -> jax.Array:
    """The official c: one-hot [B, K] of integer labels [B], or c itself if given as [B, K]."""
    return jax.nn.one_hot(y, num_classes, dtype=jnp.float32) if y.ndim == 1 else y.astype(jnp.float32)


class MappingNetwork(nn.Module):
    """networks.py, MappingNetwork: z [B, Z] (None: no latent), labels y (int [B] or c [B, K]; with
    num_classes > 0) -> w [B, w_dim], or [B, num_ws, w_dim] when num_ws is set.

    z normalised by its second moment; the label embedded by a linear FullyConnected of embed_features
    (default w_dim; lr_multiplier 1) and normalised likewise, concatenated after z; num_layers
    FullyConnected layers (lrelu, lr_multiplier 0.01) of layer_features (default w_dim), the last of w_dim.
    With num_ws and w_avg_beta set, w_avg [w_dim] (collection STATS) tracks the batch mean of w in
    training, w_avg <- mean + beta (w_avg - mean), and truncation gives w_avg + psi (w - w_avg) for the
    first truncation_cutoff ws (None: all)."""

    w_dim: int = 512
    num_ws: int | None = None
    num_layers: int = 8
    num_classes: int = 0
    embed_features: int | None = None
    layer_features: int | None = None
    activation: str = 'lrelu'
    lr_multiplier: float = MAPPING_LR_MULTIPLIER
    w_avg_beta: float | None = W_AVG_BETA

    @nn.compact
    def __call__(self, z_BxZ: jax.Array | None, y: jax.Array | None = None, *, train: bool = False,
                 truncation_psi: float = 1.0, truncation_cutoff: int | None = None) -> jax.Array:
        parts = []
        if z_BxZ is not None:
            parts.append(normalize_2nd_moment(z_BxZ.astype(jnp.float32)))
        if self.num_classes:
            if y is None:
                raise ValueError(f'the mapping network is conditioned on {self.num_classes} classes: labels needed')
            embed = FullyConnected(self.embed_features or self.w_dim, name='embed')(_labels(y, self.num_classes))
            parts.append(normalize_2nd_moment(embed))
        if not parts:
            raise ValueError('the mapping network needs z or labels')
        x = jnp.concatenate(parts, axis=-1) if len(parts) > 1 else parts[0]
        hidden = self.layer_features or self.w_dim
        for i in range(self.num_layers):
            x = FullyConnected(self.w_dim if i == self.num_layers - 1 else hidden, activation=self.activation,
                               lr_multiplier=self.lr_multiplier, name=f'fc{i}')(x)
        w_avg = None
        if self.num_ws is not None and self.w_avg_beta is not None:
            w_avg = self.variable(STATS, 'w_avg', jnp.zeros, (self.w_dim,), jnp.float32)
            if train and not self.is_initializing() and self.is_mutable_collection(STATS):
                mean = jnp.mean(jax.lax.stop_gradient(x), axis=0)
                w_avg.value = mean + self.w_avg_beta * (w_avg.value - mean)  # torch: mean.lerp(w_avg, beta)
        if self.num_ws is not None:
            x = jnp.broadcast_to(x[:, None, :], (x.shape[0], self.num_ws, self.w_dim))
        if not (isinstance(truncation_psi, (int, float)) and truncation_psi == 1):
            if w_avg is None:
                raise ValueError('truncation needs the tracked w_avg (num_ws and w_avg_beta set)')
            truncated = w_avg.value + truncation_psi * (x - w_avg.value)
            if self.num_ws is None or truncation_cutoff is None:
                x = truncated
            else:
                x = x.at[:, :truncation_cutoff].set(truncated[:, :truncation_cutoff])
        return x


# ---------------------------------------------------------------- synthesis network

def modulated_conv2d(x_BxHxWxI: jax.Array, w_HWIO: jax.Array, styles_BxI: jax.Array, *, demodulate: bool = True,
                     up: int = 1, padding: int = 0, flip_weight: bool = True) -> jax.Array:
    """networks.py, modulated_conv2d in its unfused form: the input channels scaled by the styles, one
    shared convolution, the output channels scaled by the demodulation coefficients
    1 / sqrt(sum_{i,k} (w[k, i, o] s[b, i])^2 + 1e-8), which give unit-variance outputs for unit-variance
    inputs. In float16 weights and styles are first divided by their maxima, as the official code does."""
    dtype = x_BxHxWxI.dtype
    w = w_HWIO.astype(jnp.float32)
    s = styles_BxI.astype(jnp.float32)
    if dtype == jnp.float16 and demodulate:
        k, _, fan_in, _ = w.shape
        w = w * (1.0 / math.sqrt(fan_in * k * k) / jnp.max(jnp.abs(w), axis=(0, 1, 2), keepdims=True))
        s = s / jnp.max(jnp.abs(s), axis=1, keepdims=True)
    x = x_BxHxWxI * s[:, None, None, :].astype(dtype)
    x = conv2d_resample(x, w.astype(dtype), up=up, padding=padding, flip_weight=flip_weight)
    if demodulate:
        dcoefs = jax.lax.rsqrt(jnp.square(s) @ jnp.sum(jnp.square(w), axis=(0, 1)) + 1e-8)  # [B, O]
        x = x * dcoefs[:, None, None, :].astype(dtype)
    return x


class SynthesisLayer(nn.Module):
    """networks.py, SynthesisLayer: styles from w by an affine FullyConnected (bias init 1); a modulated,
    demodulated k x k convolution (weight N(0, 1), no gain: demodulation normalises it), up-sampling 2x
    with the FIR filter if up=2; plus noise [B, res, res, 1] times noise_strength (init 0); bias, lrelu
    (gain sqrt(2) * gain), clamp conv_clamp * gain."""

    features: int
    resolution: int
    kernel_size: int = 3
    up: int = 1
    use_noise: bool = True
    activation: str = 'lrelu'
    conv_clamp: float | None = None
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, w_BxW: jax.Array, *, noise_mode: str = 'random',
                 gain: float = 1.0) -> jax.Array:
        if noise_mode not in NOISE_MODES:
            raise ValueError(f'noise_mode {noise_mode!r} is not one of {", ".join(NOISE_MODES)}')
        k, fan_in, res = self.kernel_size, x_BxHxWxC.shape[-1], self.resolution
        styles = FullyConnected(fan_in, bias_init=1.0, name='affine')(w_BxW)
        kernel = self.param('kernel', _scaled_normal(1.0), (k, k, fan_in, self.features))
        x = modulated_conv2d(x_BxHxWxC.astype(self.dtype), kernel, styles, up=self.up, padding=k // 2,
                             flip_weight=self.up == 1)
        if self.use_noise:
            strength = self.param('noise_strength', nn.initializers.zeros, ())
            noise_const = self.variable(STATS, 'noise_const',
                                        lambda: jax.random.normal(self.make_rng('params'), (res, res)))
            noise = None
            if noise_mode == 'random':
                if self.has_rng('noise'):
                    noise = jax.random.normal(self.make_rng('noise'), (x.shape[0], res, res, 1)) * strength
                elif not self.is_initializing():  # at init the strength is 0: nothing to add
                    raise ValueError("noise_mode='random' needs an rng for noise: apply(..., rngs={'noise': key})")
            elif noise_mode == 'const':
                noise = noise_const.value[None, :, :, None] * strength
            if noise is not None:
                x = x + noise.astype(x.dtype)
        bias = self.param('bias', nn.initializers.zeros, (self.features,))
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        return bias_act(x, bias, activation=self.activation, gain=gain, clamp=clamp)


class ToRGBLayer(nn.Module):
    """networks.py, ToRGBLayer: a modulated 1x1 convolution without demodulation, styles (affine, bias
    init 1) times 1 / sqrt(in); bias, linear, clamp conv_clamp."""

    features: int
    conv_clamp: float | None = None
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, w_BxW: jax.Array) -> jax.Array:
        fan_in = x_BxHxWxC.shape[-1]
        styles = FullyConnected(fan_in, bias_init=1.0, name='affine')(w_BxW) * (1.0 / math.sqrt(fan_in))
        kernel = self.param('kernel', _scaled_normal(1.0), (1, 1, fan_in, self.features))
        x = modulated_conv2d(x_BxHxWxC.astype(self.dtype), kernel, styles, demodulate=False)
        bias = self.param('bias', nn.initializers.zeros, (self.features,))
        return bias_act(x, bias, clamp=self.conv_clamp)


class SynthesisBlock(nn.Module):
    """networks.py, SynthesisBlock, architecture 'skip': the 4x4 block starts from a learned constant
    [4, 4, C] (N(0, 1)) and has conv1 only; the others conv0 (up 2) and conv1. ToRGB of the features is
    added to the previous image up-sampled 2x (float32). ws [B, num_conv + 1, w_dim]: one per conv layer
    and the last for ToRGB (shared with the next block's first layer)."""

    features: int
    resolution: int
    channels: int = 3
    use_noise: bool = True
    conv_clamp: float | None = None
    dtype: Any = jnp.float32

    @property
    def first(self) -> bool:
        return self.resolution == 4

    @property
    def num_conv(self) -> int:
        return 1 if self.first else 2

    @nn.compact
    def __call__(self, x: jax.Array | None, img: jax.Array | None, ws_BxNxW: jax.Array, *,
                 noise_mode: str = 'random') -> tuple[jax.Array, jax.Array]:
        layer = functools.partial(SynthesisLayer, self.features, self.resolution, use_noise=self.use_noise,
                                  conv_clamp=self.conv_clamp, dtype=self.dtype)
        if self.first:
            const = self.param('const', _scaled_normal(1.0), (4, 4, self.features))
            x = jnp.broadcast_to(const.astype(self.dtype), (ws_BxNxW.shape[0], 4, 4, self.features))
        else:
            x = layer(up=2, name='conv0')(x, ws_BxNxW[:, 0], noise_mode=noise_mode)
        x = layer(name='conv1')(x, ws_BxNxW[:, self.num_conv - 1], noise_mode=noise_mode)
        y = ToRGBLayer(self.channels, self.conv_clamp, self.dtype, name='torgb')(x, ws_BxNxW[:, self.num_conv])
        y = y.astype(jnp.float32)
        img = y if img is None else upsample2d(img) + y
        return x, img


class SynthesisNetwork(nn.Module):
    """networks.py, SynthesisNetwork: ws [B, num_ws(resolution), w_dim] -> image [B, R, R, channels]
    (float32), blocks b4, b8, ..., bR of channels_at(res) feature maps."""

    resolution: int
    channels: int = 3
    channel_base: int = 32768
    channel_max: int = 512
    conv_clamp: float | None = None
    num_fp16_res: int | None = None
    use_noise: bool = True
    dtype: Any = jnp.float32

    def __post_init__(self):
        check_resolution(self.resolution, 'the StyleGAN2 generator')
        super().__post_init__()

    @nn.compact
    def __call__(self, ws_BxNxW: jax.Array, *, noise_mode: str = 'random') -> jax.Array:
        n = num_ws(self.resolution)
        if ws_BxNxW.ndim != 3 or ws_BxNxW.shape[1] != n:
            raise ValueError(f'ws of shape {ws_BxNxW.shape}: the synthesis network at {self.resolution} pixels '
                             f'takes [B, {n}, w_dim]')
        ws = ws_BxNxW.astype(jnp.float32)
        x = img = None
        first_w = 0
        for res in block_resolutions(self.resolution):
            block = SynthesisBlock(channels_at(res, self.channel_base, self.channel_max), res, self.channels,
                                   self.use_noise, self.conv_clamp,
                                   block_dtype(res, self.resolution, self.num_fp16_res, self.dtype), name=f'b{res}')
            x, img = block(x, img, ws[:, first_w:first_w + block.num_conv + 1], noise_mode=noise_mode)
            first_w += block.num_conv
        return img


class Generator(nn.Module):
    """networks.py, Generator: z [B, Z] (and labels y, int [B], with num_classes > 0) -> image
    [B, R, R, channels] (float32, NHWC); Z, z's width at init, is 512 in every official config. `map`
    and `synthesize` (apply(..., method=...)) run the two halves alone, as style mixing and the
    path-length penalty need."""

    resolution: int
    channels: int = 3
    w_dim: int = 512
    num_classes: int = 0
    mapping_layers: int = 8
    mapping_lr_multiplier: float = MAPPING_LR_MULTIPLIER
    w_avg_beta: float | None = W_AVG_BETA
    channel_base: int = 32768
    channel_max: int = 512
    conv_clamp: float | None = None
    num_fp16_res: int | None = None
    use_noise: bool = True
    dtype: Any = jnp.float32

    def __post_init__(self):
        check_resolution(self.resolution, 'the StyleGAN2 generator')
        super().__post_init__()

    @property
    def num_ws(self) -> int:
        return num_ws(self.resolution)

    def setup(self):
        self.mapping = MappingNetwork(self.w_dim, self.num_ws, self.mapping_layers, self.num_classes,
                                      lr_multiplier=self.mapping_lr_multiplier, w_avg_beta=self.w_avg_beta)
        self.synthesis = SynthesisNetwork(self.resolution, self.channels, self.channel_base, self.channel_max,
                                          self.conv_clamp, self.num_fp16_res, self.use_noise, self.dtype)

    def __call__(self, z_BxZ: jax.Array, y: jax.Array | None = None, *, train: bool = False,
                 truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
                 noise_mode: str | None = None) -> jax.Array:
        ws = self.mapping(z_BxZ, y, train=train, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesize(ws, noise_mode=noise_mode)

    def map(self, z_BxZ: jax.Array, y: jax.Array | None = None, *, train: bool = False,
            truncation_psi: float = 1.0, truncation_cutoff: int | None = None) -> jax.Array:
        """ws [B, num_ws, w_dim]."""
        return self.mapping(z_BxZ, y, train=train, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)

    def synthesize(self, ws_BxNxW: jax.Array, *, train: bool = False, noise_mode: str | None = None) -> jax.Array:
        """The image of ws [B, num_ws, w_dim]. noise_mode None: 'random' where an rng stream 'noise' is
        given (training), else 'const' (the official generate.py's default). `train` changes nothing."""
        del train
        if noise_mode is None:
            noise_mode = 'random' if self.has_rng('noise') or self.is_initializing() else 'const'
        return self.synthesis(ws_BxNxW, noise_mode=noise_mode)


# ---------------------------------------------------------------- discriminator

class DiscriminatorBlock(nn.Module):
    """networks.py, DiscriminatorBlock: FromRGB (1x1, lrelu) in the first block; conv0 (3x3) and conv1
    (3x3, down 2), lrelu; 'resnet' adds skip (1x1, down 2, no bias, linear), both branches times
    sqrt(0.5)."""

    tmp_features: int
    features: int
    first: bool = False
    architecture: str = 'resnet'
    conv_clamp: float | None = None
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array | None, img: jax.Array) -> jax.Array:
        conv = functools.partial(Conv2dLayer, activation='lrelu', conv_clamp=self.conv_clamp, dtype=self.dtype)
        if self.first:
            x = conv(self.tmp_features, 1, name='fromrgb')(img)
        x = x.astype(self.dtype)
        if self.architecture == 'resnet':
            y = Conv2dLayer(self.features, 1, bias=False, down=2, dtype=self.dtype, name='skip')(x, RESIDUAL_GAIN)
            x = conv(self.tmp_features, 3, name='conv0')(x)
            x = conv(self.features, 3, down=2, name='conv1')(x, RESIDUAL_GAIN)
            return y + x
        x = conv(self.tmp_features, 3, name='conv0')(x)
        return conv(self.features, 3, down=2, name='conv1')(x)


class DiscriminatorEpilogue(nn.Module):
    """networks.py, DiscriminatorEpilogue (float32): minibatch stddev, conv 3x3 (lrelu), FullyConnected
    of the NCHW-flattened features to C (lrelu), to 1 or cmap_dim; with cmap [B, cmap_dim] the logit is
    <out, cmap> / sqrt(cmap_dim). Returns (logits [B], features [B, C])."""

    cmap_dim: int = 0
    mbstd_group_size: int | None = 4
    mbstd_num_channels: int = 1
    conv_clamp: float | None = None

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, cmap: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
        x = x_BxHxWxC.astype(jnp.float32)
        b, c = x.shape[0], x.shape[-1]
        if self.mbstd_num_channels:
            x = minibatch_stddev(x, self.mbstd_group_size, self.mbstd_num_channels)
        x = Conv2dLayer(c, 3, activation='lrelu', conv_clamp=self.conv_clamp, name='conv')(x)
        h = FullyConnected(c, activation='lrelu', name='fc')(jnp.transpose(x, (0, 3, 1, 2)).reshape(b, -1))
        out = FullyConnected(self.cmap_dim or 1, name='out')(h)
        if self.cmap_dim:
            out = jnp.sum(out * cmap, axis=1, keepdims=True) * (1.0 / math.sqrt(self.cmap_dim))
        return out[:, 0], h


class Discriminator(nn.Module):
    """networks.py, Discriminator: image [B, R, R, C] (labels y, int [B], with num_classes > 0) ->
    {'logits': [B], 'features': [B, channels_at(4)]} (float32). Blocks bR, ..., b8, the epilogue b4; with
    labels a MappingNetwork (no latent, 8 layers, no w_avg) maps them to cmap of cmap_dim (default
    channels_at(4)). `train` changes nothing (no batch statistics)."""

    resolution: int
    num_classes: int = 0
    architecture: str = 'resnet'
    channel_base: int = 32768
    channel_max: int = 512
    conv_clamp: float | None = None
    num_fp16_res: int | None = None
    cmap_dim: int | None = None
    mbstd_group_size: int | None = 4
    mbstd_num_channels: int = 1
    dtype: Any = jnp.float32

    def __post_init__(self):
        check_resolution(self.resolution, 'the StyleGAN2 discriminator')
        if self.resolution < 8:
            raise UserError(f'resolution {self.resolution}: the StyleGAN2 discriminator needs at least 8 pixels '
                            '(one block above its 4x4 epilogue)')
        if self.architecture not in D_ARCHITECTURES:
            raise UserError(f'discriminator architecture {self.architecture!r} is not one of '
                            f'{", ".join(D_ARCHITECTURES)}')
        super().__post_init__()

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, y: jax.Array | None = None, *, train: bool = False) -> dict:
        del train  # nothing here depends on it
        r = self.resolution
        if x_BxHxWxC.ndim != 4 or x_BxHxWxC.shape[1:3] != (r, r):
            raise UserError(f'images of shape {tuple(x_BxHxWxC.shape)}: this StyleGAN2 discriminator takes '
                            f'[B, {r}, {r}, C]')
        ch = functools.partial(channels_at, channel_base=self.channel_base, channel_max=self.channel_max)
        x = None
        for res in reversed(block_resolutions(r)[1:]):
            x = DiscriminatorBlock(ch(res), ch(res // 2), res == r, self.architecture, self.conv_clamp,
                                   block_dtype(res, r, self.num_fp16_res, self.dtype), name=f'b{res}')(x, x_BxHxWxC)
        cmap_dim, cmap = 0, None
        if self.num_classes:
            if y is None:
                raise ValueError(f'the discriminator is conditioned on {self.num_classes} classes: labels needed')
            cmap_dim = self.cmap_dim or ch(4)
            cmap = MappingNetwork(cmap_dim, None, num_classes=self.num_classes, w_avg_beta=None,
                                  name='mapping')(None, y)
        logits, features = DiscriminatorEpilogue(cmap_dim, self.mbstd_group_size, self.mbstd_num_channels,
                                                 self.conv_clamp, name='b4')(x, cmap)
        return {'logits': logits, 'features': features}


# ---------------------------------------------------------------- the official configurations

# train.py, cfg_specs: reference GPUs, kimg, minibatch, mbstd group, fmaps (channel_base / 32768), lrate,
# R1 gamma, EMA half-life (kimg), EMA ramp-up, mapping layers.
_SPEC_KEYS = ('ref_gpus', 'kimg', 'mb', 'mbstd', 'fmaps', 'lrate', 'gamma', 'ema', 'ramp', 'map')
CFG_SPECS = {name: dict(zip(_SPEC_KEYS, values)) for name, values in {
    'stylegan2': (8, 25000, 32, 4, 1, 0.002, 10, 10, None, 8),
    'paper256': (8, 25000, 64, 8, 0.5, 0.0025, 1, 20, None, 8),
    'paper512': (8, 25000, 64, 8, 1, 0.0025, 0.5, 20, None, 8),
    'paper1024': (8, 25000, 32, 4, 1, 0.002, 2, 10, None, 8),
    'cifar': (2, 100000, 64, 32, 1, 0.0025, 0.01, 500, 0.05, 2),
}.items()}


def config(name: str, resolution: int) -> dict:
    """The official hyperparameters of train.py's --cfg=name at `resolution`: the networks' (G_kwargs,
    D_kwargs: z_dim = w_dim = 512, channel_base = fmaps * 32768, channel_max 512, the mapping's layers,
    num_fp16_res 4, conv_clamp 256, D's mbstd group, 'cifar': D 'orig') and the training's (Adam betas
    (0, 0.99), eps 1e-8; StyleGAN2Loss: style mixing 0.9 and path length weight 2, both 0 for 'cifar';
    training_loop.py: lazy regularisation every 4 (G) and 16 (D) steps). `generator(config(...))` and
    `discriminator(config(...))` build the networks."""
    resolution = check_resolution(resolution)
    if name not in CFG_SPECS:
        raise UserError(f'StyleGAN2 config {name!r} is not one of {", ".join(CFG_SPECS)}')
    spec = CFG_SPECS[name]
    cifar = name == 'cifar'
    return {
        'name': name,
        'resolution': resolution,
        'z_dim': 512, 'w_dim': 512,  # train.py: G_kwargs z_dim=512, w_dim=512
        'channel_base': int(spec['fmaps'] * 32768), 'channel_max': 512,
        'mapping_layers': spec['map'],
        'num_fp16_res': 4, 'conv_clamp': 256,  # train.py: mixed precision, clamp against float16 overflow
        'mbstd_group_size': spec['mbstd'], 'mbstd_num_channels': 1,  # networks.py, DiscriminatorEpilogue
        'g_architecture': 'skip', 'd_architecture': 'orig' if cifar else 'resnet',
        'batch_size': spec['mb'], 'ref_gpus': spec['ref_gpus'], 'total_kimg': spec['kimg'],
        'lr': spec['lrate'], 'betas': (0.0, 0.99), 'eps': 1e-8,
        'r1_gamma': spec['gamma'], 'ema_kimg': spec['ema'], 'ema_rampup': spec['ramp'],
        'style_mixing_prob': 0.0 if cifar else 0.9, 'pl_weight': 0.0 if cifar else 2.0,
        'g_reg_interval': 4, 'd_reg_interval': 16,
    }


def generator(cfg: dict, *, channels: int = 3, num_classes: int = 0, dtype: Any = jnp.float32,
              num_fp16_res: int | None = None) -> Generator:
    """The Generator of a `config`; float32 throughout unless dtype and num_fp16_res are given."""
    return Generator(cfg['resolution'], channels, cfg['w_dim'], num_classes, cfg['mapping_layers'],
                     channel_base=cfg['channel_base'], channel_max=cfg['channel_max'], conv_clamp=cfg['conv_clamp'],
                     num_fp16_res=num_fp16_res, dtype=dtype)


def discriminator(cfg: dict, *, num_classes: int = 0, dtype: Any = jnp.float32,
                  num_fp16_res: int | None = None) -> Discriminator:
    """The Discriminator of a `config`."""
    return Discriminator(cfg['resolution'], num_classes, cfg['d_architecture'], cfg['channel_base'],
                         cfg['channel_max'], cfg['conv_clamp'], num_fp16_res,
                         mbstd_group_size=cfg['mbstd_group_size'], mbstd_num_channels=cfg['mbstd_num_channels'],
                         dtype=dtype)


# ---------------------------------------------------------------- the architecture (config.model.name=stylegan2)

def config_section() -> ml_collections.ConfigDict:
    """StyleGAN2 (config.model.name stylegan2; Karras et al. 2020, models.stylegan2): the networks' sizes
    and the training's regularisers. experiments.stylegan2_ffhq sets them from the official configs."""
    c = ml_collections.ConfigDict()
    c.w_dim = 512  # width of w and of the mapping network
    c.mapping_layers = 8  # layers of the mapping network (the official cifar config: 2)
    c.channel_base = 32768  # feature maps at resolution r: min(channel_base // r, channel_max)
    c.channel_max = 512  # the most feature maps of any layer
    c.mbstd_group = 4  # D's minibatch standard deviation: group size (per device)
    c.conv_clamp = 256.0  # every layer's output clipped to +-this; 0: none
    c.num_fp16_res = 4  # with compute_dtype=bfloat16: the highest resolutions computed in it (the rest float32)
    c.d_architecture = 'resnet'  # resnet | orig (the official cifar config)
    c.style_mixing = 0.9  # probability of mixing two latents' ws at a random layer; 0: off
    c.pl_weight = 2.0  # path-length regularisation's weight; 0: off
    c.pl_every = 4  # lazy path-length regularisation: every k steps, weighed k times
    c.pl_batch_shrink = 2  # path-length regularisation on 1 / this of each device's batch
    c.pl_decay = 0.01  # the running mean of path lengths moves by this fraction per regularised step
    return c


def validate(config: ml_collections.ConfigDict, num_devices: int) -> None:
    s = config.stylegan2
    positive(config, 'stylegan2.w_dim', 'stylegan2.mapping_layers', 'stylegan2.channel_base',
             'stylegan2.channel_max', 'stylegan2.mbstd_group', 'stylegan2.pl_every', 'stylegan2.pl_batch_shrink')
    check(0.0 <= s.style_mixing <= 1.0, f'config.stylegan2.style_mixing={s.style_mixing} must be in [0, 1]')
    check(s.pl_weight >= 0 and s.conv_clamp >= 0 and 0 < s.pl_decay <= 1 and s.num_fp16_res >= 0,
          'config.stylegan2: pl_weight, conv_clamp and num_fp16_res must be >= 0, pl_decay in (0, 1]')
    one_of(config, 'stylegan2.d_architecture', D_ARCHITECTURES)
    check_mbstd_group(config, 'stylegan2', num_devices)


def build(config: ml_collections.ConfigDict, shape: tuple[int, ...], *, images: bool, num_classes: int,
          bn_axis: str | None, dtype: Any) -> tuple[nn.Module, nn.Module]:
    s, c = config.stylegan2, config.conditioning
    size, channels = shape[0], shape[-1]
    fp16 = s.num_fp16_res if dtype != jnp.float32 else None  # float32: every block in it
    clamp = s.conv_clamp or None
    g = Generator(size, channels, s.w_dim, num_classes if c.g != 'none' else 0, s.mapping_layers,
                  channel_base=s.channel_base, channel_max=s.channel_max, conv_clamp=clamp, num_fp16_res=fp16,
                  dtype=dtype)
    d = Discriminator(size, num_classes if c.d != 'none' else 0, s.d_architecture, s.channel_base, s.channel_max,
                      clamp, fp16, mbstd_group_size=s.mbstd_group, dtype=dtype)
    return g, d


def discriminator_blocks(d: Discriminator) -> registry.Blocks:
    """FreezeD's blocks of D from its input: bR, ..., b8 (the epilogue b4 and the mapping are its head)."""
    return tuple((f'b{res}',) for res in reversed(block_resolutions(d.resolution)[1:]))


def style_options(config: ml_collections.ConfigDict) -> registry.StyleOptions:
    s = config.stylegan2
    return registry.StyleOptions(s.style_mixing, s.pl_weight, s.pl_every, s.pl_batch_shrink, s.pl_decay)


ARCHITECTURE = registry.register(registry.Architecture(
    'stylegan2', build, 'Karras et al. 2020: mapping and synthesis networks, residual D; power-of-two images from 8',
    section=config_section, validate=validate,
    g_conditioning=('none', 'concat'),  # concat: the label's embedding beside z in the mapping
    d_conditioning=('none', 'projection'), mapping=style_options, noise_inputs=True,
    discriminator_blocks=discriminator_blocks))
