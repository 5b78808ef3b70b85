"""Synthetic tables judged against the real ones: fidelity, associations, machine-learning efficacy, privacy.

    column_fidelity(real, synthetic, kinds)                    per column: KS or TVD, and 1 - it
    associations(df, kinds)                                    [C, C]: Pearson, Cramer's V, eta
    association_difference(real, synthetic, kinds)             |real - synthetic| per pair of columns
    ml_efficacy(train_real, synthetic, holdout, kinds, target=..., seed=...)   train on synthetic, test on real
    privacy(train_real, synthetic, holdout, kinds, seed=...)   distance to the closest training record
    report(train_real, synthetic, holdout, kinds, target=..., seed=...)        all of it (and table_quality's)
    figure(real, synthetic, kinds, path)                       marginals and association matrices, one PNG

Tables are pandas DataFrames in the input's schema; `kinds` maps each column to 'continuous', 'integer'
or 'datetime' (numerical; dates as days since 1970), to 'categorical', 'boolean' or 'constant'
(discrete), or to 'identifier' (a key: only privacy reads it, `identifier_leaks`); columns not in
`kinds` are ignored. Missing values (NaN, None, pd.NA) are allowed anywhere. The definitions follow SDV's SDMetrics (KSComplement,
TVComplement, CorrelationSimilarity, ContingencySimilarity), the CTGAN paper's machine-learning efficacy
(Xu et al. 2019, "Modeling Tabular Data using Conditional GAN", section 5) and synthcity's distance to
closest record; each function says where it departs from them. Every number returned is a Python float
or int, or None where a quantity is undefined (JSON null), never NaN.
"""

from __future__ import annotations

import difflib
import math
from collections import Counter
from typing import Any, Sequence

import numpy as np
import pandas as pd

from jaxgan import files
from jaxgan.errors import UserError
from jaxgan.metrics import table_quality
from jaxgan.metrics.table_values import (DISCRETE, KINDS, NUMERICAL, Kinds, _columns, _label, _labels,  # noqa: F401
                                         _numbers, _plain, ks_statistic)

NEAR_COPY = 1e-3  # a synthetic row this close to a training row (0.1% of one column's range) is a near copy
MISSING = '<missing>'  # the category of a missing discrete value, where a string is needed (one-hot)
HOLDOUT_PERCENTILE = 5.0  # of holdout DCRs: the threshold a synthetic row closer than is suspect
MAX_BARS = 20  # categories drawn per discrete marginal in the figure (the most frequent)
MAX_ANNOTATED = 12  # association matrices up to this many columns carry their values as text



# --- columns -----------------------------------------------------------------------------------------


def _frequencies(series: pd.Series) -> dict[str | None, float]:
    """Each category's share of the rows, missing (None) as a category of its own."""
    counts = Counter(_labels(series))
    return {k: v / max(len(series), 1) for k, v in counts.items()}


def _missing_rate(series: pd.Series) -> float:
    return float(series.isna().mean()) if len(series) else 0.0


# --- fidelity ----------------------------------------------------------------------------------------


def tv_distance(a: pd.Series, b: pd.Series) -> float:
    """Total-variation distance 1/2 sum_k |p_k - q_k| of two columns' category frequencies, missing values
    a category of their own: 0 for equal frequencies, 1 for disjoint categories."""
    p, q = _frequencies(a), _frequencies(b)
    return float(0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in set(p) | set(q)))


def column_fidelity(real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Kinds) -> dict[str, dict]:
    """Per column {'kind', 'metric', 'value', 'score', 'missing_real', 'missing_synthetic'}.

    Numerical columns: 'ks', the two-sample Kolmogorov-Smirnov statistic of the non-missing values (the
    missing rates are reported beside it, not mixed in). Discrete columns: 'tvd', the total-variation
    distance of the category frequencies, missing a category. 'score' = 1 - value, which is SDMetrics'
    KSComplement (numerical) or TVComplement (discrete): 1 is a perfect match, 0 disjoint supports.
    """
    out = {}
    for column in _columns(kinds, real, synthetic):
        kind = kinds[column]
        if kind in NUMERICAL:
            metric, value = 'ks', ks_statistic(_numbers(real[column]), _numbers(synthetic[column]))
        else:
            metric, value = 'tvd', tv_distance(real[column], synthetic[column])
        out[column] = {'kind': kind, 'metric': metric, 'value': value, 'score': 1.0 - value,
                       'missing_real': _missing_rate(real[column]),
                       'missing_synthetic': _missing_rate(synthetic[column])}
    return out


