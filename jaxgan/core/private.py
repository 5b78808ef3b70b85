"""DP-SGD for the critic (Abadi et al. 2016, "Deep Learning with Differential Privacy", algorithm 1): the
only player that reads real examples.

A critic `Player` with `private=DPSGD(...)` has its update's gradient computed per privacy unit, clipped,
summed and noised (`private_gradient`), in place of the gradient of its loss on the whole batch:

    unit        `unit` consecutive examples of the batch: one PacGAN pack (D judges a pack as one input,
                so a pack is what one gradient can be bounded for), or one example without packing
    per unit    the critic's objective on a batch of that one unit (its real examples, the generated ones
                beside them, the penalties' interpolates between the two): `jax.vmap` over the units of
                `jax.grad` of that objective
    clipped     each unit's gradient scaled to L2 norm at most `clip_norm` (C) over all the critic's params
    summed      over the units of every device (`lax.psum` over the data axis)
    noised      plus N(0, (noise_multiplier C)^2 I), drawn ONCE from a key that is the same on every device
                (derived from the run's key and the step, never from a device's), divided by the global
                number of units

The gradient is then the same on any device count: each unit's draws (dropout) come from the unit's
global index. What mixes examples across units would break the bound on one unit's influence, so the
step refuses it (`check_game`): model state in the critic (BatchNorm statistics), stateful terms, terms
other than those listed in `UNIT_TERMS` (a relativistic loss's batch means, DRAGAN's batch std, R1's
device mean). The privacy accounting is not here: jaxgan.privacy holds it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from jax import lax

from jaxgan.core.parallel import DATA
from jaxgan.errors import UserError

NOISE_STREAM = 0xD9  # keeps the step key's uses apart: the DP noise and the units' draws


@dataclasses.dataclass(frozen=True)
class DPSGD:
    """The critic's DP-SGD: clip_norm C, noise std noise_multiplier * C on the sum of clipped unit
    gradients, `unit` consecutive examples per privacy unit."""

    clip_norm: float
    noise_multiplier: float
    unit: int = 1


def unit_terms() -> tuple[type, ...]:
    """The critic terms whose value on a batch is the mean of their values on its units."""
    from jaxgan.core import terms as T
    return (T.DiscriminatorLoss, T.GradientPenalty, T.Drift)


def check_game(game: Any) -> None:
    """UserError (one line) where the critic of `game` mixes examples across privacy units."""
    critic = game.critic
    if critic is None:
        raise UserError('config.privacy: DP-SGD privatises the discriminator, and this game has none')
    for term in critic.terms:
        relativistic = getattr(getattr(term, 'loss', None), 'relativistic', False)
        if term.stateful or relativistic or not isinstance(term, unit_terms()):
            raise UserError(f'config.privacy: the discriminator term {term.name!r} mixes examples across the batch '
                            '(batch statistics or a running state), which breaks the per-row bound of DP-SGD: turn it '
                            'off (a non-relativistic loss, with the gradient penalty or drift only)')
    _, model_state = jax.eval_shape(game.init, jax.random.key(0))
    stateful = [name for name in critic.networks if jax.tree.leaves(model_state[name])]
    if stateful:
        raise UserError(f'config.privacy: the discriminator {", ".join(stateful)} keeps batch statistics (BatchNorm, '
                        'minibatch discrimination), which mix rows across the batch and break the per-row bound of '
                        'DP-SGD: use a discriminator without them')


def split_units(tree: Any, batch: int, unit: int) -> Any:
    """Arrays of `tree` whose leading axis is the batch, [batch, ...] -> [batch / unit, unit, ...]."""
    def split(a):
        if not hasattr(a, 'shape') or not a.shape or a.shape[0] != batch:
            raise ValueError(f'an array of the update has shape {getattr(a, "shape", None)}, not a batch of {batch}')
        return a.reshape(batch // unit, unit, *a.shape[1:])
    return jax.tree.map(split, tree)


def private_gradient(unit_loss: Callable[..., tuple[jax.Array, Any]], mine: Any, units: Any, key: jax.Array,
                     dp: DPSGD) -> tuple[Any, jax.Array, Any, jax.Array]:
    """(noised mean gradient, mean loss over the global units, mean aux, fraction of units clipped).

    unit_loss(mine, unit_inputs, unit_key) -> (loss, aux) on one unit; `units`: a pytree whose arrays
    have a leading axis of this device's units; key: the same on every device (the noise is drawn once
    from it, and unit u's key is fold_in(key, 1 + u), u its global index)."""
    local = jax.tree.leaves(units)[0].shape[0]
    total = local * lax.psum(1, DATA)
    index = lax.axis_index(DATA) * local + jnp.arange(local)
    unit_keys = jax.vmap(lambda u: jax.random.fold_in(key, u + 1))(index)
    # The params as varying over the devices: the gradient of a replicated input would come back summed
    # over them (shard_map's transpose), every device's units mixed before their clipping.
    varying = jax.tree.map(lambda a: lax.pcast(a, (DATA,), to='varying'), mine)
    (values, aux), grads = jax.vmap(jax.value_and_grad(unit_loss, has_aux=True), in_axes=(None, 0, 0))(
        varying, units, unit_keys)
    norms = jax.vmap(optax.tree.norm)(grads)
    scale = jnp.minimum(1.0, dp.clip_norm / jnp.maximum(norms, 1e-12))  # Abadi et al.'s g / max(1, |g| / C)
    was = norms > dp.clip_norm
    # The clipped sum as one contraction over the units: a sum over the leading axis of the per-unit
    # gradients is a slow strided reduction on XLA:CPU (0.1 s for a CTGAN critic), a dot a fast one.
    summed = lax.psum(jax.tree.map(lambda g: jnp.tensordot(scale.astype(g.dtype), g, axes=1), grads), DATA)
    leaves, treedef = jax.tree.flatten(summed)
    keys = jax.random.split(jax.random.fold_in(key, 0), len(leaves))
    std = dp.noise_multiplier * dp.clip_norm
    noised = [g + std * jax.random.normal(k, g.shape, g.dtype) for g, k in zip(leaves, keys)]
    grad = jax.tree.map(lambda g: g / total, jax.tree.unflatten(treedef, noised))
    mean = lambda a: lax.psum(jnp.sum(a, axis=0), DATA) / total
    return grad, mean(values), jax.tree.map(mean, aux), mean(was.astype(jnp.float32))
