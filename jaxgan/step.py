"""The train step: `n_critic` discriminator updates and one generator update in one jitted function.

    train_step(state, batch) -> (state, metrics)

batch['x'] holds one real batch per discriminator update, [n_critic, B, ...] in the data's host units
(uint8 images or standardised vectors). The step is data parallel: `shard_map` over the mesh's 'data'
axis runs the per-device program below on B / num_devices examples. Each loss is the mean over devices
(`lax.pmean`), so the gradients with respect to the replicated params are those of the global batch
(shard_map sums the per-device contributions of a replicated input). BatchNorm's batch statistics are
per device unless config.batch_norm is 'cross_device'; its running statistics are averaged over devices.

The generator's forward pass of the last discriminator update is reused for the generator update
(`jax.vjp`), so each step runs G forward n_critic times and backward once.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import optax
from jax import lax
from jax.sharding import Mesh, PartitionSpec as P

from jaxgan import health
from jaxgan.gan import GAN
from jaxgan.parallel import DATA, batch_spec, replicated
from jaxgan.state import GANState

PER_STEP_METRICS = ('nonfinite', 'nonfinite_skips')  # kept [k] per dispatch of k steps, not averaged

Batch = dict[str, jax.Array]
Metrics = dict[str, jax.Array]
TrainStep = Callable[[GANState, Batch], tuple[GANState, Metrics]]


def ema_update(ema: Any, params: Any, step: jax.Array, *, decay: float, start: int) -> Any:
    """EMA with TF's warm-up, decay_t = min(decay, (1 + t) / (10 + t)); a copy before `start`."""
    t = (step - start).astype(jnp.float32)
    d = jnp.where(t < 0, 0.0, jnp.minimum(decay, (1.0 + t) / (10.0 + t)))
    return jax.tree.map(lambda e, p: d * e + (1.0 - d) * p, ema, params)


def _sync(tree: Any) -> Any:
    return lax.pmean(tree, DATA)


