"""Adversarial losses: small keyword-only pure functions of the discriminator's logits.

Written with softplus (softplus(x) = -log sigmoid(-x)), never log(sigmoid(x)), so that logits of
+-200 give finite losses and gradients. With D(x) = sigmoid(logit):

    discriminator (both):  -E log D(x) - E log(1 - D(G(z)))  = E softplus(-real) + E softplus(fake)
    minimax generator:      E log(1 - D(G(z)))               = -E softplus(fake)
    non-saturating G:      -E log D(G(z))                    = E softplus(-fake)
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

from jaxgan.errors import UserError


def bce_discriminator_loss(*, real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))


def minimax_generator_loss(*, fake_logits: jax.Array) -> jax.Array:
    return -jnp.mean(jax.nn.softplus(fake_logits))


def non_saturating_generator_loss(*, fake_logits: jax.Array) -> jax.Array:
    return jnp.mean(jax.nn.softplus(-fake_logits))


@dataclasses.dataclass(frozen=True)
class Loss:
    discriminator: Callable[..., jax.Array]  # (*, real_logits, fake_logits) -> scalar
    generator: Callable[..., jax.Array]  # (*, fake_logits) -> scalar


LOSSES = {
    'minimax': Loss(bce_discriminator_loss, minimax_generator_loss),
    'non_saturating': Loss(bce_discriminator_loss, non_saturating_generator_loss),
}


def get(name: str) -> Loss:
    if name not in LOSSES:
        raise UserError(f'config.loss={name!r} is not one of {", ".join(LOSSES)}')
    return LOSSES[name]
