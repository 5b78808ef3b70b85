"""The quality report of SDV's SDMetrics (QualityReport: column shapes and column pair trends) and the
largest correlation gaps, for a synthetic table against the real one.

    column_shapes(real, synthetic, kinds)         per column: KSComplement or TVComplement
    column_pair_trends(real, synthetic, kinds)    per pair: CorrelationSimilarity or ContingencySimilarity
    correlation_gaps(real, synthetic, kinds)      the largest |real - synthetic| Pearson and Spearman
    quality(real, synthetic, kinds)               all three and their scores, JSON-ready

Definitions as sdmetrics 0.32 computes them (`reports/single_table/_properties/column_shapes.py` and
`column_pair_trends.py`; `single_column/statistical/kscomplement.py`, `tv_complement.py`;
`column_pairs/statistical/correlation_similarity.py`, `contingency_similarity.py`):
    KSComplement            1 - the two-sample KS statistic of a numerical (or datetime) column, missing
                            values dropped
    TVComplement            1 - the total-variation distance of a discrete column's frequencies, missing
                            values dropped (a synthetic value the real column lacks counts 1e-6 in it)
    CorrelationSimilarity   1 - |r_real - r_synthetic| / 2, Pearson's r on the rows where both are present
    ContingencySimilarity   1 - the total-variation distance of the pair's normalised contingency tables,
                            missing a value of its own; for a numerical column beside a discrete one, the
                            numerical column is first binned into numpy's 10 histogram bins of its own
                            table's values (each table its own edges, as the report does; missing values
                            land past the last edge)
A property's score is the mean of its columns' (pairs') scores, undefined ones (a constant column's
correlation) left out. The report (0.32, quality_report.py) counts only the pairs with a real dependence:
|real Pearson| above 0.5 for numerical pairs, real Cramer's V (of the contingency table above, scipy's
`association`) above 0.3 for the others: `column_pair_trends`; every pair's mean is
`column_pair_trends_all` (the report with its thresholds at 0, as SDMetrics defined it before). The
report subsamples contingency tables above 50,000 rows; this does not.
Kinds as jaxgan.metrics.table's: continuous, integer, datetime are numerical; categorical, boolean and
constant discrete; identifiers are left out (the report skips its 'id' columns).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from typing import Any, Mapping

import numpy as np
import pandas as pd

from jaxgan.metrics import table_values as table_metrics

Kinds = Mapping[str, str]
MAX_DECIMALS = 14  # KSComplement rounds values to sys.float_info.dig - 1 decimals
TV_REGULARIZER = 1e-6  # get_frequencies: a synthetic category the real column lacks counts this much in it
CORRELATION_THRESHOLD = 0.5  # reports/utils.py DEFAULT_REAL_CORRELATION_THRESHOLD: |real r| above it counts
ASSOCIATION_THRESHOLD = 0.3  # DEFAULT_REAL_ASSOCIATION_THRESHOLD: real Cramer's V above it counts


def _numerical(kind: str) -> bool:
    return kind in table_metrics.NUMERICAL


def _values(series: pd.Series, kind: str) -> np.ndarray | list:
    """A column as numbers (float64, NaN missing) or as canonical labels (None missing)."""
    return table_metrics._numbers(series) if _numerical(kind) else table_metrics._labels(series)


def ks_complement(real: np.ndarray, synthetic: np.ndarray) -> float:
    """sdmetrics' KSComplement: 1 - KS statistic of the present values, rounded to 14 decimals (NaN if
    either column has none)."""
    a, b = np.round(real[~np.isnan(real)], MAX_DECIMALS), np.round(synthetic[~np.isnan(synthetic)], MAX_DECIMALS)
    return math.nan if not len(a) or not len(b) else 1.0 - table_metrics.ks_statistic(a, b)


def tv_complement(real: list, synthetic: list) -> float:
    """sdmetrics' TVComplement (with get_frequencies' regularisation) of the present labels."""
    r, s = Counter(v for v in real if v is not None), Counter(v for v in synthetic if v is not None)
    if not r or not s:
        return math.nan
    for value in s:
        if value not in r:
            r[value] += TV_REGULARIZER
    total_r, total_s = sum(r.values()), sum(s.values())
    return 1.0 - 0.5 * sum(abs(s[v] / total_s - r[v] / total_r) for v in r)


def column_shapes(real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Kinds) -> dict[str, dict]:
    """{column: {'metric': 'KSComplement' | 'TVComplement', 'score'}} over the columns but identifiers."""
    out = {}
    for column in table_metrics._columns(kinds, real, synthetic):
        kind = kinds[column]
        r, s = _values(real[column], kind), _values(synthetic[column], kind)
        out[column] = ({'metric': 'KSComplement', 'score': ks_complement(r, s)} if _numerical(kind)
                       else {'metric': 'TVComplement', 'score': tv_complement(r, s)})
    return out


def _binned(x: np.ndarray) -> np.ndarray:
    """np.digitize into np.histogram_bin_edges (10 bins) of the present values: 0 .. 11, missing 11."""
    present = x[~np.isnan(x)]
    if not len(present):
        return np.full(len(x), 0)
    return np.digitize(x, np.histogram_bin_edges(present))


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    both = ~(np.isnan(x) | np.isnan(y))
    x, y = x[both], y[both]
    if len(x) < 2 or np.all(x == x[0]) or np.all(y == y[0]):
        return math.nan
    x, y = x - x.mean(), y - y.mean()
    return float(np.clip(np.dot(x, y) / math.sqrt(np.dot(x, x) * np.dot(y, y)), -1.0, 1.0))


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    both = ~(np.isnan(x) | np.isnan(y))
    ranks = lambda v: pd.Series(v[both]).rank(method='average').to_numpy()  # noqa: E731  (scipy's spearmanr)
    return _pearson(ranks(x), ranks(y))


def contingency_similarity(real: tuple[Any, Any], synthetic: tuple[Any, Any]) -> float:
    """1 - TVD of the normalised contingency tables of two columns (each a pair of sequences)."""
    p, q = Counter(zip(*real)), Counter(zip(*synthetic))
    n, m = max(len(real[0]), 1), max(len(synthetic[0]), 1)
    return 1.0 - 0.5 * sum(abs(p.get(k, 0) / n - q.get(k, 0) / m) for k in set(p) | set(q))


def cramers_v(columns: tuple[Any, Any]) -> float:
    """Cramer's V of two columns' contingency table (scipy.stats.contingency.association, method
    'cramer', no continuity correction): sqrt(chi2 / n / (min(rows, columns) - 1)); NaN below 2 x 2."""
    counts = Counter(zip(*columns))
    rows, cols = sorted({k[0] for k in counts}, key=str), sorted({k[1] for k in counts}, key=str)
    if min(len(rows), len(cols)) < 2:
        return math.nan
    observed = np.zeros((len(rows), len(cols)))
    index_r, index_c = {v: i for i, v in enumerate(rows)}, {v: i for i, v in enumerate(cols)}
    for (a, b), n in counts.items():
        observed[index_r[a], index_c[b]] = n
    expected = observed.sum(1, keepdims=True) * observed.sum(0, keepdims=True) / observed.sum()
    chi2 = float(np.sum((observed - expected) ** 2 / expected))
    return math.sqrt(chi2 / observed.sum() / (min(observed.shape) - 1))


def _missing_as_label(values: list) -> list:
    return ['\0missing' if v is None else v for v in values]


def _pair_inputs(table: pd.DataFrame, a: str, b: str, kinds: Kinds) -> tuple[Any, Any]:
    """The pair's columns as the contingency table reads them: discrete labels, numbers binned."""
    def one(column: str):
        if _numerical(kinds[column]):
            return _binned(table_metrics._numbers(table[column])).tolist()
        return _missing_as_label(table_metrics._labels(table[column]))
    return one(a), one(b)


