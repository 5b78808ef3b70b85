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
from jaxgan.errors import UserError

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
    keeps_averages: bool = False  # historical averaging: the state holds running means of the params

    @property
    def needs_rng(self) -> bool:
        """Whether D draws random numbers (dropout) when training."""
        return getattr(self.discriminator, 'dropout', 0.0) > 0.0

    def latents(self, key: jax.Array, *batch_shape: int) -> jax.Array:
        shape = (*batch_shape, self.z_dim)
        if self.latent == 'uniform':
            return jax.random.uniform(key, shape, minval=-1.0, maxval=1.0)
        return jax.random.normal(key, shape)

    def generate(self, params: Params, model_state: ModelState, z: jax.Array, *,
                 train: bool) -> tuple[jax.Array, ModelState]:
        """G(z) in model units; in training mode also the updated model state."""
        return apply(self.generator, params, model_state, z, train=train)

    def discriminate(self, params: Params, model_state: ModelState, x: jax.Array, *, train: bool,
                     rng: jax.Array | None = None) -> tuple[jax.Array, ModelState]:
        """D's logits [B]; in training mode also the updated model state. rng: for dropout."""
        return apply(self.discriminator, params, model_state, x, train=train, rng=rng)

    def discriminate_features(self, params: Params, model_state: ModelState, x: jax.Array, *,
                              train: bool, rng: jax.Array | None = None
                              ) -> tuple[jax.Array, jax.Array, ModelState]:
        """D's logits [B], its last hidden layer [B, F], and the updated model state."""
        (logits, features), model_state = apply(self.discriminator, params, model_state, x, train=train,
                                                rng=rng, features=True)
        return logits, features, model_state


def apply(module: nn.Module, params: Params, model_state: ModelState, inputs: jax.Array, *,
          train: bool, rng: jax.Array | None = None, **kwargs) -> tuple[Any, ModelState]:
    variables = {'params': params, **model_state}
    rngs = {'dropout': rng} if rng is not None else None
    if train and model_state:
        return module.apply(variables, inputs, train=True, mutable=list(model_state), rngs=rngs, **kwargs)
    return module.apply(variables, inputs, train=train, rngs=rngs, **kwargs), model_state


def build_gan(config: ml_collections.ConfigDict, spec: DataSpec) -> GAN:
    generator, discriminator = models.build(config, spec)
    loss = losses.get(config.loss)
    if config.label_smoothing and not loss.classifier:
        raise UserError(f'config.label_smoothing applies to the minimax and non_saturating losses, '
                        f'not {config.loss}')
    g_updates, d_updates = config.num_steps, config.num_steps * config.n_critic
    return GAN(generator, discriminator, optim.make(config.g_optimizer, g_updates),
               optim.make(config.d_optimizer, max(d_updates, 1)),
               loss, spec, config.model.z_dim, config.model.latent,
               keeps_averages=config.penalties.historical_averaging > 0)
