"""A GAN's static parts: both modules, both optimizers, the loss and the latent distribution.

`GAN` holds no arrays; the arrays live in `state.GANState`. Its methods are the pure apply functions the
step, the sampler and the tools share.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import ml_collections
import optax

from jaxgan import losses, models, optim
from jaxgan.data.spec import DataSpec

Params = Any  # a pytree of arrays
ModelState = dict[str, Any]  # non-trained variables, e.g. {'batch_stats': ...}; {} where none


@dataclasses.dataclass(frozen=True)
class GAN:
    generator: nn.Module
    discriminator: nn.Module
    g_optimizer: optax.GradientTransformation
    d_optimizer: optax.GradientTransformation
    loss: losses.Loss
    spec: DataSpec
    z_dim: int
    latent: str  # 'normal' | 'uniform'

    def latents(self, key: jax.Array, *batch_shape: int) -> jax.Array:
        shape = (*batch_shape, self.z_dim)
        if self.latent == 'uniform':
            return jax.random.uniform(key, shape, minval=-1.0, maxval=1.0)
        return jax.random.normal(key, shape)

    def generate(self, params: Params, model_state: ModelState, z: jax.Array, *,
                 train: bool) -> tuple[jax.Array, ModelState]:
        """G(z) in model units; in training mode also the updated model state."""
        return apply(self.generator, params, model_state, z, train=train)

    def discriminate(self, params: Params, model_state: ModelState, x: jax.Array, *,
                     train: bool) -> tuple[jax.Array, ModelState]:
        """D's logits [B]; in training mode also the updated model state."""
        return apply(self.discriminator, params, model_state, x, train=train)


def apply(module: nn.Module, params: Params, model_state: ModelState, inputs: jax.Array, *,
          train: bool) -> tuple[jax.Array, ModelState]:
    variables = {'params': params, **model_state}
    if train and model_state:
        return module.apply(variables, inputs, train=True, mutable=list(model_state))
    return module.apply(variables, inputs, train=train), model_state


def build_gan(config: ml_collections.ConfigDict, spec: DataSpec) -> GAN:
    generator, discriminator = models.build(config, spec)
    return GAN(generator, discriminator, optim.make(config.g_optimizer), optim.make(config.d_optimizer),
               losses.get(config.loss), spec, config.model.z_dim, config.model.latent)
