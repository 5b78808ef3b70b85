"""Augmentations of the images D sees: pure, jittable JAX functions, differentiable in the images.

    get(kind, policy=..., p=..., pipeline=..., multipliers=..., cutout=..., cutout_size=...) -> Augmentation
                                                                   kind: none | diffaugment | ada | fixed
    augmentation.apply(key, x_BHWC, p) -> x_BHWC                   images in [-1, 1], shape and dtype kept
    per_example(apply)(keys_B, x_BHWC, p) -> x_BHWC                one key per image (see per_example)

    none          the images as they are
    diffaugment   DiffAugment (Zhao et al. 2020): `policy`, any of color, translation, cutout
    ada           ADA (Karras et al. 2020): the 'bgc' pipeline with probability p, which adapts
                  (`ada_update` towards the target r_t = E[sign(D(real))] = 0.6); each transform's
                  probability multiplier (`multipliers`, 1 by default) and cutout (`cutout`, off by
                  default) as in the reference's AugmentPipe
    fixed         the same pipeline with a fixed p

The step machinery does not apply them yet: this package is the library the step will call, on every
image D sees (real and generated, in D's and G's updates), with ADA's p kept in the run state.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import jax

from jaxgan.augment._ada import (CUTOUT_SIZE, TRANSFORMS, AdaState, ada, ada_adjust, ada_init, ada_update,
                                apply_cutout, check_cutout, check_probability, parse_multipliers, parse_pipeline,
                                rt_heuristic)
from jaxgan.augment._diffaugment import DEFAULT_POLICY, POLICIES, diffaugment, parse_policy, translation
from jaxgan.errors import UserError

__all__ = ['AdaState', 'Augmentation', 'consistency_transform', 'CUTOUT_SIZE', 'DEFAULT_POLICY', 'KINDS', 'POLICIES',
           'TRANSFORMS', 'ada', 'ada_adjust', 'ada_init', 'ada_update', 'apply_cutout', 'check_cutout',
           'check_probability', 'diffaugment', 'get', 'parse_multipliers', 'parse_pipeline', 'parse_policy',
           'per_example', 'rt_heuristic']

KINDS = ('none', 'diffaugment', 'ada', 'fixed')

Apply = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]  # (key, images, p) -> images


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """What a kind selects: `apply(key, images, p)`; `p`, the probability to start from (ADA's and
    fixed's; the others ignore it); `adaptive`, whether p is to move with `ada_update`."""

    kind: str
    apply: Apply
    p: float = 0.0
    adaptive: bool = False


def get(kind: str, *, policy: str | Sequence[str] = DEFAULT_POLICY, p: float = 0.0,
        pipeline: str = 'bgc', multipliers: str = '', cutout: float = 0.0,
        cutout_size: float = CUTOUT_SIZE) -> Augmentation:
    """The augmentation named `kind`; an unknown kind, policy, pipeline or transform, a p outside [0, 1],
    or a bad multiplier or cutout, is a one-line UserError."""
    if kind not in KINDS:
        raise UserError(f'unknown augmentation {kind!r}: choose from {", ".join(KINDS)}')
    p = check_probability(p, 'the augmentation probability p')
    if kind == 'none':
        return Augmentation(kind, lambda key, x, p: x)
    if kind == 'diffaugment':
        names = parse_policy(policy)
        if not names:
            raise UserError(f'DiffAugment needs a policy: any of {", ".join(POLICIES)}, comma-separated')
        return Augmentation(kind, lambda key, x, p: diffaugment(key, x, names))
    pipeline, m = parse_pipeline(pipeline), parse_multipliers(multipliers)
    cutout, cutout_size = check_cutout(cutout, cutout_size)
    return Augmentation(kind, lambda key, x, p: ada(key, x, p, pipeline, multipliers=m, cutout=cutout,
                                                    cutout_size=cutout_size), p, adaptive=kind == 'ada')


def per_example(apply: Apply) -> Callable[[jax.Array, jax.Array, jax.Array], jax.Array]:
    """`apply` with one key per image: (keys [B], images [B, H, W, C], p) -> images. Where the keys are
    drawn for the global batch before sharding, as the step draws its noise, each image's transforms are
    the same on any number of devices; `apply(key, images, p)` draws for its batch from one key."""
    return jax.vmap(lambda key, image, p: apply(key, image[None], p)[0], in_axes=(0, 0, None))


def consistency_transform(key: jax.Array, x: jax.Array) -> jax.Array:
    """T of consistency regularisation (Zhang et al. 2020, CR-GAN; bCR, Zhao et al. 2021): a random
    horizontal flip and a shift by up to 1/8 of the side (4 pixels at 32, the papers' CIFAR-10 setting),
    the emptied border zero (the papers do not pin the padding down). Per image, from one key."""
    flip_key, shift_key = jax.random.split(key)
    flip = jax.random.bernoulli(flip_key, 0.5, (x.shape[0], 1, 1, 1))
    x = jax.numpy.where(flip, x[:, :, ::-1, :], x)
    return translation(shift_key, x)
