"""Progressive GAN's growing (Karras et al. 2018): the official schedule of train.py (TrainingSchedule,
process_reals) on the host and traced in the jitted step, the networks that run the schedule's stage
(`GrowingGenerator`, `GrowingDiscriminator`), and the training hooks models.progan registers: the lod of
a step, the per-resolution learning rate and Adam's reset at each change of stage (config.progan).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan.errors import UserError
from jaxgan.models.progan_layers import (_Scalar, check_resolution, downscale2d, fade_reals, num_stages,
                                         stage_resolution, upscale2d)

LOD_INITIAL_RESOLUTION = 4  # train.py, TrainingSchedule defaults (config.py leaves them)
LOD_TRAINING_KIMG = 600
LOD_TRANSITION_KIMG = 600


# ---------------------------------------------------------------- the growing schedule (train.py)

def lod(kimg: float, resolution: int, training_kimg: float = LOD_TRAINING_KIMG,
        transition_kimg: float = LOD_TRANSITION_KIMG, initial_resolution: int = LOD_INITIAL_RESOLUTION) -> float:
    """train.py, TrainingSchedule's level of detail after kimg thousand real images: phases of
    training_kimg + transition_kimg, phase_idx = floor(kimg / phase_dur), phase_kimg the rest;
    lod = log2(resolution) - floor(log2(initial_resolution)) - phase_idx
          - max(phase_kimg - training_kimg, 0) / transition_kimg, at least 0."""
    resolution_log2 = int(math.log2(check_resolution(resolution)))
    check_resolution(initial_resolution, 'the initial resolution')
    if initial_resolution > resolution:
        raise UserError(f'initial resolution {initial_resolution}: more than the resolution {resolution}')
    if kimg < 0 or training_kimg < 0 or transition_kimg < 0:
        raise UserError(f'kimg {kimg}, training_kimg {training_kimg}, transition_kimg {transition_kimg}: '
                        'none may be negative')
    phase_dur = training_kimg + transition_kimg
    phase_idx = int(np.floor(kimg / phase_dur)) if phase_dur > 0 else 0
    phase_kimg = kimg - phase_idx * phase_dur
    level = resolution_log2 - np.floor(np.log2(initial_resolution)) - phase_idx
    if transition_kimg > 0:
        level -= max(phase_kimg - training_kimg, 0.0) / transition_kimg
    return float(max(level, 0.0))


def schedule(kimg: float, resolution: int, training_kimg: float = LOD_TRAINING_KIMG,
             transition_kimg: float = LOD_TRANSITION_KIMG,
             initial_resolution: int = LOD_INITIAL_RESOLUTION) -> tuple[int, float]:
    """(stage, alpha) after kimg thousand real images, from the official lod (`lod`): the training
    resolution is TrainingSchedule's 2^(log2(resolution) - floor(lod)), so stage = log2(resolution) - 2 -
    floor(lod); the lower-resolution path's weight is lerp_clip's t = lod - floor(lod) (train.py feeds lod
    as lod_in; networks.py blends with t = lod_in - lod of the block), so alpha = 1 - (lod - floor(lod)).
    With the defaults: stage 0 for the first 600 kimg; then per stage s >= 1 a fade-in of 600 kimg (alpha
    from 0 to 1) and 600 kimg at alpha 1; from 1200 (log2(R) - 2) kimg on (9600 at 1024 pixels), the last
    stage at alpha 1."""
    level = lod(kimg, resolution, training_kimg, transition_kimg, initial_resolution)
    whole = math.floor(level)
    return int(math.log2(resolution)) - 2 - whole, 1.0 - (level - whole)


# ---------------------------------------------------------------- growing while training (traced lod)

def level_of_detail(images: jax.Array, resolution: int, training_kimg: float = LOD_TRAINING_KIMG,
                    transition_kimg: float = LOD_TRANSITION_KIMG,
                    initial_resolution: int = LOD_INITIAL_RESOLUTION) -> jax.Array:
    """`lod` (train.py, TrainingSchedule) after `images` real images (a traced integer), as a traced
    float32 for the jitted step: the same phases of training_kimg + transition_kimg and the same formula
    (arguments checked by `lod`), with the phases counted in whole images in integers, so that a phase
    boundary falls on the step it falls on in exact arithmetic (float32 kimg put some a step early)."""
    lod(0.0, resolution, training_kimg, transition_kimg, initial_resolution)  # the checks, on the host
    images = jnp.asarray(images, jnp.int32)
    training, transition = round(training_kimg * 1000), round(transition_kimg * 1000)
    phase_dur = training + transition
    phase_idx = images // phase_dur if phase_dur > 0 else jnp.zeros((), jnp.int32)
    phase_images = images - phase_idx * phase_dur
    level = math.log2(resolution) - math.floor(math.log2(initial_resolution)) - phase_idx.astype(jnp.float32)
    if transition > 0:
        level = level - jnp.maximum(phase_images - training, 0).astype(jnp.float32) / transition
    return jnp.maximum(level, 0.0)


def stage_and_alpha(level: jax.Array, resolution: int) -> tuple[jax.Array, jax.Array]:
    """(stage int32, alpha float32) of a traced lod, as `schedule` has them: stage = log2(R) - 2 -
    floor(lod), alpha = 1 - (lod - floor(lod)); lod clipped to the stages there are."""
    last = num_stages(resolution) - 1
    level = jnp.clip(jnp.asarray(level, jnp.float32), 0.0, float(last))
    whole = jnp.floor(level)
    return (last - whole).astype(jnp.int32), 1.0 - (level - whole)


def stage_learning_rate(level: jax.Array, resolution: int, rates: dict[int, float], base: jax.Array) -> jax.Array:
    """train.py, TrainingSchedule's G_lrate / D_lrate at a traced lod: rates[training resolution] (the
    stage's, 2^(log2(R) - floor(lod)): the new one while it fades in), else base."""
    stage, _ = stage_and_alpha(level, resolution)
    by_stage = jnp.stack([jnp.asarray(rates.get(stage_resolution(s), base), jnp.float32)
                          for s in range(num_stages(resolution))])
    return by_stage[stage]


