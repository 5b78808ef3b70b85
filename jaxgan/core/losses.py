"""Adversarial losses: small keyword-only pure functions of the discriminator's outputs.

Written with softplus (softplus(x) = -log sigmoid(-x)), never log(sigmoid(x)), so that logits of
+-200 give finite losses and gradients. With D(x) = sigmoid(logit) where D is a classifier:

    minimax, non_saturating (Goodfellow et al. 2014)
      D: -E log D(x) - E log(1 - D(G(z)))  = E softplus(-real) + E softplus(fake)
      G, minimax:        E log(1 - D(G(z))) = -E softplus(fake)
      G, non-saturating: -E log D(G(z))     =  E softplus(-fake)
    least_squares (LSGAN, Mao et al. 2017, targets a=0, b=c=1)
      D: 1/2 E (D(x) - 1)^2 + 1/2 E D(G(z))^2      G: 1/2 E (D(G(z)) - 1)^2
    wasserstein (WGAN, Arjovsky et al. 2017; D is a critic)
      D: E D(G(z)) - E D(x)                         G: -E D(G(z))
    hinge (Lim & Ye 2017; Miyato et al. 2018)
      D: E relu(1 - D(x)) + E relu(1 + D(G(z)))     G: -E D(G(z))

The relativistic average losses (Jolicoeur-Martineau 2019) judge each example against the mean output
on the other side, m_r = E C(x) and m_f = E C(G(z)) over the global batch, and G's loss reads real
outputs too (so in G's update D runs on the real batch as well):
    ra_non_saturating (RaSGAN)
      D: E softplus(-(C(x) - m_f)) + E softplus(C(G(z)) - m_r)
      G: E softplus(-(C(G(z)) - m_r)) + E softplus(C(x) - m_f)
    ra_least_squares (RaLSGAN)
      D: E (C(x) - m_f - 1)^2 + E (C(G(z)) - m_r + 1)^2      G: the same with real and fake swapped
    ra_hinge (RaHingeGAN)
      D: E relu(1 - (C(x) - m_f)) + E relu(1 + (C(G(z)) - m_r))      G: swapped likewise

The paired relativistic loss (RpGAN: Jolicoeur-Martineau 2019; R3GAN, Huang et al. 2024) judges each
real example against the generated one of the same index, d_i = C(x_i) - C(G(z_i)) (R3GAN/Trainer.py
of brownvc/R3GAN, AdversarialTraining: softplus(-(RealLogits - FakeLogits)) for D and
softplus(-(FakeLogits - RealLogits)) for G, each averaged over the batch):
    rpgan
      D: E softplus(-(C(x_i) - C(G(z_i))))      G: E softplus(-(C(G(z_i)) - C(x_i)))
It takes the relativistic losses' arguments and ignores the means.

One-sided label smoothing (Salimans et al. 2016) replaces the real target 1 by 1 - label_smoothing in
the classifier losses: D: (1-s) E softplus(-real) + s E softplus(real) + E softplus(fake).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

from jaxgan.errors import UserError


def bce_discriminator_loss(*, real_logits: jax.Array, fake_logits: jax.Array,
                           label_smoothing: float = 0.0) -> jax.Array:
    real = (1.0 - label_smoothing) * jax.nn.softplus(-real_logits) + label_smoothing * jax.nn.softplus(real_logits)
    return jnp.mean(real) + jnp.mean(jax.nn.softplus(fake_logits))


def minimax_generator_loss(*, fake_logits: jax.Array) -> jax.Array:
    return -jnp.mean(jax.nn.softplus(fake_logits))


def non_saturating_generator_loss(*, fake_logits: jax.Array) -> jax.Array:
    return jnp.mean(jax.nn.softplus(-fake_logits))


def least_squares_discriminator_loss(*, real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    return 0.5 * jnp.mean(jnp.square(real_logits - 1.0)) + 0.5 * jnp.mean(jnp.square(fake_logits))


def least_squares_generator_loss(*, fake_logits: jax.Array) -> jax.Array:
    return 0.5 * jnp.mean(jnp.square(fake_logits - 1.0))


def wasserstein_discriminator_loss(*, real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    return jnp.mean(fake_logits) - jnp.mean(real_logits)


def hinge_discriminator_loss(*, real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    return jnp.mean(jax.nn.relu(1.0 - real_logits)) + jnp.mean(jax.nn.relu(1.0 + fake_logits))


def critic_generator_loss(*, fake_logits: jax.Array) -> jax.Array:
    """-E D(G(z)): the generator's loss for the Wasserstein and hinge objectives."""
    return -jnp.mean(fake_logits)


