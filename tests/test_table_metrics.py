"""Metrics of synthetic tables (jaxgan.metrics.table), each against a case with a known answer."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import stats

from jaxgan.errors import UserError
from jaxgan.metrics import table

KINDS = {'x': 'continuous', 'y': 'continuous', 'n': 'integer', 'colour': 'categorical', 'flag': 'boolean'}


def _table(rows: int, seed: int) -> pd.DataFrame:
    """Associated columns: y follows x, n and colour follow x's sign, flag follows colour."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(rows)
    colour = np.where(x > 0, 'red', np.where(rng.random(rows) < 0.5, 'green', 'blue'))
    return pd.DataFrame({'x': x, 'y': 2 * x + 0.3 * rng.standard_normal(rows),
                         'n': (x > 0).astype(int) * 5 + rng.integers(0, 2, rows),
                         'colour': colour, 'flag': (colour == 'red') ^ (rng.random(rows) < 0.1)})


def _shuffled(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Each column permuted on its own: the marginals kept exactly, the associations destroyed."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: df[c].to_numpy()[rng.permutation(len(df))] for c in df.columns})


def test_identical_tables_match_exactly():
    df = _table(300, 0)
    fidelity = table.column_fidelity(df, df.copy(), KINDS)
    assert {c: f['metric'] for c, f in fidelity.items()} == {'x': 'ks', 'y': 'ks', 'n': 'ks', 'colour': 'tvd',
                                                             'flag': 'tvd'}
    assert all(f['value'] == 0.0 and f['score'] == 1.0 for f in fidelity.values())
    difference = table.association_difference(df, df.copy(), KINDS)
    assert difference['mean_abs_difference'] == 0.0 and difference['max_abs_difference'] == 0.0
    assert len(difference['pairs']) == 10 and difference['pairs']['x|colour']['measure'] == 'eta'
    assert table.privacy(df, df.copy(), _table(300, 1), KINDS, seed=0)['exact_copies'] == 1.0


def test_disjoint_supports_are_as_far_apart_as_can_be():
    real = pd.DataFrame({'x': np.arange(100.0), 'c': ['a', 'b'] * 50})
    synthetic = pd.DataFrame({'x': np.arange(100.0) + 1000, 'c': ['c', 'd', 'e', 'f'] * 25})
    fidelity = table.column_fidelity(real, synthetic, {'x': 'continuous', 'c': 'categorical'})
    assert fidelity['x']['value'] == 1.0 and fidelity['c']['value'] == 1.0 and fidelity['x']['score'] == 0.0


def test_ks_and_tvd_against_hand_and_scipy():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal(200), rng.standard_normal(150) + 0.3
    assert table.ks_statistic(a, b) == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)
    # frequencies {a: .5, b: .5} against {a: .25, b: .25, NaN: .5}: TVD = (.25 + .25 + .5) / 2
    assert table.tv_distance(pd.Series(['a', 'b'] * 2), pd.Series(['a', 'b', None, np.nan])) == pytest.approx(0.5)


def test_cramers_v_eta_and_pearson_known_values():
    rng = np.random.default_rng(3)
    n = 4000
    u = rng.choice(['p', 'q', 'r'], n)
    g = rng.integers(0, 4, n)
    x = rng.standard_normal(n)
    df = pd.DataFrame({'u': u, 'same': u, 'indep': rng.choice(['s', 't', 'v'], n), 'g': g.astype(str),
                       'level': np.array([-1.0, 0.5, 2.0, 7.0])[g], 'x': x, 'z': 0.6 * x + rng.standard_normal(n),
                       'const': np.ones(n)})
    kinds = {'u': 'categorical', 'same': 'categorical', 'indep': 'categorical', 'g': 'categorical',
             'level': 'continuous', 'x': 'continuous', 'z': 'continuous', 'const': 'continuous'}
    df.loc[::7, 'z'] = np.nan
    m = table.associations(df, kinds)
    assert np.allclose(m.to_numpy(), m.to_numpy().T) and np.all(np.diag(m.to_numpy()) == 1.0)
    assert m.loc['u', 'same'] == pytest.approx(1.0)
    assert m.loc['u', 'indep'] < 0.05
    assert m.loc['g', 'level'] == pytest.approx(1.0)  # a numerical column determined by a category
    assert m.loc['g', 'x'] < 0.08
    present = ~np.isnan(df['z'].to_numpy())
    assert m.loc['x', 'z'] == pytest.approx(np.corrcoef(x[present], df['z'].to_numpy()[present])[0, 1], abs=1e-12)
    assert m.loc['const', 'x'] == 0.0 and m.loc['const', 'g'] == 0.0


def test_shuffling_columns_keeps_fidelity_and_destroys_associations():
    real = _table(400, 4)
    shuffled = _shuffled(real, 5)
    assert all(f['value'] == 0.0 for f in table.column_fidelity(real, shuffled, KINDS).values())
    difference = table.association_difference(real, shuffled, KINDS)
    assert difference['pairs']['x|y']['difference'] > 0.8 and difference['mean_abs_difference'] > 0.4


