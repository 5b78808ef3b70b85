"""The DP bounds estimate of numerical columns declared without a range (jaxgan.data.dp_bounds), its
accounting in the plan (jaxgan.privacy), and the embedded tables' public schemas (docs/privacy.md)."""

import json

import numpy as np
import pandas as pd
import pytest

from jaxgan import privacy, sample, train
from jaxgan.data import dp_bounds, table_privacy, tables
from jaxgan.errors import UserError
from tests.test_privacy import private_ctgan


def test_the_estimate_covers_the_rows_in_powers_of_two_and_keeps_empty_bins_out():
    rng = np.random.default_rng(0)
    ages = rng.normal(48, 4, 2000)  # in (32, 64], 4 standard deviations from its edges
    spread = rng.uniform(-3, 5, 2000)  # lowest bin [-4, -2), highest (4, 8]
    for draw in range(20):  # the noise (std 5, a threshold of 22 rows) moves neither: one bin of margin each side
        found = dp_bounds.estimate({'age': ages, 'x': spread, 'gap': np.r_[ages, np.full(5, np.nan)]}, 5.0,
                                   np.random.default_rng(draw))
        assert found == {'age': (16.0, 128.0), 'x': (-8.0, 16.0), 'gap': (16.0, 128.0)}  # missing cells left out
    assert dp_bounds.threshold(1.0) == pytest.approx(4.31, abs=0.01)  # 121 bins that may be empty, SUCCESS 0.999
    # Noise alone (no row at all): a bin passes in about 1 draw in 1000 (SUCCESS).
    noise = np.random.default_rng(1).normal(0, 1, (4000, 2 * dp_bounds.N))
    assert (noise >= dp_bounds.threshold(1.0)).any(axis=1).mean() < 0.004
    for column, std in [(np.full(10, np.nan), 1.0), (np.full(10, 7.0), 10.0)]:  # empty; far fewer rows than 43
        with pytest.raises(UserError, match=r"^config.privacy.bounds: column 'c': no bin of its DP bounds estimate "
                                            r'holds more than the threshold'):
            dp_bounds.estimate({'c': column}, std, np.random.default_rng(0))


def test_the_estimate_is_drawn_with_the_runs_secret():
    # 43 rows in (1, 2], at the threshold of noise std 10: whether that bin passes is the noise's coin.
    train_rows = pd.DataFrame({'a': np.r_[np.full(43, 1.5), np.full(300, 3.0)]})
    c = private_ctgan(privacy__bounds='a', privacy__bounds_share=0.1)
    schema = table_privacy.Schema.of(c, 'csv:x', ['a'])
    kinds = schema.kinds(['a'])
    assert schema.bounds == {'a': None} and kinds == {'a': 'continuous'}
    low = lambda secret, seed=0: table_privacy.estimate_bounds(train_rows, schema, kinds, noise_std=10.0, seed=seed,
                                                               secret=secret).bounds['a'][0]
    assert [low(s) for s in range(1, 9)] == [low(s) for s in range(1, 9)]  # the same secret, the same estimate
    assert {low(s) for s in range(1, 9)} == {0.5, 1.0}  # another secret, another draw


def test_the_estimate_spends_its_share_in_the_plans_accountant_and_bad_shares_are_refused():
    plain = privacy.Plan.of(private_ctgan(), rows=354, histograms=1)
    c = private_ctgan(privacy__bounds='age;bmi', privacy__bounds_share=0.1)
    plan = privacy.Plan.of(c, rows=354, histograms=1)
    assert plan.estimated == ('age', 'bmi') and plain.bounds_noise is None
    assert plan.bounds_std == pytest.approx(plan.bounds_noise * 2)  # sensitivity sqrt(2 k), k = 2
    # Alone, the estimate spends its share; composed, it adds to the rest; DP-SGD gets more noise to stay within.
    assert privacy.epsilon_of(354, 80, 1.0, 0, None, 1e-5, plan.bounds_noise) == pytest.approx(0.3, rel=0.01)
    updates = plan.num_steps * plan.updates_per_step
    without = privacy.epsilon_of(354, 80, plan.sigma, updates, plan.count_noise, 1e-5)
    assert without + 0.02 < plan.spent(plan.num_steps) <= 3.0  # RDP composes sub-additively: 2.97 -> 3.00
    assert plan.sigma > plain.sigma
    for fields, message in [
            ({'privacy__bounds_share': 1.0}, r'^config.privacy.bounds_share=1.0 must be in \[0, 1\)'),
            ({'privacy__bounds_share': -0.1}, r'^config.privacy.bounds_share=-0.1 must be in'),
            ({'privacy__bounds_share': 0.1}, r'^config.privacy.bounds_share=0.1: no numerical column to estimate'),
            ({'privacy__bounds': 'age', 'privacy__bounds_share': 0.7}, r'^config.privacy.frequency_share \+ '
                                                                       r'bounds_share = 1 leaves no budget'),
            ({'privacy__bounds': 'age;bmi=10:70'}, r"^config.privacy.bounds: column 'age' has no range: declare it")]:
        with pytest.raises(UserError, match=message):
            privacy.validate(private_ctgan(**fields))
    assert privacy.parse_bounds('age; bmi=10:70') == {'age': None, 'bmi': (10.0, 70.0)}


