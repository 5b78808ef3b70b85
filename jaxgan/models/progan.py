"""Progressive GAN (Karras et al. 2018, "Progressive Growing of GANs for Improved Quality, Stability, and
Variation"): the generator and discriminator of the paper, after networks.py of tkarras/
progressive_growing_of_gans (the authors' TensorFlow code: G_paper, D_paper, structure 'linear'), with
the training schedule of train.py (TrainingSchedule, process_reals) and the CelebA-HQ hyperparameters of
config.py (preset-v2-8gpus, fp32) and loss.py (D_wgangp_acgan, G_wgan_acgan).

Feature maps: nf(stage) = min(int(fmap_base / 2^(stage fmap_decay)), fmap_max) (networks.py, nf), the
block at resolution 2^r having nf(r - 1): 512 up to 32x32, then 256, 128, 64, 32, 16 at 1024 with the
defaults fmap_base 8192, fmap_max 512.

Equalised learning rate (use_wscale, networks.py get_weight): every weight stored N(0, 1) and multiplied at
run time by its He constant gain / sqrt(fan_in), fan_in the product of the weight's dimensions but the
last; gain sqrt(2) except toRGB and D's last dense layer (gain 1) and G's first dense layer (sqrt(2) / 4,
"to match the original Theano implementation"). Biases start at zero and are not scaled. With use_wscale
False weights are stored N(0, std^2) and used as they are. Leaky ReLU of slope 0.2 without gain
(networks.py leaky_relu: max(0.2 x, x)); pixel norm x / sqrt(mean_c x^2 + 1e-8) over each pixel's
feature vector (pixel_norm).

G: z [B, latent_size] (latent_size None: nf(0) = 512), with labels their one-hot concatenated after it
(the official combo_in), the whole normalised by pixel norm (normalize_latents; the labels included, as
the official normalises combo_in). The 4x4 block: a dense layer to nf(1) x 4 x 4 (gain sqrt(2) / 4; the
output read as NCHW [nf(1), 4, 4], the bias per feature map), lrelu, pixel norm, conv 3x3, lrelu, pixel
norm. Each block above: nearest-neighbour upscale 2x, conv 3x3 (conv0_up), conv 3x3 (conv1), each with
lrelu and pixel norm. toRGB: a linear 1x1 convolution of gain 1 to `channels`, one at every resolution.
The image is float32, NHWC, not squashed (the official drange_net is [-1, 1] and G learns it).

D: fromRGB (1x1, lrelu) at every resolution; each block above 4x4: conv 3x3 (conv0), conv 3x3 and
average-pool 2x (conv1_down), lrelu; the 4x4 epilogue: minibatch standard deviation (one feature map,
groups of min(mbstd_group_size, B); 0 or 1 turns it off), conv 3x3, dense to nf(0) (features flattened in
NCHW order), dense (gain 1, linear) to 1 + num_classes outputs: the first is the score, the others the
official labels_out (AC-GAN: D predicts the label; it takes none), here 'class_logits'.

Growing: `stage` s (a static int, 0 to log2(R) - 2) runs both networks at 4 2^s pixels; `alpha` (a float
or a traced scalar, clipped to [0, 1] as networks.py's lerp_clip) fades the newest block in:
  G: alpha toRGB_s(block_s) + (1 - alpha) upscale(toRGB_{s-1}(block_{s-1})),
  D: alpha block_s(fromRGB_s(x)) + (1 - alpha) fromRGB_{s-1}(downscale(x)), then blocks s - 1, ..., 1.
This is the official 'linear' structure at lod = log2(R) - 2 - s + (1 - alpha), with G's output (there at
R pixels) nearest-upscaled by 2^floor(lod) and D's input likewise (train.py, process_reals 'UpscaleLOD'):
the official networks always work at R pixels and their unused blocks give way to the upscaled image. The
real images are faded too (process_reals 'FadeLOD'): `fade_reals`. The parameters of every resolution
exist from `init` whatever the stage (each unused layer is touched on a 1 or 2 pixel dummy), so the
params pytree, the optimiser state and a checkpoint keep their shape across stages; layers above the
stage are unused and get no gradient. `schedule(kimg, R)` gives (stage, alpha) as TrainingSchedule does.

fused_scale (the official default True): G's conv0_up is officially a transposed convolution of stride 2
with the 3x3 kernel [k, k, out, in] summed over its four 1-pixel shifts into a 4x4 kernel. That is
exactly a 3x3 convolution of the nearest-upscaled input with the kernel flipped in space and its last two
axes swapped, which is what is computed here (the kernel stored HWIO [k, k, in, out]: to port an official
Conv0_up weight, flip axes 0 and 1 and transpose (0, 1, 3, 2)). D's fused conv1_down, a stride-2
convolution with the 4x4 kernel of the shifted sum times 0.25, is exactly the 3x3 convolution followed by
the 2x average pool, before bias and activation, computed in that form here; D's fused_scale False gives
the official unfused order, bias and lrelu before the pool. G has no such option: its fused and unfused
forms are the same function. Either way the parameters are the same: at 1024x1024 with the defaults G has
23,079,115 and D 23,087,249 (the paper's Table 2: 23.1M each).

Layout: NHWC; conv kernels HWIO [k, k, in, out] as the official ones (TensorFlow's layout), dense kernels
[in, out] as the official; G's first dense output and D's flattened 4x4 features in the official NCHW
order, so official weights port as they are (but Conv0_up, above). Variables: 'params' only, the
official trainables; the official 'lod' variable is the call's stage and alpha here.

Training growing (`GrowingGenerator`, `GrowingDiscriminator`; config.model.name=progan): the networks
take the schedule's lod as a traced scalar (`level_of_detail`, TrainingSchedule's formula on the images
seen) and run the current stage inside one `nn.switch`, so the jitted step compiles every stage once and
a run resumes anywhere in a stage; their images are at the full resolution (G's nearest-upscaled, D's
input box-downscaled), as the official 'linear' structure's are, and the reals are faded to match
(`process_reals`). The lod is kept in each network's 'progress' collection, so that a checkpoint samples
at the stage it reached.

The building blocks (stages, operations, equalised-learning-rate layers) are models.progan_layers'; the
schedule, the growing networks and the training hooks (the lod of a step, the per-resolution learning
rate `stage_learning_rate` and the optimiser reset at each change of the lod's floor or ceiling:
config.progan.learning_rates, reset_optimizer) models.progan_growing's. The architecture is registered
at the end (config.model.name=progan) with its config section (config.progan), checks and hooks.

Not here: float16 (the official dtype option, with pixelnorm_epsilon 1e-4); label inputs to D (D_paper
has none); the official loop's larger minibatches at the small stages (one program has one batch shape:
experiments.progan_celebahq says what it does instead).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from jaxgan.checks import check, positive
from jaxgan.errors import UserError
from jaxgan.models import registry
from jaxgan.models.progan_growing import (LOD_INITIAL_RESOLUTION, LOD_TRAINING_KIMG, LOD_TRANSITION_KIMG,
                                          GrowingDiscriminator, GrowingGenerator, growing_optimizers, lod_of_step,
                                          process_reals)
from jaxgan.models.progan_layers import (FMAP_BASE, FMAP_DECAY, FMAP_MAX, MBSTD_GROUP_SIZE, PIXELNORM_EPSILON,
                                         Conv2d, Dense, Dense4x4, _Scalar, _statically_one, check_resolution,
                                         check_stage, downscale2d, fade, labels_one_hot, leaky_relu,
                                         minibatch_stddev, nf, num_stages, pixel_norm, stage_resolution, upscale2d)
from jaxgan.models.stylegan2_layers import check_mbstd_group


# ---------------------------------------------------------------- generator

class GeneratorBlock(nn.Module):
    """networks.py, G_paper's block(x, res): 4x4, dense (Dense4x4) and conv; above, nearest upscale,
    conv0_up and conv1 (3x3); each layer followed by the activation and pixel norm."""

    resolution: int
    features: int
    use_wscale: bool = True
    use_pixelnorm: bool = True
    pixelnorm_epsilon: float = PIXELNORM_EPSILON
    use_leakyrelu: bool = True

    def _post(self, x: jax.Array) -> jax.Array:
        x = leaky_relu(x) if self.use_leakyrelu else jax.nn.relu(x)
        return pixel_norm(x, self.pixelnorm_epsilon) if self.use_pixelnorm else x

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if self.resolution == 4:
            x = self._post(Dense4x4(self.features, use_wscale=self.use_wscale, name='dense')(x))
            return self._post(Conv2d(self.features, 3, use_wscale=self.use_wscale, name='conv')(x))
        x = self._post(Conv2d(self.features, 3, use_wscale=self.use_wscale, name='conv0_up')(upscale2d(x)))
        return self._post(Conv2d(self.features, 3, use_wscale=self.use_wscale, name='conv1')(x))


class Generator(nn.Module):
    """networks.py, G_paper (structure 'linear'): z [B, latent_size] (and labels y, int [B] or one-hot
    [B, K], with num_classes > 0) -> image [B, r, r, channels] (float32, NHWC) at the stage's resolution
    r = 4 2^stage (stage None: `resolution`), the newest block faded in by alpha. Blocks 'b4', ...,
    'b{resolution}', toRGB layers 'torgb4', ..., all in 'params' whatever the stage. `train` changes
    nothing (no batch statistics)."""

    resolution: int
    channels: int = 3
    num_classes: int = 0
    fmap_base: int = FMAP_BASE
    fmap_max: int = FMAP_MAX
    latent_size: int | None = None
    fmap_decay: float = FMAP_DECAY
    normalize_latents: bool = True
    use_wscale: bool = True
    use_pixelnorm: bool = True
    pixelnorm_epsilon: float = PIXELNORM_EPSILON
    use_leakyrelu: bool = True

    def __post_init__(self):
        check_resolution(self.resolution, 'the ProGAN generator')
        super().__post_init__()

    @property
    def z_dim(self) -> int:
        """latent_size, None meaning nf(0) (G_paper: 'None = min(fmap_base, fmap_max)')."""
        return self.latent_size or nf(0, self.fmap_base, self.fmap_decay, self.fmap_max)

    @property
    def num_stages(self) -> int:
        return num_stages(self.resolution)

    def features(self, stage: int) -> int:
        """The feature maps of the block of `stage`: nf(stage + 1)."""
        return nf(stage + 1, self.fmap_base, self.fmap_decay, self.fmap_max)

    @nn.compact
    def __call__(self, z_BxZ: jax.Array, y: jax.Array | None = None, *, train: bool = False,
                 stage: int | None = None, alpha: _Scalar = 1.0) -> jax.Array:
        del train  # nothing here depends on it
        s = check_stage(stage, self.resolution)
        z = jnp.asarray(z_BxZ, jnp.float32)
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise UserError(f'latents of shape {tuple(z.shape)}: this ProGAN generator takes [B, {self.z_dim}]')
        x = z
        if self.num_classes:
            if y is None:
                raise ValueError(f'the generator is conditioned on {self.num_classes} classes: labels needed')
            x = jnp.concatenate([z, labels_one_hot(y, self.num_classes)], axis=-1)
        if self.normalize_latents:
            x = pixel_norm(x, self.pixelnorm_epsilon)
        last = self.num_stages - 1
        blocks = [GeneratorBlock(stage_resolution(t), self.features(t), self.use_wscale, self.use_pixelnorm,
                                 self.pixelnorm_epsilon, self.use_leakyrelu, name=f'b{stage_resolution(t)}')
                  for t in range(last + 1)]
        torgbs = [Conv2d(self.channels, 1, gain=1.0, use_wscale=self.use_wscale, name=f'torgb{stage_resolution(t)}')
                  for t in range(last + 1)]
        feats = []
        for t in range(s + 1):
            x = blocks[t](x)
            feats.append(x)
        img = torgbs[s](x)
        used = {s}
        if s > 0 and not _statically_one(alpha):
            img = fade(img, upscale2d(torgbs[s - 1](feats[s - 1])), alpha)
            used.add(s - 1)
        if self.is_initializing():  # every layer's parameters, whatever the stage (outputs discarded)
            for t in range(s):
                if t not in used:
                    torgbs[t](feats[t][:1, :1, :1])
            h = x[:1, :1, :1]
            for t in range(s + 1, last + 1):
                h = blocks[t](h)
                torgbs[t](h)
        return img


# ---------------------------------------------------------------- discriminator

class DiscriminatorBlock(nn.Module):
    """networks.py, D_paper's block(x, res) above 4x4: conv0 (3x3, nf(res - 1)) and conv1_down (3x3 to
    nf(res - 2), halving the resolution), each with lrelu. fused_scale: pool before bias and activation
    (conv2d_downscale2d's function); else after them (conv2d, then downscale2d)."""

    features: int
    out_features: int
    use_wscale: bool = True
    fused_scale: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = leaky_relu(Conv2d(self.features, 3, use_wscale=self.use_wscale, name='conv0')(x))
        conv1 = Conv2d(self.out_features, 3, use_wscale=self.use_wscale, down=self.fused_scale, name='conv1_down')
        return leaky_relu(conv1(x)) if self.fused_scale else downscale2d(leaky_relu(conv1(x)))


class DiscriminatorEpilogue(nn.Module):
    """networks.py, D_paper's block(x, 2): minibatch stddev (mbstd_group_size > 1), conv 3x3 (lrelu), dense
    of the NCHW-flattened 4x4 features to nf(0) (lrelu), dense (gain 1, linear) to `outputs`. Returns
    (outputs [B, outputs], features [B, nf(0)])."""

    features: int
    dense_features: int
    outputs: int = 1
    use_wscale: bool = True
    mbstd_group_size: int = MBSTD_GROUP_SIZE

    @nn.compact
    def __call__(self, x_Bx4x4xC: jax.Array) -> tuple[jax.Array, jax.Array]:
        x = x_Bx4x4xC
        if self.mbstd_group_size > 1:
            x = minibatch_stddev(x, self.mbstd_group_size)
        x = leaky_relu(Conv2d(self.features, 3, use_wscale=self.use_wscale, name='conv')(x))
        h = jnp.transpose(x, (0, 3, 1, 2)).reshape(x.shape[0], -1)
        h = leaky_relu(Dense(self.dense_features, use_wscale=self.use_wscale, name='dense0')(h))
        return Dense(self.outputs, gain=1.0, use_wscale=self.use_wscale, name='dense1')(h), h


class Discriminator(nn.Module):
    """networks.py, D_paper (structure 'linear'): images [B, r, r, C] at the stage's resolution r = 4 2^stage
    (stage None: `resolution`) -> {'logits': [B], 'features': [B, nf(0)]}, plus 'class_logits' [B, K] with
    num_classes > 0 (the official labels_out, the AC-GAN head: the same last dense layer's outputs 1..K).
    y is accepted for the common interface and unused (D_paper takes no labels). FromRGB layers
    'fromrgb4', ..., blocks 'b8', ..., 'b{resolution}', the epilogue 'b4', all in 'params' whatever the
    stage. `train` changes nothing."""

    resolution: int
    num_classes: int = 0
    fmap_base: int = FMAP_BASE
    fmap_max: int = FMAP_MAX
    fmap_decay: float = FMAP_DECAY
    use_wscale: bool = True
    mbstd_group_size: int = MBSTD_GROUP_SIZE
    fused_scale: bool = True

    def __post_init__(self):
        check_resolution(self.resolution, 'the ProGAN discriminator')
        super().__post_init__()

    @property
    def num_stages(self) -> int:
        return num_stages(self.resolution)

    def _nf(self, stage: int) -> int:
        return nf(stage, self.fmap_base, self.fmap_decay, self.fmap_max)

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, y: jax.Array | None = None, *, train: bool = False,
                 stage: int | None = None, alpha: _Scalar = 1.0) -> dict:
        del train, y  # nothing here depends on train; D_paper takes no labels
        s = check_stage(stage, self.resolution)
        r = stage_resolution(s)
        img = jnp.asarray(x_BxHxWxC, jnp.float32)
        if img.ndim != 4 or img.shape[1:3] != (r, r):
            raise UserError(f'images of shape {tuple(img.shape)}: this ProGAN discriminator at stage {s} takes '
                            f'[B, {r}, {r}, C]')
        last = self.num_stages - 1
        fromrgbs = [Conv2d(self._nf(t + 1), 1, use_wscale=self.use_wscale, name=f'fromrgb{stage_resolution(t)}')
                    for t in range(last + 1)]
        blocks = {t: DiscriminatorBlock(self._nf(t + 1), self._nf(t), self.use_wscale, self.fused_scale,
                                        name=f'b{stage_resolution(t)}') for t in range(1, last + 1)}
        epilogue = DiscriminatorEpilogue(self._nf(1), self._nf(0), 1 + self.num_classes, self.use_wscale,
                                         self.mbstd_group_size, name='b4')
        x = leaky_relu(fromrgbs[s](img))
        used = {s}
        if s > 0:
            x = blocks[s](x)
            if not _statically_one(alpha):
                x = fade(x, leaky_relu(fromrgbs[s - 1](downscale2d(img))), alpha)
                used.add(s - 1)
            for t in range(s - 1, 0, -1):
                x = blocks[t](x)
        out, features = epilogue(x)
        if self.is_initializing():  # every layer's parameters, whatever the stage (outputs discarded)
            dummy = jnp.zeros((1, 2, 2, img.shape[-1]), jnp.float32)
            for t in range(last + 1):
                if t not in used:
                    h = fromrgbs[t](dummy)
                    if t > s:
                        blocks[t](h)
        result = {'logits': out[:, 0], 'features': features}
        if self.num_classes:
            result['class_logits'] = out[:, 1:]
        return result


