"""jaxgan.export: each format loaded in a fresh process that cannot import jaxgan gives the generator's
outputs to 1e-4 at two batch sizes, for a class-conditional DCGAN (trained 2 steps) and a pix2pix
generator; the exported function is what `Trained.images` computes; bad input is refused in one line."""

import json
import logging
import os
import subprocess
import sys
import types

import jax
import numpy as np
import pytest

import jaxgan
from jaxgan import export
from jaxgan.core import state as state_lib
from jaxgan.data.spec import DataSpec
from jaxgan.errors import UserError
from jaxgan.family import build
from tests.conftest import run_cli, tiny_config

BATCHES = (1, 5)
# Loads each artifact named in cases.json and writes its outputs for the saved inputs to out_<name>.npz;
# any import of jaxgan fails, so the artifact must stand alone.
LOADER = '''
import importlib.abc, json, sys
import numpy as np

class NoJaxgan(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == 'jaxgan' or name.startswith('jaxgan.'):
            raise ImportError('jaxgan must not be imported')

sys.meta_path.insert(0, NoJaxgan())
fmt, cases = sys.argv[1], json.load(open('cases.json'))
for name, case in cases.items():
    inputs = np.load(case['inputs'])
    out = {}
    for batch in case['batches']:
        xs = {k: inputs[k][:batch] for k in case['names']}
        if fmt == 'stablehlo':
            import jax
            exported = jax.export.deserialize(bytearray(open(case['path'], 'rb').read()))
            out[str(batch)] = np.asarray(exported.call(*xs.values()))
        elif fmt == 'savedmodel':
            import tensorflow as tf
            serve = tf.saved_model.load(case['path']).signatures['serving_default']
            out[str(batch)] = serve(**{k: tf.constant(v) for k, v in xs.items()})['images'].numpy()
        else:
            import onnxruntime
            session = onnxruntime.InferenceSession(case['path'])
            out[str(batch)] = session.run(['images'], xs)[0]
    np.savez(f'out_{name}.npz', **out)
print('jaxgan' in sys.modules)
'''


@pytest.fixture(scope='module')
def pix2pix():
    """A freshly initialised pix2pix (U-Net) at 32 px, with its BatchNorm and dropout."""
    config = tiny_config(model__name='pix2pix', image_size=32, translation__patch=16)
    model = build(config, DataSpec('image', (32, 32, 3), 10, 'test'))
    return jaxgan.Trained(workdir='(fresh)', config=config, model=model, step=0,
                          state=state_lib.create_state(model.game, 0, None))


def _inputs(g, n: int) -> dict:
    rng = np.random.default_rng(0)
    return {name: (np.arange(n, dtype=np.int32) % 10 if dtype == 'int32' else
                   rng.uniform(-1, 1, (n, *shape)).astype(np.float32) if name == 'inputs' else
                   rng.standard_normal((n, *shape)).astype(np.float32))
            for name, shape, dtype in g.inputs}


def _missing(fmt: str) -> str:
    """Why a format cannot be tested here ('' where it can): the ONNX converter or runtime not installed."""
    import importlib.util
    if fmt != 'onnx':
        return ''
    absent = [m for m in ('jax2onnx', 'onnxruntime') if importlib.util.find_spec(m) is None]
    return f'{" and ".join(absent)} not installed (make setup installs them: the export extra)' if absent else ''


