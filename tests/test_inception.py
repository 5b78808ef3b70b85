"""The Flax FID InceptionV3 against an independent PyTorch implementation, on shared random weights;
jaxgan's reader of PyTorch files (jaxgan.metrics.pth) on files PyTorch wrote, and on bad ones.

The tests marked by `pytest.importorskip('torch')` run in `make test-torch`, which installs PyTorch and
pytorch-fid; the others need neither.
"""

import os
import shutil
import pickle
import sys
import zipfile

import jax
import numpy as np
import pytest

from jaxgan.errors import UserError
from jaxgan.metrics import inception, pth
from tests.conftest import REPO, run_cli
from tests.fixtures.make_tiny_pth import expected as fixture_values

FIXTURES = os.path.join(REPO, 'tests', 'fixtures')
TINY = os.path.join(FIXTURES, 'tiny.pth')
TINY_LEGACY = os.path.join(FIXTURES, 'tiny_legacy.pth')


def test_output_shapes():
    module = inception.FIDInceptionV3()
    x = jax.ShapeDtypeStruct((2, 32, 32, 3), np.uint8)
    variables = jax.eval_shape(module.init, jax.random.key(0), x)
    features, logits = jax.eval_shape(module.apply, variables, x)
    assert features.shape == (2, 2048) and logits.shape == (2, 1008)
    grey = jax.ShapeDtypeStruct((2, 28, 28, 1), np.uint8)
    assert jax.eval_shape(module.apply, variables, grey)[0].shape == (2, 2048)


def test_matches_pytorch_on_shared_random_weights(tmp_path):
    torch = pytest.importorskip('torch')
    sys.path.insert(0, os.path.join(REPO, 'benchmarks'))
    import torch_fid_inception as ref
    state = ref.random_state_dict(0)
    model = ref.FIDInception().eval()
    model.load_state_dict(state)
    images = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), np.uint8)
    with torch.no_grad():
        torch_features, torch_logits = (t.double().numpy() for t in model(torch.from_numpy(images)))
    # Through the .pth -> .npz path a user takes.
    torch.save(state, tmp_path / 'weights.pth')
    variables = inception.load_weights(str(tmp_path / 'weights.pth'))
    inception.save_npz(variables, str(tmp_path / 'weights.npz'))
    variables = inception.load_weights(str(tmp_path / 'weights.npz'))
    features, logits = jax.jit(inception.FIDInceptionV3().apply)(variables, images)
    relative = lambda a, b: np.linalg.norm(np.asarray(a, np.float64) - b) / np.linalg.norm(b)
    print(f'Flax vs PyTorch InceptionV3 on shared random weights: features relative error '
          f'{relative(features, torch_features):.2e}, logits {relative(logits, torch_logits):.2e}')
    assert relative(features, torch_features) < 1e-4
    assert relative(logits, torch_logits) < 1e-4


def test_missing_weights_offline_is_a_clear_error(tmp_path, monkeypatch):
    from jaxgan.errors import UserError

    def offline(*args, **kwargs):
        raise OSError('network unreachable')

    monkeypatch.setattr(inception.urllib.request, 'urlretrieve', offline)
    with pytest.raises(UserError, match='pass the file with --inception_weights'):
        inception.load_weights('', cache_dir=str(tmp_path))
    with pytest.raises(UserError, match='not found'):
        inception.load_weights(str(tmp_path / 'nope.npz'))


def _one_line_error(error: pytest.ExceptionInfo, path, *parts: str) -> str:
    message = str(error.value)
    assert '\n' not in message and str(path) in message, message
    for part in parts:
        assert part in message, message
    return message


