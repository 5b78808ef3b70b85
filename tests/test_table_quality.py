"""jaxgan.metrics.table_quality against sdmetrics' QualityReport, frozen in tests/fixtures/table_quality
(make_sdmetrics.py made sdmetrics.json from real.csv and synthetic.csv with sdmetrics 0.32)."""

import json
import math
import os

import numpy as np
import pandas as pd
import pytest

from jaxgan.metrics import table, table_quality

HERE = os.path.join(os.path.dirname(__file__), 'fixtures', 'table_quality')
KINDS = {'income': 'continuous', 'spend': 'continuous', 'age': 'integer', 'region': 'categorical',
         'member': 'boolean'}


@pytest.fixture(scope='module')
def frozen():
    with open(os.path.join(HERE, 'sdmetrics.json')) as f:
        expected = json.load(f)
    real, synthetic = (pd.read_csv(os.path.join(HERE, f'{n}.csv')) for n in ('real', 'synthetic'))
    return expected, table_quality.quality(real, synthetic, KINDS)


def test_column_shapes_match_sdmetrics(frozen):
    expected, got = frozen
    for column, want in expected['column_shapes'].items():
        assert got['column_shapes'][column]['metric'] == want['metric']
        assert got['column_shapes'][column]['score'] == pytest.approx(want['score'], abs=1e-6), column
    assert got['summary']['column_shapes'] == pytest.approx(expected['properties']['Column Shapes'], abs=1e-6)


def test_column_pair_trends_match_sdmetrics(frozen):
    expected, got = frozen
    assert set(got['column_pair_trends']) == set(expected['column_pair_trends'])
    for pair, want in expected['column_pair_trends'].items():
        mine = got['column_pair_trends'][pair]
        assert (mine['metric'], mine['counted']) == (want['metric'], want['counted']), pair
        assert mine['score'] == pytest.approx(want['score'], abs=1e-6), pair
    assert got['summary']['column_pair_trends'] == pytest.approx(expected['properties']['Column Pair Trends'],
                                                                 abs=1e-6)
    assert got['summary']['column_pair_trends_all'] == pytest.approx(
        expected['properties_every_pair']['Column Pair Trends'], abs=1e-6)


def test_correlation_gaps_match_scipy(frozen):
    expected, got = frozen
    for name in ('pearson', 'spearman'):
        pairs = got['correlation_gaps'][name]['pairs']
        for pair, values in expected['correlations'].items():
            assert [pairs[pair]['real'], pairs[pair]['synthetic']] == pytest.approx(values[name], abs=1e-9)
        worst = max(abs(v[name][0] - v[name][1]) for v in expected['correlations'].values())
        assert got['correlation_gaps'][name]['max_gap'] == pytest.approx(worst, abs=1e-9)


def test_identical_tables_score_one_and_a_broken_dependence_is_seen():
    rng = np.random.default_rng(0)
    x = rng.normal(size=400)
    real = pd.DataFrame({'x': x, 'y': x + 0.3 * rng.normal(size=400), 'c': np.where(x > 0, 'hi', 'lo')})
    kinds = {'x': 'continuous', 'y': 'continuous', 'c': 'categorical'}
    same = table_quality.quality(real, real, kinds)['summary']
    assert same['column_shapes'] == pytest.approx(1.0) and same['column_pair_trends'] == pytest.approx(1.0)
    assert same['max_pearson_gap'] == pytest.approx(0.0, abs=1e-12)
    shuffled = real.assign(y=rng.permutation(real['y'].to_numpy()), c=rng.permutation(real['c'].to_numpy()))
    broken = table_quality.quality(real, shuffled, kinds)['summary']
    assert broken['column_shapes'] == pytest.approx(1.0)  # the marginals are the same
    assert broken['max_pearson_gap'] > 0.8 and broken['column_pair_trends'] < 0.7
    assert not any(isinstance(v, float) and math.isnan(v) for v in broken.values())


def test_report_carries_the_quality_summary():
    rng = np.random.default_rng(1)
    rows = pd.DataFrame({'x': rng.normal(size=60), 'y': rng.normal(size=60), 'c': rng.choice(['a', 'b'], 60)})
    kinds = {'x': 'continuous', 'y': 'continuous', 'c': 'categorical'}
    out = table.report(rows.iloc[:40], rows.iloc[40:], rows.iloc[:20], kinds, target=None, seed=0)
    for key in ('column_shapes', 'column_pair_trends', 'max_pearson_gap', 'max_spearman_gap'):
        assert key in out['summary']
    assert set(out['quality']['column_pair_trends']) == {'x | y', 'x | c', 'y | c'}
