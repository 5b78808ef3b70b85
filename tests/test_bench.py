import json

import numpy as np
import pytest

from experiments import dcgan_celeba
from jaxgan import bench, data
from jaxgan.families.gan import build_gan
from jaxgan.core.state import init_state
from tests.conftest import run_cli
import jax


def test_dcgan64_flops_match_the_analytic_count():
    config = dcgan_celeba.get_config()
    spec = data.DataSpec('image', (64, 64, 3), 1, 'synthetic')
    gan = build_gan(config, spec)
    state = jax.eval_shape(lambda: init_state(gan.game, 0))
    g, d = bench.forward_flops(gan, state)
    # The reference PyTorch DCGAN: G forward 0.105 GMAC, D forward 0.104 GMAC per image.
    np.testing.assert_allclose(g / 2e9, 0.105, rtol=0.01)
    np.testing.assert_allclose(d / 2e9, 0.104, rtol=0.01)
    np.testing.assert_allclose(bench.step_flops_per_image(g, d, 1) / 1e9, 2.29, rtol=0.01)


def test_a_conditional_counts_its_costliest_branch_only():
    import jax.numpy as jnp
    a = jnp.ones((4, 8))
    # 2 * 4 * 8 * 2 = 128 FLOPs, padded to the large branch's shape by a free concatenation; 1,024
    small = lambda x: jnp.concatenate([x @ jnp.ones((8, 2)), jnp.zeros((4, 14))], axis=1)
    large = lambda x: x @ jnp.ones((8, 16))
    jaxpr = jax.make_jaxpr(lambda i, x: jax.lax.switch(i, [small, large, small], x) @ jnp.ones((16, 1)))(0, a)
    assert bench.matmul_flops(jaxpr.jaxpr) == 1024 + 2 * 4 * 16 * 1


@pytest.mark.slow
def test_bench_command_line(tmp_path, python_env):
    out = tmp_path / 'bench.json'
    result = run_cli(['-m', 'jaxgan.bench', '--batch_sizes=16', '--dtypes=float32,bfloat16', '--steps_per_dispatch=1,2',
                      '--steps=4', '--warmup=0', '--peak_tflops=1', f'--out={out}', '--config.image_size=16',
                      '--config.model.g_width=8', '--config.model.d_width=8'], python_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.load(open(out))['results']
    assert [(r['dtype'], r['steps_per_dispatch']) for r in rows] == [('float32', 1), ('float32', 2), ('bfloat16', 1),
                                                                       ('bfloat16', 2)]
    assert all(r['images_per_s'] > 0 and r['compile_s'] > 0 and r['timed_steps'] == 4 for r in rows)
    assert 'img/s' in result.stdout


def test_bench_times_a_table_step_on_its_embedded_table(tmp_path, python_env):
    """A table experiment keeps its own data (not the digits that stand in for images) and is timed without
    the image GANs' FLOP count."""
    out = tmp_path / 'bench.json'
    result = run_cli(['-m', 'jaxgan.bench', '--experiment=ctgan', '--batch_sizes=80', '--steps=2', '--warmup=0',
                      f'--out={out}', '--config.model.g_hidden=(16,)', '--config.model.d_hidden=(16,)',
                      '--config.n_critic=1'],
                     python_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    [row] = json.load(open(out))['results']
    assert row['steps_per_s'] > 0 and row['timed_steps'] == 2
    assert row['gflop_per_image'] is None and row['tflops'] is None
