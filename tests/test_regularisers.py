"""Augmentation and the small-data regularisers inside the train step (issue: training on a hundred images)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import data, train
from jaxgan.core.game import Nets, View
from jaxgan.core.parallel import DATA
from jaxgan.core.state import init_state
from jaxgan.errors import UserError
from jaxgan.families.gan import build_gan
from tests.conftest import tiny_config


def _d_real(config):
    """D's logits on a real batch through the game's quantity, and on the batch as it is."""
    gan = build_gan(config, data.load(config).spec)
    state = init_state(gan.game, 0)
    x = gan.spec.model_input(jnp.asarray(data.load(config).examples(np.arange(8), None)))
    noise = jax.tree.map(lambda a: a[0], gan.game.noise(jax.random.key(1), 1, 8))
    def logits():
        nets = Nets(gan.game, state.params, state.model_state, None)
        v = View(gan.game, nets, {'x': x}, {}, noise, jnp.asarray(0), {}, state.terms)
        return v['d_real']['logits'], nets('D', x, update=False)['logits']
    seen, plain = jax.vmap(lambda _: logits(), axis_name=DATA)(jnp.zeros(1))
    return np.asarray(seen[0]), np.asarray(plain[0])


@pytest.mark.parametrize('kind, extra', [('none', {}), ('diffaugment', {}), pytest.param('fixed', {'augment__p': 1.0}, marks=pytest.mark.slow)])
def test_d_sees_augmented_images_exactly_when_asked(kind, extra):
    seen, plain = _d_real(tiny_config(augment__kind=kind, **extra))
    if kind == 'none':
        np.testing.assert_array_equal(seen, plain)
    else:
        assert np.abs(seen - plain).max() > 1e-4


def test_training_with_diffaugment_and_every_regulariser(tmp_path):
    config = tiny_config(num_steps=2, augment__kind='diffaugment', model__d_norm='layer', penalties__lecam=0.3,
                         penalties__bcr=10.0, penalties__zcr=5.0, penalties__zcr_g=0.5, penalties__r2=1.0)
    state = train.train(config, str(tmp_path)).state
    row = [json.loads(line) for line in open(tmp_path / 'metrics.jsonl')][-1]
    for name in ('lecam', 'bcr_real', 'bcr_fake', 'zcr', 'zcr_g', 'r2'):
        assert np.isfinite(row[name]) and row[name] != 0.0, name
    assert int(state.terms['lecam']['count']) == 2  # LeCam's averages moved at each D update


def test_ada_moves_p_in_the_run_state_and_weight_clipping_bounds_d(tmp_path):
    # An adjustment of 16 images per 1 image of kimg moves p by 16: from 0.5 it lands on 0 or 1.
    config = tiny_config(num_steps=3, augment__kind='ada', augment__p=0.5, augment__interval=1,
                         augment__kimg=0.001, loss='wasserstein', d_optimizer__weight_clip=0.01,
                         d_optimizer__name='rmsprop', d_optimizer__learning_rate=5e-5)
    state = train.train(config, str(tmp_path)).state
    assert float(state.terms['ada'].p) in (0.0, 1.0)
    row = [json.loads(line) for line in open(tmp_path / 'metrics.jsonl')][-1]
    assert row['augment_p'] in (0.0, 1.0)
    assert all(np.abs(np.asarray(leaf)).max() <= 0.01 + 1e-7 for leaf in jax.tree.leaves(state.params['D']))
    assert max(np.abs(np.asarray(leaf)).max() for leaf in jax.tree.leaves(state.params['G'])) > 0.01


@pytest.mark.parametrize('overrides, message', [
    (dict(dataset='toy:ring8', model__name='mlp', augment__kind='diffaugment'), 'transform images; toy:ring8 holds vectors'),
    (dict(augment__kind='ada', loss='least_squares'), 'config.augment.kind=ada adapts p from the sign'),
    (dict(augment__kind='flips'), "unknown augmentation 'flips'|config.augment.kind='flips' is not one of"),
    (dict(augment__kind='fixed', augment__p=1.5), r'must be a probability in \[0, 1\]'),
])
def test_augmentation_errors(tmp_path, overrides, message):
    with pytest.raises(UserError, match=message):
        train.train(tiny_config(**overrides), str(tmp_path))