# ---------------------------------------------------------------- the official training configuration

# config.py, preset-v2-8gpus with fp32 (CelebA-HQ): sched.minibatch_base, minibatch_dict, G_lrate_dict
# (= D_lrate_dict), max_minibatch_per_gpu; train.total_kimg; num_gpus.
NUM_GPUS = 8
MINIBATCH_BASE = 32
MINIBATCH_DICT = {4: 512, 8: 256, 16: 128, 32: 64, 64: 32}
MAX_MINIBATCH_PER_GPU = {256: 16, 512: 8, 1024: 4}  # config.py, '-fp32'
LRATE_BASE = 0.001  # train.py, TrainingSchedule: G_lrate_base=0.001, D_lrate_base=0.001
LRATE_DICT = {128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003}
TOTAL_KIMG = 12000


def minibatch_size(resolution: int, num_gpus: int = NUM_GPUS, minibatch_base: int = MINIBATCH_BASE,
                   minibatch_dict: dict | None = None, max_minibatch_per_gpu: dict | None = None) -> int:
    """train.py, TrainingSchedule's minibatch at a training resolution: minibatch_dict's (else
    minibatch_base), less its remainder modulo num_gpus, at most max_minibatch_per_gpu x num_gpus."""
    minibatch_dict = MINIBATCH_DICT if minibatch_dict is None else minibatch_dict
    max_minibatch_per_gpu = MAX_MINIBATCH_PER_GPU if max_minibatch_per_gpu is None else max_minibatch_per_gpu
    mb = minibatch_dict.get(resolution, minibatch_base)
    mb -= mb % num_gpus
    if resolution in max_minibatch_per_gpu:
        mb = min(mb, max_minibatch_per_gpu[resolution] * num_gpus)
    return mb


