"""Progressive growing while training (config.model.name=progan): the traced schedule against the official
formula, the growing networks against the fixed-stage ones, the reals' fading, the convolution whose
gradients stay fast inside the stages' conditional, the drift term, and a tiny run through its stages."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import train
from jaxgan.core import parallel, terms as T
from jaxgan.core.game import View
from jaxgan.errors import UserError
from jaxgan.family import make_train_step
from jaxgan.models import progan, progan_growing, progan_layers
from tests.conftest import tiny_config
from tests.test_step import batch, setup


def progan_config(**overrides):
    c = tiny_config(**{'model__name': 'progan', 'image_size': 16, 'batch_size': 8, 'model__z_dim': 8,
                       'loss': 'wasserstein', 'penalties__gradient_penalty': 10.0, 'penalties__drift': 0.001,
                       **overrides})
    c.progan.fmap_base, c.progan.fmap_max, c.progan.mbstd_group = 32, 8, 4
    # 8 images a step: lods 2, 2, 2 (4x4; the step at 16 images still at alpha 1), 1.5 (8x8 fading in), 1, 1, 1, 0.5, ...
    c.progan.training_kimg, c.progan.transition_kimg = 0.016, 0.016
    c.progan.learning_rates = ((8, 3e-4), (16, 4e-4))
    return c


@pytest.mark.parametrize('resolution, training, transition, initial', [
    (1024, 600, 600, 4), (16, 16, 16, 4), (64, 10, 30, 8), (32, 5, 0, 4), (32, 0, 7, 4)])
def test_the_traced_schedule_is_the_official_formula(resolution, training, transition, initial):
    images = np.concatenate([np.linspace(0, 14000 * (training + transition), 997).astype(int),
                             1000 * np.array([training, training + transition, 2 * training + transition])])
    traced = jax.jit(lambda n: progan_growing.level_of_detail(n, resolution, training, transition, initial))
    for n in images:
        kimg = n / 1000  # exact in float64
        expected = progan_growing.lod(float(kimg), resolution, training, transition, initial)
        level = traced(jnp.int32(n))
        np.testing.assert_allclose(float(level), expected, atol=1e-4)
        stage, alpha = progan_growing.stage_and_alpha(jnp.float32(expected), resolution)
        assert (int(stage), pytest.approx(float(alpha), abs=1e-6)) == progan_growing.schedule(
            float(kimg), resolution, training, transition, initial)


def test_phase_boundaries_fall_on_their_step_in_the_official_celebahq_schedule():
    """Batch 32 at 1024 pixels: a new phase starts at step 1,200,000 images / 32 = 37,500 k for each k; in
    float32 kimg three of them came a step early (steps 168,750, 206,250, 243,750 at the next stage)."""
    from experiments import progan_celebahq
    config = progan_celebahq.get_config()
    steps = jnp.array([37500 * k + d for k in range(1, 9) for d in (-1, 0)], jnp.int32)
    levels = np.asarray(jax.jit(jax.vmap(lambda s: progan_growing.lod_of_step(config, 1024, s)))(steps))
    expected = [progan_growing.lod(int(s) * 32 / 1000, 1024) for s in steps]
    np.testing.assert_allclose(levels, expected, atol=1e-6)
    assert all(level == int(level) for level in levels[1::2])  # each phase starts at alpha 1


def test_the_learning_rate_is_the_trained_resolutions():
    rates = {8: 0.5, 16: 0.25}
    for level, expected in ((2.0, 0.1), (1.5, 0.5), (1.0, 0.5), (0.5, 0.25), (0.0, 0.25)):
        assert float(progan_growing.stage_learning_rate(jnp.float32(level), 16, rates, 0.1)) == pytest.approx(expected)


def _networks(resolution=16):
    g = progan.Generator(resolution, 1, fmap_base=32, fmap_max=8, latent_size=8)
    d = progan.Discriminator(resolution, fmap_base=32, fmap_max=8, mbstd_group_size=2)
    grow_g, grow_d = progan_growing.GrowingGenerator(g), progan_growing.GrowingDiscriminator(d)
    z = jax.random.normal(jax.random.key(0), (4, 8))
    gv = grow_g.init(jax.random.key(1), z)
    dv = grow_d.init(jax.random.key(2), jnp.zeros((4, resolution, resolution, 1)))
    return g, d, grow_g, grow_d, gv, dv, z


@pytest.mark.parametrize('level', [2.0, 1.75, 1.0, 0.25, 0.0])
def test_growing_networks_are_the_fixed_stage_networks_at_the_full_resolution(level):
    g, d, grow_g, grow_d, gv, dv, z = _networks()
    stage, alpha = progan_growing.stage_and_alpha(jnp.float32(level), 16)
    stage, factor = int(stage), 16 // progan_layers.stage_resolution(int(stage))
    images, kept = grow_g.apply(gv, z, train=True, lod=level, mutable=['progress'])
    expected = g.apply({'params': gv['params']['net']}, z, stage=stage, alpha=alpha)
    np.testing.assert_allclose(images, progan_layers.upscale2d(expected, factor), rtol=1e-5, atol=1e-5)
    assert float(kept['progress']['lod']) == level  # kept for sampling ...
    again = grow_g.apply({**gv, **kept}, z)  # ... which draws at the kept stage without being told
    np.testing.assert_allclose(again, images, rtol=1e-5, atol=1e-5)
    x = jax.random.normal(jax.random.key(3), (4, 16, 16, 1))
    out = grow_d.apply(dv, x, lod=level)
    reference = d.apply({'params': dv['params']['net']}, progan_layers.downscale2d(x, factor), stage=stage, alpha=alpha)
    np.testing.assert_allclose(out['logits'], reference['logits'], rtol=1e-5, atol=1e-5)


def _official_reals(x_nchw: np.ndarray, level: float, resolution: int) -> np.ndarray:
    """The official reals at a lod, in numpy, NCHW: dataset_tool.py's lower-resolution copies (2x2 box
    averages, one halving per lod), then train.py's process_reals: 'FadeLOD' (reshape, mean, tile, lerp
    by lod - floor(lod)) and 'UpscaleLOD' (tile by 2^floor(lod))."""
    x = x_nchw
    for _ in range(int(np.floor(level))):
        x = (x[:, :, 0::2, 0::2] + x[:, :, 0::2, 1::2] + x[:, :, 1::2, 0::2] + x[:, :, 1::2, 1::2]) * 0.25
    n, c, h, w = x.shape
    y = x.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5), keepdims=True)
    y = np.tile(y, (1, 1, 1, 2, 1, 2)).reshape(n, c, h, w)
    x = x + (y - x) * (level - np.floor(level))
    factor = 2 ** int(np.floor(level))
    x = np.tile(x.reshape(n, c, h, 1, w, 1), (1, 1, 1, factor, 1, factor)).reshape(n, c, h * factor, w * factor)
    assert x.shape[2] == resolution
    return x


def test_the_reals_are_the_officials():
    x = np.asarray(jax.random.normal(jax.random.key(0), (3, 16, 16, 2)))
    for level in (2.0, 1.25, 1.0, 0.5, 0.0):
        expected = _official_reals(x.transpose(0, 3, 1, 2), level, 16).transpose(0, 2, 3, 1)
        np.testing.assert_allclose(progan_growing.process_reals(jnp.asarray(x), jnp.float32(level), 16), expected,
                                   rtol=1e-5, atol=1e-6)


def test_the_step_hands_d_the_processed_reals():
    """game.prepare, on the batch as the step has it ([n, B, ...] uint8 and the scheduled lod)."""
    config = progan_config()
    mesh, gan, state, batcher = setup(config)
    raw = np.stack([batcher.batch(0)['x']])
    prepared = gan.game.prepare({'x': jnp.asarray(raw), 'lod': jnp.full(raw.shape[:2], 1.5)})
    model_units = gan.spec.model_input(jnp.asarray(raw))
    np.testing.assert_allclose(prepared['x'][0], progan_growing.process_reals(model_units[0], jnp.float32(1.5), 16),
                               rtol=1e-6)
    assert not np.allclose(prepared['x'], model_units, atol=1e-3)


def test_the_drift_term_is_epsilon_times_the_mean_squared_real_output():
    logits = jnp.array([0.5, -2.0, 3.0])
    view = View(None, None, {}, {}, {}, jnp.zeros((), jnp.int32), {}, {})
    view._cache['d_real'] = {'logits': logits}
    assert float(T.Drift('drift', 0.001)(view)) == pytest.approx(0.001 * (0.25 + 4 + 9) / 3)


def test_a_run_grows_stage_by_stage_with_the_schedule_in_the_model_state():
    config = progan_config()
    mesh, gan, state, batcher = setup(config)
    train_step = make_train_step(gan, config, mesh)
    history = []
    for i in range(5):
        state, metrics = train_step(state, batch(batcher, mesh, config, i))
        history.append(parallel.to_host(state))
    assert {'gradient_penalty', 'drift', 'd_adversarial', 'g_adversarial'} <= set(metrics)
    # The lod each step ran at (the images of the steps before it, 8 each): 2, 2, 2, 1.5, 1.
    lods = [float(s.model_state['G']['progress']['lod']) for s in history]
    assert lods == pytest.approx([2.0, 2.0, 2.0, 1.5, 1.0])
    assert [float(s.model_state['D']['progress']['lod']) for s in history] == pytest.approx(lods)
    # Adam starts afresh when the lod's floor (step 3: the fade-in starts) or ceiling (step 4: it ends)
    # changes: its bias-correction count after each step.
    counts = [[int(leaf) for leaf in jax.tree.leaves(s.opt_state[player]) if np.ndim(leaf) == 0 and
               np.issubdtype(np.asarray(leaf).dtype, np.integer)] for s in history for player in ('g', 'd')]
    adam_counts = [c[0] for c in counts]  # the Adam state's count comes first in the reset wrapper
    assert adam_counts[0::2] == [1, 2, 3, 1, 1] and adam_counts[1::2] == [1, 2, 3, 1, 1]
    start = parallel.to_host(setup(config)[2])

    def same(tree_a, tree_b):
        return all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(tree_a), jax.tree.leaves(tree_b)))

    # 4x4 steps train only the 4x4 layers; the 8x8 block is untouched until it fades in, 16x16 stays so.
    for net, old, new in (('G', 'torgb4', 'b8'), ('D', 'fromrgb4', 'b8')):
        params = lambda s: s.params[net]['net']
        assert not same(params(history[0])[old], params(start)[old])
        assert same(params(history[2])[new], params(start)[new])
        assert not same(params(history[3])[new], params(history[2])[new])
        assert same(params(history[4])['b16'], params(start)['b16'])
    # Samples from the run's EMA draw at the stage reached: 8x8 content, nearest-upscaled to 16x16.
    images = gan.generate(history[4].ema['G'], history[4].model_state['G'], jnp.ones((2, 8)), train=False)[0]
    np.testing.assert_array_equal(images, progan_layers.upscale2d(progan_layers.downscale2d(images)))


def test_bad_resolutions_and_checkpoints_of_another_resolution_are_refused(tmp_path):
    with pytest.raises(UserError, match='config.image_size=12: model progan makes square images of a power-of-two'):
        train.train(progan_config(image_size=12), str(tmp_path / 'bad'))
    assert not (tmp_path / 'bad').exists()
    with pytest.raises(UserError, match=r'^config.progan.initial_resolution=32 must be a power of two from 4 to '
                                        r'config.image_size=16'):
        train.train(progan_config(progan__initial_resolution=32), str(tmp_path / 'bad'))
    with pytest.raises(UserError, match=r'^config.progan.learning_rates=\(\(8, -1.0\),\) must be pairs'):
        config = progan_config()
        config.progan.learning_rates = ((8, -1.0),)  # after progan_config's own
        train.train(config, str(tmp_path / 'bad'))
    with pytest.raises(UserError, match=r'^config.progan.reset_optimizer resets Adam'):
        train.train(progan_config(d_optimizer__name='rmsprop'), str(tmp_path / 'bad'))
    with pytest.raises(UserError, match=r'config.image_size=16 is larger than the 8x8 images of digits'):
        train.train(progan_config(data__upsample=False), str(tmp_path / 'bad'))
    assert not (tmp_path / 'bad').exists()
    run = tmp_path / 'run'
    train.train(progan_config(num_steps=1, checkpoint_every=1, sample_every=1), str(run))
    before = sorted(p.name for p in run.rglob('*'))
    with pytest.raises(UserError, match='holds checkpoints of another set-up'):
        train.train(progan_config(image_size=8, num_steps=2), str(run))
    assert sorted(p.name for p in run.rglob('*')) == before


def test_the_schedule_counts_every_critic_update():
    """n_critic = 2 takes 16 images a step (the official cur_nimg grows at each D repeat): at 8x8, lods
    1, 1 (16 images: still alpha 1), 0 (32 images: the 8x8 stage).

    On one device: with several simulated CPU devices, the critic loop's all-reduces inside the stage
    switch's branches crash XLA:CPU's in-process communicator now and then (a rendezvous that
    receives 9 participants for 8 devices: a check failure or a segfault, in 3 of 6 processes that
    ran this test 15 times each). The schedule does not depend on the device count; the stages on 8
    devices are tested below, one critic update a step."""
    from tests.test_step import run
    state, _ = run(progan_config(n_critic=2, image_size=8), 3, devices=jax.devices()[:1])
    assert float(state.model_state['G']['progress']['lod']) == 0.0


def test_eight_devices_match_one_through_the_stages():
    """The kernels' gradients summed over devices as JAX's own convolution has them (progan.conv2d under
    shard_map); minibatch stddev off, since its groups are per device."""
    from tests.test_step import run
    config = progan_config(batch_size=16, image_size=8)
    config.progan.mbstd_group, config.progan.transition_kimg = 1, 0.032  # lods 1, 1, 0.5, 0
    one, m1 = run(config, 4, devices=jax.devices()[:1])
    eight, m8 = run(config, 4, devices=jax.devices())
    assert float(one.model_state['G']['progress']['lod']) == 0.0  # 4x4, 8x8 fading in, 8x8: each kind of step
    for x, y in zip(jax.tree.leaves(one), jax.tree.leaves(eight)):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(m1['d_loss'], m8['d_loss'], rtol=1e-4)


PROGAN_TINY = ['-m', 'experiments.progan_digits', '--config.image_size=8', '--config.model.z_dim=8',
               '--config.progan.fmap_base=32', '--config.progan.fmap_max=8', '--config.batch_size=16',
               '--config.progan.training_kimg=0.032', '--config.progan.transition_kimg=0.032',
               '--config.num_steps=12', '--config.checkpoint_every=1', '--config.log_every=1',
               '--config.sample_every=6', '--config.num_samples=16', '--config.async_checkpoints=True']


@pytest.mark.slow
def test_the_tiny_config_end_to_end_sigkill_mid_stage_resume_bit_for_bit_then_sample(tmp_path, python_env):
    """experiments.progan_digits, shrunk (8x8: 4x4 for steps 0-1, 8x8 fading in over steps 2-3, then 8x8):
    SIGKILL once step 3 is logged (during or just after the fade-in), resume, the same final state as a run
    never stopped; then sample from it."""
    import os
    from tests.conftest import run_cli
    from tests.test_faults import assert_same_state, killed_and_resumed
    a, b = killed_and_resumed(PROGAN_TINY, tmp_path, python_env, kill_at='step 3/12')
    assert int(a.step) == 12 and float(a.model_state['G']['progress']['lod']) == 0.0
    assert_same_state(a, b)
    done = run_cli(['-m', 'jaxgan.sample', '--num=8', f'--out={tmp_path}/s.png', f'--workdir={tmp_path}/killed'],
                   python_env, tmp_path)
    assert done.returncode == 0 and os.path.getsize(tmp_path / 's.png') > 0, done.stderr[-3000:]


def test_the_generator_schedule_reads_the_step_with_several_generator_updates():
    """With n_gen = 2 G's optimizer counts two updates a step: its stage learning rate at update count c
    is that of step c // 2, the rate a single update per step has at that step."""
    once, _ = progan_growing.growing_optimizers(progan_config(), 16)
    twice, _ = progan_growing.growing_optimizers(progan_config(n_gen=2), 16)
    rates = [float(once['lr'](jnp.int32(s))) for s in range(10)]
    assert len(set(rates)) > 1  # the schedule moves over these steps
    assert [float(twice['lr'](jnp.int32(c))) for c in range(20)] == [r for r in rates for _ in (0, 1)]
