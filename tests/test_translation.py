"""Image-to-image translation games (jaxgan.translation) in the step machinery."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import train
from jaxgan.core import parallel
from jaxgan.core.terms import pool_query
from jaxgan.errors import UserError
from tests.conftest import tiny_config


def official_pool(pool: list, size: int, images, u, slot):
    """pytorch-CycleGAN-and-pix2pix's ImagePool.query, with its random draws given."""
    out = []
    for image, u_i, slot_i in zip(images, u, slot):
        if len(pool) < size:
            pool.append(image)
            out.append(image)
        elif u_i > 0.5:
            out.append(pool[slot_i])
            pool[slot_i] = image
        else:
            out.append(image)
    return out


def test_the_image_history_answers_as_the_reference_code():
    rng = np.random.default_rng(0)
    size, state, pool = 4, {'images': jnp.zeros((4, 2)), 'count': jnp.zeros((), jnp.int32)}, []
    for _ in range(5):  # batches of 3: the pool fills in the second, then swaps
        images, u, slot = rng.normal(size=(3, 2)), rng.uniform(size=3), rng.integers(0, size, 3)
        out, state = pool_query(state, jnp.asarray(images, jnp.float32), jnp.asarray(u), jnp.asarray(slot))
        expected = official_pool(pool, size, list(images), u, slot)
        np.testing.assert_allclose(out, np.stack(expected), rtol=1e-6)
        np.testing.assert_allclose(state['images'][:len(pool)], np.stack(pool), rtol=1e-6)
    assert int(state['count']) == size


CYCLEGAN = dict(model__name='cyclegan', dataset='demo:digits_colour', image_size=16, batch_size=8,
                translation__g_blocks=1, translation__pool=6, translation__patch=16, model__g_width=4, model__d_width=4,
                ema__decay=0.0)


@pytest.mark.slow  # three compilations; `make test-slow` (the history is checked against the reference above)
def test_cyclegan_resumes_exactly_with_its_image_history(tmp_path):
    straight = train.train(tiny_config(num_steps=2, checkpoint_every=1, **CYCLEGAN), str(tmp_path / 'a')).state
    train.train(tiny_config(num_steps=1, checkpoint_every=1, **CYCLEGAN), str(tmp_path / 'b'))
    resumed = train.train(tiny_config(num_steps=2, checkpoint_every=1, **CYCLEGAN), str(tmp_path / 'b')).state
    assert int(straight.terms['pool_a']['count']) == 6  # 2 steps of 8 images, 6 kept
    for x, y in zip(jax.tree.leaves(parallel.to_host(straight)), jax.tree.leaves(parallel.to_host(resumed))):
        assert np.array_equal(x, y)


@pytest.mark.parametrize('overrides, message', [
    (dict(model__name='pix2pix'), 'pix2pix translates between two domains: config.dataset=digits holds single'),
    (dict(model__name='pix2pix', dataset='demo:digits_colour'), 'pix2pix learns from aligned pairs'),
    (dict(dataset='demo:edges2digits'), 'holds image pairs or two domains: train them with config.model.name=pix2pix'),
    (dict(model__name='cyclegan', dataset='demo:digits_colour', eval__every=2), 'periodic evaluation of translation'),
])
def test_translation_refuses_data_it_cannot_train_on(tmp_path, overrides, message):
    with pytest.raises(UserError, match=message):
        train.train(tiny_config(**overrides), str(tmp_path))
