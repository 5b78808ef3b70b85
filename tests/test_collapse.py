"""config.on_collapse: a collapsed run stopped after saving, a collapsed ensemble member frozen."""

import json
import os

import jax
import numpy as np
import pytest

from jaxgan import monitor, train
from tests.conftest import tiny_config


def test_stop_saves_and_stops_with_one_line(tmp_path, caplog):
    # A threshold no generator is under: every reading is low, so G "collapses" after the window.
    config = tiny_config(num_steps=8, collapse_diversity=1e9, collapse_window=2, on_collapse='stop',
                         checkpoint_every=100)
    with pytest.raises(monitor.CollapseError, match=r'collapsed by step 2 .*config.on_collapse=stop\): stopped; '
                                                     r'the checkpoint of step 3'):
        train.train(config, str(tmp_path))
    assert sorted(os.listdir(tmp_path / 'checkpoints')) == ['3']  # saved where it stopped
    rows = [json.loads(line) for line in open(tmp_path / 'metrics.jsonl')]
    assert rows[0]['step'] == 2 and rows[0]['collapsed'] == 1.0 and 'fake_diversity' in rows[0]
    assert caplog.text.count('the generator collapsed') == 1


def test_freeze_keeps_a_collapsed_member_and_trains_the_other(tmp_path, monkeypatch):
    monkeypatch.setattr(monitor, 'diversities', lambda metrics, size: np.array([0.0, 1.0]))  # member 0 collapses
    config = tiny_config(num_steps=6, collapse_window=1, on_collapse='freeze', sample_every=2, log_every=100,
                         ensemble__size=2)
    seen = {}

    def keep(gan, state, step, prefix):
        seen[(prefix, step)] = jax.tree.map(np.asarray, state.params)

    trained = train.train(config, str(tmp_path), callbacks=[keep])
    same = lambda a, b: all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
    # Collapsed when step 1 was read, frozen from the state in flight then (step 2) on.
    assert same(seen[('member_0_', 2)], seen[('member_0_', 6)])
    assert not same(seen[('member_1_', 2)], seen[('member_1_', 6)])
    assert int(trained.state.step[0]) == 6


def test_collapse_fields_are_checked():
    from jaxgan import config as config_lib
    from jaxgan.errors import UserError
    with pytest.raises(UserError, match=r"config.on_collapse='halt' is not one of"):
        config_lib.validate(tiny_config(on_collapse="halt"), num_devices=1)
    with pytest.raises(UserError, match=r'config.collapse_window=0 must be an integer >= 1'):
        config_lib.validate(tiny_config(collapse_window=0), num_devices=1)