@pytest.mark.parametrize('fmt', export.FORMATS)
def test_each_format_serves_the_generators_outputs_without_jaxgan(fmt, dcgan_run, pix2pix, tmp_path):
    if _missing(fmt):
        pytest.skip(_missing(fmt))
    suffix = {'stablehlo': '.jax', 'savedmodel': '', 'onnx': '.onnx'}[fmt]
    cases, expected = {}, {}
    absl_level = logging.getLogger('absl').level
    for name, trained in (('dcgan', jaxgan.load(dcgan_run)), ('pix2pix', pix2pix)):
        path = str(tmp_path / f'{name}{suffix}')
        done = export.export_trained(trained, fmt, path, platforms=('cpu',))
        assert done['bytes'] > 0 and os.path.exists(path)
        assert logging.getLogger('absl').level == absl_level  # TensorFlow's saver would leave it at WARNING
        g = export.generator(trained)
        xs = _inputs(g, max(BATCHES))
        np.savez(tmp_path / f'in_{name}.npz', **xs)
        cases[name] = dict(path=path, inputs=f'in_{name}.npz', names=list(xs), batches=BATCHES)
        expected[name] = {b: np.asarray(jax.jit(g)(*(x[:b] for x in xs.values()))) for b in BATCHES}
    assert '[B, 8], labels int32 [B] -> images float32 [B, 16, 16, 1]' in export.signature(export.generator(
        jaxgan.load(dcgan_run)))
    (tmp_path / 'cases.json').write_text(json.dumps(cases))
    (tmp_path / 'loader.py').write_text(LOADER)
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    done = subprocess.run([sys.executable, '-I', 'loader.py', fmt], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == 'False'  # the loader never imported jaxgan
    for name in cases:
        got = np.load(tmp_path / f'out_{name}.npz')
        for b in BATCHES:
            assert got[str(b)].shape == expected[name][b].shape
            np.testing.assert_allclose(got[str(b)], expected[name][b], atol=1e-4, rtol=0)
            assert np.abs(expected[name][b]).max() <= 1.0 and expected[name][b].std() > 0


def test_the_exported_function_gives_trained_images_for_the_same_latents(dcgan_run, tmp_path):
    run = jaxgan.load(dcgan_run)
    path = str(tmp_path / 'g.jax')
    export.export(dcgan_run, 'stablehlo', path, platforms=('cpu',))
    exported = jax.export.deserialize(bytearray(open(path, 'rb').read()))
    z = np.asarray(run.model.latents(jax.random.key(3), 6))
    labels = np.full((6,), 7, np.int32)
    images = run.images(6, seed=3, label=7, batch_size=6)  # one batch: BatchNorm sees the same batch
    out = np.asarray(exported.call(z, labels))
    np.testing.assert_array_equal(np.clip(np.round((out + 1) * 127.5), 0, 255).astype(np.uint8), images)
    # --noema exports the trained params; labels matter
    noema = export.generator(run, ema=False)
    assert not np.allclose(np.asarray(noema(z, labels)), out, atol=1e-4)
    assert not np.allclose(np.asarray(exported.call(z, labels - 5)), out, atol=1e-4)
    # --bn=running: each image of its own latent alone, whatever else is in the batch
    running = export.generator(run, bn='running')
    np.testing.assert_allclose(np.asarray(running(z[:2], labels[:2])), np.asarray(running(z, labels))[:2], atol=1e-5)
    assert not np.allclose(np.asarray(running(z, labels)), out, atol=1e-4)


def test_bad_input_is_refused_in_one_line_before_anything_is_written(dcgan_run, pix2pix, tmp_path, python_env):
    out = str(tmp_path / 'g.onnx')
    cases = [
        (lambda: export.export(str(tmp_path / 'none'), 'onnx', out), f'no checkpoints in {tmp_path / "none"} (expected {tmp_path / "none"}/checkpoints)'),
        (lambda: export.export(dcgan_run, 'tflite', out), '--format=tflite is not one of stablehlo, savedmodel, onnx'),
        (lambda: export.export(dcgan_run, 'onnx', out, truncation=0.5),
         '--truncation: a dcgan generator truncates by resampling z, which is random: truncate the latents '
         'before calling the exported function'),
        (lambda: export.export_trained(pix2pix, 'onnx', out, direction='b2a'),
         '--direction=b2a: this pix2pix model translates a2b only'),
        (lambda: export.generator(jaxgan.load(dcgan_run), bn='mean'), '--bn=mean must be batch or running'),
        (lambda: export.parse_platforms('cpu,gpu'), '--platforms=cpu,gpu: give some of cpu, cuda, rocm, tpu, '
         'comma-separated'),
        (lambda: export.generator(types.SimpleNamespace(model=types.SimpleNamespace(output='rows'), state=None)),
         'a table model (CTGAN) is not exported: its rows come from the network through the data transform in '
         'Python; use jaxgan.load(workdir).rows() or jaxgan.sample --out=ROWS.csv'),
    ]
    for call, message in cases:
        with pytest.raises(UserError) as error:
            call()
        assert str(error.value) == message
    assert os.listdir(tmp_path) == []
    # the command line: an --out that exists is kept unless --overwrite
    (tmp_path / 'g.onnx').write_text('mine')
    done = run_cli(['-m', 'jaxgan.export', f'--workdir={dcgan_run}', '--format=onnx', f'--out={out}'],
                   python_env, tmp_path)
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1] == (
        f'error: --out={out} exists; pass --overwrite to replace it')
    assert (tmp_path / 'g.onnx').read_text() == 'mine' and sorted(os.listdir(tmp_path)) == ['g.onnx']


@pytest.mark.skipif(bool(_missing('onnx')), reason=_missing('onnx'))
def test_stylegan2_exports_to_onnx_with_its_zero_inserting_up_sampling(tmp_path):
    """StyleGAN2's up-sampling inserts zeros before its FIR filter (conv2d_resample's transposed convolution
    and upfirdn2d, as R3GAN's resamplers): written as a reshape and edge slices, which ONNX converts with a
    symbolic batch (lax.pad's interior padding it cannot). A fresh 16-pixel G, truncated, through
    onnxruntime, at two batch sizes."""
    import onnxruntime
    config = tiny_config(model__name='stylegan2', image_size=16, model__z_dim=8)
    config.stylegan2.w_dim, config.stylegan2.mapping_layers = 8, 1
    config.stylegan2.channel_base, config.stylegan2.channel_max = 64, 8
    model = build(config, DataSpec('image', (16, 16, 3), 10, 'test'))
    trained = jaxgan.Trained(workdir='(fresh)', config=config, model=model, step=0,
                             state=state_lib.create_state(model.game, 0, None))
    path = str(tmp_path / 'g.onnx')
    export.export_trained(trained, 'onnx', path, truncation=0.7)
    g = export.generator(trained, truncation=0.7)
    session = onnxruntime.InferenceSession(path)
    for n in (1, 3):
        xs = _inputs(g, n)
        want = np.asarray(jax.jit(g)(*xs.values()))
        np.testing.assert_allclose(session.run(['images'], xs)[0], want, atol=1e-4)