def _learnable(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(rows)
    return pd.DataFrame({'x': x, 'noise': rng.standard_normal(rows), 'c': rng.choice(['a', 'b'], rows),
                         'label': np.where(x > 0, 'yes', 'no'), 'amount': 3 * x + 0.1 * rng.standard_normal(rows)})


LEARNABLE = {'x': 'continuous', 'noise': 'continuous', 'c': 'categorical', 'label': 'categorical',
             'amount': 'continuous'}


def test_ml_efficacy_of_a_copy_and_of_random_labels():
    kinds = {k: v for k, v in LEARNABLE.items() if k != 'amount'}
    train, holdout = _learnable(300, 6), _learnable(200, 7)
    copy = table.ml_efficacy(train, train.copy(), holdout, kinds, 'label', seed=0)
    assert copy['task'] == 'classification' and copy['metric'] == 'macro_f1' and len(copy['models']) == 3
    assert copy['real_mean'] > 0.9 and copy['ratio'] == pytest.approx(1.0)
    assert all(m['real_accuracy'] > 0.9 for m in copy['models'].values())
    noisy = train.copy()
    noisy['label'] = np.random.default_rng(8).choice(['yes', 'no'], len(train))
    random = table.ml_efficacy(train, noisy, holdout, kinds, 'label', seed=0)
    assert random['synthetic_mean'] < 0.7 and random['ratio'] < 0.75


def test_ml_efficacy_regression():
    kinds = {k: v for k, v in LEARNABLE.items() if k != 'label'}
    train, holdout = _learnable(300, 9), _learnable(200, 10)
    out = table.ml_efficacy(train, train.copy(), holdout, kinds, 'amount', seed=1)
    assert out['task'] == 'regression' and out['metric'] == 'r2' and set(out['models']) == {
        'ridge', 'random_forest', 'decision_tree'}
    assert out['models']['ridge']['real'] > 0.99 and out['ratio'] == pytest.approx(1.0)


def test_ml_efficacy_refuses_unknown_targets_and_single_classes():
    kinds = {k: v for k, v in LEARNABLE.items() if k != 'amount'}
    train = _learnable(100, 11)
    with pytest.raises(UserError, match="'lable'.*did you mean 'label'"):
        table.ml_efficacy(train, train, train, kinds, 'lable', seed=0)
    with pytest.raises(UserError, match="single class 'yes'"):
        table.ml_efficacy(train, train.assign(label='yes'), train, kinds, 'label', seed=0)
    with pytest.raises(UserError, match="target 'lable'"):
        table.report(train, train, train, kinds, target='lable', seed=0)


def test_privacy_of_copies_and_of_fresh_draws():
    kinds = {k: v for k, v in LEARNABLE.items() if k != 'label'}
    train, holdout = _learnable(400, 12), _learnable(400, 13)
    copies = train.sample(300, replace=True, random_state=0)
    out = table.privacy(train, copies, holdout, kinds, seed=0)
    assert out['synthetic_dcr'] == {'median': 0.0, 'p5': 0.0} and out['dcr_ratio'] == 0.0
    assert out['exact_copies'] == 1.0 and out['closer_than_holdout_p5'] == 1.0 and out['holdout_dcr']['p5'] > 0
    fresh = table.privacy(train, _learnable(400, 14), holdout, kinds, seed=0)
    assert 0.75 < fresh['dcr_ratio'] < 1.33 and fresh['exact_copies'] == 0.0
    assert fresh['closer_than_holdout_p5'] < 0.15


def test_real_identifiers_and_near_copies_are_counted_as_leaks():
    """A key copied from the training rows is a leak even where the rest of the row is fresh; a fresh
    key does not hide a copied row; a key learned as a category (runs from before keys were recognised)
    is found by its values."""
    kinds = {'id': 'identifier', **{k: v for k, v in LEARNABLE.items() if k != 'label'}}
    train, holdout = _learnable(200, 30), _learnable(100, 31)
    train.insert(0, 'id', [f'P{i:04d}' for i in range(200)])
    holdout.insert(0, 'id', [f'P{i:04d}' for i in range(200, 300)])
    real_keys = _learnable(100, 32)
    real_keys.insert(0, 'id', train['id'].to_numpy()[:50].tolist() + holdout['id'].to_numpy()[:50].tolist())
    out = table.privacy(train, real_keys, holdout, kinds, seed=0)
    assert out['identifier_leaks'] == 1.0 and out['leaked_rows'] == 1.0 and out['identifiers'] == ['id']
    assert out['exact_copies'] == 0.0 and out['near_copies'] < 0.05
    copied = train.iloc[:100].copy()
    copied['id'] = [f'P{i:04d}' for i in range(5000, 5100)]
    out = table.privacy(train, copied, holdout, kinds, seed=0)
    assert out['identifier_leaks'] == 0.0 and out['exact_copies'] == 1.0 and out['leaked_rows'] == 1.0
    nudged = copied.assign(amount=copied['amount'] * (1 + 1e-4))
    out = table.privacy(train, nudged, holdout, kinds, seed=0)
    assert out['exact_copies'] == 0.0 and out['near_copies'] == 1.0 and out['leaked_rows'] == 1.0
    as_category = table.report(train, real_keys, holdout, {**kinds, 'id': 'categorical'}, target=None, seed=0)
    assert as_category['summary']['identifier_leaks'] == 1.0 and as_category['privacy']['identifiers'] == ['id']
    fresh = copied.assign(**{c: _learnable(100, 33)[c].to_numpy() for c in LEARNABLE if c != 'label'})
    out = table.privacy(train, fresh, holdout, kinds, seed=0)
    assert out['identifier_leaks'] == 0.0 and out['exact_copies'] == 0.0 and out['leaked_rows'] < 0.05


def test_dates_are_compared_as_days():
    days = pd.Series(pd.date_range('2020-01-01', periods=100, freq='D'))
    real = pd.DataFrame({'day': days.dt.strftime('%d/%m/%Y')})
    later = pd.DataFrame({'day': (days + pd.Timedelta(50, 'D')).dt.strftime('%d/%m/%Y')})
    assert table.column_fidelity(real, real, {'day': 'datetime'})['day']['value'] == 0.0
    assert table.column_fidelity(real, later, {'day': 'datetime'})['day']['value'] == pytest.approx(0.5)
    assert table.column_fidelity(real, pd.DataFrame({'day': days}), {'day': 'datetime'})['day']['value'] == 0.0


def test_missing_values_are_counted_and_do_not_crash():
    train, synthetic, holdout = _table(300, 15), _table(300, 16), _table(200, 17)
    for df, share in ((train, 0.1), (synthetic, 0.3), (holdout, 0.1)):
        rng = np.random.default_rng(int(share * 100))
        for column in ('y', 'n', 'colour', 'flag'):
            df[column] = df[column].astype(object).where(rng.random(len(df)) > share, None)
        df['n'] = pd.to_numeric(df['n'])  # an integer column read with NaN: floats
    out = table.report(train, synthetic, holdout, KINDS, target='colour', seed=0)
    json.dumps(out, allow_nan=False)
    assert out['fidelity']['y']['missing_real'] == pytest.approx(train['y'].isna().mean())
    assert out['fidelity']['y']['missing_synthetic'] == pytest.approx(synthetic['y'].isna().mean())
    assert out['fidelity']['y']['missing_synthetic'] > 0.2 and out['fidelity']['colour']['value'] > 0.1
    # a copy with its NaNs is an exact copy: NaN equals NaN
    copy = table.privacy(train, train.copy(), holdout, KINDS, seed=0)
    assert copy['exact_copies'] == 1.0 and copy['synthetic_dcr']['median'] == 0.0


def test_report_is_json_with_a_summary():
    kinds = {k: v for k, v in LEARNABLE.items() if k != 'amount'}
    train, holdout = _learnable(200, 18), _learnable(200, 19)
    out = table.report(train, _learnable(200, 20), holdout, kinds, target='label', seed=0)
    assert set(out) == {'rows', 'fidelity', 'associations', 'efficacy', 'privacy', 'quality', 'summary'}
    summary = out['summary']
    assert set(summary) == {'fidelity', 'association_difference', 'efficacy_ratio', 'dcr_ratio', 'exact_copies',
                            'near_copies', 'identifier_leaks', 'leaked_rows', 'column_shapes',
                            'column_pair_trends', 'column_pair_trends_all', 'max_pearson_gap', 'max_spearman_gap'}
    assert summary['fidelity'] > 0.85 and summary['association_difference'] < 0.15 and summary['efficacy_ratio'] > 0.9
    assert json.loads(json.dumps(out, allow_nan=False)) == out
    assert 'efficacy_ratio' not in table.report(train, train, holdout, kinds, target=None, seed=0)['summary']


def test_bad_kinds_and_missing_columns_are_user_errors():
    df = _table(20, 21)
    with pytest.raises(UserError, match="kind 'float'"):
        table.column_fidelity(df, df, {'x': 'float'})
    with pytest.raises(UserError, match="lacks column"):
        table.associations(df.drop(columns='y'), KINDS)


def test_figure_is_a_png(tmp_path):
    real, synthetic = _table(200, 22), _shuffled(_table(200, 23), 24)
    real.loc[::5, 'colour'] = None
    path = tmp_path / 'out' / 'table.png'
    table.figure(real, synthetic, KINDS, str(path), max_columns=4)
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == 'PNG' and image.size[0] > 200 and image.size[1] > 200
    assert sorted(p.name for p in path.parent.iterdir()) == ['table.png']  # no temporary left behind
