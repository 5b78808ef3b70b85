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
    trainer = monitor.Trainer(tiny_config(collapse_window=2), None, None, writer=_NullWriter(), start=0)
    metrics = {'d_loss': 0.5, 'g_loss': 2.0, 'fake_diversity': 0.02, 'nonfinite': np.zeros(1, np.int32),
               'nonfinite_skips': np.zeros(1, np.int32)}
    with caplog.at_level(logging.WARNING):
        trainer.check(monitor.Dispatched(8, 9, metrics))
        assert 'collapsed' not in caplog.text  # one low reading is no collapse
        trainer.check(monitor.Dispatched(9, 10, metrics))
    assert 'step 10: the generator collapsed: fake_diversity 0.02 under 0.1' in caplog.text
    assert 'since step 8 (config.collapse_window=2)' in caplog.text and 'spectral normalisation' in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        trainer.check(monitor.Dispatched(10, 11, metrics))  # the same collapse: said once
    assert 'collapsed' not in caplog.text
    with caplog.at_level(logging.INFO):
        trainer.check(monitor.Dispatched(11, 12, {**metrics, 'fake_diversity': 0.8}))
    assert 'the collapse is over' in caplog.text


def test_collapse_watch_needs_a_window_of_low_readings():
    watch = health.CollapseWatch(threshold=0.1, window=100)
    assert watch.update(0, 50, 0.05) is None and watch.update(50, 75, 0.5) is None  # a noisy batch, then fine
    assert [watch.update(a, a + 25, 0.05) for a in (75, 100, 125)] == [None, None, None]  # 75 steps low
    assert watch.update(150, 175, 0.05) == 'onset' and watch.collapsed
    assert watch.update(175, 200, 0.05) is None  # one onset
    assert watch.update(200, 225, float('nan')) is None and watch.collapsed  # a non-finite step says nothing
    assert watch.update(225, 250, 0.2) == 'recovered' and not watch.collapsed


class _NullWriter:
    def scalars(self, step, scalars, member=None):
        pass
