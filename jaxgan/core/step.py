"""The step machinery: any `Game`'s critic updates and generator update in one jitted function.

    train_step(state, batch) -> (state, metrics)

batch holds one real batch per critic update, [n, B, ...] each (n = game.real_batches), in the data's
host units; `game.prepare` takes them to model units on the device. A step:

  0. adds the game's scheduled values of the step to the batch (`Game.schedule`);
  1. draws the random numbers of the step for the global batch (the game's noise and each term's),
     from fold_in(run key, step), so a run gives the same numbers on any device count;
  2. runs the per-device program under `shard_map` over the mesh's 'data' axis, on B / devices
     examples: n_critic critic updates (a `lax.scan` over the first n - 1), each generating examples
     with the generator side's forward pass and descending the critic's terms; the last one shares its
     forward pass with the generator update, which pulls the gradient of the generator's terms back
     through it (`jax.vjp`) and adds that of terms reading the params directly; then the generator's
     further updates (`repeats` > 1), each from a fresh forward pass on the same batch and noise;
  3. after each update, updates the player's stateful terms, and after the step the EMA of game.ema.

A critic with `private` set (DP-SGD, `core.private`) takes its gradient per privacy unit, clipped, summed
over devices and noised once, instead of the gradient of its loss on the batch.

Each term is averaged over devices (`lax.pmean`) inside the loss, so the gradients of the replicated
params are those of the global batch. Model state (BatchNorm running statistics, spectral-norm iterates)
is averaged over devices. A non-finite loss or gradient sets a bit of the `nonfinite` metric; with
nonfinite='skip' the whole update is dropped (only the step and the skip count move on). With
`halt_after=k` as well (an ensemble's members, which cannot stop the run one by one) a state whose skip
count passes k is frozen: from then on only its step moves on.

An ensemble (`make_ensemble_step`) maps the step of one GAN over a leading member axis of the state
(and of the batch, unless the members share it) with `jax.vmap`: one program trains every member.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from jax import lax
from jax.sharding import Mesh, PartitionSpec as P

from jaxgan.core import health, private
from jaxgan.core.game import Game, Nets, Player, View
from jaxgan.core.parallel import DATA, batch_spec, replicated
from jaxgan.core.state import RunState, player_params

PER_STEP_METRICS = ('nonfinite', 'nonfinite_skips')  # kept [k] per dispatch of k steps, not averaged

Batch = dict[str, jax.Array]
Metrics = dict[str, jax.Array]
TrainStep = Callable[[RunState, Batch], tuple[RunState, Metrics]]


EmaDecay = float | jax.Array | Callable[[jax.Array], jax.Array]


def ema_update(ema: Any, params: Any, step: jax.Array, *, decay: EmaDecay, start: int) -> Any:
    """EMA after the update of `step`: a copy before `start`; then, for a number, decay with TF's warm-up,
    decay_t = min(decay, (1 + t) / (10 + t)), t = step - start; for a function of the step (see
    `half_life_decay`), its value."""
    t = (step - start).astype(jnp.float32)
    d = decay(step) if callable(decay) else jnp.minimum(decay, (1.0 + t) / (10.0 + t))
    d = jnp.where(t < 0, 0.0, d)
    return jax.tree.map(lambda e, p: d * e + (1.0 - d) * p, ema, params)


def half_life_decay(batch: int, half_life_images: float, rampup: float = 0.0) -> Callable[[jax.Array], jax.Array]:
    """StyleGAN2-ADA's EMA (training_loop.py, training_loop: ema_nimg = ema_kimg * 1000, at most
    cur_nimg * ema_rampup where a ramp-up is set; ema_beta = 0.5 ** (batch_size / max(ema_nimg, 1e-8))):
    the decay after the update of step s, cur_nimg = s * batch images seen before it (0 at the first
    step: a copy)."""
    def decay(step: jax.Array) -> jax.Array:
        nimg = jnp.asarray(half_life_images, jnp.float32)
        if rampup:
            nimg = jnp.minimum(nimg, step.astype(jnp.float32) * batch * rampup)
        return 0.5 ** (batch / jnp.maximum(nimg, 1e-8))
    return decay


def _sync(tree: Any) -> Any:
    return lax.pmean(tree, DATA)


def step_noise(game: Game, key: jax.Array, updates: int, batch: int) -> dict:
    """The random numbers of one step for the global batch: the game's, and each term's under its name."""
    noise = dict(game.noise(jax.random.fold_in(key, 0), updates, batch))
    for i, term in enumerate(game.terms):
        drawn = term.noise(jax.random.fold_in(key, i + 1), updates, batch)
        if drawn is not None and term.name in noise:
            raise ValueError(f'term {term.name!r} draws noise under a name the game already uses')
        if drawn is not None:
            noise[term.name] = drawn
    return noise


def with_schedule(game: Game, batch: Batch, step: jax.Array) -> Batch:
    """batch with the game's scheduled values of `step` added, each repeated [n, B] (see Game)."""
    if game.schedule is None:
        return batch
    lead = batch[game.batch_key].shape[:2]
    return {**batch, **{k: jnp.broadcast_to(jnp.asarray(v), lead) for k, v in game.schedule(step).items()}}


