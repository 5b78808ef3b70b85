"""Objective terms: each one part of a player's loss, a small pure function of the update's `View`.

    term(view) -> weighted loss on this device's examples (the step averages it over devices)

A term that keeps state has `init(params) -> state` and `update(state, params) -> state` (run after
each update of its player, with the new params), as an optax transform does; the state lives in the run
state under the term's name, and is saved and restored with everything else. A term that needs random
numbers has `noise(key, updates, batch)`: they are drawn for the global batch before sharding, and the
term reads its share from view.noise[term.name].

The terms name what they read: quantities of the game (view['d_real'], D's outputs on the real batch),
keys of the real batch (view.real['x']), generated examples (view.generated['x']) and noise
(view.noise['z']). The closed forms are in `core.losses` and `core.penalties`; a new term is a class
here (or in an experiment), its selection in the game that uses it, and a test against its closed form.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from jaxgan.core import losses, penalties
from jaxgan.core.game import View
from jaxgan.core.parallel import DATA


@dataclasses.dataclass(frozen=True)
class Term:
    """Base: a name (its metric), a weight; stateless and noiseless unless a subclass says otherwise."""

    name: str
    weight: float

    def __call__(self, view: View) -> jax.Array:
        raise NotImplementedError

    def init(self, params: Any) -> Any:
        return None

    def update(self, state: Any, params: Any) -> Any:
        return state

    def noise(self, key: jax.Array, updates: int, batch: int) -> Any:
        return None

    @property
    def stateful(self) -> bool:
        return type(self).init is not Term.init


# Adversarial losses ------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class DiscriminatorLoss(Term):
    """The adversarial loss's discriminator side on D's logits for real and generated examples."""

    loss: losses.Loss = losses.LOSSES['non_saturating']
    label_smoothing: float = 0.0
    real: str = 'd_real'
    fake: str = 'd_fake'

    def __call__(self, view: View) -> jax.Array:
        smoothing = {'label_smoothing': self.label_smoothing} if self.label_smoothing else {}
        return self.weight * self.loss.discriminator(real_logits=view[self.real]['logits'],
                                                     fake_logits=view[self.fake]['logits'], **smoothing)


@dataclasses.dataclass(frozen=True)
class GeneratorLoss(Term):
    """The adversarial loss's generator side on D's logits for generated examples."""

    loss: losses.Loss = losses.LOSSES['non_saturating']
    fake: str = 'd_fake'

    def __call__(self, view: View) -> jax.Array:
        return self.weight * self.loss.generator(fake_logits=view[self.fake]['logits'])


# Penalties on D's input gradients ------------------------------------------------------------------------
# `critic` names a quantity that is D as a function of its input batch, x -> logits [B], leaving the
# model state as it is. The game must not couple examples in it (see penalties.py). pack = m > 1: the
# quantity packs its input (PacGAN, core.packing) and returns [B / m] logits; the norms are per pack.

@dataclasses.dataclass(frozen=True)
class GradientPenalty(Term):
    """WGAN-GP (Gulrajani et al. 2017), lambda = 10 in the paper, at e x + (1 - e) G(z)."""

    critic: str = 'd_of_x'
    real: str = 'x'
    fake: str = 'x'
    pack: int = 1

    def noise(self, key, updates, batch):
        return jax.random.uniform(key, (updates, batch))

    def __call__(self, view: View) -> jax.Array:
        return self.weight * penalties.gradient_penalty(
            d_fn=view[self.critic], real=view.real[self.real], fake=view.generated[self.fake],
            epsilon=view.noise[self.name], pack=self.pack)


@dataclasses.dataclass(frozen=True)
class R1(Term):
    """R1 (Mescheder et al. 2018): weight = gamma / 2 on E ||grad D(x)||^2 over real x. every = k > 1:
    lazy regularisation (Karras et al. 2020, StyleGAN2 uses k = 16), computed on every k-th step only and
    weighed k times."""

    critic: str = 'd_of_x'
    real: str = 'x'
    every: int = 1
    pack: int = 1

    def __call__(self, view: View) -> jax.Array:
        r1 = lambda: lax.pmean(penalties.r1_penalty(d_fn=view[self.critic], real=view.real[self.real],
                                                    pack=self.pack), DATA)
        if self.every == 1:
            return self.weight * r1()
        return self.weight * self.every * lax.cond(view.step % self.every == 0, r1, lambda: jnp.zeros(()))


@dataclasses.dataclass(frozen=True)
class Dragan(Term):
    """DRAGAN (Kodali et al. 2017), lambda = 10 in the paper: the gradient penalty around the data,
    x + a * 0.5 std(x) u, with std over the global batch."""

    critic: str = 'd_of_x'
    real: str = 'x'
    shape: tuple[int, ...] = ()  # one example's
    pack: int = 1

    def noise(self, key, updates, batch):
        u_key, a_key = jax.random.split(key)
        return {'uniform': jax.random.uniform(u_key, (updates, batch, *self.shape)),
                'alpha': jax.random.uniform(a_key, (updates, batch))}

    def __call__(self, view: View) -> jax.Array:
        x = view.real[self.real]
        mean = lax.pmean(jnp.mean(x), DATA)
        std = jnp.sqrt(jnp.maximum(lax.pmean(jnp.mean(jnp.square(x)), DATA) - jnp.square(mean), 0.0))
        n = view.noise[self.name]
        return self.weight * penalties.dragan_penalty(d_fn=view[self.critic], real=x, std=std,
                                                      uniform=n['uniform'], alpha=n['alpha'], pack=self.pack)


# Auxiliary objectives ------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Classification(Term):
    """Softmax cross-entropy of a quantity's class head against labels: AC-GAN's auxiliary classifier
    (Odena et al. 2017) on real and on generated examples, the semi-supervised GAN's labelled loss
    (Salimans et al. 2016). labels: (where, key), where is 'real' or 'noise'."""

    outputs: str = 'd_real'
    labels: tuple[str, str] = ('real', 'y')
    head: str = 'class_logits'

    def __call__(self, view: View) -> jax.Array:
        where, key = self.labels
        labels = (view.real if where == 'real' else view.noise)[key]
        return self.weight * losses.classification_loss(logits=view[self.outputs][self.head], labels=labels)


def split_codes(latents: jax.Array, z_dim: int, categorical: int, continuous: int
                ) -> tuple[jax.Array | None, jax.Array | None]:
    """InfoGAN's (categorical code index [B], continuous codes [B, M]) of latents [z | one-hot | continuous]."""
    code = jnp.argmax(latents[..., z_dim:z_dim + categorical], axis=-1) if categorical else None
    return code, (latents[..., z_dim + categorical:] if continuous else None)