def column_pair_trends(real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Kinds) -> dict[str, dict]:
    """{'a | b': {'metric', 'score', 'real', 'synthetic', 'real_strength', 'counted'}} over the pairs of
    columns (identifiers aside), in `kinds`' order; 'real' and 'synthetic' are the Pearson correlations
    of numerical pairs (else None); 'real_strength' is |real r| or the real Cramer's V, and 'counted'
    whether it passes the report's threshold."""
    columns = table_metrics._columns(kinds, real, synthetic)
    out = {}
    for a, b in itertools.combinations(columns, 2):
        if _numerical(kinds[a]) and _numerical(kinds[b]):
            r = _pearson(table_metrics._numbers(real[a]), table_metrics._numbers(real[b]))
            s = _pearson(table_metrics._numbers(synthetic[a]), table_metrics._numbers(synthetic[b]))
            out[f'{a} | {b}'] = {'metric': 'CorrelationSimilarity', 'score': 1.0 - abs(r - s) / 2.0, 'real': r,
                                 'synthetic': s, 'real_strength': abs(r), 'counted': abs(r) > CORRELATION_THRESHOLD}
        else:
            pair = _pair_inputs(real, a, b, kinds)
            score = contingency_similarity(pair, _pair_inputs(synthetic, a, b, kinds))
            v = cramers_v(pair)
            out[f'{a} | {b}'] = {'metric': 'ContingencySimilarity', 'score': score, 'real': None, 'synthetic': None,
                                 'real_strength': v, 'counted': v > ASSOCIATION_THRESHOLD}
    return out


