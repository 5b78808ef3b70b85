"""jaxgan.inspect: the filters of D's first and G's last convolution, trained beside step 0."""

import os

import jax
import numpy as np
import pytest
from PIL import Image

from jaxgan import inspect, train
from tests.conftest import run_cli, tiny_config


@pytest.fixture(scope='module')
def run_dir(tmp_path_factory):
    """A tiny DCGAN trained 4 steps, with checkpoints at steps 2 and 4."""
    workdir = tmp_path_factory.mktemp('inspect') / 'run'
    train.train(tiny_config(num_steps=4), str(workdir))
    return workdir


def test_filters_are_drawn_one_tile_per_filter_normalised_each():
    # D's first layer, kernel [kh, kw, in, out] = [2, 2, 1, 2]: filter 0 a ramp, filter 1 constant.
    kernel = np.zeros((2, 2, 1, 2), np.float32)
    kernel[..., 0, 0] = [[0.0, 1.0], [2.0, 3.0]]
    kernel[..., 0, 1] = 5.0
    f = inspect.filters(inspect.Layer('Conv_0', kernel, False), 'in')
    assert f.shape == (2, 2, 2, 1)
    np.testing.assert_array_equal(inspect.normalise(f)[..., 0], [[[0, 85], [170, 255]], [[128, 128], [128, 128]]])
    image = inspect.panel(f)
    scale = inspect.TILE // 2  # 2x2 kernels enlarged 16 times
    assert image.shape == (2 + 2 * scale + 2, 2 + 2 * (2 * scale + 2), 3)  # one row of 2 tiles, padding 2
    assert (image[2:2 + scale, 2:2 + scale] == 0).all()  # the ramp's top-left, its minimum
    assert (image[2 + scale:2 + 2 * scale, 2 + scale:2 + 2 * scale] == 255).all()  # bottom-right, maximum
    # G's last layer [kh, kw, in, out] = [2, 2, 2, 3]: 2 RGB filters, each spatially flipped.
    kernel = np.zeros((2, 2, 2, 3), np.float32)
    kernel[0, 0, 1, 0] = 1.0  # input map 1 paints red at the mirrored corner
    f = inspect.filters(inspect.Layer('ConvTranspose_2', kernel, True), 'out')
    assert f.shape == (2, 2, 2, 3)
    tile = inspect.normalise(f)[1]
    assert tuple(tile[1, 1]) == (255, 0, 0) and tuple(tile[0, 0]) == (0, 0, 0)
    # Neither 1 nor 3 image-side channels: a row of grey tiles per filter.
    many = inspect.panel(np.zeros((4, 3, 3, 11), np.float32))
    assert many.shape[1] > many.shape[0]  # 11 columns, 4 rows


@pytest.mark.parametrize('spectral_norm', [False, pytest.param(True, marks=pytest.mark.slow)])
def test_first_and_last_are_in_the_order_applied_not_named(spectral_norm):
    """The ResNet D applies its inner 3x3 convolution to the image before the 1x1 shortcut, though Flax
    names the outer one first; under spectral normalisation too the kernel is found and read."""
    from jaxgan import data
    from jaxgan.core import parallel
    from jaxgan.core.state import create_state
    from jaxgan.families.gan import build_gan
    config = tiny_config(model__name='resnet', model__g_width=8, model__d_width=8,
                         model__spectral_norm=spectral_norm)
    gan = build_gan(config, data.load(config).spec)
    state = create_state(gan.game, config.seed, parallel.replicated(parallel.make_mesh()))
    d_layers = inspect.network_layers(gan, state, 'D')
    assert [layer.kernel.shape for layer in d_layers[:3]] == [(3, 3, 1, 8), (3, 3, 8, 8), (1, 1, 1, 8)]
    g_layers = inspect.network_layers(gan, state, 'G')
    assert g_layers[-1].kernel.shape == (3, 3, 8, 1) and not g_layers[-1].transposed
    raw = [k for k in jax.tree.leaves(state.params['D']) if k.shape == (3, 3, 1, 8)]
    assert len(raw) == 1  # the params' own kernel, spectral normalisation or not
    np.testing.assert_array_equal(d_layers[0].kernel, np.asarray(raw[0]))
    image, notes = inspect.filters_figure(gan, state, state)
    before, after = inspect.halves(image)
    np.testing.assert_array_equal(before, after)  # the same state on both sides
    assert notes[0].startswith("D's first layer: ") and '3x3, 1 -> 8 channels' in notes[0]


