"""R3GAN (Huang, Gokaslan, Kuleshov and Tompkin 2024, "The GAN is dead; long live the GAN! A Modern Baseline
GAN"): the generator and discriminator of brownvc/R3GAN, R3GAN/Networks.py (Generator, Discriminator),
wrapped as training/networks.py wraps them; the presets are train.py's (--preset).

G: z [B, Z] (with labels, beside a linear embedding of the one-hot label, EmbeddingLayer) -> stage 0, the
GenerativeBasis (a learned 4x4 basis scaled per channel by a linear map of the vector), then per stage
an UpsampleLayer (1x1 convolution when the width changes, 2x up-sampling with the [1, 2, 1] low-pass
kernel) and its residual blocks; the AggregationLayer, a 1x1 convolution to the image's channels (3 in
the official code; here the data's). The image is not squashed (as official), NHWC, float32.

D: the ExtractionLayer (1x1 convolution from the image's channels to widths[0]), per stage its residual
blocks and a DownsampleLayer (2x down-sampling, then a 1x1 convolution when the width changes); the last
stage ends in the DiscriminativeBasis (a depthwise 4x4 convolution to a vector, then a linear map to 1,
or with labels to the embedding's size, projected onto the label's embedding: EmbeddingLayer with
ActivationGain 1 / sqrt(dim)). D's lists run from its input (the highest resolution) down, G's reversed
(train.py: D_kwargs take [*reversed(...)] of G's).

A residual block (r3gan_layers.ResidualBlock): 1x1 to C * expansion, k x k grouped in `cardinality`
groups, 1x1 back to C; leaky ReLU 0.2 with a learned bias between; no normalisation, no convolution
biases; the first two layers MSR-initialised with gain sqrt(2 / 1.04) * L^(-1/4), L = sum(blocks) (the
VarianceScalingParameter), the last to 0.

Precision: with dtype bfloat16 the `bf16_stages` highest-resolution stages compute in it (train.py's
FP16Stages: G's last stages, [-1, -2, ...], D's first, [x + len(FP16Stages)]; training/networks.py sets
their DataType to torch.bfloat16); the rest, the embeddings and the outputs in float32. Parameters float32.

`from_official` maps an official state dict (names of training/networks.py's Generator / Discriminator,
'Model.MainLayers.0.Layers.0.Basis', ...) onto the params here. The architecture is registered at the
end (config.model.name=r3gan, its section config.r3gan); `preset(name)` gives train.py's presets.
"""

from __future__ import annotations

import math
import re
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan.checks import check, positive
from jaxgan.errors import UserError
from jaxgan.models import registry
from jaxgan.models.r3gan_layers import LOWPASS, Convolution, DiscriminatorStage, GeneratorStage, Linear

Ints = tuple[int, ...]


def _labels(y: jax.Array, num_classes: int) -> jax.Array:
    """The official c: one-hot [B, K] of integer labels [B], or c itself if given as [B, K]."""
    return jax.nn.one_hot(y, num_classes, dtype=jnp.float32) if y.ndim == 1 else y.astype(jnp.float32)


def resolution(widths: Ints) -> int:
    """The image side of networks with these stages: 4 at the first, doubled at each of the others."""
    return 4 * 2 ** (len(widths) - 1)


def _stage_dtype(low_precision: bool, dtype: Any) -> Any:
    return dtype if low_precision else jnp.float32


class Generator(nn.Module):
    """Networks.py, Generator: z [B, Z] (labels y, int [B], with num_classes > 0) -> images [B, R, R,
    channels], float32, R = resolution(widths). Lists per stage from 4x4 up (WidthPerStage,
    CardinalityPerStage, BlocksPerStage); `embedding` the ConditionEmbeddingDimension."""

    widths: Ints
    cardinalities: Ints
    blocks: Ints
    expansion: int = 2
    kernel_size: int = 3
    channels: int = 3
    num_classes: int = 0
    embedding: int = 0
    bf16_stages: int = 0
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, z_BxZ: jax.Array, y: jax.Array | None = None, *, train: bool = False) -> jax.Array:
        del train  # nothing here depends on it
        x = z_BxZ.astype(jnp.float32)
        if self.num_classes:
            if y is None:
                raise ValueError(f'the R3GAN generator is conditioned on {self.num_classes} classes: labels needed')
            x = jnp.concatenate([x, Linear(self.embedding, name='embedding')(_labels(y, self.num_classes))], axis=1)
        n, scaling = len(self.widths), sum(self.blocks)
        for i in range(n):
            x = GeneratorStage(self.widths[i], self.cardinalities[i], self.blocks[i], self.expansion,
                               self.kernel_size, scaling, first=i == 0,
                               dtype=_stage_dtype(i >= n - self.bf16_stages, self.dtype), name=f'stage{i}')(x)
        return Convolution(self.channels, 1, name='aggregation')(x).astype(jnp.float32)