def _needs_rng(game: Game) -> bool:
    return any(net.rng_collections for net in game.networks.values())


def make_local_step(game: Game, *, nonfinite: str = 'stop', ema_decay: EmaDecay = 0.0, ema_start: int = 0,
                    halt_after: int | None = None):
    """The per-device program: (state, batch, noise, rng) -> (state, metrics); see the module docstring."""
    if halt_after is not None and nonfinite != 'skip':
        raise ValueError("halt_after needs nonfinite='skip': a frozen state keeps its last finite update")
    critic, generator = game.critic, game.generator
    names = health.nonfinite_names(tuple(p.name for p in game.players))

    def objective(player: Player, view: View, terms_out: dict) -> jax.Array:
        for term in player.terms:
            terms_out[term.name] = _sync(term(view))
        return sum(terms_out.values()) if terms_out else jnp.zeros(())

    def diagnostics(player: Player, view: View) -> Metrics:
        return jax.tree.map(lax.stop_gradient, player.metrics(view)) if player.metrics else {}

    def observe(player: Player, view: View) -> dict:
        return {t.name: jax.tree.map(lax.stop_gradient, t.observe(view)) for t in player.terms if t.stateful}

    def update_player(player: Player, params, opt_state, term_states, grads, value, terms, extra, observed):
        mine = player_params(params, player.networks)
        updates, opt_state = player.optimizer.update(grads, opt_state, mine)
        mine = optax.apply_updates(mine, updates)
        term_states = {**term_states, **{t.name: t.update(term_states[t.name], mine, observed[t.name])
                                         for t in player.terms if t.stateful}}
        grad_norm = optax.tree.norm(grads)
        metrics = {f'{player.name}_loss': value, f'{player.name}_grad_norm': grad_norm, **terms, **extra}
        bad = health.nonfinite_mask(names, **{f'{player.name}_loss': value, f'{player.name}_grads': grad_norm})
        return {**params, **mine}, opt_state, term_states, metrics, bad

    def own_state(player: Player, before: dict, after: dict) -> dict:
        # A player's update keeps the model-state changes of its own networks only: the other side's
        # passes (D judging the generated batch in G's update) would count the same examples again.
        return {**before, **{name: after[name] for name in player.networks}}

    def generate(params, model_state, real, noise, rng):
        nets = Nets(game, params, model_state, rng)
        return game.generate(nets, real, noise), nets.model_state

    def critic_update(params, model_state, opt_state, term_states, real, generated, noise, step, rng, dp_key=None):
        if critic.private is not None:
            return private_critic_update(params, model_state, opt_state, term_states, real, generated, noise, step,
                                         dp_key)

        def loss_fn(mine):
            nets = Nets(game, {**params, **mine}, model_state, rng)
            view = View(game, nets, real, lax.stop_gradient(generated), noise, step, mine, term_states)
            terms = {}
            value = objective(critic, view, terms)
            return value, (terms, diagnostics(critic, view), own_state(critic, model_state, nets.model_state),
                           observe(critic, view))

        mine = player_params(params, critic.networks)
        (value, (terms, extra, model_state, observed)), grads = jax.value_and_grad(loss_fn, has_aux=True)(mine)
        params, opt_state, term_states, metrics, bad = update_player(
            critic, params, opt_state, term_states, grads, value, terms, extra, observed)
        return params, _sync(model_state), opt_state, term_states, metrics, bad

    def private_critic_update(params, model_state, opt_state, term_states, real, generated, noise, step, key):
        # DP-SGD (core.private): the critic's objective per unit, without the device mean, each unit's
        # gradient clipped, their sum noised once; the critic keeps no model state or term state here.
        dp = critic.private
        batch = jax.tree.leaves(real)[0].shape[0]
        units = private.split_units((real, lax.stop_gradient(generated), noise), batch, dp.unit)

        def unit_loss(mine, unit, unit_key):
            real_u, generated_u, noise_u = unit
            nets = Nets(game, {**params, **mine}, model_state, unit_key)
            view = View(game, nets, real_u, generated_u, noise_u, step, mine, term_states)
            terms = {term.name: term(view) for term in critic.terms}
            return sum(terms.values()), (terms, diagnostics(critic, view))

        mine = player_params(params, critic.networks)
        grads, value, (terms, extra), clipped = private.private_gradient(unit_loss, mine, units, key, dp)
        params, opt_state, term_states, metrics, _ = update_player(
            critic, params, opt_state, term_states, grads, value, terms, {**extra, f'{critic.name}_clipped': clipped}, {})
        # Skipped or stopped on the noised gradient alone: the loss is a statistic of the real batch that
        # DP-SGD does not cover, and a branch on it would be a release the accounting does not count.
        bad = health.nonfinite_mask(names, **{f'{critic.name}_grads': optax.tree.norm(grads)})
        return params, _sync(model_state), opt_state, term_states, metrics, bad

    def local_step(state: RunState, batch: Batch, noise: dict, rng: jax.Array | None) -> tuple[RunState, Metrics]:
        real_all = game.prepare(batch)
        if rng is not None:  # dropout differs per device
            rng = jax.random.fold_in(rng, lax.axis_index(DATA))
        rng_at = lambda i: None if rng is None else jax.random.fold_in(rng, i)
        params, model_state, opt_state, term_states = state.params, state.model_state, dict(state.opt_state), state.terms
        bad = jnp.zeros((), jnp.int32)
        metrics: Metrics = {}
        at = lambda tree, i: jax.tree.map(lambda a: a[i], tree)
        n = game.critic_updates
        # DP-SGD's key: the same on every device, a function of the run's key and the step (core.private)
        dp_key = (None if critic is None or critic.private is None else
                  jax.random.fold_in(jax.random.fold_in(state.key(), state.step), private.NOISE_STREAM))
        dp_at = lambda i: None if dp_key is None else jax.random.fold_in(dp_key, i)

        if n > 1:
            def critic_iteration(carry, xs):
                params, model_state, d_opt, term_states, bad = carry
                i, real_i, noise_i = xs
                generated, model_state = generate(params, model_state, real_i, noise_i, rng_at(2 * i))
                params, model_state, d_opt, term_states, _, b = critic_update(
                    params, model_state, d_opt, term_states, real_i, generated, noise_i, state.step,
                    rng_at(2 * i + 1), dp_at(i))
                return (params, model_state, d_opt, term_states, bad | b), None

            first = lambda tree: jax.tree.map(lambda a: a[:-1], tree)
            carry = (params, model_state, opt_state[critic.name], term_states, bad)
            (params, model_state, opt_state[critic.name], term_states, bad), _ = lax.scan(
                critic_iteration, carry, (jnp.arange(n - 1), first(real_all), first(noise)))

        # The last critic update and the generator update share one forward pass of the generator side.
        real, last_noise = at(real_all, -1), at(noise, -1)

        def forward(params, model_state, rng_index):
            mine = player_params(params, generator.networks)
            return jax.vjp(lambda mine: generate({**params, **mine}, model_state, real, last_noise, rng_at(rng_index)),
                           mine, has_aux=True)

        def generator_update(params, model_state, opt_state, term_states, generated, g_vjp, rng_index):
            g_mine = player_params(params, generator.networks)

            def g_loss_fn(generated, mine):
                nets = Nets(game, {**params, **mine}, model_state, rng_at(rng_index))
                view = View(game, nets, real, generated, last_noise, state.step, mine, term_states)
                terms = {}
                value = objective(generator, view, terms)
                return value, (terms, diagnostics(generator, view), own_state(generator, model_state, nets.model_state),
                               observe(generator, view))

            (g_value, (g_terms, g_extra, model_state, g_observed)), (generated_grad, direct_grads) = jax.value_and_grad(
                g_loss_fn, argnums=(0, 1), has_aux=True)(generated, g_mine)
            (through_generated,) = g_vjp(generated_grad)
            g_grads = jax.tree.map(jnp.add, through_generated, direct_grads)
            return (model_state, *update_player(generator, params, opt_state, term_states, g_grads, g_value, g_terms,
                                                g_extra, g_observed))

        generated, g_vjp, model_state = forward(params, model_state, 2 * n)
        if n > 0:
            params, model_state, opt_state[critic.name], term_states, metrics, b = critic_update(
                params, model_state, opt_state[critic.name], term_states, real, generated, last_noise,
                state.step, rng_at(2 * n - 1), dp_at(n - 1))
            bad = bad | b
        # generator.repeats updates on the same real batch and noise, each from a fresh forward pass
        # (carpedm20's DCGAN-tensorflow, which PacGAN's stacked-MNIST code runs, updates G twice).
        for r in range(generator.repeats):
            if r:
                generated, g_vjp, model_state = forward(params, model_state, 2 * n + 2 * r)
            model_state, params, opt_state[generator.name], term_states, g_metrics, b = generator_update(
                params, model_state, opt_state[generator.name], term_states, generated, g_vjp, 2 * n + 2 * r + 1)
            bad = bad | b
        metrics.update(g_metrics)
        metrics.update({f'{p.name}_param_norm': optax.tree.norm(player_params(params, p.networks))
                        for p in game.players})
        ema = {name: ema_update(state.ema[name], params[name], state.step, decay=ema_decay, start=ema_start)
               for name in game.ema}
        new_state = state.replace(step=state.step + 1, params=params, model_state=_sync(model_state),
                                  opt_state=opt_state, ema=ema, terms=term_states)
        if nonfinite == 'skip':  # keep the old state; only the step and the count move on
            skipped = state.replace(step=state.step + 1, nonfinite_skips=state.nonfinite_skips + (bad != 0))
            keep = bad != 0
            if halt_after is not None:
                keep = keep | (skipped.nonfinite_skips > halt_after)
            new_state = jax.tree.map(lambda a, b: jnp.where(keep, b, a), new_state, skipped)
        metrics = _sync(metrics)
        metrics.update(nonfinite=bad, nonfinite_skips=new_state.nonfinite_skips)
        return new_state, metrics

    return local_step