@pytest.mark.parametrize('path', [TINY, TINY_LEGACY], ids=['zip', 'legacy'])
def test_reader_gives_what_pytorch_wrote(path):
    """tests/fixtures/make_tiny_pth.py wrote these with PyTorch; the values are recomputed with numpy."""
    state = pth.read_state_dict(path)
    want = fixture_values()
    assert list(state) == list(want)  # the names, in the file's order
    for name, value in want.items():
        got = state[name]
        if name == 'dtypes.bfloat16':
            assert got.dtype.name == 'bfloat16'
            got = got.astype(np.float32)
        assert got.dtype == value.dtype and got.shape == value.shape, (name, got.dtype, got.shape)
        np.testing.assert_array_equal(got, value, err_msg=name)
    # Two views of one storage come back as separate arrays: writing one leaves the other.
    state['views.whole'][:] = -1
    np.testing.assert_array_equal(state['views.slice'], [3, 5, 7])


def test_fixture_holds_strided_and_offset_views_of_shared_storages():
    """What makes the fixture worth reading: PyTorch stored the transposed tensor and the slice as views
    of storages laid out otherwise, not as copies, so the reader must apply offsets and strides."""
    with zipfile.ZipFile(TINY) as archive:
        storages = [archive.read(n) for n in archive.namelist() if n.startswith('tiny/data/')]
    assert len(storages) < len(fixture_values())  # views.slice has no storage of its own
    assert np.arange(12, dtype='<f8').tobytes() in storages  # transposed: its (3, 4) original, row-major
    assert np.arange(10, dtype='<i4').tobytes() in storages  # views.whole, whose elements 3, 5, 7 ...
    assert np.array([3, 5, 7], '<i4').tobytes() not in storages  # ... are views.slice


