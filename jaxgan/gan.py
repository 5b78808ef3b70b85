"""A GAN's static parts: both modules, both optimizers, the loss, the latents and the labels.

`GAN` holds no arrays; the arrays live in `state.GANState`. Its methods are the pure apply functions the
step, the sampler and the tools share.

The latent vector is [z | one-hot categorical code | continuous codes]: z of size z_dim, then InfoGAN's
codes where config.infogan asks for them (Chen et al. 2016). Class-conditional models also take a label
y (config.conditioning).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
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
    num_classes: int = 0  # > 0: G and/or D take labels
    g_conditioned: bool = False
    d_conditioned: bool = False
    categorical_code: int = 0  # InfoGAN: classes of the categorical code
    continuous_codes: int = 0  # InfoGAN: continuous codes, U[-1, 1]

    @property
    def needs_rng(self) -> bool:
        """Whether D draws random numbers (dropout, noise) when training."""
        d = self.discriminator
        return getattr(d, 'dropout', 0.0) > 0.0 or getattr(d, 'noise', 0.0) > 0.0

    @property
    def latent_dim(self) -> int:
        return self.z_dim + self.categorical_code + self.continuous_codes

    def latents(self, key: jax.Array, *batch_shape: int) -> jax.Array:
        """Latent vectors [*batch_shape, latent_dim]: z, then InfoGAN's codes drawn from their priors."""
        z_key, cat_key, cont_key = jax.random.split(key, 3)
        shape = (*batch_shape, self.z_dim)
        if self.latent == 'uniform':
            parts = [jax.random.uniform(z_key, shape, minval=-1.0, maxval=1.0)]
        else:
            parts = [jax.random.normal(z_key, shape)]
        if self.categorical_code:
            codes = jax.random.randint(cat_key, batch_shape, 0, self.categorical_code)
            parts.append(jax.nn.one_hot(codes, self.categorical_code))
        if self.continuous_codes:
            parts.append(jax.random.uniform(cont_key, (*batch_shape, self.continuous_codes), minval=-1.0, maxval=1.0))
        return jnp.concatenate(parts, axis=-1) if len(parts) > 1 else parts[0]

    def codes(self, latents: jax.Array) -> tuple[jax.Array | None, jax.Array | None]:
        """InfoGAN's (categorical code index [B], continuous codes [B, M]) of latent vectors."""
        z = self.z_dim
        categorical = jnp.argmax(latents[..., z:z + self.categorical_code], axis=-1) if self.categorical_code else None
        continuous = latents[..., z + self.categorical_code:] if self.continuous_codes else None
        return categorical, continuous

    def labels(self, key: jax.Array, *batch_shape: int) -> jax.Array | None:
        """Labels for generated examples, uniform over the classes (None for unconditional G)."""
        return jax.random.randint(key, batch_shape, 0, self.num_classes) if self.g_conditioned else None

    def generate(self, params: Params, model_state: ModelState, z: jax.Array, *, y: jax.Array | None = None,
                 train: bool) -> tuple[jax.Array, ModelState]:
        """G(z[, y]) in model units; in training mode also the updated model state."""
        return apply(self.generator, params, model_state, z, y if self.g_conditioned else None, train=train)

    def discriminate(self, params: Params, model_state: ModelState, x: jax.Array, *,
                     y: jax.Array | None = None, train: bool, rng: jax.Array | None = None
                     ) -> tuple[dict[str, jax.Array], ModelState]:
        """D's outputs (a dict: 'logits' [B], 'features' [B, F], and heads; see models.layers.Heads) and,
        in training mode, the updated model state. rng: for dropout."""
        return apply(self.discriminator, params, model_state, x, y if self.d_conditioned else None,
                     train=train, rng=rng)


def apply(module: nn.Module, params: Params, model_state: ModelState, inputs: jax.Array,
          labels: jax.Array | None = None, *, train: bool, rng: jax.Array | None = None) -> tuple[Any, ModelState]:
    variables = {'params': params, **model_state}
    rngs = {'dropout': rng} if rng is not None else None
    if train and model_state:
        return module.apply(variables, inputs, labels, train=True, mutable=list(model_state), rngs=rngs)
    return module.apply(variables, inputs, labels, train=train, rngs=rngs), model_state


def build_gan(config: ml_collections.ConfigDict, spec: DataSpec) -> GAN:
    generator, discriminator = models.build(config, spec)
    loss = losses.get(config.loss)
    if config.label_smoothing and not loss.classifier:
        raise UserError(f'config.label_smoothing applies to the minimax and non_saturating losses, '
                        f'not {config.loss}')
    if config.semi_supervised.num_labels and config.loss not in ('minimax', 'non_saturating'):
        raise UserError('the semi-supervised GAN needs config.loss=non_saturating or minimax')
    g_updates, d_updates = config.num_steps, config.num_steps * config.n_critic
    return GAN(generator, discriminator, optim.make(config.g_optimizer, g_updates),
               optim.make(config.d_optimizer, max(d_updates, 1)),
               loss, spec, config.model.z_dim, config.model.latent,
               keeps_averages=config.penalties.historical_averaging > 0,
               num_classes=models.num_classes(config, spec),
               g_conditioned=config.conditioning.g != 'none',
               d_conditioned=config.conditioning.d in ('concat', 'projection'),
               categorical_code=config.infogan.categorical, continuous_codes=config.infogan.continuous)
