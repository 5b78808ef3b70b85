"""Signals that show a GAN going wrong: non-finite values, a collapsing generator.

The step reports, besides losses and norms: D's accuracy on real and on fake examples, a bitmask of the
quantities that were not finite, and `fake_diversity`, the mean pairwise distance between the
generated examples of the batch over that between the real ones (about 1 when G covers the data's
spread, near 0 when it collapses to one output). `CollapseWatch` turns a run of low readings into one
onset (and one recovery), so that a noisy batch does not count as a collapse.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

COLLAPSE_DIVERSITY = 0.1  # config.collapse_diversity's default: fake_diversity under this is low
# What to try, in the order docs/stacked_digits.md found them to help (SN and the hinge loss held every
# mode where the plain DCGAN's D won; packing and DiffAugment help elsewhere, not on stacked digits).
COLLAPSE_ADVICE = ('try spectral normalisation in D with the hinge loss (--config.model.spectral_norm=True '
                   '--config.model.d_norm=none --config.loss=hinge), a lower D learning rate '
                   '(--config.d_optimizer.learning_rate) or a narrower D (--config.model.d_width), packing '
                   '(PacGAN, --config.model.pack=2) or, on small data, DiffAugment (--config.augment.kind=diffaugment)')


@dataclasses.dataclass
class CollapseWatch:
    """One generator's diversity over the dispatches: collapsed once it has stayed under `threshold` for
    `window` consecutive steps (each dispatch read as the mean of its steps); recovered at the first
    reading at or over it. `update` returns 'onset' or 'recovered' on a change, else None."""

    threshold: float
    window: int
    low_since: int | None = None  # the last step before the current run of low readings
    collapsed: bool = False

    def update(self, before: int, after: int, diversity: float) -> str | None:
        if not diversity == diversity:  # NaN: a non-finite step, reported as such elsewhere
            return None
        if diversity >= self.threshold:
            self.low_since = None
            if self.collapsed:
                self.collapsed = False
                return 'recovered'
            return None
        if self.low_since is None:
            self.low_since = before
        if not self.collapsed and after - self.low_since >= self.window:
            self.collapsed = True
            return 'onset'
        return None


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