def make_step_fn(game: Game, mesh: Mesh, **options) -> TrainStep:
    """The un-jitted global step; see `make_train_step`."""
    local_step = jax.shard_map(
        make_local_step(game, **options), mesh=mesh,
        in_specs=(P(), batch_spec(1), batch_spec(1), P()), out_specs=(P(), P()))
    needs_rng = _needs_rng(game)

    def step(state: RunState, batch: Batch) -> tuple[RunState, Metrics]:
        key = jax.random.fold_in(state.key(), state.step)
        batch = with_schedule(game, batch, state.step)
        noise = step_noise(game, key, game.real_batches, batch[game.batch_key].shape[1])
        rng = jax.random.fold_in(key, 0xd0) if needs_rng else None
        return local_step(state, batch, noise, rng)

    return step


def make_ensemble_step(step_of: Callable[[Any], TrainStep], values: Any, *, shared_data: bool) -> TrainStep:
    """The step of an ensemble: member i's state (the leading axis of every array of the state) takes
    `step_of(values_i)`'s step on its batch (the leading axis of the batch; the same batch for all with
    shared_data). `values`: a pytree of [N] arrays, what differs between the members' programs besides
    the state (a sweep's learning rates, weights), handed to step_of as traced scalars; metrics come
    back with a leading [N] axis."""
    def one(state: RunState, batch: Batch, v: Any, step: jax.Array) -> tuple[RunState, Metrics]:
        return step_of(v)(state.replace(step=step), batch)

    def step(state: RunState, batch: Batch) -> tuple[RunState, Metrics]:
        # The members move in step: the step number goes in unbatched, so that what branches on it
        # (a lazy penalty's lax.cond) still runs one branch, not both as it would on a batched predicate.
        return jax.vmap(one, in_axes=(0, None if shared_data else 0, 0, None))(state, batch, values, state.step[0])

    return step


