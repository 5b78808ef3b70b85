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
from jaxgan.families import make_train_step
from jaxgan.models import progan
from tests.conftest import tiny_config
from tests.test_step import batch, setup


def progan_config(**overrides):
    c = tiny_config(**{'model__name': 'progan', 'image_size': 16, 'batch_size': 8, 'model__z_dim': 8,
                       'loss': 'wasserstein', 'penalties__gradient_penalty': 10.0, 'penalties__drift': 0.001,
                       **overrides})
    c.progan.fmap_base, c.progan.fmap_max, c.progan.mbstd_group = 32, 8, 4
    # 8 images a step: stage 0 (4x4) for steps 0-1, 8x8 fading in over steps 2-3, at alpha 1 over 4-5, ...
    c.progan.training_kimg, c.progan.transition_kimg = 0.016, 0.016
    return c


@pytest.mark.parametrize('resolution, training, transition, initial', [
    (1024, 600, 600, 4), (16, 16, 16, 4), (64, 10, 30, 8), (32, 5, 0, 4), (32, 0, 7, 4)])
def test_the_traced_schedule_is_the_official_formula(resolution, training, transition, initial):
    kimgs = np.concatenate([np.linspace(0, 14 * (training + transition), 997), [training, training + transition]])
    traced = jax.jit(lambda k: progan.level_of_detail(k, resolution, training, transition, initial))
    for kimg in kimgs:
        expected = progan.lod(float(kimg), resolution, training, transition, initial)
        level = traced(jnp.float32(kimg))
        np.testing.assert_allclose(float(level), expected, atol=1e-4)
        stage, alpha = progan.stage_and_alpha(jnp.float32(expected), resolution)
        assert (int(stage), pytest.approx(float(alpha), abs=1e-6)) == progan.schedule(
            float(kimg), resolution, training, transition, initial)


def _networks(resolution=16):
    g = progan.Generator(resolution, 1, fmap_base=32, fmap_max=8, latent_size=8)
    d = progan.Discriminator(resolution, fmap_base=32, fmap_max=8, mbstd_group_size=2)
    grow_g, grow_d = progan.GrowingGenerator(g), progan.GrowingDiscriminator(d)
    z = jax.random.normal(jax.random.key(0), (4, 8))
    gv = grow_g.init(jax.random.key(1), z)
    dv = grow_d.init(jax.random.key(2), jnp.zeros((4, resolution, resolution, 1)))
    return g, d, grow_g, grow_d, gv, dv, z


@pytest.mark.parametrize('level', [2.0, 1.75, 1.0, 0.25, 0.0])
def test_growing_networks_are_the_fixed_stage_networks_at_the_full_resolution(level):
    g, d, grow_g, grow_d, gv, dv, z = _networks()
    stage, alpha = progan.stage_and_alpha(jnp.float32(level), 16)
    stage, factor = int(stage), 16 // progan.stage_resolution(int(stage))
    images, kept = grow_g.apply(gv, z, train=True, lod=level, mutable=['progress'])
    expected = g.apply({'params': gv['params']['net']}, z, stage=stage, alpha=alpha)
    np.testing.assert_allclose(images, progan.upscale2d(expected, factor), rtol=1e-5, atol=1e-5)
    assert float(kept['progress']['lod']) == level  # kept for sampling ...
    again = grow_g.apply({**gv, **kept}, z)  # ... which draws at the kept stage without being told
    np.testing.assert_allclose(again, images, rtol=1e-5, atol=1e-5)
    x = jax.random.normal(jax.random.key(3), (4, 16, 16, 1))
    out = grow_d.apply(dv, x, lod=level)
    reference = d.apply({'params': dv['params']['net']}, progan.downscale2d(x, factor), stage=stage, alpha=alpha)
    np.testing.assert_allclose(out['logits'], reference['logits'], rtol=1e-5, atol=1e-5)


def test_the_reals_are_taken_to_the_stage_and_faded():
    x = jax.random.normal(jax.random.key(0), (3, 16, 16, 2))
    for level, stage, alpha in ((2.0, 0, 1.0), (1.25, 1, 0.75), (0.0, 2, 1.0)):
        factor = 16 // progan.stage_resolution(stage)
        small = progan.downscale2d(x, factor)
        faded = alpha * small + (1 - alpha) * progan.upscale2d(progan.downscale2d(small))
        np.testing.assert_allclose(progan.process_reals(x, jnp.float32(level), 16),
                                   progan.upscale2d(faded, factor), rtol=1e-5, atol=1e-6)