class Discriminator(nn.Module):
    """Networks.py, Discriminator: images [B, R, R, C] (labels y, int [B], with num_classes > 0) ->
    {'logits': [B], 'features': [B, widths[-1]]} (float32; the features are the DiscriminativeBasis's
    vector). Lists per stage from the input down (D's order: G's reversed)."""

    widths: Ints
    cardinalities: Ints
    blocks: Ints
    expansion: int = 2
    kernel_size: int = 3
    num_classes: int = 0
    embedding: int = 0
    bf16_stages: int = 0
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, y: jax.Array | None = None, *, train: bool = False) -> dict:
        del train
        r, n, scaling = resolution(self.widths), len(self.widths), sum(self.blocks)
        if x_BxHxWxC.ndim != 4 or x_BxHxWxC.shape[1:3] != (r, r):
            raise UserError(f'images of shape {tuple(x_BxHxWxC.shape)}: this R3GAN discriminator takes '
                            f'[B, {r}, {r}, C]')
        dtypes = [_stage_dtype(i < self.bf16_stages, self.dtype) for i in range(n)]
        x = Convolution(self.widths[0], 1, name='extraction')(x_BxHxWxC.astype(dtypes[0]))
        features = None
        for i in range(n):
            last = i == n - 1
            out = (self.embedding if self.num_classes else 1) if last else self.widths[i + 1]
            x, features = DiscriminatorStage(out, self.cardinalities[i], self.blocks[i], self.expansion,
                                             self.kernel_size, scaling, last=last, dtype=dtypes[i],
                                             name=f'stage{i}')(x)
        x = x.astype(jnp.float32)
        if self.num_classes:
            if y is None:
                raise ValueError(f'the R3GAN discriminator is conditioned on {self.num_classes} classes: '
                                 'labels needed')
            embedded = Linear(self.embedding, gain=1.0 / math.sqrt(self.embedding),
                              name='embedding')(_labels(y, self.num_classes))
            x = jnp.sum(x * embedded, axis=1, keepdims=True)
        return {'logits': x.reshape(x.shape[0]), 'features': features.astype(jnp.float32)}


# ---------------------------------------------------------------- train.py's presets

Z_DIM = 64  # train.py: NoiseDimension = 64 in every preset
EXPANSION = 2  # train.py: G_kwargs / D_kwargs ExpansionFactor = 2


def _preset(widths, cardinalities, bf16_stages) -> dict:
    widths, cardinalities = tuple(widths), tuple(cardinalities)
    return dict(widths=widths, cardinalities=cardinalities, blocks=(2,) * len(widths), expansion=EXPANSION,
                kernel_size=3, g_embedding=Z_DIM, d_embedding=widths[0], bf16_stages=bf16_stages,
                z_dim=Z_DIM, image_size=resolution(widths))