def make_train_step(game: Game, mesh: Mesh, *, steps_per_dispatch: int = 1, **options) -> TrainStep:
    """`train_step(state, batch) -> (state, metrics)`, jitted with the state donated.

    options: nonfinite ('stop' | 'skip'), ema_decay, ema_start, halt_after. With steps_per_dispatch =
    k > 1 the returned function takes batches of [k, n, B, ...] and runs k steps in one `lax.scan`; its
    metrics are the means over them, but for PER_STEP_METRICS, which come back per step.
    """
    return jit_step(make_step_fn(game, mesh, **options), mesh, steps_per_dispatch=steps_per_dispatch)


def jit_step(step: TrainStep, mesh: Mesh, *, steps_per_dispatch: int = 1, batch_axes: int = 1) -> TrainStep:
    """`step` jitted with the state replicated and donated, and batches split over the mesh after
    `batch_axes` leading axes ([n, B, ...]: 1; an ensemble's [N, n, B, ...]: 2); with
    steps_per_dispatch = k > 1, k steps in one `lax.scan` over a further leading axis (see
    `make_train_step`)."""
    leading = batch_axes
    if steps_per_dispatch > 1:
        single = step

        def step(state: RunState, batch: Batch) -> tuple[RunState, Metrics]:
            state, metrics = lax.scan(single, state, batch)
            return state, {k: v if k in PER_STEP_METRICS else jnp.mean(v, axis=0) for k, v in metrics.items()}

        leading += 1
    rep = replicated(mesh)
    batch_sharding = jax.sharding.NamedSharding(mesh, batch_spec(leading))  # every array of the batch
    return jax.jit(step, in_shardings=(rep, batch_sharding), out_shardings=(rep, rep), donate_argnums=0)