# --- associations ------------------------------------------------------------------------------------


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson's correlation of two equally long float vectors (no NaNs); 0 if either is constant."""
    x, y = x - x.mean(), y - y.mean()
    denominator = math.sqrt(float(x @ x) * float(y @ y))
    return float(np.clip(x @ y / denominator, -1.0, 1.0)) if denominator > 0 else 0.0


def cramers_v(a: np.ndarray, b: np.ndarray) -> float:
    """Cramer's V of two integer-coded categorical vectors: sqrt(chi2 / (n (min(r, c) - 1))) with the
    plain (Pearson, no Yates correction, no bias correction) chi-squared statistic of their contingency
    table; 1 if one determines the other (one to one), about 0 if independent; 0 if either is constant."""
    _, a = np.unique(a, return_inverse=True)
    _, b = np.unique(b, return_inverse=True)
    r, c = int(a.max(initial=-1)) + 1, int(b.max(initial=-1)) + 1
    if min(r, c) < 2:
        return 0.0
    observed = np.zeros((r, c))
    np.add.at(observed, (a, b), 1.0)
    n = observed.sum()
    expected = np.outer(observed.sum(1), observed.sum(0)) / n
    chi2 = float(np.sum((observed - expected) ** 2 / expected))
    return float(np.clip(math.sqrt(chi2 / (n * (min(r, c) - 1))), 0.0, 1.0))


def correlation_ratio(groups: np.ndarray, x: np.ndarray) -> float:
    """The correlation ratio eta = sqrt(between-group / total sum of squares) of a numerical vector `x`
    over integer-coded categories `groups`: 1 if the category determines x, 0 if all group means are
    equal; 0 if x is constant."""
    _, groups = np.unique(groups, return_inverse=True)
    if not len(x):
        return 0.0
    total = float(np.sum((x - x.mean()) ** 2))
    if total <= 0:
        return 0.0
    counts = np.bincount(groups)
    means = np.bincount(groups, weights=x) / counts
    between = float(np.sum(counts * (means - x.mean()) ** 2))
    return float(np.clip(math.sqrt(between / total), 0.0, 1.0))


def _coded(df: pd.DataFrame, columns: Sequence[str], kinds: Kinds) -> dict[str, np.ndarray]:
    """Numerical columns as float64 (NaN missing), discrete as integer codes (-1 missing)."""
    out = {}
    for column in columns:
        if kinds[column] in NUMERICAL:
            out[column] = _numbers(df[column])
        else:
            out[column] = pd.factorize(pd.Series(_labels(df[column]), dtype=object), use_na_sentinel=True)[0]
    return out


def _measure(kind_a: str, kind_b: str) -> str:
    numerical = (kind_a in NUMERICAL) + (kind_b in NUMERICAL)
    return ('cramers_v', 'eta', 'pearson')[numerical]


def _association(a: np.ndarray, kind_a: str, b: np.ndarray, kind_b: str) -> float:
    """The association of one pair of coded columns, on the rows where neither is missing."""
    present = ((a != -1) if kind_a in DISCRETE else ~np.isnan(a)) & ((b != -1) if kind_b in DISCRETE else ~np.isnan(b))
    a, b = a[present], b[present]
    if len(a) < 2:
        return 0.0
    measure = _measure(kind_a, kind_b)
    if measure == 'pearson':
        return pearson(a, b)
    if measure == 'cramers_v':
        return cramers_v(a, b)
    return correlation_ratio(a, b) if kind_a in DISCRETE else correlation_ratio(b, a)