def correlation_gaps(real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Kinds) -> dict:
    """{'pearson': {'max_gap', 'pair', 'pairs': {'a | b': {'real', 'synthetic', 'gap'}}}, 'spearman': ...}
    over the pairs of numerical columns (max_gap None where there are none, or none defined)."""
    columns = [c for c in table_metrics._columns(kinds, real, synthetic) if _numerical(kinds[c])]
    out = {}
    for name, fn in (('pearson', _pearson), ('spearman', _spearman)):
        pairs = {}
        for a, b in itertools.combinations(columns, 2):
            r = fn(table_metrics._numbers(real[a]), table_metrics._numbers(real[b]))
            s = fn(table_metrics._numbers(synthetic[a]), table_metrics._numbers(synthetic[b]))
            pairs[f'{a} | {b}'] = {'real': r, 'synthetic': s, 'gap': abs(r - s)}
        defined = {k: v['gap'] for k, v in pairs.items() if not math.isnan(v['gap'])}
        worst = max(defined, key=defined.get) if defined else None
        out[name] = {'max_gap': defined[worst] if worst else None, 'pair': worst, 'pairs': pairs}
    return out


def _mean(scores: list[float]) -> float | None:
    scores = [s for s in scores if not math.isnan(s)]
    return float(np.mean(scores)) if scores else None


def quality(real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Kinds) -> dict:
    """{'column_shapes', 'column_pair_trends', 'correlation_gaps', 'summary': {'column_shapes',
    'column_pair_trends' (the report's: pairs with a real dependence), 'column_pair_trends_all',
    'max_pearson_gap', 'max_spearman_gap'}}; NaN as None (JSON-ready)."""
    shapes = column_shapes(real, synthetic, kinds)
    trends = column_pair_trends(real, synthetic, kinds)
    gaps = correlation_gaps(real, synthetic, kinds)
    summary = {'column_shapes': _mean([c['score'] for c in shapes.values()]),
               'column_pair_trends': _mean([p['score'] for p in trends.values() if p['counted']]),
               'column_pair_trends_all': _mean([p['score'] for p in trends.values()]),
               'max_pearson_gap': gaps['pearson']['max_gap'], 'max_spearman_gap': gaps['spearman']['max_gap']}
    return table_metrics._plain({'column_shapes': shapes, 'column_pair_trends': trends, 'correlation_gaps': gaps,
                                 'summary': summary})
