"""The train step: `n_critic` discriminator updates and one generator update in one jitted function.

    train_step(state, batch) -> (state, metrics)

batch['x'] holds one real batch per discriminator update, [n_critic, B, ...] in the data's host units
(uint8 images or standardised vectors); with n_critic = 0 (no discriminator) it holds one. Labelled
runs add batch['y'] [n_critic, B]; semi-supervised ones 'x_labelled' and 'y_labelled'.

The step is data parallel: `shard_map` over the mesh's 'data' axis runs the per-device program below
on B / num_devices examples. Each loss is the mean over devices (`lax.pmean`), so the gradients with
respect to the replicated params are those of the global batch (shard_map sums the per-device
contributions of a replicated input). BatchNorm's batch statistics are per device unless
config.batch_norm is 'cross_device'; its running statistics are averaged over devices. Random numbers
that the result depends on (latents, penalty interpolation) are drawn for the global batch before
sharding, so a run gives the same numbers on any device count.

D's loss is the configured adversarial loss plus the configured penalties (`penalties.py`); G's is a
weighted sum of the adversarial term, feature matching and MMD (config.g_objective). The generator's
forward pass of the last discriminator update is reused for the generator update (`jax.vjp`).
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import optax
from jax import lax
from jax.sharding import Mesh, PartitionSpec as P

from jaxgan import health, losses, penalties
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


def step_noise(gan: GAN, config: ml_collections.ConfigDict, key: jax.Array, n: int, batch: int) -> dict:
    """The random numbers of one step for the global batch, [n, B, ...] each."""
    z_key, y_key, gp_key, u_key, a_key = jax.random.split(key, 5)
    noise = {'z': gan.latents(z_key, n, batch)}
    if gan.g_conditioned:
        noise['y_fake'] = gan.labels(y_key, n, batch)
    if config.penalties.gradient_penalty:
        noise['gp_epsilon'] = jax.random.uniform(gp_key, (n, batch))
    if config.penalties.dragan:
        noise['dragan_uniform'] = jax.random.uniform(u_key, (n, batch, *gan.spec.shape))
        noise['dragan_alpha'] = jax.random.uniform(a_key, (n, batch))
    return noise


def _global_std(x: jax.Array) -> jax.Array:
    mean = _sync(jnp.mean(x))
    return jnp.sqrt(jnp.maximum(_sync(jnp.mean(jnp.square(x))) - jnp.square(mean), 0.0))


def make_local_step(gan: GAN, config: ml_collections.ConfigDict):
    """The per-device program: (state, batch, noise, rng) -> (state, metrics); see the module docstring.

    batch: 'x' [n, b, ...] and, where the config needs them, 'y' [n, b] (the real examples' labels) and
    'x_labelled', 'y_labelled' [n, b_l, ...] (a semi-supervised run's labelled examples).
    """
    loss, pen, obj = gan.loss, config.penalties, config.g_objective
    smoothing = {'label_smoothing': config.label_smoothing} if config.label_smoothing else {}
    acgan = config.conditioning.d == 'acgan'
    info = gan.categorical_code or gan.continuous_codes
    uses_d_in_g = obj.adversarial > 0 or obj.feature_matching > 0 or acgan or info

    def mutual_info(out, z):
        categorical, continuous = gan.codes(z)
        return config.infogan.weight * losses.infogan_loss(
            outputs=out, categorical=categorical, continuous=continuous,
            continuous_weight=config.infogan.continuous_weight)

    def d_loss_terms(params, d_state, real, fake, inputs, step, rng):
        keys = list(jax.random.split(rng, 4)) if rng is not None else [None] * 4
        real_out, s = gan.discriminate(params, d_state, real, y=inputs.get('y'), train=True, rng=keys[0])
        fake_out, s = gan.discriminate(params, s, fake, y=inputs.get('y_fake'), train=True, rng=keys[1])
        real_logits, fake_logits = real_out['logits'], fake_out['logits']
        terms = {'d_adversarial': loss.discriminator(real_logits=real_logits, fake_logits=fake_logits,
                                                     **smoothing)}
        if acgan:
            w = config.conditioning.acgan_weight
            terms['acgan_real'] = w * losses.classification_loss(logits=real_out['class_logits'], labels=inputs['y'])
            terms['acgan_fake'] = w * losses.classification_loss(logits=fake_out['class_logits'],
                                                                 labels=inputs['y_fake'])
        if info:
            terms['d_mutual_info'] = mutual_info(fake_out, inputs['z'])
        if 'x_labelled' in inputs:
            labelled_out, s = gan.discriminate(params, s, inputs['x_labelled'], train=True, rng=keys[3])
            terms['supervised'] = config.semi_supervised.weight * losses.classification_loss(
                logits=labelled_out['class_logits'], labels=inputs['y_labelled'])
        # D as a function of its input for the penalties; their model-state updates are dropped.
        d_fn = lambda x: gan.discriminate(params, s, x, y=inputs.get('y'), train=True, rng=keys[2])[0]['logits']
        if pen.gradient_penalty:
            terms['gradient_penalty'] = pen.gradient_penalty * penalties.gradient_penalty(
                d_fn=d_fn, real=real, fake=fake, epsilon=inputs['gp_epsilon'])
        if pen.r1:
            r1 = lambda: _sync(penalties.r1_penalty(d_fn=d_fn, real=real))
            k = pen.r1_every
            if k == 1:
                terms['r1'] = 0.5 * pen.r1 * r1()
            else:  # lazy: only every k-th step computes it, weighed k times
                terms['r1'] = 0.5 * pen.r1 * k * lax.cond(step % k == 0, r1, lambda: jnp.zeros(()))
        if pen.dragan:
            terms['dragan'] = pen.dragan * penalties.dragan_penalty(
                d_fn=d_fn, real=real, std=_global_std(real), uniform=inputs['dragan_uniform'],
                alpha=inputs['dragan_alpha'])
        return terms, (s, real_logits, fake_logits)

    def d_update(d, averages, real, fake, inputs, step, rng):
        d_params, d_state, d_opt_state = d

        def loss_fn(params):
            terms, aux = d_loss_terms(params, d_state, real, fake, inputs, step, rng)
            if pen.historical_averaging:
                terms['d_historical_averaging'] = pen.historical_averaging * penalties.historical_average_penalty(
                    params=params, average=averages['d'])
            terms = _sync(terms)
            return sum(terms.values()), (terms, aux)

        (value, (terms, (d_state, real_logits, fake_logits))), grads = jax.value_and_grad(
            loss_fn, has_aux=True)(d_params)
        updates, d_opt_state = gan.d_optimizer.update(grads, d_opt_state, d_params)
        d_params = optax.apply_updates(d_params, updates)
        grad_norm = optax.tree.norm(grads)
        metrics = {
            'd_loss': value, 'd_grad_norm': grad_norm, **terms,
            'd_real_logit': jnp.mean(real_logits), 'd_fake_logit': jnp.mean(fake_logits),
            'd_real_acc': jnp.mean(real_logits > 0), 'd_fake_acc': jnp.mean(fake_logits < 0),
        }
        if loss.classifier:
            metrics.update(d_real_prob=jnp.mean(jax.nn.sigmoid(real_logits)),
                           d_fake_prob=jnp.mean(jax.nn.sigmoid(fake_logits)))
        nonfinite = health.nonfinite_mask(d_loss=value, d_grads=grad_norm)
        return (d_params, _sync(d_state), d_opt_state), metrics, nonfinite

    def local_step(state: GANState, batch: dict, noise: dict, rng: jax.Array | None
                   ) -> tuple[GANState, Metrics]:
        # Per D update i: inputs[key][i]. Real images go to model units once.
        inputs = {**{k: v for k, v in batch.items() if not k.startswith('x')}, **noise,
                  **{k: gan.spec.model_input(v) for k, v in batch.items() if k.startswith('x')}}
        real = inputs.pop('x')
        if rng is not None:  # dropout differs per device
            rng = jax.random.fold_in(rng, lax.axis_index(DATA))
        rng_at = lambda i: None if rng is None else jax.random.fold_in(rng, i)
        g_params, g_state = state.g_params, state.g_state
        d = (state.d_params, state.d_state, state.d_opt_state)
        averages = state.averages
        nonfinite = jnp.zeros((), jnp.int32)
        metrics = {}

        def critic_iteration(carry, xs):
            d, g_state, nonfinite = carry
            i, real_i, inputs_i = xs
            fake, g_state = gan.generate(g_params, g_state, inputs_i['z'], y=inputs_i.get('y_fake'), train=True)
            d, _, bad = d_update(d, averages, real_i, lax.stop_gradient(fake), inputs_i, state.step,
                                 None if rng is None else jax.random.fold_in(rng, i))
            return (d, _sync(g_state), nonfinite | bad), None

        n = config.n_critic
        if n > 1:
            first = jax.tree.map(lambda a: a[:-1], inputs)
            (d, g_state, nonfinite), _ = lax.scan(critic_iteration, (d, g_state, nonfinite),
                                                  (jnp.arange(n - 1), real[:-1], first))

        # The last D update and the G update share one G forward pass.
        last = jax.tree.map(lambda a: a[-1], inputs)
        z, y_fake = last['z'], last.get('y_fake')
        fake, g_vjp, g_state = jax.vjp(
            lambda p: gan.generate(p, g_state, z, y=y_fake, train=True), g_params, has_aux=True)
        if n > 0:
            d, metrics, bad = d_update(d, averages, real[-1], lax.stop_gradient(fake), last, state.step,
                                       rng_at(n))
            nonfinite = nonfinite | bad
        d_params, d_state, d_opt_state = d

        def g_loss_fn(fake):
            terms, s = {}, d_state
            if uses_d_in_g:
                out, s = gan.discriminate(d_params, s, fake, y=y_fake, train=True, rng=rng_at(n + 1))
                if obj.adversarial:
                    terms['g_adversarial'] = obj.adversarial * loss.generator(fake_logits=out['logits'])
                if obj.feature_matching:
                    real_out, _ = gan.discriminate(d_params, d_state, real[-1], y=last.get('y'), train=True,
                                                   rng=rng_at(n + 2))
                    gap = (_sync(jnp.mean(lax.stop_gradient(real_out['features']), 0))
                           - _sync(jnp.mean(out['features'], 0)))
                    terms['feature_matching'] = obj.feature_matching * jnp.sum(jnp.square(gap))
                if acgan:
                    terms['acgan_g'] = config.conditioning.acgan_weight * losses.classification_loss(
                        logits=out['class_logits'], labels=y_fake)
                if info:
                    terms['g_mutual_info'] = mutual_info(out, z)
            if obj.mmd:
                terms['mmd'] = obj.mmd * penalties.mmd(x=real[-1], y=fake, bandwidths=tuple(obj.mmd_bandwidths))
            terms = _sync(terms)
            return sum(terms.values()), (terms, s)

        (g_loss, (g_terms, d_state)), fake_grad = jax.value_and_grad(g_loss_fn, has_aux=True)(fake)
        (g_grads,) = g_vjp(fake_grad)
        if pen.historical_averaging:
            ha = lambda p: pen.historical_averaging * penalties.historical_average_penalty(
                params=p, average=averages['g'])
            g_terms['g_historical_averaging'] = ha(g_params)
            g_loss = g_loss + g_terms['g_historical_averaging']
            g_grads = jax.tree.map(jnp.add, g_grads, jax.grad(ha)(g_params))
        updates, g_opt_state = gan.g_optimizer.update(g_grads, state.g_opt_state, g_params)
        g_params = optax.apply_updates(g_params, updates)
        ema_params = ema_update(state.ema_params, g_params, state.step,
                                decay=config.ema.decay, start=config.ema.start)
        if averages:
            averages = {'g': penalties.update_average(averages['g'], g_params, state.step),
                        'd': penalties.update_average(averages['d'], d_params, state.step)}
        g_grad_norm = optax.tree.norm(g_grads)
        nonfinite = nonfinite | health.nonfinite_mask(g_loss=g_loss, g_grads=g_grad_norm)
        metrics.update(
            g_loss=g_loss, **g_terms, g_grad_norm=g_grad_norm, g_param_norm=optax.tree.norm(g_params),
            d_param_norm=optax.tree.norm(d_params),
            fake_diversity=health.mean_pairwise_distance(fake)
            / jnp.maximum(health.mean_pairwise_distance(real[-1]), 1e-12))
        new_state = state.replace(
            step=state.step + 1, g_params=g_params, g_state=_sync(g_state), d_params=d_params,
            d_state=_sync(d_state), g_opt_state=g_opt_state, d_opt_state=d_opt_state,
            ema_params=ema_params, averages=averages)
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
        in_specs=(P(), batch_spec(1), batch_spec(1), P()), out_specs=(P(), P()))

    def step(state: GANState, batch: Batch) -> tuple[GANState, Metrics]:
        key = jax.random.fold_in(state.key(), state.step)
        noise = step_noise(gan, config, key, max(config.n_critic, 1), batch['x'].shape[1])
        rng = jax.random.fold_in(key, 0xd0) if gan.needs_rng else None
        return local_step(state, batch, noise, rng)

    return step


def make_train_step(gan: GAN, config: ml_collections.ConfigDict, mesh: Mesh) -> TrainStep:
    """`train_step(state, batch) -> (state, metrics)`, jitted with the state donated.

    With config.steps_per_dispatch = k > 1 the returned function takes batch['x'] of
    [k, n_critic, B, ...] and runs k steps in one `lax.scan`; its metrics are the means over them,
    but for PER_STEP_METRICS, which come back per step.
    """
    step = make_step_fn(gan, config, mesh)
    leading = 1
    if config.steps_per_dispatch > 1:
        single = step

        def step(state: GANState, batch: Batch) -> tuple[GANState, Metrics]:
            state, metrics = lax.scan(single, state, batch)
            return state, {k: v if k in PER_STEP_METRICS else jnp.mean(v, axis=0) for k, v in metrics.items()}

        leading = 2
    rep = replicated(mesh)
    batch_sharding = jax.sharding.NamedSharding(mesh, batch_spec(leading))  # every array of the batch
    return jax.jit(step, in_shardings=(rep, batch_sharding), out_shardings=(rep, rep),
                   donate_argnums=0)