def process_reals(x_BxRxRxC: jax.Array, level: jax.Array, resolution: int) -> jax.Array:
    """train.py, process_reals at a traced lod: the real images at R pixels taken to the stage's
    resolution (box downscale), faded (`fade_reals`: what the fading G gives) and nearest-upscaled back to
    R ('UpscaleLOD'), as the official networks take them. One branch per stage (`lax.switch`)."""
    stage, alpha = stage_and_alpha(level, resolution)

    def branch(s: int):
        factor = resolution // stage_resolution(s)
        return lambda x, a: upscale2d(fade_reals(downscale2d(x, factor), a), factor)

    return jax.lax.switch(stage, [branch(s) for s in range(num_stages(resolution))], x_BxRxRxC, alpha)


def _progress(module: nn.Module, level: _Scalar | None, train: bool) -> jax.Array:
    """The lod a growing network runs at: `level` where given (and kept in the 'progress' collection when
    training with it mutable), else the one kept: the stage the network was last trained at (4x4 before
    any training)."""
    first = float(num_stages(module.net.resolution) - 1)  # before any training: the 4x4 stage
    kept = module.variable('progress', 'lod', lambda: jnp.asarray(first, jnp.float32))
    if level is None:
        return kept.value
    level = jnp.asarray(level, jnp.float32)
    if train and module.is_mutable_collection('progress'):
        kept.value = level
    return level