def associations(df: pd.DataFrame, kinds: Kinds) -> pd.DataFrame:
    """The symmetric [C, C] matrix of pairwise associations, columns in `kinds`' order, diagonal 1.

    Pearson's correlation between two numerical columns (in [-1, 1]; SDMetrics' CorrelationSimilarity
    compares these), Cramer's V between two discrete ones (plain, not bias-corrected; SDMetrics'
    ContingencySimilarity compares the contingency tables themselves instead), the correlation ratio eta
    between a discrete and a numerical one (both in [0, 1]). Each pair uses the rows where neither column
    is missing; a constant column (or fewer than two such rows) gives 0.
    """
    columns = _columns(kinds, df)
    coded = _coded(df, columns, kinds)
    matrix = np.eye(len(columns))
    for i, a in enumerate(columns):
        for j in range(i + 1, len(columns)):
            b = columns[j]
            matrix[i, j] = matrix[j, i] = _association(coded[a], kinds[a], coded[b], kinds[b])
    return pd.DataFrame(matrix, index=columns, columns=columns)


def association_difference(real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Kinds) -> dict:
    """{'mean_abs_difference', 'max_abs_difference', 'pairs': {'a|b': {'real', 'synthetic', 'difference',
    'measure'}}} over the pairs of distinct columns: difference = |real - synthetic| of `associations`.
    SDMetrics' CorrelationSimilarity for a numerical pair is 1 - difference / 2. 0 and 0 with one column."""
    columns = _columns(kinds, real, synthetic)
    r, s = associations(real, kinds).to_numpy(), associations(synthetic, kinds).to_numpy()
    pairs = {}
    for i, a in enumerate(columns):
        for j in range(i + 1, len(columns)):
            b = columns[j]
            pairs[f'{a}|{b}'] = {'real': float(r[i, j]), 'synthetic': float(s[i, j]),
                                 'difference': float(abs(r[i, j] - s[i, j])), 'measure': _measure(kinds[a], kinds[b])}
    differences = [p['difference'] for p in pairs.values()]
    return {'mean_abs_difference': float(np.mean(differences)) if differences else 0.0,
            'max_abs_difference': float(np.max(differences)) if differences else 0.0, 'pairs': pairs}


# --- machine-learning efficacy -----------------------------------------------------------------------


class _Features:
    """The model inputs of a table, fitted on one table: numerical columns median-imputed with a missing
    indicator (sklearn's SimpleImputer(add_indicator=True)) then standardised, discrete columns one-hot
    (missing a category; unseen categories all zeros)."""

    def __init__(self, table: pd.DataFrame, columns: Sequence[str], kinds: Kinds):
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler
        self.numerical = [c for c in columns if kinds[c] in NUMERICAL]
        self.discrete = [c for c in columns if kinds[c] in DISCRETE]
        self.scale = make_pipeline(SimpleImputer(strategy='median', add_indicator=True, keep_empty_features=True),
                                   StandardScaler()) if self.numerical else None
        self.onehot = OneHotEncoder(handle_unknown='ignore', sparse_output=False) if self.discrete else None
        if self.scale is not None:
            self.scale.fit(self._numerical(table))
        if self.onehot is not None:
            self.onehot.fit(self._discrete(table))

    def _numerical(self, table: pd.DataFrame) -> np.ndarray:
        return np.stack([_numbers(table[c]) for c in self.numerical], 1)

    def _discrete(self, table: pd.DataFrame) -> np.ndarray:
        return np.array([[MISSING if v is None else v for v in _labels(table[c])] for c in self.discrete],
                        dtype=object).T.reshape(len(table), len(self.discrete))

    def __call__(self, table: pd.DataFrame) -> np.ndarray:
        parts = []
        if self.scale is not None:
            parts.append(self.scale.transform(self._numerical(table)))
        if self.onehot is not None:
            parts.append(self.onehot.transform(self._discrete(table)))
        return np.concatenate(parts, 1)


def _models(task: str, seed: int) -> dict[str, Any]:
    """The CTGAN paper's efficacy models (section 5: decision trees, linear models, MLPs, AdaBoost),
    trimmed to three quick ones per task."""
    from sklearn import ensemble, linear_model, tree
    if task == 'classification':
        return {'logistic_regression': linear_model.LogisticRegression(max_iter=1000),
                'random_forest': ensemble.RandomForestClassifier(n_estimators=100, random_state=seed),
                'decision_tree': tree.DecisionTreeClassifier(max_depth=20, random_state=seed)}
    return {'ridge': linear_model.Ridge(alpha=1.0),
            'random_forest': ensemble.RandomForestRegressor(n_estimators=100, random_state=seed),
            'decision_tree': tree.DecisionTreeRegressor(max_depth=20, random_state=seed)}


