"""PacGAN's packing (Lin et al. 2018, "PacGAN: The power of two samples in generative adversarial
networks"): the discriminator judges m examples at once, concatenated along their last axis (channels
for images, features for vectors), real packs against generated packs.

Pack j of a batch [B, ..., C] holds examples j*m, ..., j*m + m - 1, in order: x[j*m + k][..., c] is
channel k*C + c of pack j. Batches arrive in a random order (the data's permutation, independent
latents), so consecutive examples make random packs. Penalties on D's input gradient take the gradient
with respect to the packed input, whose norm for pack j is that of the gradients of examples j*m to
j*m + m - 1 together (`per_pack`).
"""

from __future__ import annotations

import jax


def pack(x: jax.Array, m: int) -> jax.Array:
    """[B, ..., C] -> [B / m, ..., m * C]; m = 1 returns x."""
    if m == 1:
        return x
    b, rest, c = x.shape[0], x.shape[1:-1], x.shape[-1]
    if b % m:
        raise ValueError(f'a batch of {b} examples does not split into packs of {m}')
    x = x.reshape(b // m, m, *rest, c)
    return jax.numpy.moveaxis(x, 1, -2).reshape(b // m, *rest, m * c)


def per_pack(g: jax.Array, m: int) -> jax.Array:
    """Per-example arrays [B, ...] (input gradients) as one flat row per pack, [B / m, m * prod(...)]."""
    return g.reshape(g.shape[0] // m, -1)
