"""Progressive GAN's building blocks (Karras et al. 2018), after networks.py of tkarras/
progressive_growing_of_gans: the feature maps and stages of its networks, its operations (pixel norm,
leaky ReLU, nearest upscale, box downscale, the minibatch standard deviation, the fades of growing) and
its equalised-learning-rate layers (get_weight, dense, conv2d, G's first dense layer). models.progan
builds the networks from them (its docstring has the conventions: NHWC, HWIO kernels, use_wscale).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.errors import UserError
from jaxgan.models import stylegan2_layers
from jaxgan.models.convolution import conv_general_dilated
from jaxgan.models.layers import upsample_nearest

SQRT2 = math.sqrt(2.0)  # networks.py, get_weight: gain=np.sqrt(2) (He init)
G_DENSE_GAIN = SQRT2 / 4  # networks.py, G_paper, 4x4/Dense: gain=np.sqrt(2)/4
LRELU_SLOPE = 0.2  # networks.py, leaky_relu: alpha=0.2
PIXELNORM_EPSILON = 1e-8  # networks.py, G_paper: pixelnorm_epsilon=1e-8
MBSTD_GROUP_SIZE = 4  # networks.py, D_paper: mbstd_group_size=4
FMAP_BASE = 8192  # networks.py, G_paper / D_paper: fmap_base=8192
FMAP_DECAY = 1.0  # networks.py: fmap_decay=1.0
FMAP_MAX = 512  # networks.py: fmap_max=512
DIMENSIONS = ('NHWC', 'HWIO', 'NHWC')
_Scalar = float | jax.Array


# ---------------------------------------------------------------- sizes and stages

def check_resolution(resolution: int, what: str = 'ProGAN') -> int:
    """resolution, if a power of two of at least 4 (G_paper's assertion); UserError otherwise."""
    return stylegan2_layers.check_resolution(resolution, what)


def nf(stage: int, fmap_base: int = FMAP_BASE, fmap_decay: float = FMAP_DECAY, fmap_max: int = FMAP_MAX) -> int:
    """Feature maps of `stage` (networks.py, nf): min(int(fmap_base / 2^(stage fmap_decay)), fmap_max); the
    block at resolution 2^r has nf(r - 1), D's last dense layer nf(0)."""
    return min(int(fmap_base / (2.0 ** (stage * fmap_decay))), fmap_max)


def num_stages(resolution: int) -> int:
    """Stages of a network of `resolution` pixels: 4, 8, ..., resolution, so log2(resolution) - 1."""
    return int(math.log2(resolution)) - 1


def stage_resolution(stage: int) -> int:
    """The resolution of `stage`: 4 2^stage."""
    return 4 * 2 ** stage


def check_stage(stage: int | None, resolution: int) -> int:
    """stage, or the last one (the full resolution) for None; UserError if not an int in range."""
    last = num_stages(resolution) - 1
    if stage is None:
        return last
    if isinstance(stage, (bool, np.bool_)) or not isinstance(stage, (int, np.integer)) or not 0 <= stage <= last:
        raise UserError(f'stage {stage!r}: a ProGAN network of {resolution} pixels has stages 0 to {last} '
                        f'(4 to {resolution} pixels)')
    return int(stage)


# ---------------------------------------------------------------- operations (networks.py)

def pixel_norm(x: jax.Array, epsilon: float = PIXELNORM_EPSILON) -> jax.Array:
    """networks.py, pixel_norm: x / sqrt(mean(x^2) + epsilon) over the feature maps (the last axis here),
    the same as StyleGAN2's normalize_2nd_moment."""
    return stylegan2_layers.normalize_2nd_moment(x, epsilon)


def leaky_relu(x: jax.Array, slope: float = LRELU_SLOPE) -> jax.Array:
    """networks.py, leaky_relu: max(slope x, x), no gain (unlike StyleGAN2's bias_act)."""
    return jnp.maximum(x * slope, x)


def upscale2d(x_BxHxWxC: jax.Array, factor: int = 2) -> jax.Array:
    """networks.py, upscale2d: nearest neighbour, each pixel repeated factor x factor times."""
    return upsample_nearest(x_BxHxWxC, factor)


def downscale2d(x_BxHxWxC: jax.Array, factor: int = 2) -> jax.Array:
    """networks.py, downscale2d: average pool of factor x factor, stride factor (a box filter)."""
    if factor == 1:
        return x_BxHxWxC
    b, h, w, c = x_BxHxWxC.shape
    return jnp.mean(x_BxHxWxC.reshape(b, h // factor, factor, w // factor, factor, c), axis=(2, 4))


def minibatch_stddev(x_BxHxWxC: jax.Array, group_size: int = MBSTD_GROUP_SIZE) -> jax.Array:
    """networks.py, minibatch_stddev_layer: one feature map appended, for each group of
    G = min(group_size, B) examples (example i in group i mod B / G) the standard deviation over the group
    (sqrt(var + 1e-8)) averaged over all feature maps and pixels. StyleGAN2's MinibatchStdLayer with one
    channel computes the same (it splits the channels into num_channels parts; ProGAN has one), and is
    used here; B must be a multiple of G."""
    return stylegan2_layers.minibatch_stddev(x_BxHxWxC, group_size, 1)


def labels_one_hot(y: jax.Array, num_classes: int) -> jax.Array:
    """The official labels_in [B, K] (float): one-hot of integer labels [B], or y itself if [B, K]."""
    y = jnp.asarray(y)
    return jax.nn.one_hot(y, num_classes, dtype=jnp.float32) if y.ndim == 1 else y.astype(jnp.float32)


def _statically_one(alpha: _Scalar) -> bool:
    return isinstance(alpha, (int, float, np.integer, np.floating)) and not isinstance(alpha, bool) and alpha >= 1


def fade(new: jax.Array, old: jax.Array, alpha: _Scalar) -> jax.Array:
    """alpha new + (1 - alpha) old, alpha clipped to [0, 1]: networks.py's lerp_clip(new, old, t) with
    t = lod_in - lod = 1 - alpha."""
    a = jnp.clip(jnp.asarray(alpha, jnp.float32), 0.0, 1.0)
    return a * new + (1.0 - a) * old


def fade_reals(x_BxHxWxC: jax.Array, alpha: _Scalar) -> jax.Array:
    """train.py, process_reals 'FadeLOD': real images at the stage's resolution blended with their 2x2
    averages (downscaled, then upscaled back), alpha x + (1 - alpha) upscale(downscale(x)), t = 1 - alpha =
    lod - floor(lod): what D sees of the reals matches what the fading G gives. alpha 1: x as it is."""
    if _statically_one(alpha):
        return x_BxHxWxC
    return fade(x_BxHxWxC, upscale2d(downscale2d(x_BxHxWxC)), alpha)


# ---------------------------------------------------------------- equalised-learning-rate layers

def he_std(fan_in: int, gain: float = SQRT2) -> float:
    """networks.py, get_weight: std = gain / sqrt(fan_in)."""
    return gain / math.sqrt(fan_in)


def _weight(module: nn.Module, shape: tuple[int, ...], gain: float, use_wscale: bool,
            fan_in: int | None = None) -> jax.Array:
    """networks.py, get_weight: the weight 'kernel' of `shape` at its run-time scale. use_wscale: stored
    N(0, 1), times std; else stored N(0, std^2). fan_in defaults to prod(shape[:-1])."""
    std = he_std(int(np.prod(shape[:-1])) if fan_in is None else fan_in, gain)
    init_std = 1.0 if use_wscale else std
    kernel = module.param('kernel', lambda key, s: init_std * jax.random.normal(key, s, jnp.float32), shape)
    return kernel * std if use_wscale else kernel


class Dense(nn.Module):
    """networks.py, dense + apply_bias: x [B, in] @ W [in, features] (+ bias, zero init)."""

    features: int
    gain: float = SQRT2
    use_wscale: bool = True
    use_bias: bool = True

    @nn.compact
    def __call__(self, x_BxI: jax.Array) -> jax.Array:
        w = _weight(self, (x_BxI.shape[-1], self.features), self.gain, self.use_wscale)
        x = x_BxI @ w
        if self.use_bias:
            x = x + self.param('bias', nn.initializers.zeros, (self.features,))
        return x


class Conv2d(nn.Module):
    """networks.py, conv2d + apply_bias: a k x k convolution, padding 'SAME', kernel HWIO (+ bias). down:
    the convolution's output average-pooled 2x before the bias, the function of the official fused
    conv2d_downscale2d."""

    features: int
    kernel_size: int = 3
    gain: float = SQRT2
    use_wscale: bool = True
    use_bias: bool = True
    down: bool = False

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array) -> jax.Array:
        k = self.kernel_size
        w = _weight(self, (k, k, x_BxHxWxC.shape[-1], self.features), self.gain, self.use_wscale)
        x = conv_general_dilated(x_BxHxWxC, w, (1, 1), [((k - 1) // 2,) * 2] * 2,
                                 dimension_numbers=DIMENSIONS)
        if self.down:
            x = downscale2d(x)
        if self.use_bias:
            x = x + self.param('bias', nn.initializers.zeros, (self.features,))
        return x


class Dense4x4(nn.Module):
    """networks.py, G_paper's 4x4/Dense: z [B, Z] @ W [Z, 16 features] (gain sqrt(2) / 4), read as NCHW
    [B, features, 4, 4] and returned NHWC, plus a bias per feature map (apply_bias after the reshape)."""

    features: int
    gain: float = G_DENSE_GAIN
    use_wscale: bool = True

    @nn.compact
    def __call__(self, z_BxZ: jax.Array) -> jax.Array:
        w = _weight(self, (z_BxZ.shape[-1], 16 * self.features), self.gain, self.use_wscale)
        x = (z_BxZ @ w).reshape(z_BxZ.shape[0], self.features, 4, 4).transpose(0, 2, 3, 1)
        return x + self.param('bias', nn.initializers.zeros, (self.features,))