def _target(table: pd.DataFrame, target: str, task: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows whose target is present, and the target: floats, or canonical category strings."""
    if task == 'regression':
        y = _numbers(table[target])
        keep = ~np.isnan(y)
        return table[keep], y[keep]
    labels = _labels(table[target])
    keep = np.array([v is not None for v in labels], dtype=bool)
    return table[keep], np.array([v for v in labels if v is not None], dtype=object)


def _check_target(target: str, columns: Sequence[str]) -> None:
    if target not in columns:
        close = difflib.get_close_matches(str(target), [str(c) for c in columns], n=3)
        hint = (f'; did you mean {" or ".join(map(repr, close))}?' if close
                else f' (columns: {", ".join(map(str, columns))})')
        raise UserError(f'target {target!r} is not a column of the table{hint}')
    if len(columns) < 2:
        raise UserError(f'target {target!r} is the only column: no features to predict it from')


def _scores(model: Any, task: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
            y_test: np.ndarray) -> dict[str, float]:
    from sklearn import metrics
    predicted = model.fit(x_train, y_train).predict(x_test)
    if task == 'regression':
        return {'r2': float(metrics.r2_score(y_test, predicted))}
    return {'macro_f1': float(metrics.f1_score(y_test, predicted, average='macro', zero_division=0)),
            'accuracy': float(metrics.accuracy_score(y_test, predicted))}


def ml_efficacy(train_real: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame, kinds: Kinds,
                target: str, seed: int) -> dict:
    """Machine-learning efficacy (Xu et al. 2019, section 5): models trained on the synthetic rows and
    tested on the real holdout, against the same models trained on the real training rows.

    A discrete target is a classification (score: macro-F1, accuracy beside it), a numerical one a
    regression (score: R^2). Features are the other columns of `kinds`, encoded by `_Features` fitted on
    each arm's own training table; rows with a missing target are dropped. Returns {'target', 'task',
    'metric', 'models': {name: {'real', 'synthetic'} (+ 'real_accuracy', 'synthetic_accuracy')},
    'real_mean', 'synthetic_mean', 'ratio'}: ratio = synthetic_mean / real_mean, None if real_mean <= 0.
    UserError if the target is no column, or an arm's training rows hold a single class of it.
    """
    columns = _columns(kinds, train_real, synthetic, holdout)
    _check_target(target, columns)
    task = 'classification' if kinds[target] in DISCRETE else 'regression'
    metric = 'macro_f1' if task == 'classification' else 'r2'
    features = [c for c in columns if c != target]
    test, y_test = _target(holdout, target, task)
    if not len(y_test):
        raise UserError(f'the holdout rows have no value of target {target!r}')
    models: dict[str, dict[str, float]] = {}
    for arm, table in (('real', train_real), ('synthetic', synthetic)):
        train, y_train = _target(table, target, task)
        if len(train) < 2 or (task == 'classification' and len(set(y_train)) < 2):
            found = sorted(set(y_train)) if task == 'classification' else []
            raise UserError(f'the {arm} training rows hold {len(train)} row{"" if len(train) == 1 else "s"} with '
                            f'target {target!r}'
                            + (f' and a single class {found[0]!r}: no classifier can be trained on them'
                               if len(found) == 1 else ''))
        encode = _Features(train, features, kinds)
        x_train, x_test = encode(train), encode(test)
        for name, model in _models(task, seed).items():
            scores = _scores(model, task, x_train, y_train, x_test, y_test)
            entry = models.setdefault(name, {})
            entry[arm] = scores[metric]
            if task == 'classification':
                entry[f'{arm}_accuracy'] = scores['accuracy']
    real_mean = float(np.mean([m['real'] for m in models.values()]))
    synthetic_mean = float(np.mean([m['synthetic'] for m in models.values()]))
    return {'target': target, 'task': task, 'metric': metric, 'models': models, 'real_mean': real_mean,
            'synthetic_mean': synthetic_mean, 'ratio': synthetic_mean / real_mean if real_mean > 0 else None}


# --- privacy -----------------------------------------------------------------------------------------


def _dcr_encoding(train: pd.DataFrame, tables: Sequence[pd.DataFrame], columns: Sequence[str],
                  kinds: Kinds) -> list[np.ndarray]:
    """Each table as vectors: a numerical column scaled to [0, 1] by the training rows' range (a constant
    column only shifted), missing as 0 plus an indicator 1; a discrete column one-hot over the categories
    of all the tables, missing a category."""
    out: list[list[np.ndarray]] = [[] for _ in tables]
    for column in columns:
        if kinds[column] in NUMERICAL:
            reference = _numbers(train[column])
            low = float(np.nanmin(reference)) if (~np.isnan(reference)).any() else 0.0
            span = float(np.nanmax(reference)) - low if (~np.isnan(reference)).any() else 0.0
            for parts, table in zip(out, tables):
                x = (_numbers(table[column]) - low) / (span if span > 0 else 1.0)
                parts += [np.nan_to_num(x, nan=0.0), np.isnan(x).astype(np.float64)]
        else:
            labels = [_labels(table[column]) for table in tables]
            categories = {k: i for i, k in enumerate(dict.fromkeys(v for ls in labels for v in ls))}
            for parts, values in zip(out, labels):
                codes = np.array([categories[v] for v in values], dtype=np.int64)
                parts += list(np.eye(len(categories))[codes].T)
    return [np.stack(parts, 1) for parts in out]


def _row_keys(table: pd.DataFrame, columns: Sequence[str], kinds: Kinds) -> list[tuple]:
    """Each row as a hashable tuple of its values (floats, canonical category strings), missing as None."""
    values = []
    for column in columns:
        if kinds[column] in NUMERICAL:
            values.append([None if math.isnan(v) else v for v in _numbers(table[column]).tolist()])
        else:
            values.append(_labels(table[column]))
    return list(zip(*values))


def _quantiles(d: np.ndarray) -> dict[str, float]:
    return {'median': float(np.median(d)), 'p5': float(np.percentile(d, HOLDOUT_PERCENTILE))}


def identifier_columns(train_real: pd.DataFrame, kinds: Kinds) -> list[str]:
    """The keys among `kinds`' columns: those declared 'identifier', and categorical or integer ones that
    look like keys in the training rows (jaxgan.data.table_columns.is_identifier: a run that learned
    its keys as categories, as before they were recognised, writes real ones)."""
    from jaxgan.data.table_columns import is_identifier
    return [c for c, kind in kinds.items() if kind == 'identifier'
            or (kind in ('categorical', 'integer') and c in train_real.columns and is_identifier(train_real[c], c))]


def privacy(train_real: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame, kinds: Kinds,
            seed: int) -> dict:
    """Distance to closest record (DCR, as synthcity's and SDMetrics' DCR metrics): the Euclidean distance
    from each synthetic row, and from each holdout row, to its nearest training row, in `_dcr_encoding`
    (numerical columns scaled by the training range, so each contributes at most about 1; a differing
    category contributes sqrt(2)), over the columns but the keys (`identifier_columns`), which a fresh
    key would otherwise make look far.

    Returns {'distance': 'euclidean', 'synthetic_dcr': {'median', 'p5'}, 'holdout_dcr': {'median', 'p5'},
    'dcr_ratio': median synthetic / median holdout (None if the holdout median is 0), 'closer_than_holdout_p5':
    the share of synthetic rows at most as far as the 5th percentile of the holdout DCRs (about 0.05 for
    fresh draws of the data's distribution, 1 for copies; jaxgan.metrics.nearest's memorisation score),
    'exact_copies': the share of synthetic rows equal to some training row in every column but the keys
    (missing equal to missing), 'near_copies': the share at most NEAR_COPY (0.001) from one, exact copies
    included, 'identifiers': the key columns, 'identifier_leaks': the share of synthetic rows with a real
    key (one of the training or holdout rows') in a key column, 'leaked_rows': the share with a real key
    or a near copy}. A generator that copies has a ratio near 0; one that draws fresh rows, near 1. The
    search is exact, so `seed` changes nothing; it is taken for a uniform interface.
    """
    from sklearn.neighbors import NearestNeighbors
    del seed
    keys = identifier_columns(train_real, kinds)
    content = {c: kind for c, kind in kinds.items() if c not in keys}
    columns = _columns(content, train_real, synthetic, holdout)
    for name, table in (('training', train_real), ('synthetic', synthetic), ('holdout', holdout)):
        if not len(table):
            raise UserError(f'no {name} rows to measure distances between')
    train, synth, hold = _dcr_encoding(train_real, [train_real, synthetic, holdout], columns, content)
    index = NearestNeighbors(n_neighbors=1).fit(train)
    synthetic_d = index.kneighbors(synth)[0][:, 0]
    holdout_d = index.kneighbors(hold)[0][:, 0]
    s, h = _quantiles(synthetic_d), _quantiles(holdout_d)
    seen = set(_row_keys(train_real, columns, content))
    copies = np.array([key in seen for key in _row_keys(synthetic, columns, content)], dtype=bool)
    leaks = np.zeros(len(synthetic), dtype=bool)
    for column in (c for c in keys if c in synthetic.columns):
        real = {v for table in (train_real, holdout) if column in table.columns for v in _labels(table[column])}
        leaks |= np.array([v is not None and v in real for v in _labels(synthetic[column])], dtype=bool)
    near = (synthetic_d <= NEAR_COPY) | copies
    return {'distance': 'euclidean', 'synthetic_dcr': s, 'holdout_dcr': h,
            'dcr_ratio': s['median'] / h['median'] if h['median'] > 0 else None,
            'closer_than_holdout_p5': float(np.mean(synthetic_d <= h['p5'])),
            'exact_copies': float(copies.mean()), 'near_copies': float(near.mean()), 'identifiers': keys,
            'identifier_leaks': float(leaks.mean()), 'leaked_rows': float((leaks | near).mean())}


# --- all of it ---------------------------------------------------------------------------------------


def report(train_real: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame, kinds: Kinds, *,
           target: str | None, seed: int) -> dict:
    """{'rows', 'fidelity', 'associations', 'efficacy' (if a target), 'privacy', 'summary'}: fidelity
    and associations compare the real training rows with the synthetic ones. 'summary' holds 'fidelity'
    (mean score, 1 - KS or 1 - TVD, over the columns), 'association_difference' (mean absolute),
    'efficacy_ratio' (if a target), 'dcr_ratio', 'exact_copies', 'near_copies', 'identifier_leaks' and
    'leaked_rows' (`privacy`), and 'quality' SDMetrics' report (jaxgan.metrics.table_quality). JSON-ready."""
    fidelity = column_fidelity(train_real, synthetic, kinds)
    association = association_difference(train_real, synthetic, kinds)
    private = privacy(train_real, synthetic, holdout, kinds, seed)
    out = {'rows': {'train': len(train_real), 'synthetic': len(synthetic), 'holdout': len(holdout)},
           'fidelity': fidelity, 'associations': association, 'privacy': private,
           'quality': table_quality.quality(train_real, synthetic, kinds)}
    summary = {'fidelity': float(np.mean([c['score'] for c in fidelity.values()])),
               'association_difference': association['mean_abs_difference'], **out['quality']['summary']}
    if target is not None:
        out['efficacy'] = ml_efficacy(train_real, synthetic, holdout, kinds, target, seed)
        summary['efficacy_ratio'] = out['efficacy']['ratio']
    summary.update({k: private[k] for k in ('dcr_ratio', 'exact_copies', 'near_copies', 'identifier_leaks',
                                            'leaked_rows')})
    out['summary'] = summary
    return _plain(out)


# --- the figure --------------------------------------------------------------------------------------


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def _marginal(ax, real: pd.Series, synthetic: pd.Series, kind: str, fidelity: dict) -> None:
    """Real against synthetic: density histograms on shared bins (missing rates in the title), or
    side-by-side category shares (missing a category, 'NaN'); the title holds the column's KS or TVD."""
    if kind in NUMERICAL:
        r, s = _numbers(real), _numbers(synthetic)
        r, s = r[~np.isnan(r)], s[~np.isnan(s)]
        both = np.concatenate([r, s])
        edges = np.histogram_bin_edges(both, bins=30) if len(both) else np.linspace(0, 1, 2)
        for x, label, colour in ((r, 'real', 'tab:blue'), (s, 'synthetic', 'tab:orange')):
            if len(x):
                ax.hist(x, bins=edges, density=True, alpha=0.5, color=colour, label=label)
    else:
        p, q = _frequencies(real), _frequencies(synthetic)
        keys = sorted(set(p) | set(q), key=lambda k: -(p.get(k, 0.0) + q.get(k, 0.0)))[:MAX_BARS]
        at = np.arange(len(keys))
        ax.bar(at - 0.2, [p.get(k, 0.0) for k in keys], 0.4, color='tab:blue', label='real')
        ax.bar(at + 0.2, [q.get(k, 0.0) for k in keys], 0.4, color='tab:orange', label='synthetic')
        ax.set_xticks(at, ['NaN' if k is None else k[:12] for k in keys], rotation=90, fontsize=7)
    title = f'{real.name} ({kind}): {fidelity["metric"].upper()} {fidelity["value"]:.3f}'
    if kind in NUMERICAL and (fidelity['missing_real'] or fidelity['missing_synthetic']):
        title += f'\nmissing {fidelity["missing_real"]:.1%} real, {fidelity["missing_synthetic"]:.1%} synthetic'
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)


