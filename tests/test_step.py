import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import data
from jaxgan.core import parallel
from jaxgan.core.game import Nets
from jaxgan.family import make_train_step
from jaxgan.families.gan import build_gan
from jaxgan.core.state import create_state
from jaxgan.core.step import ema_update, half_life_decay
from tests.conftest import tiny_config


def setup(config, devices=None):
    mesh = parallel.make_mesh(devices)
    dataset = data.load(config)
    gan = build_gan(config, dataset.spec)
    state = create_state(gan.game, config.seed, parallel.replicated(mesh))
    from jaxgan.batches import make_batchers
    batchers = make_batchers(config, dataset, gan)
    return mesh, gan, state, _Merged(batchers)


class _Merged:
    """The run's batchers as one, with their keys suffixed (see data.dispatch_batches)."""

    def __init__(self, batchers):
        self.batchers = batchers

    def batch(self, t):
        return {k + suffix: v for suffix, b in self.batchers.items() for k, v in b.batch(t).items()}


def batch(batcher, mesh, config, step):
    n = max(config.n_critic, 1)
    parts = [batcher.batch(t) for t in range(step * n, (step + 1) * n)]
    return {k: parallel.place_batch(np.stack([p[k] for p in parts]), mesh, leading_axes=1) for k in parts[0]}


def run(config, steps, devices=None):
    mesh, gan, state, batcher = setup(config, devices)
    train_step = make_train_step(gan, config, mesh)
    metrics = None
    for i in range(steps):
        state, metrics = train_step(state, batch(batcher, mesh, config, i))
    return parallel.to_host(state), parallel.to_host(metrics)


def tree_equal(a, b):
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def test_one_step_moves_both_networks():
    config = tiny_config()
    mesh, gan, state, batcher = setup(config)
    before = parallel.to_host(state)
    state, metrics = make_train_step(gan, config, mesh)(state, batch(batcher, mesh, config, 0))
    after = parallel.to_host(state)
    assert int(after.step) == 1
    for name, part in (('params', 'G'), ('params', 'D'), ('ema', 'G'), ('model_state', 'G'), ('model_state', 'D')):
        leaves = zip(jax.tree.leaves(getattr(before, name)[part]), jax.tree.leaves(getattr(after, name)[part]))
        assert all(not np.array_equal(x, y) for x, y in leaves), (name, part)
    expected = {'d_loss', 'g_loss', 'd_real_prob', 'd_fake_prob', 'd_real_logit', 'd_fake_logit',
                'g_grad_norm', 'd_grad_norm', 'g_param_norm', 'd_param_norm', 'd_real_acc', 'd_fake_acc',
                'fake_diversity', 'nonfinite', 'nonfinite_skips', 'd_adversarial', 'g_adversarial'}
    assert set(metrics) == expected
    assert all(np.isfinite(float(v)) for v in metrics.values())
    assert int(metrics['nonfinite']) == 0 and int(metrics['nonfinite_skips']) == 0
    assert 0 <= float(metrics['d_real_acc']) <= 1 and float(metrics['fake_diversity']) > 0


def test_same_seed_same_run_and_other_seed_another():
    a, _ = run(tiny_config(), 3)
    b, _ = run(tiny_config(), 3)
    c, _ = run(tiny_config(seed=1), 3)
    assert tree_equal(a, b)
    assert not tree_equal(a.params['G'], c.params['G'])


def _count_generator_calls(monkeypatch, config):
    calls = []
    original = Nets.__call__

    def counting(self, name, *args, **kwargs):
        calls.append(name)
        return original(self, name, *args, **kwargs)

    monkeypatch.setattr(Nets, '__call__', counting)
    mesh, gan, state, batcher = setup(config)
    jax.eval_shape(make_train_step(gan, config, mesh), state, batch(batcher, mesh, config, 0))
    return calls.count('G')


def test_generator_forward_is_shared_by_the_last_d_update_and_the_g_update(monkeypatch):
    assert _count_generator_calls(monkeypatch, tiny_config()) == 1
    # n_critic = 3: one traced scan body for the first two D updates, one pass shared with G's update.
    assert _count_generator_calls(monkeypatch, tiny_config(n_critic=3)) == 2


def test_n_critic_updates_d_n_times_per_g_update():
    state, _ = run(tiny_config(n_critic=3), 2)
    d_count = [x for x in jax.tree.leaves(state.opt_state['d']) if np.asarray(x).dtype == np.int32]
    g_count = [x for x in jax.tree.leaves(state.opt_state['g']) if np.asarray(x).dtype == np.int32]
    assert int(d_count[0]) == 6 and int(g_count[0]) == 2 and int(state.step) == 2


def test_n_gen_updates_g_n_times_after_the_same_d_update(monkeypatch):
    one, once = run(tiny_config(), 1)
    two, metrics = run(tiny_config(n_gen=2), 1)
    count = lambda opt: [int(x) for x in jax.tree.leaves(opt) if np.asarray(x).dtype == np.int32][0]
    assert count(two.opt_state['g']) == 2 and count(two.opt_state['d']) == 1
    assert tree_equal(one.params['D'], two.params['D'])  # D updates first, on the same batch and noise
    assert not tree_equal(one.params['G'], two.params['G'])
    # the second update's loss is of the once-updated G (a stale forward pass would repeat the first's)
    assert np.isfinite(float(metrics['g_loss'])) and float(metrics['g_loss']) != float(once['g_loss'])
    # each further G update generates afresh from the updated G
    assert _count_generator_calls(monkeypatch, tiny_config(n_gen=2)) == 2


