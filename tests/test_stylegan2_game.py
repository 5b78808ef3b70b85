"""StyleGAN2's training (config.model.name=stylegan2): style mixing, the path-length penalty and w_avg in
the run state, lazy R1, the EMA by half-life, on a network of a few thousand parameters."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import config as config_lib
from jaxgan.families import gan as gan_lib
from jaxgan.core import parallel
from jaxgan.core.game import Nets
from jaxgan.errors import UserError
from jaxgan.family import make_train_step
from tests.conftest import tiny_config
from tests.test_step import batch, setup


def stylegan2_config(**overrides):
    c = tiny_config(**{'model__name': 'stylegan2', 'image_size': 8, 'batch_size': 16, 'model__z_dim': 8, **overrides})
    s = c.stylegan2
    s.w_dim, s.mapping_layers, s.channel_base, s.channel_max, s.mbstd_group = 8, 2, 64, 8, 2
    s.pl_every = 2
    c.penalties.r1, c.penalties.r1_every = 1.0, 2
    c.ema.half_life_kimg, c.ema.rampup = 0.1, 0.05
    return c


def test_a_step_trains_both_players_and_keeps_w_avg_path_lengths_and_the_ema():
    config = stylegan2_config()
    mesh, gan, state, batcher = setup(config)
    train_step = make_train_step(gan, config, mesh)
    history = []
    for i in range(3):
        state, metrics = train_step(state, batch(batcher, mesh, config, i))
        history.append(parallel.to_host(state))
    first, second, third = history
    assert {'path_length', 'r1', 'g_adversarial', 'd_adversarial'} <= set(metrics)
    # The path-length mean moves on the regularised steps (0 and 2, every 2) only.
    assert float(first.terms['path_length']) > 0
    assert float(second.terms['path_length']) == float(first.terms['path_length'])
    assert float(third.terms['path_length']) != float(second.terms['path_length'])
    # w_avg, tracked by the mapping network in training, is in the model state (saved with the run).
    w_avg = third.model_state['G']['stats']['mapping']['w_avg']
    assert w_avg.shape == (8,) and float(np.abs(w_avg).sum()) > 0
    assert not np.array_equal(w_avg, second.model_state['G']['stats']['mapping']['w_avg'])
    # The ramped-up EMA copies G after the first step (no images seen yet), then lags it.
    for e, p in zip(jax.tree.leaves(first.ema['G']), jax.tree.leaves(first.params['G'])):
        np.testing.assert_array_equal(e, p)
    assert any(not np.array_equal(e, p) for e, p in zip(jax.tree.leaves(third.ema['G']),
                                                        jax.tree.leaves(third.params['G'])))


def test_style_mixing_draws_one_layer_per_batch():
    drawn = gan_lib._mixing_noise(jax.random.key(0), 4000, 4, 8, num_ws=6, probability=0.9, suffix='')
    cutoff = np.asarray(drawn['mix_cutoff'])
    assert drawn['z_mix'].shape == (4000, 4, 8) and cutoff.shape == (4000, 4)
    assert (cutoff == cutoff[:, :1]).all() and cutoff.min() == 1 and cutoff.max() == 6
    assert abs(np.mean(cutoff[:, 0] == 6) - 0.1) < 0.02  # no mixing 10% of the time
    assert set(np.unique(cutoff)) == {1, 2, 3, 4, 5, 6}


def test_mixed_generation_takes_each_layer_from_its_own_latent():
    config = stylegan2_config()
    mesh, gan, state, _ = setup(config)
    params, model_state = parallel.to_host(state.params), parallel.to_host(state.model_state)
    g = gan.generator
    z, z_mix = jax.random.normal(jax.random.key(1), (2, 4, 8))
    variables = {'params': params['G'], **model_state['G']}
    ws, ws_mix = g.apply(variables, z, method='map'), g.apply(variables, z_mix, method='map')
    for cutoff in (2, g.num_ws):
        noise = {'z': z, 'z_mix': z_mix, 'mix_cutoff': jnp.full((4,), cutoff)}
        out = gan.game.generate(Nets(gan.game, params, model_state, None, train=False), {}, noise)['x']
        mixed = jnp.concatenate([ws[:, :cutoff], ws_mix[:, cutoff:]], axis=1)
        np.testing.assert_allclose(out, g.apply(variables, mixed, method='synthesize'), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out, g.apply(variables, z), rtol=1e-5, atol=1e-6)  # cutoff num_ws: z's alone


@pytest.mark.parametrize('overrides, message', [
    ({'model__spectral_norm': True}, 'model stylegan2 has no config.model.spectral_norm'),
    ({'infogan__categorical': 10}, 'InfoGAN'),
    ({'conditioning__d': 'acgan'}, 'model stylegan2 supports none, projection'),
    ({'image_size': 12}, 'power-of-two size'),
    ({'batch_size': 48}, 'minibatch standard deviation'),
])
def test_bad_stylegan2_configs_are_one_line_errors(overrides, message):
    config = stylegan2_config(**overrides)
    config.stylegan2.mbstd_group = 4
    with pytest.raises(UserError, match=message) as e:
        config_lib.validate(config, num_devices=8)
        setup(config)
    assert '\n' not in str(e.value)


def test_images_smaller_than_the_resolution_are_refused_before_anything_is_written(tmp_path):
    from jaxgan import train
    config = stylegan2_config(image_size=16, data__upsample=False)  # the digits are 8x8
    with pytest.raises(UserError, match=r'^config.image_size=16 is larger than the 8x8 images of digits: this '
                                        r'config trains at the data\'s resolution .*config.data.upsample=true'):
        train.train(config, str(tmp_path / 'run'))
    assert not os.path.exists(tmp_path / 'run')
    config.data.upsample = True  # resized up, as stylegan2_digits does: the check passes
    from jaxgan import data, preflight
    preflight.check_resolution(config, data.load(config))
    config.data.upsample, config.image_size = False, 8  # the data's own size
    preflight.check_resolution(config, data.load(config))


def test_style_mixing_and_truncation_grids():
    import types
    from jaxgan import latent
    config = stylegan2_config()
    mesh, gan, state, _ = setup(config)
    state = parallel.to_host(state)
    num_ws = gan.generator.num_ws
    flags = types.SimpleNamespace(op='mixing', rows='0,1', cols='2,3,4', styles=f'0-{num_ws - 1}')
    images, columns = latent.style_grid(gan, state, flags, None)
    assert columns == 4 and images.shape == (12, 8, 8, 1) and (images[0] == 255).all()
    cols, rows = images[1:4], images[[4, 8]]
    for r in range(2):  # every layer from the column: the column's image
        np.testing.assert_array_equal(images[4 * (r + 1) + 1:4 * (r + 2)], cols)
    unmixed = gan.spec.to_data_units(np.asarray(gan.generator.apply(
        {'params': state.ema['G'], **state.model_state['G']}, latent.codes(gan, [0, 1, 2, 3, 4]))))
    np.testing.assert_array_equal(rows, unmixed[:2])  # the row seeds' own images head the rows
    np.testing.assert_array_equal(cols, unmixed[2:])  # and the column seeds' the columns
    truncation = types.SimpleNamespace(op='truncation', seeds='0,1,2', psis='1,0', cutoff=None)
    images, columns = latent.style_grid(gan, state, truncation, None)
    assert columns == 2 and images.shape == (6, 8, 8, 1)
    z = latent.codes(gan, [0, 1, 2])
    plain = gan.spec.to_data_units(np.asarray(gan.generator.apply(
        {'params': state.ema['G'], **state.model_state['G']}, z)))
    np.testing.assert_array_equal(images[0::2], plain)  # psi 1: no truncation
    assert (images[1::2] == images[1]).all()  # psi 0: every seed at the average w
    with pytest.raises(UserError, match='--styles'):
        latent.parse_styles(f'0-{num_ws}', num_ws)


STYLEGAN2_TINY = ['-m', 'experiments.stylegan2_digits', '--config.image_size=8', '--config.model.z_dim=8',
                  '--config.stylegan2.w_dim=8', '--config.stylegan2.mapping_layers=1',
                  '--config.stylegan2.channel_base=64', '--config.stylegan2.channel_max=8', '--config.batch_size=16',
                  '--config.num_steps=12', '--config.checkpoint_every=1', '--config.log_every=4',
                  '--config.sample_every=6', '--config.num_samples=16', '--config.async_checkpoints=True']


@pytest.mark.slow
def test_the_tiny_config_end_to_end_sigkill_resume_bit_for_bit_then_sample(tmp_path, python_env):
    """experiments.stylegan2_digits, shrunk: SIGKILL after the first step, resume, the same final state as
    a run that was never stopped (the path-length mean, w_avg and the EMA included); then sample, mix and
    truncate from it."""
    from tests.conftest import run_cli
    from tests.test_faults import assert_same_state, killed_and_resumed
    a, b = killed_and_resumed(STYLEGAN2_TINY, tmp_path, python_env, kill_at='step 4/12')
    assert int(a.step) == 12 and float(a.terms['path_length']) > 0
    assert_same_state(a, b)
    for args in (['-m', 'jaxgan.sample', '--num=8', f'--out={tmp_path}/s.png'],
                 ['-m', 'jaxgan.latent', '--op=mixing', '--styles=0-1', f'--out={tmp_path}/m.png'],
                 ['-m', 'jaxgan.latent', '--op=truncation', f'--out={tmp_path}/t.png']):
        done = run_cli([*args, f'--workdir={tmp_path}/killed'], python_env, tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
    assert all(os.path.getsize(tmp_path / f) > 0 for f in ('s.png', 'm.png', 't.png'))
