"""RunState: the one pytree that holds everything a run needs, and its initialisation from a `Game`."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp

from jaxgan.core.game import Game


@flax.struct.dataclass
class RunState:
    step: jax.Array  # int32 []: training steps done (each n_critic D updates, then n_gen G updates)
    rng: jax.Array  # uint32 key data of the run's base key; per-step keys are fold_in(key, step)
    params: dict[str, Any]  # {network name: params}
    model_state: dict[str, Any]  # {network name: non-trained variables (BatchNorm statistics, ...)}
    opt_state: dict[str, Any]  # {player name: its optimizer's state}
    ema: dict[str, Any]  # {network name: exponential moving average of its params} for game.ema
    terms: dict[str, Any]  # {term name: its state}, for the terms that keep one
    nonfinite_skips: jax.Array  # int32 []: updates skipped for a non-finite loss or gradient

    def key(self) -> jax.Array:
        return jax.random.wrap_key_data(self.rng)


def player_params(params: dict[str, Any], networks: tuple[str, ...]) -> dict[str, Any]:
    return {name: params[name] for name in networks}


def init_state(game: Game, seed: int) -> RunState:
    """A fresh state; pure, so `jax.jit(init_state, static_argnums=0, out_shardings=...)` works."""
    net_key, run_key = jax.random.split(jax.random.key(seed))
    params, model_state = game.init(net_key)
    opt_state, terms = {}, {}
    for player in game.players:
        mine = player_params(params, player.networks)
        opt_state[player.name] = player.optimizer.init(mine)
        terms.update({t.name: t.init(mine) for t in player.terms if t.stateful})
    return RunState(
        step=jnp.zeros((), jnp.int32), rng=jax.random.key_data(run_key), params=params,
        model_state=model_state, opt_state=opt_state,
        ema={name: jax.tree.map(jnp.copy, params[name]) for name in game.ema},
        terms=terms, nonfinite_skips=jnp.zeros((), jnp.int32))


def create_state(game: Game, seed: int, sharding: jax.sharding.Sharding) -> RunState:
    """`init_state` compiled and run once, its arrays placed with `sharding`."""
    # The initialiser runs once: on the CPU, where LLVM's optimisation of the many RNG kernels takes
    # most of a tiny model's start-up, it is not worth optimising.
    options = {'xla_backend_optimization_level': 0} if jax.default_backend() == 'cpu' else None
    init = jax.jit(init_state, static_argnums=(0, 1), out_shardings=sharding, compiler_options=options)
    return init(game, seed)


def init_ensemble(game: Game, seeds: jax.Array) -> RunState:
    """An ensemble's fresh state: member i's `init_state(game, seeds[i])` along a leading axis."""
    return jax.vmap(lambda seed: init_state(game, seed))(seeds)


def create_ensemble(game: Game, seeds: tuple[int, ...], sharding: jax.sharding.Sharding) -> RunState:
    """`init_ensemble` compiled and run once, its arrays placed with `sharding`."""
    options = {'xla_backend_optimization_level': 0} if jax.default_backend() == 'cpu' else None
    init = jax.jit(init_ensemble, static_argnums=0, out_shardings=sharding, compiler_options=options)
    return init(game, jnp.asarray(seeds, jnp.uint32))