def _relativistic(pair: Callable[[jax.Array, jax.Array], jax.Array]) -> tuple[Callable, Callable]:
    """(D's loss, G's loss) of a relativistic average loss from pair(a, b): the loss of calling a (an
    example judged against the other side's mean) more realistic and b less."""

    def discriminator(*, real_logits, fake_logits, real_mean, fake_mean):
        return pair(real_logits - fake_mean, fake_logits - real_mean)

    def generator(*, real_logits, fake_logits, real_mean, fake_mean):
        return pair(fake_logits - real_mean, real_logits - fake_mean)

    return discriminator, generator


def rpgan_discriminator_loss(*, real_logits, fake_logits, real_mean=None, fake_mean=None) -> jax.Array:
    del real_mean, fake_mean  # paired, not against the other side's mean
    return jnp.mean(jax.nn.softplus(-(real_logits - fake_logits)))


def rpgan_generator_loss(*, real_logits, fake_logits, real_mean=None, fake_mean=None) -> jax.Array:
    del real_mean, fake_mean
    return jnp.mean(jax.nn.softplus(-(fake_logits - real_logits)))


_RA_PAIRS = {
    'ra_non_saturating': lambda a, b: jnp.mean(jax.nn.softplus(-a)) + jnp.mean(jax.nn.softplus(b)),
    'ra_least_squares': lambda a, b: jnp.mean(jnp.square(a - 1.0)) + jnp.mean(jnp.square(b + 1.0)),
    'ra_hinge': lambda a, b: jnp.mean(jax.nn.relu(1.0 - a)) + jnp.mean(jax.nn.relu(1.0 + b)),
}


@dataclasses.dataclass(frozen=True)
class Loss:
    discriminator: Callable[..., jax.Array]  # (*, real_logits, fake_logits[, label_smoothing]) -> scalar
    generator: Callable[..., jax.Array]  # (*, fake_logits) -> scalar
    classifier: bool  # D's output is a logit of P(real): label smoothing and D(x) probabilities apply
    relativistic: bool = False  # both sides take (*, real_logits, fake_logits, real_mean, fake_mean); G's reads D on real data


LOSSES = {
    'minimax': Loss(bce_discriminator_loss, minimax_generator_loss, True),
    'non_saturating': Loss(bce_discriminator_loss, non_saturating_generator_loss, True),
    'least_squares': Loss(least_squares_discriminator_loss, least_squares_generator_loss, False),
    'wasserstein': Loss(wasserstein_discriminator_loss, critic_generator_loss, False),
    'hinge': Loss(hinge_discriminator_loss, critic_generator_loss, False),
    **{name: Loss(*_relativistic(pair), classifier=False, relativistic=True) for name, pair in _RA_PAIRS.items()},
    'rpgan': Loss(rpgan_discriminator_loss, rpgan_generator_loss, classifier=False, relativistic=True),
}


def get(name: str) -> Loss:
    if name not in LOSSES:
        raise UserError(f'config.loss={name!r} is not one of {", ".join(LOSSES)}')
    return LOSSES[name]


def classification_loss(*, logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy of class logits [B, K] against integer labels [B]."""
    log_p = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    return -jnp.mean(jnp.take_along_axis(log_p, labels[:, None].astype(jnp.int32), axis=-1))


def infogan_loss(*, outputs: dict, categorical: jax.Array | None, continuous: jax.Array | None,
                 continuous_weight: float) -> jax.Array:
    """InfoGAN's lower bound on the mutual information, as a loss: the cross-entropy of the categorical
    code under Q plus continuous_weight times the Gaussian negative log-likelihood (unit variance, up to a
    constant) of the continuous codes."""
    total = jnp.zeros(())
    if categorical is not None:
        total = total + classification_loss(logits=outputs['q_categorical'], labels=categorical)
    if continuous is not None:
        total = total + continuous_weight * 0.5 * jnp.mean(
            jnp.sum(jnp.square(outputs['q_continuous'] - continuous), axis=-1))
    return total