def test_the_convolution_and_its_gradients_to_the_second_order_are_xlas():
    x = jax.random.normal(jax.random.key(0), (2, 6, 6, 3))
    w = jax.random.normal(jax.random.key(1), (3, 3, 3, 5))
    for pad, k in ((1, 3), (0, 1), (2, 3)):
        kernel = w[:k, :k]
        reference = lambda x, w: jax.lax.conv_general_dilated(x, w, (1, 1), [(pad, pad)] * 2,
                                                              dimension_numbers=progan.DIMENSIONS)
        for conv in (progan.conv2d, reference):
            loss = lambda x, w: jnp.sum(jnp.sin(conv(x, w, pad) if conv is progan.conv2d else conv(x, w)))
            penalty = lambda w, x: jnp.sum(jnp.square(jax.grad(loss)(x, w)))  # WGAN-GP's shape of use
            result = (loss(x, kernel), *jax.grad(loss, (0, 1))(x, kernel), jax.grad(penalty)(kernel, x))
            if conv is progan.conv2d:
                ours = result
        for a, b in zip(ours, result):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


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
    np.testing.assert_array_equal(images, progan.upscale2d(progan.downscale2d(images)))


def test_bad_resolutions_and_checkpoints_of_another_resolution_are_refused(tmp_path):
    with pytest.raises(UserError, match='config.image_size=12: model progan makes square images of a power-of-two'):
        train.train(progan_config(image_size=12), str(tmp_path / 'bad'))
    assert not (tmp_path / 'bad').exists()
    with pytest.raises(UserError, match=r'^config.progan.initial_resolution=32 must be a power of two from 4 to '
                                        r'config.image_size=16'):
        train.train(progan_config(progan__initial_resolution=32), str(tmp_path / 'bad'))
    with pytest.raises(UserError, match=r'config.image_size=16 is larger than the 8x8 images of digits'):
        train.train(progan_config(data__upsample=False), str(tmp_path / 'bad'))
    assert not (tmp_path / 'bad').exists()
    run = tmp_path / 'run'
    train.train(progan_config(num_steps=1, checkpoint_every=1, sample_every=1), str(run))
    before = sorted(p.name for p in run.rglob('*'))
    with pytest.raises(UserError, match='holds checkpoints of another set-up'):
        train.train(progan_config(image_size=8, num_steps=2), str(run))
    assert sorted(p.name for p in run.rglob('*')) == before


def test_eight_devices_match_one_through_the_stages():
    """The kernels' gradients summed over devices as JAX's own convolution has them (progan.conv2d under
    shard_map); minibatch stddev off, since its groups are per device."""
    from tests.test_step import run
    config = progan_config(batch_size=16)
    config.progan.mbstd_group, config.progan.transition_kimg = 1, 0.032  # lods 2, 2, 1.5, 1
    one, m1 = run(config, 4, devices=jax.devices()[:1])
    eight, m8 = run(config, 4, devices=jax.devices())
    assert float(one.model_state['G']['progress']['lod']) == 1.0  # 4x4, 8x8 fading in, 8x8: each kind of step
    for x, y in zip(jax.tree.leaves(one), jax.tree.leaves(eight)):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(m1['d_loss'], m8['d_loss'], rtol=1e-4)


PROGAN_TINY = ['-m', 'experiments.progan_digits', '--config.image_size=8', '--config.model.z_dim=8',
               '--config.progan.fmap_base=32', '--config.progan.fmap_max=8', '--config.batch_size=16',
               '--config.progan.training_kimg=0.032', '--config.progan.transition_kimg=0.032',
               '--config.num_steps=12', '--config.checkpoint_every=1', '--config.log_every=4',
               '--config.sample_every=6', '--config.num_samples=16', '--config.async_checkpoints=True']


@pytest.mark.slow
def test_the_tiny_config_end_to_end_sigkill_mid_stage_resume_bit_for_bit_then_sample(tmp_path, python_env):
    """experiments.progan_digits, shrunk (8x8: stages 4x4 and 8x8, 2 steps each of training and fading):
    SIGKILL in the middle of the schedule, resume, the same final state as a run never stopped; then
    sample from it."""
    import os
    from tests.conftest import run_cli
    from tests.test_faults import assert_same_state, final_state, start, wait_for
    reference = run_cli([*PROGAN_TINY, f'--workdir={tmp_path}/ref'], python_env, tmp_path)
    assert reference.returncode == 0, reference.stderr[-3000:]
    log = tmp_path / 'killed.log'
    process = start([*PROGAN_TINY, f'--workdir={tmp_path}/killed'], python_env, log)
    assert wait_for(log, 'step 4/12', timeout=300), open(log).read()[-3000:]
    process.send_signal(9)
    process.wait()
    resumed = run_cli([*PROGAN_TINY, f'--workdir={tmp_path}/killed'], python_env, tmp_path)
    assert resumed.returncode == 0 and 'resuming from the checkpoint at step' in resumed.stderr, resumed.stderr[-3000:]
    a, b = final_state(tmp_path / 'ref'), final_state(tmp_path / 'killed')
    assert int(a.step) == 12 and float(a.model_state['G']['progress']['lod']) == 0.0
    assert_same_state(a, b)
    done = run_cli(['-m', 'jaxgan.sample', '--num=8', f'--out={tmp_path}/s.png', f'--workdir={tmp_path}/killed'],
                   python_env, tmp_path)
    assert done.returncode == 0 and os.path.getsize(tmp_path / 's.png') > 0, done.stderr[-3000:]
