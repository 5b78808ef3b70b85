"""Signals that show a GAN going wrong: non-finite values, a collapsing generator.

The step reports, besides losses and norms: D's accuracy on real and on fake examples, a bitmask of the
quantities that were not finite, and `fake_diversity`, the mean pairwise distance between the
generated examples of the batch over that between the real ones (about 1 when G covers the data's
spread, near 0 when it collapses to one output).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

COLLAPSE_DIVERSITY = 0.1  # fake_diversity under this logs a warning


def nonfinite_names(players: tuple[str, ...]) -> tuple[str, ...]:
    """The quantities of the `nonfinite` bitmask, bit i for name i: each player's loss, then its grads
    (('d', 'g') -> d_loss, g_loss, d_grads, g_grads)."""
    return tuple(f'{p}_loss' for p in players) + tuple(f'{p}_grads' for p in players)


def nonfinite_mask(names: tuple[str, ...], **values: jax.Array) -> jax.Array:
    """int32 bitmask (bit i for names[i]) of the given scalars that are NaN or infinite."""
    mask = jnp.zeros((), jnp.int32)
    for name, value in values.items():
        mask = mask | jnp.where(jnp.isfinite(value), 0, 1 << names.index(name)).astype(jnp.int32)
    return mask


def describe_nonfinite(mask: int, names: tuple[str, ...]) -> str:
    """'d_loss, g_grads' for the bits set in mask."""
    return ', '.join(name for i, name in enumerate(names) if mask & (1 << i))


def mean_pairwise_distance(x: jax.Array) -> jax.Array:
    """Mean Euclidean distance between the distinct pairs of a batch [B, ...]."""
    flat = x.reshape(x.shape[0], -1).astype(jnp.float32)
    sq = jnp.sum(flat * flat, axis=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * flat @ flat.T
    n = flat.shape[0]
    return jnp.sum(jnp.sqrt(jnp.maximum(d2, 0.0)) * (1.0 - jnp.eye(n))) / max(n * (n - 1), 1)


def all_finite(tree) -> jax.Array:
    """True where every floating leaf of tree is finite."""
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.floating)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)