def test_filters_of_a_trained_run_beside_step_0(tmp_path, python_env, run_dir):
    out = tmp_path / 'filters.png'
    result = run_cli(['-m', 'jaxgan.inspect', f'--workdir={run_dir}', '--filters', f'--out={out}'],
                     python_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'step 0 on the left, step 4 on the right' in result.stdout
    image = np.asarray(Image.open(out).convert('RGB'))
    # The tiny DCGAN's D starts with a [4, 4, 1, 8] Conv and G ends with a [4, 4, 8, 1] ConvTranspose:
    # 8 grey filters each, enlarged 8 times to 32 pixels, in a 3x3 grid with 2 pixels of padding
    # (3 * 34 + 2 = 104 pixels a side); two such rows and two columns, 8 pixels apart: 216 x 216.
    assert image.shape == (216, 216, 3)
    before, after = inspect.halves(image)
    assert before.shape == after.shape == (216, 104, 3)
    assert (before != after).any(), 'four steps of training changed no filter'

    # The right column is the checkpoint's own kernels, read here by their names in the params.
    from jaxgan.checkpoint import load_run
    from jaxgan.core import parallel
    from jaxgan.core.state import create_state
    config, gan, state = load_run(str(run_dir))
    d_kernel = np.asarray(state.params['D']['Conv_0']['kernel'])
    g_kernel = np.asarray(state.params['G']['ConvTranspose_2']['kernel'])
    assert d_kernel.shape == (4, 4, 1, 8) and g_kernel.shape == (4, 4, 8, 1)
    np.testing.assert_array_equal(after[:104], inspect.panel(np.transpose(d_kernel, (3, 0, 1, 2))))
    np.testing.assert_array_equal(after[112:], inspect.panel(np.transpose(g_kernel[::-1, ::-1], (2, 0, 1, 3))))
    # The left column is the state training started from, rebuilt from the seed.
    start = create_state(gan.game, config.seed, parallel.replicated(parallel.make_mesh()))
    d_start = np.asarray(start.params['D']['Conv_0']['kernel'])
    np.testing.assert_array_equal(before[:104], inspect.panel(np.transpose(d_start, (3, 0, 1, 2))))
    assert not np.array_equal(d_start, d_kernel)

    # Without --out it goes beside the run, named by the step; the same image.
    result = run_cli(['-m', 'jaxgan.inspect', f'--workdir={run_dir}', '--filters', '--step=2'],
                     python_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    default = np.asarray(Image.open(run_dir / 'inspect' / 'filters_step_2.png').convert('RGB'))
    assert default.shape == image.shape and not np.array_equal(default, image)  # step 2, not step 4
    np.testing.assert_array_equal(inspect.halves(default)[0], before)  # the same step 0


@pytest.mark.parametrize('args, message', [
    (['--filters', '--out=filters.jpg'], 'error: --out=filters.jpg must end in .png'),
    ([], 'error: nothing to show: pass --filters'),
    (['--filters', '--step=3'], 'error: no checkpoint at step 3'),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, python_env, run_dir, args, message):
    before = {name: sorted(os.listdir(os.path.join(run_dir, name))) for name in ['', *os.listdir(run_dir)]
              if os.path.isdir(os.path.join(run_dir, name))}
    result = run_cli(['-m', 'jaxgan.inspect', f'--workdir={run_dir}', *args], python_env, tmp_path)
    errors = [line for line in result.stderr.splitlines() if line.startswith('error:')]
    assert result.returncode == 2 and len(errors) == 1 and errors[0].startswith(message), result.stderr[-3000:]
    assert 'Traceback' not in result.stderr
    after = {name: sorted(os.listdir(os.path.join(run_dir, name))) for name in before}
    assert os.listdir(tmp_path) == [] and after == before


@pytest.mark.slow
def test_a_model_without_convolutions_says_so_in_one_line(tmp_path, python_env):
    train.train(tiny_config(num_steps=2, model__name='mlp', model__g_hidden=(16,), model__d_hidden=(16,)),
                str(tmp_path / 'run'))
    result = run_cli(['-m', 'jaxgan.inspect', f'--workdir={tmp_path}/run', '--filters'], python_env, tmp_path)
    errors = [line for line in result.stderr.splitlines() if line.startswith('error:')]
    assert result.returncode == 2 and len(errors) == 1, result.stderr[-3000:]
    assert errors[0].startswith('error: this model has no convolution filters to show')
    assert not os.path.exists(tmp_path / 'run' / 'inspect')


def test_help_describes_every_flag(tmp_path, python_env):
    result = run_cli(['-m', 'jaxgan.inspect', '--help'], python_env, tmp_path)
    text = ' '.join(result.stdout.split())
    for flag, words in [('--workdir', 'checkpoints are read'), ('--[no]filters', "D's first-layer"),
                        ('--step', 'the latest by default'), ('--out', 'WORKDIR/inspect/filters_step_<step>.png')]:
        assert f'{flag}: ' in text and words in text, (flag, text[:3000])
