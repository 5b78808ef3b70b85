"""Generator and discriminator architectures, chosen by config.model.name from those registered
(models.registry).

Every architecture is a pair of Flax modules used as pure functions: `G.apply(vars, z, y, train=...)`
returns examples in model units ([-1, 1] images, or standardised vectors) and `D.apply(vars, x, y,
train=...)` a dict with one logit per example ('logits'), its last hidden layer ('features') and the
outputs of the heads config asks for (see layers.Heads); y, the labels, is None for unconditional
models. A new architecture is a new module here that registers an `Architecture` (docs/extending.md).

    dcgan    Radford et al. 2015, any power-of-two image size from 8
    mlp      multilayer perceptrons (Goodfellow et al. 2014; toy distributions), any data
    resnet   Miyato et al. 2018 / Gulrajani et al. 2017, power-of-two images from 8 to 128 (32 for CIFAR-10;
             the SN-GAN authors' deeper discriminators at 64 and 128)
    stylegan2  Karras et al. 2020 (models.stylegan2, sized by config.stylegan2), power-of-two images from 8
    progan   Karras et al. 2018 (models.progan, sized by config.progan), power-of-two images from 8, trained
             growing: the networks take the schedule's level of detail (`lod`) beside their inputs

Models know nothing of training or input pipelines: `build` takes the example shape and the class count.
Every convolution is models.convolution's, whose implementation is chosen per run, not per model.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp
import ml_collections

from jaxgan.errors import UserError
# Imported for their registrations, in the order of the list above: that of their sections in --help.
from jaxgan.models import dcgan, mlp, resnet, stylegan2, progan  # noqa: F401
from jaxgan.models import official, r3gan_official, stylegan2_official  # noqa: F401  (ports of official pickles)
from jaxgan.models.registry import (Architecture, Growing, Sizes, StyleOptions, architectures,  # noqa: F401
                                   check, check_shape, find, get, lacks, sections)


def d_norm(config: ml_collections.ConfigDict) -> str:
    """The discriminator's normalisation: config.model.d_norm, or the architecture's default ('none' for a
    name that is not an architecture's)."""
    found = find(config.model.name)
    return found.d_norm(config) if found else (config.model.d_norm or 'none')


def build(config: ml_collections.ConfigDict, shape: tuple[int, ...], *, images: bool, num_classes: int,
          bn_axis: str | None) -> tuple[nn.Module, nn.Module]:
    """The (generator, discriminator) pair for config.model on examples of `shape`; bn_axis: the mesh axis
    over which cross-device BatchNorm averages (None: per device)."""
    architecture = check(config)
    check_shape(architecture, tuple(shape), images)
    dtype = jnp.bfloat16 if config.compute_dtype == 'bfloat16' else jnp.float32
    return architecture.build(config, tuple(shape), images=images, num_classes=num_classes, bn_axis=bn_axis,
                              dtype=dtype)


def _owner(discriminator: nn.Module) -> Architecture | None:
    """The registered architecture whose module defines this discriminator's class."""
    module = type(discriminator).__module__
    return next((a for a in architectures() if a.build.__module__ == module), None)


def discriminator_blocks(discriminator: nn.Module, architecture: Architecture | None = None
                         ) -> tuple[tuple[str, ...], ...]:
    """The discriminator's blocks, from its input on, each as the names of its layers in D's params (their
    top-level keys), as its architecture (by default the one whose module defines D) declares them: dcgan,
    a stride-2 conv with its normalisation; resnet, a residual block; mlp, a hidden dense layer. The heads
    (the final layer, projection, classifiers, InfoGAN's Q, minibatch discrimination) are in no block."""
    architecture = architecture or _owner(discriminator)
    if architecture is None or architecture.discriminator_blocks is None:
        defined = [a.name for a in architectures() if a.discriminator_blocks is not None]
        raise UserError(f'config.freeze_d: the blocks of {type(discriminator).__name__} are not defined (models '
                        f'that define them: {", ".join(defined) or "none"})')
    return architecture.discriminator_blocks(discriminator)


def frozen_layers(discriminator: nn.Module, k: int, architecture: Architecture | None = None) -> tuple[str, ...]:
    """The layers of D (top-level names in its params) that FreezeD (Mo et al. 2020) keeps fixed: those of
    its first k blocks (`discriminator_blocks`); () for k = 0."""
    if not k:
        return ()
    blocks = discriminator_blocks(discriminator, architecture)
    if k > len(blocks):
        raise UserError(f'config.freeze_d={k}: the discriminator ({type(discriminator).__module__.split(".")[-1]}) '
                        f'has {len(blocks)} blocks; at most {len(blocks)} can be frozen (its head never is)')
    return tuple(name for block in blocks[:k] for name in block)
