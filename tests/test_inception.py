"""The Flax FID InceptionV3 against an independent PyTorch implementation, on shared random weights."""

import os
import sys

import jax
import numpy as np
import pytest

from jaxgan.metrics import inception
from tests.conftest import REPO


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