@dataclasses.dataclass(frozen=True)
class MutualInformation(Term):
    """InfoGAN's bound on I(c; G(z, c)) (Chen et al. 2016), as a loss on both players: Q's cross-entropy
    of the categorical code and continuous_weight times the Gaussian NLL of the continuous codes. The
    codes sit in the latent after z_dim entries: [z | one-hot categorical | continuous]."""

    outputs: str = 'd_fake'
    latent: str = 'z'
    z_dim: int = 0
    categorical: int = 0
    continuous: int = 0
    continuous_weight: float = 1.0

    def __call__(self, view: View) -> jax.Array:
        categorical, continuous = split_codes(view.noise[self.latent], self.z_dim, self.categorical, self.continuous)
        return self.weight * losses.infogan_loss(outputs=view[self.outputs], categorical=categorical,
                                                 continuous=continuous, continuous_weight=self.continuous_weight)


@dataclasses.dataclass(frozen=True)
class FeatureMatching(Term):
    """||E f(x) - E f(G(z))||^2 over the global batch, f: D's last hidden layer (Salimans et al. 2016)."""

    real: str = 'd_real'
    fake: str = 'd_fake'

    def __call__(self, view: View) -> jax.Array:
        real = lax.pmean(jnp.mean(lax.stop_gradient(view[self.real]['features']), 0), DATA)
        fake = lax.pmean(jnp.mean(view[self.fake]['features'], 0), DATA)
        return self.weight * jnp.sum(jnp.square(real - fake))


@dataclasses.dataclass(frozen=True)
class MMD(Term):
    """The generative moment-matching network's loss (Li et al. 2015): MMD between this device's real
    and generated batches under a sum of Gaussian kernels."""

    bandwidths: tuple[float, ...] = (2.0, 5.0, 10.0, 20.0, 40.0, 80.0)
    real: str = 'x'
    fake: str = 'x'

    def __call__(self, view: View) -> jax.Array:
        return self.weight * penalties.mmd(x=view.real[self.real], y=view.generated[self.fake],
                                           bandwidths=tuple(self.bandwidths))


@dataclasses.dataclass(frozen=True)
class HistoricalAveraging(Term):
    """||theta - theta_bar||^2 on the player's params, theta_bar the running mean of the params after
    each of its updates (Salimans et al. 2016; the initial params only until the first update). State:
    (theta_bar, count). A critic's mean moves with each of its n_critic updates."""

    def init(self, params):
        return {'average': jax.tree.map(jnp.copy, params), 'count': jnp.zeros((), jnp.int32)}

    def update(self, state, params):
        w = 1.0 / (state['count'].astype(jnp.float32) + 1.0)
        average = jax.tree.map(lambda a, p: a + w * (p - a), state['average'], params)
        return {'average': average, 'count': state['count'] + 1}

    def __call__(self, view: View) -> jax.Array:
        return self.weight * penalties.historical_average_penalty(
            params=view.params, average=view.term_states[self.name]['average'])
