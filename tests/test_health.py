import logging

import jax.numpy as jnp
import numpy as np

from jaxgan import monitor
from jaxgan.core import health
from tests.conftest import tiny_config


def test_mean_pairwise_distance():
    points = jnp.array([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]])
    # Pairs: 5, 0, 5 (each counted twice): mean 10/3.
    np.testing.assert_allclose(health.mean_pairwise_distance(points), 10 / 3, rtol=1e-6)
    assert float(health.mean_pairwise_distance(jnp.ones((8, 4, 4, 3)))) < 1e-3  # one output: collapse


def test_nonfinite_mask_names_the_quantities():
    names = health.nonfinite_names(('d', 'g'))
    assert names == ('d_loss', 'g_loss', 'd_grads', 'g_grads')
    mask = health.nonfinite_mask(names, d_loss=jnp.array(1.0), g_loss=jnp.array(jnp.nan),
                                 g_grads=jnp.array(jnp.inf))
    assert int(mask) == 2 | 8
    assert health.describe_nonfinite(int(mask), names) == 'g_loss, g_grads'
    assert bool(health.all_finite({'a': jnp.ones(3), 'n': jnp.zeros((), jnp.int32)}))
    assert not bool(health.all_finite({'a': jnp.array([1.0, jnp.nan])}))


def test_collapse_warning_in_the_log(caplog):
    trainer = monitor.Trainer(tiny_config(), None, None, writer=_NullWriter(), start=0)
    metrics = {'d_loss': 0.5, 'g_loss': 2.0, 'fake_diversity': 0.02, 'nonfinite': 0, 'nonfinite_skips': 0}
    with caplog.at_level(logging.WARNING):
        trainer.report(monitor.Dispatched(9, 10, metrics))
    assert 'fake_diversity 0.02: the generator may have collapsed' in caplog.text
    caplog.clear()
    trainer.report(monitor.Dispatched(10, 11, {**metrics, 'fake_diversity': 0.8}))
    assert 'collapsed' not in caplog.text


class _NullWriter:
    def scalars(self, step, scalars, member=None):
        pass
