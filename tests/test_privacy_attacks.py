"""Membership inference against synthetic tables (jaxgan.metrics.privacy_attacks) and --metrics=privacy."""

import json

import numpy as np
import pandas as pd
import pytest

from jaxgan.metrics import privacy_attacks

KINDS = {'a': 'continuous', 'b': 'continuous', 'c': 'categorical'}


def draw(rng, n):
    return pd.DataFrame({'a': rng.normal(size=n), 'b': rng.normal(size=n), 'c': rng.choice(['x', 'y', 'z'], n)})


def test_the_advantage_is_the_best_tpr_minus_fpr_by_hand():
    # Scores (higher: member) 0.9 m, 0.8 n, 0.7 m, 0.6 m, 0.2 n, 0.1 n: at t = 0.6, TPR 3/3 and FPR 1/3, the
    # best of the thresholds (0.9: 1/3 - 0; 0.8: 1/3 - 1/3; 0.7: 2/3 - 1/3; 0.2: 1 - 2/3); AUC: of the 9
    # member/non-member pairs the member is above in 7 (0.9 over all three, 0.7 and 0.6 over 0.2 and 0.1).
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.2, 0.1])
    member = np.array([1, 0, 1, 1, 0, 0], bool)
    advantage, auc = privacy_attacks.advantage(scores, member)
    assert advantage == pytest.approx(2 / 3) and auc == pytest.approx(7 / 9)
    # A tie between a member and a non-member is one threshold: it counts one half in the AUC.
    advantage, auc = privacy_attacks.advantage(np.array([1.0, 1.0, 0.0]), np.array([1, 0, 0], bool))
    assert advantage == pytest.approx(0.5) and auc == pytest.approx(0.75)


def test_the_advantage_and_auc_agree_with_sklearn_with_ties():
    from sklearn.metrics import roc_auc_score, roc_curve
    rng = np.random.default_rng(1)
    for _ in range(20):
        scores, member = rng.integers(0, 4, 30).astype(float), rng.random(30) < 0.5
        fpr, tpr, _ = roc_curve(member, scores)
        advantage, auc = privacy_attacks.advantage(scores, member)
        assert advantage == pytest.approx(np.max(tpr - fpr)) and auc == pytest.approx(roc_auc_score(member, scores))


def test_copies_of_the_training_rows_are_found_and_fresh_rows_are_not():
    rng = np.random.default_rng(0)
    train, holdout, fresh = draw(rng, 200), draw(rng, 100), draw(rng, 200)
    copied = privacy_attacks.report(train, train, holdout, KINDS, seed=0)
    attack = copied['attacks']['distance']
    assert attack['members'] == attack['non_members'] == 100
    assert attack['advantage'] == 1.0 and attack['auc'] == 1.0 and attack['p_value'] < 0.01
    assert copied['summary']['exact_copies'] == 1.0 and copied['summary']['dcr_ratio'] == 0.0
    independent = privacy_attacks.report(train, fresh, holdout, KINDS, seed=0)
    for name in ('distance', 'calibrated'):
        attack = independent['attacks'][name]
        assert abs(attack['auc'] - 0.5) < 2.5 * attack['auc_std'], (name, attack)
        assert attack['advantage'] < attack['chance_advantage_95'] and attack['p_value'] > 0.05, (name, attack)
    assert 0.02 < independent['summary']['mia_chance_advantage_95'] < 0.3
    json.dumps(independent)  # JSON-ready


def test_too_few_holdout_rows_are_refused():
    from jaxgan.errors import UserError
    rng = np.random.default_rng(0)
    with pytest.raises(UserError, match=r'^3 holdout and 50 training rows: a membership attack needs at least 5'):
        privacy_attacks.membership_attack(draw(rng, 50), draw(rng, 50), draw(rng, 3), KINDS, seed=0)


@pytest.fixture(scope='module')
def ctgan_run(tmp_path_factory):
    """A tiny CTGAN on table:diabetes, 2 steps of one critic update, a fifth of the rows held out."""
    from jaxgan import train
    from tests.test_tabular import tiny_ctgan
    root = tmp_path_factory.mktemp('privacy')
    train.train(tiny_ctgan(root, num_steps=2, holdout=0.2, n_critic=1, max_modes=3,
                               mixture_iterations=50), str(root / 'run'))
    return root / 'run'


def test_evaluate_privacy_on_a_ctgan_run_writes_the_attack_report(ctgan_run, python_env, tmp_path):
    from tests.conftest import run_cli
    done = run_cli(['-m', 'jaxgan.evaluate', f'--workdir={ctgan_run}', '--metrics=privacy'], python_env, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    printed = json.loads(done.stdout.splitlines()[-1])
    written = json.loads((ctgan_run / 'eval' / 'step_00000002_privacy.json').read_text())
    assert printed == written['metrics'] and not (ctgan_run / 'eval' / 'step_00000002.json').exists()
    attack = written['privacy']['attacks']['distance']
    # table:diabetes: 442 rows, 88 held out, so 88 members against 88 non-members.
    assert attack['members'] == attack['non_members'] == written['protocol']['holdout_rows'] == 88
    assert 0.0 <= attack['advantage'] <= 1.0 and written['metrics']['mia_auc'] == attack['auc']
    assert written['privacy']['dcr']['exact_copies'] == written['metrics']['exact_copies']


def _flags(workdir, metrics):
    import types
    return types.SimpleNamespace(workdir=str(workdir), metrics=metrics, step=None, member=None, target='',
                                 num_samples=100, seed=0, ema=True, modes=None)


def test_evaluate_privacy_refuses_a_run_without_holdout_and_mixed_metrics(ctgan_run, monkeypatch):
    """The run's config read back with config.table.holdout=0, as a run trained without a holdout has it."""
    from jaxgan import checkpoint, evaluate
    from jaxgan.errors import UserError
    with pytest.raises(UserError, match=r'^--metrics=privacy,fid: table and privacy are measured on their own'):
        evaluate._table(_flags(ctgan_run, 'privacy,fid'), ('privacy', 'fid'))
    load = checkpoint.load_run

    def without_holdout(*args, **kwargs):
        config, gan, state = load(*args, **kwargs)
        config.unlock()
        config.table.holdout = 0.0
        return config, gan, state

    before = sorted(p.name for p in ctgan_run.rglob('*'))
    with monkeypatch.context() as patched:
        patched.setattr(checkpoint, 'load_run', without_holdout)
        with pytest.raises(UserError, match=r'^--metrics=privacy: the run kept no holdout rows '
                           r'\(config.table.holdout=0\), .* train again with --config.table.holdout=0.2$'):
            evaluate._table(_flags(ctgan_run, 'privacy'), ('privacy',))
    # A table that is not the one trained on: its holdout, drawn again by the seed, may hold training rows.
    from jaxgan.data import fingerprint, pipeline
    monkeypatch.setattr(pipeline, 'table_fingerprint', lambda name: fingerprint.of_name('table:breast_cancer'))
    with pytest.raises(UserError, match=r'^--metrics=privacy: table:diabetes: the data changed since the checkpoint '
                       r'was written .*: its holdout rows may have been trained on'):
        evaluate._table(_flags(ctgan_run, 'privacy'), ('privacy',))
    assert sorted(p.name for p in ctgan_run.rglob('*')) == before