def make_local_step(gan: GAN, config: ml_collections.ConfigDict):
    """The per-device program: (state, x [n_critic, b, ...], z [n_critic, b, Z]) -> (state, metrics)."""
    loss = gan.loss

    def d_update(d, real, fake):
        d_params, d_state, d_opt_state = d

        def loss_fn(params):
            real_logits, s = gan.discriminate(params, d_state, real, train=True)
            fake_logits, s = gan.discriminate(params, s, fake, train=True)
            value = _sync(loss.discriminator(real_logits=real_logits, fake_logits=fake_logits))
            return value, (s, real_logits, fake_logits)

        (value, (d_state, real_logits, fake_logits)), grads = jax.value_and_grad(
            loss_fn, has_aux=True)(d_params)
        updates, d_opt_state = gan.d_optimizer.update(grads, d_opt_state, d_params)
        d_params = optax.apply_updates(d_params, updates)
        grad_norm = optax.tree.norm(grads)
        metrics = {
            'd_loss': value, 'd_grad_norm': grad_norm,
            'd_real_logit': jnp.mean(real_logits), 'd_fake_logit': jnp.mean(fake_logits),
            'd_real_prob': jnp.mean(jax.nn.sigmoid(real_logits)),
            'd_fake_prob': jnp.mean(jax.nn.sigmoid(fake_logits)),
            'd_real_acc': jnp.mean(real_logits > 0), 'd_fake_acc': jnp.mean(fake_logits < 0),
        }
        nonfinite = health.nonfinite_mask(d_loss=value, d_grads=grad_norm)
        return (d_params, _sync(d_state), d_opt_state), metrics, nonfinite

    def local_step(state: GANState, x: jax.Array, z: jax.Array) -> tuple[GANState, Metrics]:
        real = gan.spec.model_input(x)
        g_params, g_state = state.g_params, state.g_state
        d = (state.d_params, state.d_state, state.d_opt_state)

        def critic_iteration(carry, inputs):
            d, g_state, nonfinite = carry
            real_i, z_i = inputs
            fake, g_state = gan.generate(g_params, g_state, z_i, train=True)
            d, _, bad = d_update(d, real_i, lax.stop_gradient(fake))
            return (d, _sync(g_state), nonfinite | bad), None

        nonfinite = jnp.zeros((), jnp.int32)
        if config.n_critic > 1:
            (d, g_state, nonfinite), _ = lax.scan(critic_iteration, (d, g_state, nonfinite),
                                                  (real[:-1], z[:-1]))

        # The last D update and the G update share one G forward pass.
        fake, g_vjp, g_state = jax.vjp(
            lambda p: gan.generate(p, g_state, z[-1], train=True), g_params, has_aux=True)
        (d_params, d_state, d_opt_state), metrics, bad = d_update(d, real[-1], lax.stop_gradient(fake))

        def g_loss_fn(fake):
            logits, s = gan.discriminate(d_params, d_state, fake, train=True)
            return _sync(loss.generator(fake_logits=logits)), s

        (g_loss, d_state), fake_grad = jax.value_and_grad(g_loss_fn, has_aux=True)(fake)
        (g_grads,) = g_vjp(fake_grad)
        updates, g_opt_state = gan.g_optimizer.update(g_grads, state.g_opt_state, g_params)
        g_params = optax.apply_updates(g_params, updates)
        ema_params = ema_update(state.ema_params, g_params, state.step,
                                decay=config.ema.decay, start=config.ema.start)
        g_grad_norm = optax.tree.norm(g_grads)
        nonfinite = nonfinite | bad | health.nonfinite_mask(g_loss=g_loss, g_grads=g_grad_norm)
        metrics.update(
            g_loss=g_loss, g_grad_norm=g_grad_norm,
            g_param_norm=optax.tree.norm(g_params), d_param_norm=optax.tree.norm(d_params),
            fake_diversity=health.mean_pairwise_distance(fake)
            / jnp.maximum(health.mean_pairwise_distance(real[-1]), 1e-12))
        new_state = state.replace(
            step=state.step + 1, g_params=g_params, g_state=_sync(g_state), d_params=d_params,
            d_state=_sync(d_state), g_opt_state=g_opt_state, d_opt_state=d_opt_state,
            ema_params=ema_params)
        if config.nonfinite == 'skip':  # keep the old state; only the step and the count move on
            skipped = state.replace(step=state.step + 1, nonfinite_skips=state.nonfinite_skips + 1)
            new_state = jax.tree.map(lambda a, b: jnp.where(nonfinite == 0, a, b), new_state, skipped)
        metrics = _sync(metrics)
        metrics.update(nonfinite=nonfinite, nonfinite_skips=new_state.nonfinite_skips)
        return new_state, metrics

    return local_step


def make_step_fn(gan: GAN, config: ml_collections.ConfigDict, mesh: Mesh) -> TrainStep:
    """The un-jitted global step; see `make_train_step`."""
    local_step = jax.shard_map(
        make_local_step(gan, config), mesh=mesh,
        in_specs=(P(), batch_spec(1), batch_spec(1)), out_specs=(P(), P()))

    def step(state: GANState, batch: Batch) -> tuple[GANState, Metrics]:
        x = batch['x']
        # Latents for the global batch, drawn before sharding: the same numbers on any device count.
        z = gan.latents(jax.random.fold_in(state.key(), state.step), x.shape[0], x.shape[1])
        return local_step(state, x, z)

    return step


def make_train_step(gan: GAN, config: ml_collections.ConfigDict, mesh: Mesh) -> TrainStep:
    """`train_step(state, batch) -> (state, metrics)`, jitted with the state donated.

    With config.steps_per_dispatch = k > 1 the returned function takes batch['x'] of
    [k, n_critic, B, ...] and runs k steps in one `lax.scan`; its metrics are the means over them.
    """
    step = make_step_fn(gan, config, mesh)
    leading = 1
    if config.steps_per_dispatch > 1:
        single = step

        def step(state: GANState, batch: Batch) -> tuple[GANState, Metrics]:
            state, metrics = lax.scan(single, state, batch)
            # Means over the k steps; per step where the host must see each one.
            return state, {k: v if k in PER_STEP_METRICS else jnp.mean(v, axis=0) for k, v in metrics.items()}

        leading = 2
    rep = replicated(mesh)
    batch_sharding = {'x': jax.sharding.NamedSharding(mesh, batch_spec(leading))}
    return jax.jit(step, in_shardings=(rep, batch_sharding), out_shardings=(rep, rep),
                   donate_argnums=0)