# train.py, main(): WidthPerStage, CardinalityPerStage, BlocksPerStage (2 per stage everywhere), FP16Stages
# (their count), NoiseDimension; ConditionEmbeddingDimension = NoiseDimension for G and WidthPerStage[0]
# for D (train.py sets them for CIFAR10 with --cond and always for ImageNet; here every preset has them,
# used only with conditioning on).
PRESETS = {
    'CIFAR10': _preset([3 * x // 4 for x in (1024,) * 4], [3 * 32] * 4, 3),
    'FFHQ-64': _preset([3 * x // 4 for x in (1024, 1024, 1024, 1024, 512)], [3 * x for x in (32, 32, 32, 32, 16)], 4),
    'FFHQ-256': _preset([3 * x // 4 for x in (1024, 1024, 1024, 1024, 512, 256, 128)],
                        [3 * x for x in (32, 32, 32, 32, 16, 8, 4)], 4),
    'ImageNet-32': _preset([6 * x // 4 for x in (1024,) * 4], [3 * 32] * 4, 3),
    'ImageNet-64': _preset([6 * x // 4 for x in (1024,) * 5], [3 * 32] * 5, 4),
}
# The presets the README's commands train with labels (--cond=1; ImageNet's cannot be trained without:
# train.py gives their G a ConditionEmbeddingDimension always).
CONDITIONAL = ('CIFAR10', 'ImageNet-32', 'ImageNet-64')


def preset(name: str) -> dict:
    """train.py's --preset=name: config.r3gan's fields, plus 'z_dim' and 'image_size'."""
    if name not in PRESETS:
        raise UserError(f'R3GAN preset {name!r} is not one of {", ".join(PRESETS)}')
    return dict(PRESETS[name])


# ---------------------------------------------------------------- the official weights

_BLOCK = re.compile(r'(LinearLayer|NonLinearity)([123])\.(Layer\.weight|Bias)')


def _conv(w: np.ndarray) -> np.ndarray:
    return np.transpose(w, (2, 3, 1, 0))  # [out, in / groups, k, k] -> HWIO


def _layer(which: str, stage: int, index: int, rest: str, value: np.ndarray, blocks_first: bool
           ) -> tuple[tuple[str, ...], np.ndarray] | None:
    """The path and value of one parameter of MainLayers.stage.Layers.index; None for a buffer."""
    block = _BLOCK.fullmatch(rest)
    where = f'stage{stage}'
    if block:
        j = index if blocks_first else index - 1
        kind, n = block.group(1), block.group(2)
        if kind == 'LinearLayer':
            return (where, f'block{j}', f'conv{n}', 'kernel'), _conv(value)
        return (where, f'block{j}', f'act{n}', 'bias'), value
    if rest == 'Resampler.Kernel':  # the low-pass kernel, a buffer: a constant here
        if not np.allclose(value, LOWPASS, atol=1e-7):
            raise ValueError(f'{which}: MainLayers.{stage}.Layers.{index}.Resampler.Kernel is not the [1, 2, 1] '
                             'low-pass kernel these networks use')
        return None
    transition = 'downsample' if blocks_first else 'upsample'
    if rest == 'LinearLayer.Layer.weight':
        return (where, transition, 'linear', 'kernel'), _conv(value)
    if rest == 'Basis':  # GenerativeBasis [C, 4, 4]
        return (where, 'basis', 'basis'), np.transpose(value, (1, 2, 0))
    if rest == 'Basis.weight':  # DiscriminativeBasis, depthwise [C, 1, 4, 4]
        return (where, 'basis', 'basis'), np.transpose(value[:, 0], (1, 2, 0))
    if rest == 'LinearLayer.weight':  # a basis's nn.Linear [out, in]
        return (where, 'basis', 'linear', 'kernel'), value.T
    raise ValueError(f'{which}: unknown parameter MainLayers.{stage}.Layers.{index}.{rest}')


def from_official(state_dict: dict[str, np.ndarray], which: str) -> dict:
    """The params of this module's Generator (which='G') or Discriminator ('D') holding the weights of an
    official state dict (training/networks.py's, names with or without 'Model.'; R3GAN/Networks.py's):
    conv weights [out, in / groups, k, k] -> HWIO, nn.Linear [out, in] -> [in, out], G's basis [C, 4, 4]
    -> [4, 4, C], D's depthwise basis [C, 1, 4, 4] -> [4, 4, C]; the resamplers' kernels (buffers) are
    checked and dropped. A name it does not know is a ValueError."""
    if which not in ('G', 'D'):
        raise ValueError(f"which={which!r}: 'G' or 'D'")
    params: dict = {}
    for name, value in state_dict.items():
        value = np.asarray(value, np.float32)
        key = name.removeprefix('Model.')
        found = re.fullmatch(r'MainLayers\.(\d+)\.Layers\.(\d+)\.(.+)', key)
        if found:
            entry = _layer(which, int(found.group(1)), int(found.group(2)), found.group(3), value, which == 'D')
        elif key == 'EmbeddingLayer.weight':
            entry = ('embedding', 'kernel'), value.T
        elif key == ('AggregationLayer.Layer.weight' if which == 'G' else 'ExtractionLayer.Layer.weight'):
            entry = ('aggregation' if which == 'G' else 'extraction', 'kernel'), _conv(value)
        else:
            raise ValueError(f'{which}: unknown parameter {name}')
        if entry is None:
            continue
        path, array = entry
        node = params
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = jnp.asarray(np.ascontiguousarray(array))
    return params


# ---------------------------------------------------------------- the architecture (config.model.name=r3gan)

def config_section() -> ml_collections.ConfigDict:
    """R3GAN (config.model.name r3gan; Huang et al. 2024, models.r3gan): the networks' sizes, per stage
    from 4x4 up (the defaults: train.py's FFHQ-64 preset; models.r3gan.preset gives the others)."""
    p = PRESETS['FFHQ-64']
    c = ml_collections.ConfigDict()
    c.widths = p['widths']  # G's feature maps per stage from 4x4 up (D's reversed); image_size = 4 * 2**(stages - 1)
    c.cardinalities = p['cardinalities']  # groups of each stage's k x k convolutions (D's reversed)
    c.blocks = p['blocks']  # residual blocks per stage (D's reversed)
    c.expansion = p['expansion']  # a block's inner width: its stage's width times this
    c.kernel_size = p['kernel_size']  # side of the blocks' grouped convolutions
    c.g_embedding = p['g_embedding']  # conditioning.g=embedding: size of G's label embedding (beside z)
    c.d_embedding = p['d_embedding']  # conditioning.d=projection: size of D's label embedding (and its last output)
    c.bf16_stages = p['bf16_stages']  # with compute_dtype=bfloat16: the highest-resolution stages computed in it
    return c


def validate(config: ml_collections.ConfigDict, num_devices: int) -> None:
    del num_devices
    s = config.r3gan
    positive(config, 'r3gan.expansion', 'r3gan.kernel_size', 'r3gan.g_embedding', 'r3gan.d_embedding')
    for field in ('widths', 'cardinalities', 'blocks'):
        values = s[field]
        check(isinstance(values, (tuple, list)) and len(values) > 0
              and all(isinstance(v, int) and v > 0 for v in values),
              f'config.r3gan.{field}={values!r} must be a non-empty tuple of positive integers')
    n = len(s.widths)
    check(len(s.cardinalities) == n and len(s.blocks) == n,
          f'config.r3gan: widths, cardinalities and blocks need one entry per stage ({n}, {len(s.cardinalities)}, '
          f'{len(s.blocks)} given)')
    check(s.kernel_size % 2 == 1, f'config.r3gan.kernel_size={s.kernel_size} must be odd (same padding)')
    for w, groups in zip(s.widths, s.cardinalities):
        check((w * s.expansion) % groups == 0, f'config.r3gan.cardinalities: {groups} groups do not divide a '
              f'block of width {w} times expansion {s.expansion}')
    check(isinstance(s.bf16_stages, int) and 0 <= s.bf16_stages <= n,
          f'config.r3gan.bf16_stages={s.bf16_stages!r} must be from 0 to the {n} stages')
    size = resolution(tuple(s.widths))
    check(config.image_size == size, f'config.image_size={config.image_size}: R3GAN networks of {n} stages '
          f'(config.r3gan.widths) make {size}x{size} images (4 * 2**(stages - 1))')


def build(config: ml_collections.ConfigDict, shape: tuple[int, ...], *, images: bool, num_classes: int,
          bn_axis: str | None, dtype: Any) -> tuple[nn.Module, nn.Module]:
    del images, bn_axis  # images only (Sizes); no batch statistics
    s, c = config.r3gan, config.conditioning
    size = resolution(tuple(s.widths))
    if shape[0] != size:
        raise UserError(f'config.image_size={shape[0]}: R3GAN networks of {len(s.widths)} stages '
                        f'(config.r3gan.widths) make {size}x{size} images')
    widths, cardinalities, blocks = tuple(s.widths), tuple(s.cardinalities), tuple(s.blocks)
    g = Generator(widths, cardinalities, blocks, s.expansion, s.kernel_size, shape[-1],
                  num_classes if c.g != 'none' else 0, s.g_embedding, s.bf16_stages, dtype)
    d = Discriminator(widths[::-1], cardinalities[::-1], blocks[::-1], s.expansion, s.kernel_size,
                      num_classes if c.d != 'none' else 0, s.d_embedding, s.bf16_stages, dtype)
    return g, d


ARCHITECTURE = registry.register(registry.Architecture(
    'r3gan', build, 'Huang et al. 2024: residual grouped-convolution G and D, no normalisation; power-of-two '
    'images from 4', section=config_section, validate=validate,
    g_conditioning=('none', 'embedding'),  # embedding: a linear embedding of the one-hot label beside z
    d_conditioning=('none', 'projection'),  # projection of D's last output onto the label's embedding
    sizes=registry.Sizes(4)))
