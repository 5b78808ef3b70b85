"""Penalties and regularisers: small keyword-only pure functions the step adds to the losses.

`d_fn` is the discriminator as a function of its input batch, x [B, ...] -> outputs [B]; examples are
independent in it (no cross-example normalisation), so d/dx of sum(d_fn(x)) is each example's own
gradient.

    gradient_penalty (WGAN-GP, Gulrajani et al. 2017): E (||grad D(x^)|| - 1)^2,
        x^ = e x + (1 - e) G(z), e ~ U[0, 1] per example
    r1 (Mescheder et al. 2018): E ||grad D(x)||^2 on real x; the step weighs it gamma / 2, and
        with lazy regularisation (Karras et al. 2020) applies it every k steps weighed k gamma / 2
    dragan (Kodali et al. 2017): E (||grad D(x^)|| - 1)^2, x^ = x + a * 0.5 std(x) u,
        u ~ U[0, 1] per element, a ~ U[0, 1] per example
    historical averaging (Salimans et al. 2016): ||theta - mean of theta over past steps||^2 (the mean is
        the state of terms.HistoricalAveraging)

With PacGAN's packing (`core.packing`, pack = m > 1) d_fn packs its input batch and returns one output
per pack, [B / m]; GP's and DRAGAN's interpolates are drawn per example and then packed, as PacGAN's
WGAN-GP experiments do, and every norm is that of the gradient with respect to the packed input, one per
pack: R1 is then E over packs of ||grad D(pack)||^2. The packs are independent in d_fn as examples are
without packing.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

from jaxgan.core.packing import per_pack

DFn = Callable[[jax.Array], jax.Array]


def input_gradients(d_fn: DFn, x: jax.Array) -> jax.Array:
    """Each example's gradient of D's output with respect to its input, [B, ...]."""
    return jax.grad(lambda x: jnp.sum(d_fn(x)))(x)


def _norms(g: jax.Array, pack: int = 1) -> jax.Array:
    """The norm of each example's (each pack's) input gradient."""
    # The epsilon keeps the gradient of the norm finite where the input gradient is exactly zero.
    return jnp.sqrt(jnp.sum(jnp.square(per_pack(g, pack)), axis=1) + 1e-12)


def _per_example(u: jax.Array, x: jax.Array) -> jax.Array:
    return u.reshape(u.shape[0], *([1] * (x.ndim - 1)))


def gradient_penalty(*, d_fn: DFn, real: jax.Array, fake: jax.Array, epsilon: jax.Array,
                     pack: int = 1) -> jax.Array:
    """WGAN-GP's two-sided penalty at interpolates; epsilon [B] in [0, 1]; pack: d_fn's pack size."""
    e = _per_example(epsilon, real)
    x_hat = e * real + (1.0 - e) * fake
    return jnp.mean(jnp.square(_norms(input_gradients(d_fn, x_hat), pack) - 1.0))


def r1_penalty(*, d_fn: DFn, real: jax.Array, pack: int = 1) -> jax.Array:
    """E ||grad_x D(x)||^2 over real examples (over real packs with pack > 1), unweighted."""
    g = input_gradients(d_fn, real)
    return jnp.mean(jnp.sum(jnp.square(per_pack(g, pack)), axis=1))


def dragan_penalty(*, d_fn: DFn, real: jax.Array, std: jax.Array, uniform: jax.Array,
                   alpha: jax.Array, pack: int = 1) -> jax.Array:
    """DRAGAN's penalty around the data; uniform like real, alpha [B], both in [0, 1]."""
    x_hat = real + _per_example(alpha, real) * (0.5 * std * uniform)
    return jnp.mean(jnp.square(_norms(input_gradients(d_fn, x_hat), pack) - 1.0))


def historical_average_penalty(*, params: Any, average: Any) -> jax.Array:
    """||theta - theta_bar||^2 summed over every parameter."""
    return sum(jnp.sum(jnp.square(p - a)) for p, a in zip(jax.tree.leaves(params), jax.tree.leaves(average)))


def mmd(*, x: jax.Array, y: jax.Array, bandwidths: tuple[float, ...]) -> jax.Array:
    """sqrt of the biased MMD^2 between batches x, y [B, ...] under a sum of Gaussian kernels
    exp(-||a - b||^2 / (2 sigma^2)) (the generative moment-matching network's loss, Li et al. 2015)."""
    x = x.reshape(x.shape[0], -1).astype(jnp.float32)
    y = y.reshape(y.shape[0], -1).astype(jnp.float32)
    xy = jnp.concatenate([x, y])
    sq = jnp.sum(xy * xy, axis=1)
    d2 = jnp.maximum(sq[:, None] + sq[None, :] - 2.0 * xy @ xy.T, 0.0)
    k = sum(jnp.exp(-d2 / (2.0 * s * s)) for s in bandwidths)
    n = x.shape[0]
    mmd2 = jnp.mean(k[:n, :n]) + jnp.mean(k[n:, n:]) - 2.0 * jnp.mean(k[:n, n:])
    return jnp.sqrt(jnp.maximum(mmd2, 1e-12))
