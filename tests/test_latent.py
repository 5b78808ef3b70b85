import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import latent, train
from jaxgan.errors import UserError
from tests.conftest import run_cli, tiny_config


def test_interpolation_paths():
    a, b = jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0])
    line = latent.interpolate(a, b, 5, 'linear')
    np.testing.assert_allclose(line[0], a)
    np.testing.assert_allclose(line[-1], b)
    np.testing.assert_allclose(line[2], [0.5, 0.5])
    arc = latent.interpolate(a, b, 5, 'slerp')
    np.testing.assert_allclose(jnp.linalg.norm(arc, axis=1), 1.0, rtol=1e-6)  # stays on the circle
    np.testing.assert_allclose(arc[2], [np.sqrt(0.5), np.sqrt(0.5)], rtol=1e-6)
    walk = latent.walk(jnp.stack([a, b, -a]), 4, 'linear')
    assert walk.shape == (7, 2)  # 4 + 4 - the shared end
    np.testing.assert_allclose(walk[3], b)


def test_arithmetic_of_averaged_codes():
    a, b, c = jnp.ones((3, 2)), jnp.full((2, 2), 2.0), jnp.array([[4.0, 6.0]])
    np.testing.assert_allclose(latent.arithmetic(a, b, c), [3.0, 5.0])


def test_infogan_codes_are_set_and_read_back(tmp_path):
    config = tiny_config(infogan__categorical=4, infogan__continuous=2)
    from jaxgan import data
    from jaxgan.families.gan import build_gan
    gan = build_gan(config, data.load(config).spec)
    z = gan.latents(jax.random.key(0), 3)
    assert z.shape == (3, 8 + 4 + 2)
    z = latent.with_codes(gan, z, categorical=2, continuous={1: 0.75})
    categorical, continuous = gan.codes(z)
    np.testing.assert_array_equal(categorical, [2, 2, 2])
    np.testing.assert_allclose(continuous[:, 1], 0.75)


@pytest.mark.slow
def test_latent_command_line_and_conditional_sampling(tmp_path, python_env):
    config = tiny_config(num_steps=2, conditioning__g='cbn', conditioning__d='projection', num_samples=20)
    train.train(config, str(tmp_path))
    for args in (['--op=interpolate', '--seeds=1,2,3', '--steps=4', f'--out={tmp_path}/walk.png'],
                 ['--op=arithmetic', '--a=1,2', '--b=3', '--c=4,5,6', '--label=3', f'--out={tmp_path}/sum.png']):
        result = run_cli(['-m', 'jaxgan.latent', f'--workdir={tmp_path}', *args], python_env, tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
    from PIL import Image
    assert Image.open(tmp_path / 'walk.png').size[0] > Image.open(tmp_path / 'walk.png').size[1]  # one row
    sampled = run_cli(['-m', 'jaxgan.sample', f'--workdir={tmp_path}', '--label=3', '--num=5',
                       f'--out={tmp_path}/threes.npy'], python_env, tmp_path)
    assert sampled.returncode == 0, sampled.stderr[-3000:]
    assert np.load(tmp_path / 'threes.npy').shape == (5, 16, 16, 1)
    bad = run_cli(['-m', 'jaxgan.sample', f'--workdir={tmp_path}', '--label=10', '--num=5',
                   f'--out={tmp_path}/x.npy'], python_env, tmp_path)
    assert bad.returncode == 2 and 'error: --label=10: the classes are 0 to 9' in bad.stderr


def test_latent_bad_input_and_an_npy_out(tmp_path, python_env):
    train.train(tiny_config(num_steps=2), str(tmp_path / 'run'))
    base = ['-m', 'jaxgan.latent', f'--workdir={tmp_path}/run', '--op=interpolate', '--seeds=1,2,3']
    for args, message in [(['--steps=0', f'--out={tmp_path}/a.png'], 'error: --steps=0: a leg of the interpolation'),
                          (['--steps=1', f'--out={tmp_path}/a.png'], 'error: --steps=1: a leg of the interpolation'),
                          ([f'--out={tmp_path}/a.jpg'], f'error: --out={tmp_path}/a.jpg must end in .png')]:
        result = run_cli([*base, *args], python_env, tmp_path)
        errors = [line for line in result.stderr.splitlines() if line.startswith('error:')]
        assert result.returncode == 2 and len(errors) == 1 and errors[0].startswith(message), result.stderr[-3000:]
        assert 'Traceback' not in result.stderr
    assert sorted(os.listdir(tmp_path)) == ['run']  # nothing written
    result = run_cli([*base, '--steps=4', f'--out={tmp_path}/walk.npy'], python_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    walk = np.load(tmp_path / 'walk.npy')  # a real array, not PNG bytes
    assert walk.shape == (7, 16, 16, 1) and walk.dtype == np.uint8  # 4 + 4 codes less the shared one
    with pytest.raises(UserError, match='--steps=1'):
        latent.interpolate(jnp.zeros(2), jnp.ones(2), 1)