def figure(real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Kinds, path: str, *, max_columns: int = 12) -> None:
    """One PNG at `path`, written atomically: the marginals of the first `max_columns` columns, real
    against synthetic, and the two association matrices (`associations`, of all the columns) side by side on
    one colour scale
    from -1 to 1."""
    from matplotlib import gridspec
    if max_columns < 1:
        raise UserError(f'max_columns={max_columns}: the figure shows at least one column')
    plt = _pyplot()
    shown = _columns(kinds, real, synthetic)[:max_columns]
    width = min(4, len(shown))
    rows = -(-len(shown) // width)
    fig = plt.figure(figsize=(4 * max(width, 2), 3 * rows + 5.5))
    try:
        _panels(fig, gridspec.GridSpec(rows + 1, 2 * width, figure=fig, height_ratios=[3] * rows + [5.5]),
                real, synthetic, kinds, shown, width)
        fig.suptitle(f'real ({len(real)} rows) against synthetic ({len(synthetic)} rows)')
        with files.atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=80, format='png')
    finally:
        plt.close(fig)


def _panels(fig, grid, real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Kinds, shown: Sequence[str],
            width: int) -> None:
    """The marginals, `width` to a row, then the two association matrices side by side in the last row."""
    columns = _columns(kinds, real)
    fidelity = column_fidelity(real[shown], synthetic[shown], {c: kinds[c] for c in shown})
    rows = -(-len(shown) // width)
    for n, column in enumerate(shown):
        ax = fig.add_subplot(grid[n // width, 2 * (n % width):2 * (n % width) + 2])
        _marginal(ax, real[column], synthetic[column], kinds[column], fidelity[column])
    for k, (table, name) in enumerate(((real, 'real'), (synthetic, 'synthetic'))):
        ax = fig.add_subplot(grid[rows, k * width:(k + 1) * width])
        matrix = associations(table, kinds)
        image = ax.imshow(matrix.to_numpy(), vmin=-1, vmax=1, cmap='RdBu_r')
        if len(columns) <= MAX_ANNOTATED:
            for (i, j), v in np.ndenumerate(matrix.to_numpy()):
                ax.text(j, i, f'{v:.2f}', ha='center', va='center', fontsize=7,
                        color='white' if abs(v) > 0.6 else 'black')
        ax.set_xticks(range(len(columns)), [str(c)[:12] for c in columns], rotation=90, fontsize=7)
        ax.set_yticks(range(len(columns)), [str(c)[:12] for c in columns] if k == 0 else [], fontsize=7)
        ax.set_title(f'associations, {name}\n(Pearson; Cramer\'s V; eta)', fontsize=9)
    fig.colorbar(image, ax=fig.axes[-2:], shrink=0.8)