def config(resolution: int = 1024) -> dict:
    """The official CelebA-HQ run's hyperparameters (config.py: preset-v2-8gpus, fp32; keys as the official
    names) for networks of `resolution`: the networks' (networks.py, G_paper / D_paper defaults), the
    schedule's (train.py, TrainingSchedule; 'minibatch', 'G_lrate', 'D_lrate': the resolved values per
    training resolution 4 ... resolution), the optimiser's (config.py, G_opt / D_opt: Adam), the losses'
    (loss.py: D_wgangp_acgan, G_wgan_acgan) and the loop's (train.py, train_progressive_gan; config.py sets
    mirror_augment for CelebA-HQ). `generator(config(...))` and `discriminator(config(...))` build the
    networks."""
    resolution = check_resolution(resolution)
    resolutions = [stage_resolution(s) for s in range(num_stages(resolution))]
    return {
        'resolution': resolution,
        # networks.py, G_paper / D_paper
        'fmap_base': FMAP_BASE, 'fmap_decay': FMAP_DECAY, 'fmap_max': FMAP_MAX,
        'latent_size': nf(0), 'normalize_latents': True, 'use_wscale': True, 'use_pixelnorm': True,
        'pixelnorm_epsilon': PIXELNORM_EPSILON, 'use_leakyrelu': True, 'mbstd_group_size': MBSTD_GROUP_SIZE,
        'fused_scale': True, 'structure': 'linear',
        # train.py, TrainingSchedule; config.py, sched
        'lod_initial_resolution': LOD_INITIAL_RESOLUTION, 'lod_training_kimg': LOD_TRAINING_KIMG,
        'lod_transition_kimg': LOD_TRANSITION_KIMG,
        'num_gpus': NUM_GPUS, 'minibatch_base': MINIBATCH_BASE, 'minibatch_dict': dict(MINIBATCH_DICT),
        'max_minibatch_per_gpu': dict(MAX_MINIBATCH_PER_GPU),
        'G_lrate_base': LRATE_BASE, 'G_lrate_dict': dict(LRATE_DICT),
        'D_lrate_base': LRATE_BASE, 'D_lrate_dict': dict(LRATE_DICT),
        'minibatch': {r: minibatch_size(r) for r in resolutions},
        'G_lrate': {r: LRATE_DICT.get(r, LRATE_BASE) for r in resolutions},
        'D_lrate': {r: LRATE_DICT.get(r, LRATE_BASE) for r in resolutions},
        'total_kimg': TOTAL_KIMG,
        # config.py, G_opt / D_opt (Adam)
        'beta1': 0.0, 'beta2': 0.99, 'epsilon': 1e-8,
        # loss.py, D_wgangp_acgan (and G_wgan_acgan's cond_weight)
        'wgan_lambda': 10.0, 'wgan_epsilon': 0.001, 'wgan_target': 1.0, 'cond_weight': 1.0,
        # train.py, train_progressive_gan; config.py, mirror_augment for CelebA-HQ
        'G_smoothing': 0.999, 'D_repeats': 1, 'minibatch_repeats': 4, 'reset_opt_for_new_lod': True,
        'mirror_augment': True, 'drange_net': (-1.0, 1.0),
    }