@pytest.mark.parametrize('path', [TINY, TINY_LEGACY], ids=['zip', 'legacy'])
def test_a_truncated_file_is_one_line_naming_it(tmp_path, path):
    data = open(path, 'rb').read()
    for cut in (len(data) // 2, len(data) - 5):
        damaged = tmp_path / f'cut_{cut}.pth'
        damaged.write_bytes(data[:cut])
        with pytest.raises(UserError) as error:
            pth.read_state_dict(str(damaged))
        _one_line_error(error, damaged, 'truncated')


def test_a_zip_that_is_not_a_pytorch_file(tmp_path):
    path = tmp_path / 'notes.pth'
    with zipfile.ZipFile(path, 'w') as archive:
        archive.writestr('notes/readme.txt', 'hello')
    with pytest.raises(UserError) as error:
        pth.read_state_dict(str(path))
    _one_line_error(error, path, 'is a zip archive but not a PyTorch file', 'no NAME/data.pkl')
    np.savez(tmp_path / 'arrays.npz', a=np.zeros(3))  # an .npz is a zip too
    with pytest.raises(UserError, match='is a zip archive but not a PyTorch file'):
        pth.read_state_dict(str(tmp_path / 'arrays.npz'))
    (tmp_path / 'text.pth').write_text('not a pickle at all\n')
    with pytest.raises(UserError) as error:
        pth.read_state_dict(str(tmp_path / 'text.pth'))
    _one_line_error(error, tmp_path / 'text.pth', 'not a PyTorch file')


class _RunsACommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


def test_names_outside_a_state_dict_are_refused_never_run(tmp_path):
    """A .pth is a pickle: one that would call os.system is refused by name, and nothing runs."""
    marker = tmp_path / 'ran'
    payload = pickle.dumps({'weight': _RunsACommand(marker)}, protocol=2)
    zipped = tmp_path / 'zip.pth'
    with zipfile.ZipFile(zipped, 'w') as archive:
        archive.writestr('zip/data.pkl', payload)
    legacy = tmp_path / 'legacy.pth'
    legacy.write_bytes(pickle.dumps(_RunsACommand(marker), protocol=2))
    for path in (zipped, legacy):
        with pytest.raises(UserError) as error:
            pth.read_state_dict(str(path))
        _one_line_error(error, path, f'refused to load {os.system.__module__}.system')
    assert not marker.exists()


def test_a_torch_file_of_other_tensors_is_not_the_inception_weights(tmp_path):
    with pytest.raises(UserError) as error:
        inception.load_weights(TINY)
    _one_line_error(error, TINY, "is not pytorch-fid's Inception weights", 'missing Conv2d_1a_3x3.bn.bias',
                    'unexpected dtypes.bfloat16')
    inception.save_npz({'params': {'conv': np.zeros(3)}}, str(tmp_path / 'other.npz'))
    with pytest.raises(UserError) as error:
        inception.load_weights(str(tmp_path / 'other.npz'))
    _one_line_error(error, tmp_path / 'other.npz', "is not Inception weights in jaxgan's .npz layout",
                    'unexpected params/conv')
    (tmp_path / 'broken.npz').write_bytes(b'PK\x03\x04 cut short')
    with pytest.raises(UserError) as error:
        inception.load_weights(str(tmp_path / 'broken.npz'))
    _one_line_error(error, tmp_path / 'broken.npz', 'is not a readable .npz')


def test_names_and_shapes_of_pytorch_fid_weights_are_checked():
    """The layout that `check_state_dict` expects is the network's: a state dict of it converts to
    exactly the Flax variables' names and shapes; a tensor of another shape is named."""
    state = {k: np.broadcast_to(np.float32(0), shape) for k, shape in inception.torch_shapes().items()}
    state['Mixed_5b.branch1x1.bn.num_batches_tracked'] = np.array(0, np.int64)  # in real files; ignored
    inception.check_state_dict(state, 'ok.pth')
    converted = inception._flatten(inception.from_torch_state_dict(state))
    assert {k: v.shape for k, v in converted.items()} == inception.variable_shapes()
    # 94 convolutions, each a weight and 4 BatchNorm tensors, and fc's weight and bias (the architecture):
    assert len(inception.torch_shapes()) == 94 * 5 + 2
    state['fc.weight'] = np.zeros((10, 2048), np.float32)
    with pytest.raises(UserError) as error:
        inception.check_state_dict(state, 'other.pth')
    _one_line_error(error, 'other.pth', 'fc.weight is 10x2048, expected 1008x2048')


def test_the_converter_refuses_bad_input_in_one_line_and_keeps_what_was_there(tmp_path, python_env):
    out = tmp_path / 'weights.npz'
    out.write_bytes(b'what was there')
    for source in (TINY, str(tmp_path / 'missing.pth')):
        result = run_cli(['-m', 'jaxgan.metrics.inception', f'--convert={source}', f'--out={out}'], python_env,
                         tmp_path)
        errors = [line for line in result.stderr.splitlines() if line.startswith('error:')]
        assert result.returncode == 2 and len(errors) == 1 and source in errors[0], result.stderr[-3000:]
        assert 'Traceback' not in result.stderr
    assert out.read_bytes() == b'what was there'
    assert sorted(os.listdir(tmp_path)) == ['weights.npz']


def _torch_state(torch) -> dict:
    g = torch.Generator().manual_seed(0)
    base = torch.randn(4, 5, 6, generator=g)
    ints = torch.randint(-1000, 1000, (50,), generator=g)
    return {
        'contiguous': torch.randn(3, 7, generator=g),
        'permuted': base.permute(2, 0, 1),
        'sliced': base[1:, ::2, 3:],
        'expanded': torch.randn(1, 5, generator=g).expand(4, 5),
        'ints.whole': ints,
        'ints.tail': ints[10:40:3],
        'double': torch.randn(2, 3, generator=g, dtype=torch.float64).t(),
        'half': torch.randn(8, generator=g).half(),
        'bfloat16': torch.randn(8, generator=g).bfloat16(),
        'bool': torch.randn(9, generator=g) > 0,
        'uint8': torch.randint(0, 256, (3, 3), generator=g, dtype=torch.uint8),
        'scalar': torch.tensor(2.5),
        'param': torch.nn.Parameter(torch.randn(2, 2, generator=g)),
    }


@pytest.mark.parametrize('zip_format', [True, False], ids=['zip', 'legacy'])
def test_reader_matches_torch_load_on_a_fresh_file(tmp_path, zip_format):
    torch = pytest.importorskip('torch')
    path = tmp_path / 'fresh.pth'
    torch.save(_torch_state(torch), path, _use_new_zipfile_serialization=zip_format)
    theirs = torch.load(path, weights_only=True)
    ours = pth.read_state_dict(str(path))
    assert list(ours) == list(theirs)
    for name, tensor in theirs.items():
        tensor = tensor.detach()
        if tensor.dtype == torch.bfloat16:
            assert ours[name].dtype.name == 'bfloat16'
            np.testing.assert_array_equal(ours[name].astype(np.float32), tensor.float().numpy(), err_msg=name)
        else:
            assert ours[name].dtype == tensor.numpy().dtype, name
            np.testing.assert_array_equal(ours[name], tensor.numpy(), err_msg=name)


def test_a_downloaded_pth_is_read_and_cached_as_npz(tmp_path, monkeypatch):
    """No weights given: pytorch-fid's file is downloaded once, read by jaxgan's reader and cached as an
    .npz that later calls read offline."""
    torch = pytest.importorskip('torch')
    sys.path.insert(0, os.path.join(REPO, 'benchmarks'))
    import torch_fid_inception as ref
    torch.save(ref.random_state_dict(1), tmp_path / 'served.pth')
    monkeypatch.setattr(inception.urllib.request, 'urlretrieve',
                        lambda url, to: shutil.copyfile(tmp_path / 'served.pth', to))
    cache = tmp_path / 'cache'
    first = inception.load_weights('', cache_dir=str(cache))
    assert sorted(os.listdir(cache)) == ['inception_fid.npz', os.path.basename(inception.FID_WEIGHTS_URL)]

    def offline(*args, **kwargs):
        raise OSError('network unreachable')

    monkeypatch.setattr(inception.urllib.request, 'urlretrieve', offline)
    second = inception.load_weights('', cache_dir=str(cache))
    direct = inception.from_torch_state_dict({k: v.numpy() for k, v in ref.random_state_dict(1).items()})
    for variables in (first, second):
        leaves = jax.tree.leaves(jax.tree.map(lambda a, b: np.array_equal(np.asarray(a), b), variables, direct))
        assert len(leaves) == 94 * 5 + 2 and all(leaves)


def test_fid_matches_pytorch_fid_on_shared_random_weights(tmp_path, monkeypatch):
    """jaxgan's FID of two halves of the embedded digits (upscaled to 32x32 RGB), read through its own
    .pth reader, against pytorch-fid's InceptionV3 and calculate_frechet_distance on the same weights."""
    torch = pytest.importorskip('torch')
    pytest.importorskip('pytorch_fid')
    from pytorch_fid import fid_score
    from pytorch_fid import inception as fid_inception
    from jaxgan import evaluation
    from jaxgan.core import parallel
    from jaxgan.data import sources, transforms
    from jaxgan.metrics import stats
    sys.path.insert(0, os.path.join(REPO, 'benchmarks'))
    import torch_fid_inception as ref
    state = ref.random_state_dict(0)
    torch.save(state, tmp_path / 'weights.pth')
    monkeypatch.setattr(fid_inception, 'load_state_dict_from_url', lambda *args, **kwargs: state)
    model = fid_inception.InceptionV3([fid_inception.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
    digits = sources.digits()
    images = np.stack([transforms.preprocess_image(digits[i], size=32, crop=0, channels=3) for i in range(96)])
    halves = images[:48], images[48:]

    def torch_moments(x):
        with torch.no_grad():
            features = model(torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255)[0][:, :, 0, 0].double().numpy()
        return features.mean(axis=0), np.cov(features, rowvar=False)

    theirs = fid_score.calculate_frechet_distance(*torch_moments(halves[0]), *torch_moments(halves[1]))
    net = evaluation.feature_net('inception', inception_weights=str(tmp_path / 'weights.pth'))
    extract = evaluation.Extractor(net, parallel.make_mesh(), keep=1)
    moments = [extract(iter([h[:24], h[24:]]))['moments'].mean_cov() for h in halves]
    ours = stats.frechet_distance(*moments[0], *moments[1])
    print(f'FID of two halves of 48 digits: jaxgan {ours:.6f}, pytorch-fid {theirs:.6f}, relative '
          f'difference {abs(ours - theirs) / abs(theirs):.2e}')
    assert theirs > 0 and abs(ours - theirs) / theirs < 1e-3
