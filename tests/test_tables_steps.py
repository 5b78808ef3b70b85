"""How many steps a table run trains (config.table.epochs, config.table.min_steps): the count alone, no
training."""

import json
import logging

import pytest

from experiments import ctgan
from jaxgan import config as config_lib
from jaxgan.errors import UserError
from jaxgan.families import tables as tabular

DIABETES_ROWS = 354  # table:diabetes' training rows at holdout 0.2, seed 0


def test_an_epoch_is_ctgans_count_of_steps_raised_to_the_minimum():
    assert tabular.planned_steps(300, 354, 500) == (300, 300)  # one step an epoch below 2 batches of rows
    assert tabular.planned_steps(300, 354, 500, 2000) == (300, 2000)
    assert tabular.planned_steps(300, 1600, 500, 900) == (900, 900)  # already there: unchanged
    assert tabular.planned_steps(300, 1600, 500, 1000) == (900, 1000)
    assert tabular.planned_steps(10, 1600, 100, 0) == (160, 160)


def test_experiments_ctgan_raises_a_small_table_to_its_minimum_and_says_so(caplog):
    config = ctgan.get_config()
    assert config.table.min_steps == ctgan.MIN_STEPS > 300 and config_lib.base_config().table.min_steps == 0
    with caplog.at_level(logging.INFO):
        raised = ctgan.with_epochs(config)
    assert raised.num_steps == ctgan.MIN_STEPS
    lines = [r.getMessage() for r in caplog.records if 'min_steps' in r.getMessage()]
    assert lines == [f'table: 300 epochs of {DIABETES_ROWS} training rows at batch 500 are 300 steps; raised to '
                     f'config.table.min_steps={ctgan.MIN_STEPS}']
    config.table.min_steps = 0  # off: the package's count
    assert ctgan.with_epochs(config).num_steps == 300


def test_a_private_run_is_not_raised_and_its_plan_has_the_steps_it_trains():
    from jaxgan import privacy
    config = ctgan.get_config()
    config.privacy.epsilon, config.privacy.delta = 3.0, 1e-5
    private = ctgan.with_epochs(config)
    epochs = ctgan.PRIVATE_DEFAULTS['table.epochs']
    assert private.num_steps == epochs * max(DIABETES_ROWS // private.batch_size, 1) < ctgan.MIN_STEPS
    plan = privacy.Plan.of(private, rows=DIABETES_ROWS, histograms=1)
    assert plan.num_steps == private.num_steps


def _saved_run(workdir, min_steps=None, correlation=None):
    """A workdir as a run leaves it: a checkpoint and config.json (a field None is left out: a run saved
    before it)."""
    saved = ctgan.get_config().to_dict()
    for field, value in (('min_steps', min_steps), ('correlation', correlation)):
        if value is None:
            del saved['table'][field]
        else:
            saved['table'][field] = value
    (workdir / 'checkpoints' / '300').mkdir(parents=True)
    (workdir / 'config.json').write_text(json.dumps({'config': saved}))


def test_a_resumed_run_keeps_the_steps_it_was_planned_with(tmp_path):
    config = ctgan.get_config()
    fresh = tmp_path / 'fresh'
    assert ctgan.resumed_defaults(config, str(fresh)) is config  # nothing to resume
    _saved_run(tmp_path / 'old')  # trained before the field: 300 epochs were 300 steps, and stay so
    resumed = ctgan.resumed_defaults(config, str(tmp_path / 'old'))
    assert resumed.table.min_steps == 0 and ctgan.with_epochs(resumed).num_steps == 300
    assert config.table.min_steps == ctgan.MIN_STEPS  # a copy
    # the command line's value wins (kept), as does the saved one of a run with the field
    assert ctgan.resumed_defaults(config, str(tmp_path / 'old'), kept={'table.min_steps'}).table.min_steps == ctgan.MIN_STEPS
    _saved_run(tmp_path / 'new', min_steps=700)
    assert ctgan.with_epochs(ctgan.resumed_defaults(config, str(tmp_path / 'new'))).num_steps == 700


def test_a_resumed_run_keeps_the_generator_loss_it_was_trained_with(tmp_path):
    """A run saved before G's correlation loss resumes without it (the base config's 0), unless asked."""
    config = ctgan.get_config()
    assert config.table.correlation == ctgan.CORRELATION > 0
    _saved_run(tmp_path / 'old', correlation=None)
    assert ctgan.resumed_defaults(config, str(tmp_path / 'old')).table.correlation == 0
    assert ctgan.resumed_defaults(config, str(tmp_path / 'old'), kept={'table.correlation'}).table.correlation == \
        ctgan.CORRELATION
    _saved_run(tmp_path / 'new', min_steps=ctgan.MIN_STEPS, correlation=ctgan.CORRELATION)
    assert ctgan.resumed_defaults(config, str(tmp_path / 'new')) is config  # nothing changed since


def test_a_bad_minimum_is_one_line():
    config = ctgan.get_config()
    config.table.min_steps = -1
    with pytest.raises(UserError, match=r'^config.table.min_steps=-1 must be an integer >= 0$'):
        config_lib.validate(config, num_devices=1)