def generator(cfg: dict, *, channels: int = 3, num_classes: int = 0) -> Generator:
    """The Generator of a `config`."""
    return Generator(cfg['resolution'], channels, num_classes, cfg['fmap_base'], cfg['fmap_max'],
                     cfg['latent_size'], cfg['fmap_decay'], cfg['normalize_latents'], cfg['use_wscale'],
                     cfg['use_pixelnorm'], cfg['pixelnorm_epsilon'], cfg['use_leakyrelu'])


def discriminator(cfg: dict, *, num_classes: int = 0) -> Discriminator:
    """The Discriminator of a `config`."""
    return Discriminator(cfg['resolution'], num_classes, cfg['fmap_base'], cfg['fmap_max'], cfg['fmap_decay'],
                         cfg['use_wscale'], cfg['mbstd_group_size'], cfg['fused_scale'])


# ---------------------------------------------------------------- the architecture (config.model.name=progan)

def config_section() -> ml_collections.ConfigDict:
    """Progressive growing (config.model.name progan; Karras et al. 2018, models.progan): the networks' sizes
    and the growing schedule in thousands of real images. experiments.progan_celebahq sets the official
    ones."""
    c = ml_collections.ConfigDict()
    c.fmap_base = 8192  # feature maps of the block at resolution 2^r: min(fmap_base / 2^(r - 1), fmap_max)
    c.fmap_max = 512  # the most feature maps of any layer
    c.mbstd_group = 4  # D's minibatch standard deviation: group size (per device); 1: off
    c.fused_scale = True  # D's downscaling conv pools before its bias and activation (the official default)
    c.initial_resolution = 4  # the first stage's resolution
    c.training_kimg = 600.0  # thousands of images each stage trains at alpha 1
    c.transition_kimg = 600.0  # thousands of images each new resolution fades in over
    c.learning_rates = ()  # ((resolution, lr), ...): both players' lr while training that resolution; others: the optimizers'
    c.reset_optimizer = True  # Adam's moments start afresh when a fade-in starts and ends (reset_opt_for_new_lod)
    return c