def test_steps_per_dispatch_equals_single_steps():
    single, _ = run(tiny_config(), 4)
    config = tiny_config(steps_per_dispatch=2)
    mesh, gan, state, batcher = setup(config)
    train_step = make_train_step(gan, config, mesh)
    for start in (0, 2):
        host = np.stack([batcher.batch(t)['x'] for t in range(start, start + 2)])[:, None]
        state, metrics = train_step(state, {'x': parallel.place_batch(host, mesh, leading_axes=2)})
    scanned = parallel.to_host(state)
    assert int(scanned.step) == 4 and set(metrics) >= {'d_loss', 'g_loss'}
    for x, y in zip(jax.tree.leaves(single), jax.tree.leaves(scanned)):
        np.testing.assert_allclose(x, y, rtol=2e-5, atol=2e-6)


def test_eight_devices_match_one_with_cross_device_batch_norm():
    config = tiny_config(batch_norm='cross_device')
    one, m1 = run(config, 3, devices=jax.devices()[:1])
    eight, m8 = run(config, 3, devices=jax.devices())
    for x, y in zip(jax.tree.leaves(one), jax.tree.leaves(eight)):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(m1['d_loss'], m8['d_loss'], rtol=1e-4)


def test_per_device_batch_norm_uses_per_device_statistics():
    config = tiny_config()  # per_device is the default
    one, _ = run(config, 1, devices=jax.devices()[:1])
    eight, _ = run(config, 1, devices=jax.devices())
    assert not np.allclose(one.params['G']['ConvTranspose_0']['kernel'], eight.params['G']['ConvTranspose_0']['kernel'],
                           rtol=1e-4, atol=1e-6)


def test_bfloat16_step_computes_in_bfloat16_and_keeps_float32_params():
    config = tiny_config(compute_dtype='bfloat16')
    mesh, gan, state, batcher = setup(config)
    train_step = make_train_step(gan, config, mesh)
    x = batch(batcher, mesh, config, 0)
    assert 'bf16' in train_step.lower(state, x).as_text()  # the convolutions run in bfloat16
    state, metrics = train_step(state, x)
    assert all(x.dtype == np.float32 for x in jax.tree.leaves(parallel.to_host(state.params)))
    assert int(metrics['nonfinite']) == 0


def test_ema_update_follows_its_definition():
    ema, params = {'w': jnp.zeros(3)}, {'w': jnp.ones(3)}
    before_start = ema_update(ema, params, jnp.asarray(4), decay=0.999, start=5)
    np.testing.assert_allclose(before_start['w'], 1.0)  # a copy before `start`
    warm = ema_update(ema, params, jnp.asarray(5), decay=0.999, start=5)
    np.testing.assert_allclose(warm['w'], 1 - 1 / 10)  # decay_0 = (1 + 0) / (10 + 0)
    late = ema_update(ema, params, jnp.asarray(10_000_000), decay=0.999, start=0)
    np.testing.assert_allclose(late['w'], 1 - 0.999, rtol=1e-4)


def test_a_game_refuses_shared_networks_and_clashing_term_names():
    import dataclasses

    import pytest

    from jaxgan.core import terms as T
    game = setup(tiny_config())[1].game
    with pytest.raises(ValueError, match='each network belongs to one player'):
        dataclasses.replace(game, generator=dataclasses.replace(game.generator, networks=('G', 'D')))
    twice = game.critic.terms + (T.R1('d_adversarial', 1.0),)
    with pytest.raises(ValueError, match='term names must be unique'):
        dataclasses.replace(game, critic=dataclasses.replace(game.critic, terms=twice))
    with pytest.raises(ValueError, match='term names must be unique'):
        dataclasses.replace(game, critic=dataclasses.replace(game.critic, terms=(T.R1('d_loss', 1.0),)))


def test_half_life_ema_is_stylegan2_adas():
    """training_loop.py: ema_nimg = min(ema_kimg * 1000, cur_nimg * ema_rampup), beta = 0.5 ** (batch /
    ema_nimg): a copy at the first step, then the half-life in images."""
    decay = half_life_decay(batch=32, half_life_images=10_000, rampup=0.05)
    assert float(decay(jnp.asarray(0))) == 0.0
    np.testing.assert_allclose(decay(jnp.asarray(100)), 0.5 ** (32 / (100 * 32 * 0.05)), rtol=1e-6)
    np.testing.assert_allclose(decay(jnp.asarray(100_000)), 0.5 ** (32 / 10_000), rtol=1e-6)
    no_ramp = half_life_decay(batch=64, half_life_images=20_000)
    np.testing.assert_allclose(no_ramp(jnp.asarray(0)), 0.5 ** (64 / 20_000), rtol=1e-6)
    ema = ema_update({'w': jnp.ones(())}, {'w': jnp.zeros(())}, jnp.asarray(100_000), decay=decay, start=0)
    np.testing.assert_allclose(ema['w'], 0.5 ** (32 / 10_000), rtol=1e-6)


def test_n_gen_below_one_is_refused():
    import pytest
    from jaxgan import config as config_lib
    from jaxgan.errors import UserError
    with pytest.raises(UserError, match='config.n_gen=0 must be a positive integer'):
        config_lib.validate(tiny_config(n_gen=0), num_devices=1)
