"""GANState: the one pytree that holds everything a run needs, and its initialisation."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp

from jaxgan.gan import GAN


@flax.struct.dataclass
class GANState:
    step: jax.Array  # int32 []: generator updates done
    rng: jax.Array  # uint32 key data of the run's base key; per-step keys are fold_in(key, step)
    g_params: Any
    g_state: Any  # G's BatchNorm statistics ({} where none)
    d_params: Any
    d_state: Any
    g_opt_state: Any
    d_opt_state: Any
    ema_params: Any  # exponential moving average of g_params, used for samples
    nonfinite_skips: jax.Array  # int32 []: updates skipped for a non-finite loss or gradient
    averages: Any  # historical averaging: {'g': ..., 'd': ...} running means of the params; else {}

    def key(self) -> jax.Array:
        return jax.random.wrap_key_data(self.rng)


def _split_variables(variables: dict) -> tuple[Any, dict]:
    variables = dict(variables)
    return variables.pop('params'), variables


def init_state(gan: GAN, seed: int) -> GANState:
    """A fresh state; pure, so `jax.jit(init_state, static_argnums=0, out_shardings=...)` works."""
    key = jax.random.key(seed)
    g_key, d_key, run_key = jax.random.split(key, 3)
    labels = jnp.zeros((2,), jnp.int32)
    g_params, g_state = _split_variables(gan.generator.init(
        g_key, jnp.zeros((2, gan.latent_dim)), labels if gan.g_conditioned else None, train=False))
    d_params, d_state = _split_variables(gan.discriminator.init(
        d_key, jnp.zeros((2, *gan.spec.shape)), labels if gan.d_conditioned else None, train=False))
    return GANState(
        step=jnp.zeros((), jnp.int32),
        rng=jax.random.key_data(run_key),
        g_params=g_params, g_state=g_state, d_params=d_params, d_state=d_state,
        g_opt_state=gan.g_optimizer.init(g_params), d_opt_state=gan.d_optimizer.init(d_params),
        ema_params=jax.tree.map(jnp.copy, g_params),
        nonfinite_skips=jnp.zeros((), jnp.int32),
        averages={'g': jax.tree.map(jnp.copy, g_params), 'd': jax.tree.map(jnp.copy, d_params)}
        if gan.keeps_averages else {})


def create_state(gan: GAN, seed: int, sharding: jax.sharding.Sharding) -> GANState:
    """`init_state` compiled and run once, its arrays placed with `sharding`."""
    # The initialiser runs once: on the CPU, where LLVM's optimisation of the many RNG kernels takes
    # most of a tiny model's start-up, it is not worth optimising.
    options = {'xla_backend_optimization_level': 0} if jax.default_backend() == 'cpu' else None
    init = jax.jit(init_state, static_argnums=(0, 1), out_shardings=sharding, compiler_options=options)
    return init(gan, seed)