def validate(config: ml_collections.ConfigDict, num_devices: int) -> None:
    p = config.progan
    positive(config, 'progan.fmap_base', 'progan.fmap_max', 'progan.mbstd_group')
    check(p.training_kimg >= 0 and p.transition_kimg >= 0 and p.training_kimg + p.transition_kimg > 0,
          'config.progan.training_kimg and transition_kimg must be >= 0, not both 0')
    check_mbstd_group(config, 'progan', num_devices)
    check(p.initial_resolution >= 4 and p.initial_resolution & (p.initial_resolution - 1) == 0
          and p.initial_resolution <= config.image_size,
          f'config.progan.initial_resolution={p.initial_resolution} must be a power of two from 4 to '
          f'config.image_size={config.image_size}')
    rates = p.learning_rates
    check(isinstance(rates, (tuple, list)) and all(
        isinstance(pair, (tuple, list)) and len(pair) == 2 and isinstance(pair[0], int) and pair[1] > 0
        for pair in rates), f'config.progan.learning_rates={rates!r} must be pairs (resolution, lr > 0)')
    check(not p.reset_optimizer or (config.g_optimizer.name == 'adam' and config.d_optimizer.name == 'adam'),
          'config.progan.reset_optimizer resets Adam\'s moments: use adam for both optimizers, or turn it off')


def build(config: ml_collections.ConfigDict, shape: tuple[int, ...], *, images: bool, num_classes: int,
          bn_axis: str | None, dtype: Any) -> tuple[nn.Module, nn.Module]:
    p, size, channels = config.progan, shape[0], shape[-1]
    g = Generator(size, channels, fmap_base=p.fmap_base, fmap_max=p.fmap_max, latent_size=config.model.z_dim)
    d = Discriminator(size, fmap_base=p.fmap_base, fmap_max=p.fmap_max, mbstd_group_size=p.mbstd_group,
                      fused_scale=p.fused_scale)
    return GrowingGenerator(g), GrowingDiscriminator(d)


GROWING = registry.Growing(
    lod_of_step=lambda config, g, step: lod_of_step(config, g.net.resolution, step),
    optimizers=lambda config, g: growing_optimizers(config, g.net.resolution),
    process_reals=lambda x, level, g: process_reals(x, level, g.net.resolution))

ARCHITECTURE = registry.register(registry.Architecture(
    'progan', build, 'Karras et al. 2018: G and D grown from 4x4 by the schedule; power-of-two images from 8',
    section=config_section, validate=validate, dtypes=('float32',), growing=GROWING))