class GrowingGenerator(nn.Module):
    """A Generator trained growing: z -> images at the full `net.resolution` R at the traced lod (`lod`:
    the schedule's level of detail; None: the one kept from training), the stage's image nearest-upscaled
    to R as the official 'linear' structure gives it. One branch per stage (`nn.switch`): a jitted step
    compiles every stage once and runs only the current one. The lod is kept as a variable
    ('progress'/'lod'), so that sampling a checkpoint draws at the stage it was trained to."""

    net: nn.Module  # models.progan.Generator

    @property
    def z_dim(self) -> int:
        return self.net.z_dim

    @nn.compact
    def __call__(self, z_BxZ: jax.Array, y: jax.Array | None = None, *, train: bool = False,
                 lod: _Scalar | None = None) -> jax.Array:
        level = _progress(self, lod, train)
        resolution = self.net.resolution

        def branch(s: int):
            def run(module, z, y, alpha):
                return upscale2d(module.net(z, y, stage=s, alpha=alpha), resolution // stage_resolution(s))
            return run

        stage, alpha = stage_and_alpha(level, resolution)
        if self.is_initializing():  # every stage's parameters, from the last one's call
            return branch(num_stages(resolution) - 1)(self, z_BxZ, y, alpha)
        return nn.switch(stage, [branch(s) for s in range(num_stages(resolution))], self, z_BxZ, y, alpha)


class GrowingDiscriminator(nn.Module):
    """A Discriminator trained growing: images at the full R -> D's outputs at the traced lod (see
    GrowingGenerator), the images box-downscaled to the stage's resolution first (the official 'linear'
    structure's input path). One branch per stage (`nn.switch`); the lod kept as G keeps it."""

    net: nn.Module  # models.progan.Discriminator

    @nn.compact
    def __call__(self, x_BxRxRxC: jax.Array, y: jax.Array | None = None, *, train: bool = False,
                 lod: _Scalar | None = None) -> dict:
        level = _progress(self, lod, train)
        resolution = self.net.resolution

        def branch(s: int):
            def run(module, x, y, alpha):
                return module.net(downscale2d(x, resolution // stage_resolution(s)), y, stage=s, alpha=alpha)
            return run

        stage, alpha = stage_and_alpha(level, resolution)
        if self.is_initializing():
            return branch(num_stages(resolution) - 1)(self, x_BxRxRxC, y, alpha)
        return nn.switch(stage, [branch(s) for s in range(num_stages(resolution))], self, x_BxRxRxC, y, alpha)


# ---------------------------------------------------------------- the training hooks (config.progan)

def lod_of_step(config: ml_collections.ConfigDict, resolution: int, step: jax.Array) -> jax.Array:
    """ProGAN's lod at `step` (train.py, TrainingSchedule): after the real images of the steps before it,
    batch_size for each D update (the official cur_nimg grows by the minibatch at each D repeat)."""
    p = config.progan
    images = step.astype(jnp.int32) * (config.batch_size * max(config.n_critic, 1))
    return level_of_detail(images, resolution, p.training_kimg, p.transition_kimg, p.initial_resolution)


def growing_optimizers(config: ml_collections.ConfigDict, resolution: int) -> tuple[dict, dict]:
    """optim.make's extra arguments for ProGAN's G and D (train.py): the learning rate of the stage's
    resolution (progan.learning_rates, else the optimizer's), and Adam's moments reset whenever the lod's
    floor or ceiling changes (progan.reset_optimizer), both from the step that the update count is of."""
    rates = {int(r): float(lr) for r, lr in config.progan.learning_rates}
    n = max(config.n_critic, 1)

    def extra(c: ml_collections.ConfigDict, updates_per_step: int) -> dict:
        lod = lambda count: lod_of_step(config, resolution, count // updates_per_step)
        out = {}
        if rates:
            out['lr'] = lambda count: stage_learning_rate(lod(count), resolution, rates, c.learning_rate)
        if config.progan.reset_optimizer:
            out['reset_when'] = lambda count: (jnp.floor(lod(count)) * 64 + jnp.ceil(lod(count))).astype(jnp.int32)
        return out

    return extra(config.g_optimizer, config.n_gen), extra(config.d_optimizer, n)