def test_a_private_run_estimates_publishes_and_resumes_only_with_the_same_estimate(tmp_path):
    config = private_ctgan(privacy__bounds='age', privacy__bounds_share=0.1)  # the other columns: the public schema
    trained = train.train(config, str(tmp_path / 'run'))
    plan = trained.gan.privacy
    age = next(info for info in trained.gan.transform.columns if info.name == 'age')
    assert plan.estimate == ((age.minimum, age.maximum),) and age.dtype == 'int64'  # still an integer
    low, high = plan.estimate[0]
    assert low <= 19 and high >= 79 and np.log2(low) % 1 == 0 and np.log2(high) % 1 == 0  # the ages, powers of 2
    sidecar = json.load(open(sample.write_privacy(trained.gan, 4, str(tmp_path / 'rows.csv'))))
    assert sidecar['differential_privacy']['estimated_bounds'] == {'age': [low, high]}
    from jaxgan.checkpoint import Checkpoints
    checkpoints = Checkpoints(str(tmp_path / 'run'), read_only=True)
    record = checkpoints.read_meta(4)['privacy']
    checkpoints.close()
    train.train(config, str(tmp_path / 'run'))  # the same start estimates the same: resumed
    with pytest.raises(UserError, match=r'^config.privacy: the checkpoint at step 4 was trained on the estimated '
                                        rf'bounds age={low:g}:{high:g}; this start estimates age=0:{high:g} '):
        plan.with_estimate({'age': (0.0, high)}).check_resume(record, 4)
    with pytest.raises(UserError, match=r'^config.privacy: the checkpoint at step 4 spent epsilon'):  # other noise
        plan.check_resume({**record, 'bounds_noise_multiplier': 2 * plan.bounds_noise}, 4)
    with pytest.raises(UserError, match=r"^config.privacy.bounds: column 'age': no bin of its DP bounds estimate"):
        train.train(private_ctgan(privacy__bounds='age', privacy__bounds_share=0.007), str(tmp_path / 'tiny'))
    assert not (tmp_path / 'tiny' / 'checkpoints').exists() and not (tmp_path / 'tiny' / 'config.json').exists()


def test_breast_cancer_has_no_public_ranges_so_a_private_run_declares_them(tmp_path):
    """Its documented Min and Max are its rows' own: not a public schema. The run says so before writing."""
    assert 'bounds' not in table_privacy.PUBLIC_SCHEMA['table:breast_cancer']
    with pytest.raises(UserError, match=r"^config.privacy: columns 'mean radius', 'mean texture', .* declared "
                                        r"neither numerical \(config.privacy.bounds"):
        train.train(private_ctgan(dataset='table:breast_cancer'), str(tmp_path / 'run'))
    assert not (tmp_path / 'run' / 'config.json').exists()
    # and the estimate finds no bin for a feature near 0 spread over many powers of 2 (455 training rows; the
    # noise of epsilon 3 with a fifth spent on the 30 columns' bounds)
    concavity = tables.read_table('table:breast_cancer')['mean concavity'].to_numpy()[:455]
    with pytest.raises(UserError, match=r"column 'mean concavity': no bin of its DP bounds estimate"):
        dp_bounds.estimate({'mean concavity': concavity}, 50.7, np.random.default_rng(0))


def test_a_share_below_what_any_gaussian_release_spends_is_refused_in_one_line():
    """At delta 1e-5 a Gaussian release spends at least about 0.0195 in the RDP accountant, whatever its noise."""
    with pytest.raises(UserError, match=r'^config.privacy.bounds_share=0.005: 0.005 x epsilon 3 is less than the '
                                        r'0.0195 any Gaussian release spends at delta 1e-05'):
        privacy.calibrate(3.0, 1e-5, 354, 64, 100, 0.3, 0.005)
    assert privacy.calibrate(3.0, 1e-5, 354, 64, 100, 0.3, 0.01)[2] < privacy.GAUSSIAN_CAP  # 0.03 is above it
