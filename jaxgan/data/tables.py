"""Tables for CTGAN (Xu et al. 2019, "Modeling Tabular Data using Conditional GAN", NeurIPS): sources,
column kinds, the mode-specific normalisation and the training-by-sampling batches.

    csv:PATH            a CSV file with a header line (pandas.read_csv)
    parquet:PATH        a Parquet file (pandas.read_parquet)
    table:diabetes      scikit-learn's diabetes study in raw units: age, sex, bmi, bp, s1..s6 and the
                        target as 'progression' (442 rows)
    table:breast_cancer scikit-learn's Wisconsin breast cancer: 30 measurements and 'diagnosis',
                        'malignant' or 'benign' (569 rows)

`load` reads the table, works out each column's kind (`infer_kinds`: continuous, integer, categorical or
boolean; config.table.categorical and the like override it), keeps config.table.holdout of the rows
apart (`split`), fits a `TableTransform` on the rest and encodes them. The fitted transform is plain
numbers, saved with the run as JSON in the DataSpec (spec.table), so a checkpoint alone turns the
generator's rows back into the input's schema (`TableTransform.inverse`).

The transform is the `ctgan` package's DataTransformer (`data_transformer.py`) with rdt's
ClusterBasedNormalizer for numbers:
  - a continuous or integer column is fitted with sklearn's BayesianGaussianMixture of min(max_modes,
    rows) components (ctgan's max_clusters=min(len(data), 10)), a Dirichlet-process prior of weight
    concentration 0.001, n_init 1 (rdt's) and random_state the seed; the modes of weight above 0.005
    are kept (rdt's weight_threshold). A value x becomes [alpha, one-hot mode k]: k is drawn from the mixture's
    posterior over the kept modes, each probability raised by 1e-6 and renormalised (rdt), and
    alpha = (x - mean_k) / (4 std_k) (rdt's STD_MULTIPLIER) clipped to [-0.99, 0.99] (rdt). The
    inverse is alpha * 4 std_k + mean_k with alpha clipped to [-1, 1] and k the argmax of the mode
    block (rdt's reverse transform), rounded for integers and clipped to the observed range (rdt's
    learn_rounding_scheme and enforce_min_max_values; ctgan's own inverse does neither).
  - a categorical or boolean column is a one-hot block over its categories, sorted by their text
    (rdt's OneHotEncoder orders them by first appearance; a sorted order does not depend on the rows'
    order). The inverse takes the argmax, so activated outputs (softmax probabilities) invert too.
  - missing values are kept, where ctgan fills them with the mean (rdt's FloatFormatter): a numerical
    column with missing values has a two-way block more (present, missing), and its missing rows are
    encoded with alpha 0 and a mode drawn by the mixture's weights; a discrete column has a missing
    category (None, JSON null), which inverts to NaN or None.
Spans (`Span`) list the blocks in output order with their activation: tanh for an alpha, softmax for a
one-hot block, as ctgan's SpanInfo. The condition vector holds the categories of the discrete columns
(`CondSpan`), not the modes or the missing blocks of numbers (ctgan conditions on discrete columns only).

Training-by-sampling (ctgan's `data_sampler.py`, DataSampler with log_frequency=True): each example of
a batch draws a discrete column uniformly, one of its categories with probability proportional to
log(1 + its count in the training rows), and a training row uniformly among those of that category; its
condition is the one-hot of that category. The draws of stream position p are a counter-based hash
(splitmix64) of (seed, p), so a batch is a pure function of the seed and its positions, the same on
any number of processes and after a resume. Sampling (`TableTransform.sample_conditions`) draws the
category by its plain frequency instead: ctgan's sample_original_condvec, which picks a random column of
a random training row.

Bad input is a `UserError` that names the file, the line or row and the column.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import functools
import json
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, Mapping, Sequence

import ml_collections
import numpy as np
import pandas as pd
from scipy.special import digamma

from jaxgan.data import base
from jaxgan.data.spec import DataSpec
from jaxgan.errors import UserError

KINDS = ('csv', 'parquet', 'table')
TABLES = ('diabetes', 'breast_cancer')
COLUMN_KINDS = ('continuous', 'integer', 'categorical', 'boolean')
NUMERICAL = ('continuous', 'integer')
DISCRETE = ('categorical', 'boolean')

WEIGHT_CONCENTRATION_PRIOR = 0.001  # rdt ClusterBasedNormalizer's BayesianGaussianMixture
WEIGHT_THRESHOLD = 0.005  # rdt: modes of smaller weight are dropped
STD_MULTIPLIER = 4  # rdt: alpha = (x - mean) / (4 std)
ALPHA_CLIP = 0.99  # rdt clips the encoded alpha to [-0.99, 0.99]
MODE_FLOOR = 1e-6  # rdt adds it to each mode's probability before drawing the mode
MAX_CATEGORICAL_INTEGERS = 10  # integral numbers with at most this many distinct values read as categories
MIN_ROWS = 10  # fewer training rows than this is an error
MISSING_TEXT = ('', 'nan', 'NaN', 'None', 'null', 'NA', '<NA>')  # --where's names of the missing category

SPLIT_STREAM = 0x5b117  # keeps the seed's uses apart: the holdout rows,
MODE_STREAM = 0x30de5  # the modes drawn by the transform,
SAMPLER_STREAM = 0x7b5  # and training-by-sampling's draws
_MASK64 = (1 << 64) - 1


# --- sources ----------------------------------------------------------------------------------------


def is_table(dataset: str) -> bool:
    """Whether config.dataset names a table: csv:PATH, parquet:PATH or table:NAME."""
    return dataset.partition(':')[0] in KINDS


def canonical(dataset: str) -> str:
    """csv: and parquet: with the path absolute and real (see `pipeline.canonical_dataset`); table:NAME
    as it is."""
    kind, _, arg = dataset.partition(':')
    if kind in ('csv', 'parquet') and arg:
        return f'{kind}:{os.path.realpath(os.path.expanduser(arg))}'
    return dataset


def read_table(dataset: str) -> pd.DataFrame:
    """The rows of the table `dataset` names, all of them, in the input's schema (index 0..n-1)."""
    name = canonical(dataset)
    kind, _, arg = name.partition(':')
    if kind == 'csv' and arg:
        df = _read_csv(arg)
    elif kind == 'parquet' and arg:
        df = _read_parquet(arg)
    elif kind == 'table':
        df = _embedded(arg)
    else:
        raise UserError(f'config.dataset={dataset!r} is not csv:PATH, parquet:PATH or '
                        f'{", ".join("table:" + t for t in TABLES)}')
    df.columns = [str(c) for c in df.columns]
    _check_table(df, name)
    return df.reset_index(drop=True)


def _read_csv(path: str) -> pd.DataFrame:
    """pandas.read_csv after checking, with the csv module, that there is a header and that every line
    has as many fields as the header (pandas would read a longer row's first field as the index)."""
    _check_file(path)
    try:
        with open(path, newline='', encoding='utf-8') as f:
            reader = csv.reader(f)
            header = next((row for row in reader if row), None)
            if header is None:
                raise UserError(f'{path} is empty: no header line and no rows')
            header_line = reader.line_num
            if all(_is_number(cell) for cell in header):
                raise UserError(f'{path}: its first line ({",".join(header)[:80]}) holds numbers, not column '
                                'names: add a header line that names the columns')
            for row in reader:
                if row and len(row) != len(header):
                    raise UserError(f'{path}, line {reader.line_num}: {len(row)} fields where the header '
                                    f'(line {header_line}) names {len(header)} columns')
        return pd.read_csv(path)
    except UnicodeDecodeError as e:
        raise UserError(f'{path} is not UTF-8 text (byte {e.start}): save it as UTF-8') from None
    except (csv.Error, pd.errors.ParserError) as e:
        raise UserError(f'cannot read {path} as CSV: {str(e).splitlines()[0]}') from None


def _read_parquet(path: str) -> pd.DataFrame:
    _check_file(path)
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as e:  # pyarrow's ArrowInvalid and ArrowIOError are these
        raise UserError(f'cannot read {path} as Parquet: {str(e).splitlines()[0]}') from None


def _check_file(path: str) -> None:
    if not os.path.isfile(path):
        raise UserError(f'table file not found: {path}')
    if os.path.getsize(path) == 0:
        raise UserError(f'{path} is empty: no header line and no rows')


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _embedded(name: str) -> pd.DataFrame:
    """The scikit-learn tables: diabetes in raw units, breast cancer with its diagnosis named."""
    from sklearn import datasets
    if name == 'diabetes':
        return datasets.load_diabetes(scaled=False, as_frame=True).frame.rename(columns={'target': 'progression'})
    if name == 'breast_cancer':
        bunch = datasets.load_breast_cancer(as_frame=True)
        frame = bunch.data.copy()
        frame['diagnosis'] = pd.Series(np.where(bunch.target == 0, 'malignant', 'benign'), index=frame.index)
        return frame
    raise UserError(f'config.dataset=table:{name}: the embedded tables are '
                    f'{", ".join("table:" + t for t in TABLES)}')


def _check_table(df: pd.DataFrame, name: str) -> None:
    """Columns, enough rows, and no column that holds one value only."""
    if df.shape[1] == 0:
        raise UserError(f'{name} has no columns')
    if len(df) == 0:
        raise UserError(f'{name} has a header but no rows')
    if len(df) < MIN_ROWS:
        raise UserError(f'{name} has {len(df)} rows; a GAN needs at least {MIN_ROWS}')
    for column in df.columns:
        if df[column].nunique(dropna=False) < 2:
            value = df[column].iloc[0]
            raise UserError(f'{name}: column {column!r} holds the one value {value!r} in all {len(df)} rows, '
                            'so it carries no information: drop it from the table')


def split(df: pd.DataFrame, holdout: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training rows, holdout rows): round(holdout * rows) rows chosen with the seed are held out; both
    keep the table's order, with their index reset. holdout 0 holds out none."""
    if not 0 <= holdout < 1:
        raise UserError(f'config.table.holdout={holdout} must be in [0, 1)')
    held = np.zeros(len(df), bool)
    held[np.random.default_rng([seed, SPLIT_STREAM]).permutation(len(df))[:round(holdout * len(df))]] = True
    return df[~held].reset_index(drop=True), df[held].reset_index(drop=True)


# --- column kinds -----------------------------------------------------------------------------------


def infer_kinds(df: pd.DataFrame, overrides: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Each column's kind, in the table's order. Overrides (kind -> column names, config.table.<kind>)
    win; otherwise a bool column, or one whose two values are True and False (or the strings true and
    false, in any case), is boolean; other non-numbers are categorical; numbers that are all integral
    are integer with more than 10 distinct values and categorical with fewer (diabetes' sex, 1 or 2);
    other numbers are continuous. A column declared continuous or integer must hold numbers, one
    declared boolean truth values: a UserError names the first row (counted from 1, the first row after
    the header in the file) that does not."""
    forced: dict[str, str] = {}
    for kind, names in overrides.items():
        if kind not in COLUMN_KINDS:
            raise UserError(f'column kind {kind!r} is not one of {", ".join(COLUMN_KINDS)}')
        for name in names:
            if name not in df.columns:
                close = difflib.get_close_matches(name, list(df.columns), n=3)
                hint = f'did you mean {", ".join(close)}?' if close else f'its columns: {_listing(df.columns)}'
                raise UserError(f'config.table.{kind}: the table has no column {name!r} ({hint})')
            if forced.get(name, kind) != kind:
                raise UserError(f'column {name!r} is in both config.table.{forced[name]} and config.table.{kind}')
            forced[name] = kind
    kinds = {}
    for name in df.columns:
        kind = forced.get(name) or _infer(df[name])
        if kind in NUMERICAL:
            _numbers(df[name], name, kind)
        elif kind == 'boolean':
            _booleans(df[name], name)
        kinds[name] = kind
    return kinds


def _infer(series: pd.Series) -> str:
    values = series.dropna()
    if pd.api.types.is_bool_dtype(series) or _truth_values(values):
        return 'boolean'
    if not pd.api.types.is_numeric_dtype(series):
        return 'categorical'
    x = values.to_numpy(np.float64)
    if np.all(np.isfinite(x) & (x == np.round(x))):
        return 'integer' if len(np.unique(x)) > MAX_CATEGORICAL_INTEGERS else 'categorical'
    return 'continuous'


def _truth_values(values: pd.Series) -> bool:
    """Whether the (non-missing) values are exactly True and False, as bools or as text."""
    distinct = set(values.unique().tolist())
    if len(distinct) != 2:
        return False
    if all(isinstance(v, (bool, np.bool_)) for v in distinct):
        return True
    return all(isinstance(v, str) for v in distinct) and {v.lower() for v in distinct} == {'true', 'false'}


def _listing(names: Sequence[Any], count: int = 12) -> str:
    names = [str(n) for n in names]
    return ', '.join(names[:count]) + (f' and {len(names) - count} more' if len(names) > count else '')


def _numbers(series: pd.Series, name: str, kind: str) -> np.ndarray:
    """A numerical column as float64, missing values NaN; a UserError names the first row that holds
    something else (text, or an infinity)."""
    x = pd.to_numeric(series, errors='coerce').to_numpy(np.float64, na_value=np.nan)
    bad = np.flatnonzero(np.isinf(x) | (np.isnan(x) & series.notna().to_numpy()))
    if len(bad):
        value = series.iloc[bad[0]]
        raise UserError(f'column {name!r} is {kind}, but its row {bad[0] + 1} (counted from 1 after the header) '
                        f'holds {value!r}, not a finite number')
    return x


def _booleans(series: pd.Series, name: str) -> list[bool | None]:
    """A boolean column as True, False or None (missing); True/False as bools, text in any case, or 1/0."""
    out: list[bool | None] = []
    for i, value in enumerate(series.tolist()):
        if _missing(value):
            out.append(None)
        elif isinstance(value, str) and value.strip().lower() in ('true', 'false'):
            out.append(value.strip().lower() == 'true')
        elif isinstance(value, (bool, np.bool_, int, float, np.integer, np.floating)) and value in (0, 1):
            out.append(bool(value))
        else:
            raise UserError(f'column {name!r} is boolean, but its row {i + 1} (counted from 1 after the header) '
                            f'holds {value!r}, not true or false')
    return out


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _category(value: Any, integral: bool) -> Any:
    """A discrete value as a JSON value: None where missing, bools, ints (and integral numbers of an
    integral column), floats, strings; anything else as its text."""
    if _missing(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return int(value) if integral else float(value)
    return value if isinstance(value, str) else str(value)


def _categories(series: pd.Series, name: str, kind: str) -> list[Any]:
    """Each row's category (see `_category`)."""
    if kind == 'boolean':
        return _booleans(series, name)
    integral = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if integral:
        x = series.dropna().to_numpy(np.float64)
        integral = bool(np.all(x == np.round(x)))
    return [_category(v, integral) for v in series.tolist()]


def _category_order(value: Any) -> tuple[bool, str, str]:
    """Categories sorted by their text, the missing one last."""
    return value is None, str(value), type(value).__name__


# --- the transform ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Span:
    """A block of the encoded row: 'tanh' (one alpha) or 'softmax' (a one-hot block)."""

    start: int
    size: int
    activation: str


@dataclasses.dataclass(frozen=True)
class CondSpan:
    """A discrete column's one-hot block in the encoded row, and where it sits in the condition vector."""

    start: int
    size: int
    cond_start: int


@dataclasses.dataclass(frozen=True)
class ColumnInfo:
    """One column's fitted encoding (the module docstring), all of it plain JSON values.

    Numerical columns (continuous, integer): the mixture's components, all of them, as `means`, `stds`
    (sqrt of sklearn's covariances_) and `offsets`: the log-posterior of component k at x is
    offsets[k] - log(stds[k]) - ((x - means[k]) / stds[k])^2 / 2 up to a constant, which is sklearn's
    variational BayesianGaussianMixture.predict_proba; `modes`: the components kept (weight > 0.005),
    the order of the mode block; `weights`: their mixture weights. Discrete columns (categorical,
    boolean): `categories` in block order (None: missing) and `counts`, their rows in the fitted data.
    """

    name: str
    kind: str
    dtype: str  # the input's dtype, as pandas names it
    missing: float  # the fraction of the fitted rows where the value is missing
    minimum: float | None = None  # numerical: the observed range
    maximum: float | None = None
    means: tuple[float, ...] = ()
    stds: tuple[float, ...] = ()
    offsets: tuple[float, ...] = ()
    modes: tuple[int, ...] = ()
    weights: tuple[float, ...] = ()
    categories: tuple[Any, ...] = ()
    counts: tuple[int, ...] = ()

    @property
    def numerical(self) -> bool:
        return self.kind in NUMERICAL

    @property
    def width(self) -> int:
        """The columns of its block in the encoded row."""
        if self.numerical:
            return 1 + len(self.modes) + (2 if self.missing else 0)
        return len(self.categories)

    def spans(self, start: int) -> list[Span]:
        if not self.numerical:
            return [Span(start, len(self.categories), 'softmax')]
        out = [Span(start, 1, 'tanh'), Span(start + 1, len(self.modes), 'softmax')]
        if self.missing:
            out.append(Span(start + 1 + len(self.modes), 2, 'softmax'))
        return out


def _fit_column(series: pd.Series, name: str, kind: str, seed: int, max_modes: int) -> ColumnInfo:
    missing = float(series.isna().mean())
    if kind in DISCRETE:
        values = _categories(series, name, kind)
        categories = sorted(set(values), key=_category_order)
        index = {c: i for i, c in enumerate(categories)}
        counts = np.bincount([index[v] for v in values], minlength=len(categories))
        return ColumnInfo(name, kind, str(series.dtype), missing, categories=tuple(categories),
                          counts=tuple(int(c) for c in counts))
    x = _numbers(series, name, kind)
    x = x[~np.isnan(x)]
    if not len(x):
        raise UserError(f'column {name!r} is {kind}, but every one of its values is missing')
    from sklearn.exceptions import ConvergenceWarning  # here: importing sklearn takes a second
    from sklearn.mixture import BayesianGaussianMixture
    bgm = BayesianGaussianMixture(n_components=min(max_modes, len(x)),
                                  weight_concentration_prior_type='dirichlet_process',
                                  weight_concentration_prior=WEIGHT_CONCENTRATION_PRIOR, n_init=1,
                                  random_state=seed & 0xFFFFFFFF)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', ConvergenceWarning)  # as rdt: a mixture short of converging is used
        bgm.fit(x.reshape(-1, 1))
    modes = np.flatnonzero(bgm.weights_ > WEIGHT_THRESHOLD)
    return ColumnInfo(name, kind, str(series.dtype), missing, float(x.min()), float(x.max()),
                      means=_floats(bgm.means_.ravel()), stds=_floats(np.sqrt(bgm.covariances_.ravel())),
                      offsets=_floats(_log_offsets(bgm)), modes=tuple(int(k) for k in modes),
                      weights=_floats(bgm.weights_[modes]))


def _floats(x: np.ndarray) -> tuple[float, ...]:
    return tuple(float(v) for v in x)


def _log_offsets(bgm) -> np.ndarray:
    """Per component, the terms of sklearn's BayesianGaussianMixture._estimate_weighted_log_prob (one
    feature, dirichlet_process prior) that do not depend on x: the expected log weight of the stick
    breaking, -log(dof)/2, and (log 2 + digamma(dof / 2) - 1 / mean_precision) / 2."""
    a, b = bgm.weight_concentration_
    total = digamma(a + b)
    log_weights = digamma(a) - total + np.concatenate([[0.0], np.cumsum(digamma(b) - total)[:-1]])
    dof = bgm.degrees_of_freedom_
    return log_weights - 0.5 * np.log(dof) + 0.5 * (np.log(2.0) + digamma(0.5 * dof) - 1.0 / bgm.mean_precision_)


def mode_probabilities(info: ColumnInfo, x: np.ndarray) -> np.ndarray:
    """[n, kept modes]: the mixture's posterior over all its components (sklearn's predict_proba)
    restricted to the kept modes, each raised by 1e-6 and renormalised, as rdt draws the mode."""
    means, stds, offsets = (np.asarray(v) for v in (info.means, info.stds, info.offsets))
    log_p = offsets - np.log(stds) - 0.5 * np.square((x[:, None] - means) / stds)
    p = np.exp(log_p - log_p.max(1, keepdims=True))
    p = p / p.sum(1, keepdims=True)
    p = p[:, list(info.modes)] + MODE_FLOOR
    return p / p.sum(1, keepdims=True)


def _draw(cumulative: np.ndarray, u: np.ndarray, sizes: np.ndarray | int) -> np.ndarray:
    """Per row, the index i of the first cumulative probability above u (ctgan's
    `(probs.cumsum() > r).argmax()`), kept below `sizes` against rounding."""
    return np.minimum((cumulative <= u[:, None]).sum(1), np.asarray(sizes) - 1)


def _encode_numerical(info: ColumnInfo, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n, k = len(x), len(info.modes)
    present = ~np.isnan(x)
    u = rng.random(n)
    mode = np.empty(n, np.int64)
    mode[present] = _draw(np.cumsum(mode_probabilities(info, x[present]), 1), u[present], k)
    weights = np.asarray(info.weights) / np.sum(info.weights)
    mode[~present] = _draw(np.cumsum(weights)[None], u[~present], k)
    means, stds = np.asarray(info.means)[list(info.modes)], np.asarray(info.stds)[list(info.modes)]
    alpha = np.clip((np.where(present, x, means[mode]) - means[mode]) / (STD_MULTIPLIER * stds[mode]),
                    -ALPHA_CLIP, ALPHA_CLIP)
    out = np.zeros((n, info.width), np.float32)
    out[:, 0] = alpha
    out[np.arange(n), 1 + mode] = 1
    if info.missing:
        out[np.arange(n), 1 + k + (~present).astype(np.int64)] = 1
    return out


def _encode_discrete(info: ColumnInfo, series: pd.Series) -> np.ndarray:
    index = {c: i for i, c in enumerate(info.categories)}
    codes = []
    for row, value in enumerate(_categories(series, info.name, info.kind)):
        if value not in index:
            raise UserError(f'column {info.name!r}, row {row + 1}: {value!r} is not one of the categories '
                            f'it was fitted on ({_listing(info.categories)})')
        codes.append(index[value])
    out = np.zeros((len(codes), info.width), np.float32)
    out[np.arange(len(codes)), codes] = 1
    return out


def _decode_numerical(info: ColumnInfo, block: np.ndarray) -> pd.Series:
    k = len(info.modes)
    mode = block[:, 1:1 + k].argmax(1)
    means, stds = np.asarray(info.means)[list(info.modes)], np.asarray(info.stds)[list(info.modes)]
    x = np.clip(block[:, 0].astype(np.float64), -1, 1) * STD_MULTIPLIER * stds[mode] + means[mode]
    if info.kind == 'integer':
        x = np.round(x)
    x = np.clip(x, info.minimum, info.maximum)
    if info.missing:
        x[block[:, 1 + k:3 + k].argmax(1) == 1] = np.nan
    if info.kind == 'continuous':
        return pd.Series(x, name=info.name, dtype=np.float64)
    return pd.Series(x, name=info.name).astype('Int64' if info.missing else np.int64)


def _decode_discrete(info: ColumnInfo, block: np.ndarray) -> pd.Series:
    """The categories as in the input: bools as bool ('boolean' with missing), integers as int64
    ('Int64' with missing), other numbers float64, text in the input's string dtype or as objects."""
    values = np.empty(len(info.categories), object)
    values[:] = list(info.categories)
    series = pd.Series(values[block.argmax(1)], name=info.name, dtype=object)
    present = [c for c in info.categories if c is not None]
    has_missing = len(present) < len(info.categories)
    if all(isinstance(c, bool) for c in present):
        return series.astype('boolean' if has_missing else bool)
    if all(isinstance(c, int) for c in present):
        return series.astype('Int64' if has_missing else np.int64)
    if all(isinstance(c, (int, float)) for c in present):
        return series.astype(np.float64)
    dtype = _input_dtype(info.dtype)
    return series.astype(dtype) if dtype is not None else series


def _input_dtype(name: str) -> Any:
    """The input's pandas string or category dtype, to restore text columns in; None for others."""
    try:
        dtype = pd.api.types.pandas_dtype(name)
    except TypeError:
        return None
    return dtype if isinstance(dtype, (pd.StringDtype, pd.CategoricalDtype)) else None


@dataclasses.dataclass(frozen=True)
class TableTransform:
    """The fitted encoding of a table's rows (module docstring): a `ColumnInfo` per column, in the
    table's order."""

    columns: tuple[ColumnInfo, ...]

    @classmethod
    def fit(cls, df: pd.DataFrame, kinds: Mapping[str, str], *, seed: int, max_modes: int = 10) -> 'TableTransform':
        """Fitted on the rows of `df`, a column per entry of `kinds` (in the table's order); the
        mixtures are fitted with random_state=seed."""
        if max_modes < 1:
            raise UserError(f'config.table.max_modes={max_modes} must be >= 1')
        unknown = [name for name in kinds if name not in df.columns]
        if unknown:
            raise UserError(f'the table has no column {unknown[0]!r} (its columns: {_listing(df.columns)})')
        for name, kind in kinds.items():
            if kind not in COLUMN_KINDS:
                raise UserError(f'column {name!r} has kind {kind!r}; expected one of {", ".join(COLUMN_KINDS)}')
        return cls(tuple(_fit_column(df[name], name, kinds[name], seed, max_modes)
                         for name in df.columns if name in kinds))

    @functools.cached_property
    def spans(self) -> tuple[Span, ...]:
        """The encoded row's blocks in order, with their activations."""
        out, start = [], 0
        for info in self.columns:
            out += info.spans(start)
            start += info.width
        return tuple(out)

    @property
    def dim(self) -> int:
        return sum(info.width for info in self.columns)

    @functools.cached_property
    def cond_spans(self) -> tuple[CondSpan, ...]:
        """The discrete columns' blocks, in order, and their places in the condition vector."""
        out, start, cond_start = [], 0, 0
        for info in self.columns:
            if not info.numerical:
                out.append(CondSpan(start, info.width, cond_start))
                cond_start += info.width
            start += info.width
        return tuple(out)

    @property
    def cond_dim(self) -> int:
        return sum(span.size for span in self.cond_spans)

    @functools.cached_property
    def _discrete(self) -> dict[str, tuple[ColumnInfo, CondSpan]]:
        discrete = [info for info in self.columns if not info.numerical]
        return {info.name: (info, span) for info, span in zip(discrete, self.cond_spans)}

    def transform(self, df: pd.DataFrame, seed: int) -> np.ndarray:
        """Rows of `df` (with the fitted columns) encoded: float32 [n, dim]. Each numerical column's
        modes are drawn with a generator of (seed, the column's place)."""
        blocks = []
        for i, info in enumerate(self.columns):
            if info.name not in df.columns:
                raise UserError(f'the table has no column {info.name!r}, which the transform was fitted on')
            series = df[info.name]
            if info.numerical:
                x = _numbers(series, info.name, info.kind)
                if not info.missing and np.isnan(x).any():
                    raise UserError(f'column {info.name!r}, row {np.flatnonzero(np.isnan(x))[0] + 1}: a missing '
                                    'value, where the rows the transform was fitted on had none')
                blocks.append(_encode_numerical(info, x, np.random.default_rng([seed & _MASK64, MODE_STREAM, i])))
            else:
                blocks.append(_encode_discrete(info, series))
        return np.concatenate(blocks, axis=1) if blocks else np.zeros((len(df), 0), np.float32)

    def inverse(self, x: np.ndarray, seed: int) -> pd.DataFrame:
        """Encoded rows [n, dim], or the generator's activated outputs (tanh values, softmax
        probabilities: one-hot blocks are read by their argmax), as rows in the input's schema: its
        column names and order; continuous float64, integer int64, boolean bool, categorical the
        input's values ('Int64' and 'boolean' where the column has missing values). The inverse is
        deterministic, as rdt's: `seed` draws nothing, and is taken for the interface's symmetry."""
        del seed
        x = np.asarray(x, np.float32)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f'expected rows of {self.dim} values, got an array of shape {x.shape}')
        out, start = {}, 0
        for info in self.columns:
            block = x[:, start:start + info.width]
            out[info.name] = (_decode_numerical if info.numerical else _decode_discrete)(info, block)
            start += info.width
        return pd.DataFrame(out)

    def to_json(self) -> str:
        return json.dumps({'columns': [dataclasses.asdict(c) for c in self.columns]}, allow_nan=False)

    @classmethod
    def from_json(cls, s: str) -> 'TableTransform':
        columns = json.loads(s)['columns']
        return cls(tuple(ColumnInfo(**{k: tuple(v) if isinstance(v, list) else v for k, v in c.items()})
                         for c in columns))

    def _discrete_column(self, column: str, what: str) -> tuple[ColumnInfo, CondSpan]:
        if column in self._discrete:
            return self._discrete[column]
        names = [c.name for c in self.columns]
        if column in names:
            kind = self.columns[names.index(column)].kind
            raise UserError(f'{what}: column {column!r} is {kind}; conditions are categories of the categorical '
                            f'and boolean columns: {_listing(self._discrete) or "the table has none"}')
        close = difflib.get_close_matches(column, names, n=3)
        hint = f'did you mean {", ".join(close)}?' if close else f'its columns: {_listing(names)}'
        raise UserError(f'{what}: the table has no column {column!r} ({hint})')

    def condition(self, column: str, value: Any) -> int:
        """The index in the condition vector of `column == value` (value as in the input; None or NaN:
        the missing category)."""
        info, span = self._discrete_column(column, f'{column}={value!r}')
        key = None if _missing(value) else value
        for k, category in enumerate(info.categories):
            if (category is None and key is None) or (category is not None and key is not None and category == key):
                return span.cond_start + k
        raise UserError(f'{column}={value!r}: column {column!r} has no such category; its categories: '
                        f'{_listing(info.categories, 20)}')

    def parse_value(self, column: str, text: str) -> Any:
        """The category of `column` that --where=COLUMN=TEXT names: as written in the input (true and
        false in any case for booleans; 1 and 1.0 alike for numbers; '' or NaN for the missing one)."""
        info, _ = self._discrete_column(column, f'--where={column}={text}')
        for category in info.categories:
            if _names(category, text.strip()):
                return category
        raise UserError(f'--where={column}={text}: column {column!r} has no category {text!r}; its categories: '
                        f'{_listing(info.categories, 20)}')

    def sample_conditions(self, n: int, rng: np.random.Generator, column: str | None = None,
                          value: Any = None) -> np.ndarray:
        """float32 [n, cond_dim] condition vectors for sampling: each a discrete column drawn uniformly
        and one of its categories by its frequency in the fitted rows (ctgan's sample_original_condvec);
        with `column`, every row conditioned on column == value."""
        out = np.zeros((n, self.cond_dim), np.float32)
        if column is not None:
            out[:, self.condition(column, value)] = 1
        elif self.cond_spans:
            discrete = [info for info in self.columns if not info.numerical]
            table = _CategoryTable.of(self.cond_spans, [np.asarray(info.counts, np.float64) for info in discrete])
            columns = rng.integers(len(self.cond_spans), size=n)
            out[np.arange(n), table.draw(columns, rng.random(n))] = 1
        return out


def _names(category: Any, text: str) -> bool:
    """Whether --where's text names the category."""
    if category is None:
        return text in MISSING_TEXT
    if isinstance(category, bool):
        return text.lower() == str(category).lower()
    if isinstance(category, (int, float)):
        return _is_number(text) and float(text) == category
    return text == str(category)


@dataclasses.dataclass(frozen=True)
class _CategoryTable:
    """Per discrete column, its categories' cumulative probabilities (padded past its size) and where
    its block starts in the condition vector."""

    cumulative: np.ndarray  # [columns, most categories]
    sizes: np.ndarray  # [columns]
    cond_starts: np.ndarray  # [columns]

    @classmethod
    def of(cls, spans: Sequence[CondSpan], weights: Sequence[np.ndarray]) -> '_CategoryTable':
        cumulative = np.full((len(spans), max(s.size for s in spans)), 2.0)
        for j, w in enumerate(weights):
            cumulative[j, :len(w)] = np.cumsum(w / w.sum())
        return cls(cumulative, np.array([s.size for s in spans]), np.array([s.cond_start for s in spans]))

    def draw(self, columns: np.ndarray, u: np.ndarray) -> np.ndarray:
        """The condition-vector index of a category of each of `columns`, with uniforms u."""
        return self.cond_starts[columns] + _draw(self.cumulative[columns], u, self.sizes[columns])


# --- training-by-sampling ---------------------------------------------------------------------------


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's output function (Steele et al. 2014) on uint64s, elementwise."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def uniforms(seed: int, positions: np.ndarray, count: int) -> np.ndarray:
    """[len(positions), count] uniforms in [0, 1): draw j of position p is a hash of (seed, p, j)
    (splitmix64's stream from a key of the seed, at counter p * count + j)."""
    golden = np.uint64(0x9E3779B97F4A7C15)
    key = _splitmix64(np.array([(seed ^ SAMPLER_STREAM) & _MASK64], np.uint64))
    counters = np.asarray(positions).astype(np.uint64)[:, None] * np.uint64(count) + np.arange(count, dtype=np.uint64)
    z = _splitmix64(key + (counters + np.uint64(1)) * golden)
    return (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


@dataclasses.dataclass(frozen=True)
class _RowSampler:
    """Training-by-sampling's tables: the categories' log-frequencies, and the training rows sorted by
    category, a column after another (`order[starts[c]:starts[c] + counts[c]]` hold category c)."""

    categories: _CategoryTable
    order: np.ndarray
    starts: np.ndarray  # [cond_dim]
    counts: np.ndarray  # [cond_dim]

    @classmethod
    def of(cls, spans: Sequence[CondSpan], rows: np.ndarray) -> '_RowSampler':
        n = len(rows)
        orders, starts, counts = [], [], []
        for j, span in enumerate(spans):
            codes = rows[:, span.start:span.start + span.size].argmax(1)
            count = np.bincount(codes, minlength=span.size)
            orders.append(np.argsort(codes, kind='stable'))
            starts.append(j * n + np.concatenate([[0], np.cumsum(count)[:-1]]))
            counts.append(count)
        table = _CategoryTable.of(spans, [np.log1p(c) for c in counts])  # ctgan's log_frequency=True
        return cls(table, np.concatenate(orders), np.concatenate(starts), np.concatenate(counts))

    def draw(self, seed: int, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row index, condition-vector index) for each stream position."""
        u = uniforms(seed, positions, 3)
        columns = np.minimum((u[:, 0] * len(self.categories.sizes)).astype(np.int64), len(self.categories.sizes) - 1)
        cond = self.categories.draw(columns, u[:, 1])
        count = self.counts[cond]
        return self.order[self.starts[cond] + np.minimum((u[:, 2] * count).astype(np.int64), count - 1)], cond


@dataclasses.dataclass(frozen=True, eq=False)
class TableDataset:
    """A table's training rows, raw (`train`, in the input's schema) and encoded (`rows`), its holdout
    rows and the fitted transform. A `base.DataSource` of layout TABLE: the `pipeline.Batcher` reads
    its batches with `batch`."""

    spec: DataSpec
    transform: TableTransform
    train: pd.DataFrame
    holdout: pd.DataFrame
    rows: np.ndarray  # float32 [n_train, dim]
    labels: ClassVar[None] = None  # batches hold conditions, not classes
    layout: ClassVar[str] = base.TABLE

    @property
    def description(self) -> str:
        return self.spec.source

    @property
    def sizes(self) -> tuple[int]:
        """One index stream, of the training rows."""
        return (len(self.rows),)

    @functools.cached_property
    def _sampler(self) -> _RowSampler | None:
        return _RowSampler.of(self.transform.cond_spans, self.rows) if self.transform.cond_spans else None

    def read(self, indices: Sequence[np.ndarray], pool: ThreadPoolExecutor | None = None) -> dict[str, np.ndarray]:
        """{'x': the training rows `indices[0]`, 'c': no conditions (zeros)}."""
        del pool  # the rows are in memory
        rows = self.rows[np.asarray(indices[0])]
        return {'x': rows, 'c': np.zeros((len(rows), self.transform.cond_dim), np.float32)}

    def batch(self, indices: list[np.ndarray], positions: np.ndarray, seed: int,
              pool: ThreadPoolExecutor | None = None) -> dict[str, np.ndarray]:
        """{'x': float32 [b, dim] training rows, 'c': float32 [b, cond_dim] their conditions}, drawn by
        training-by-sampling from (seed, each position); without discrete columns, the rows
        `indices[0]` of the ordinary seeded stream and conditions of size 0."""
        del pool  # the rows are in memory
        b = len(positions)
        c = np.zeros((b, self.transform.cond_dim), np.float32)
        if self._sampler is None:
            return {'x': self.rows[np.asarray(indices[0])], 'c': c}
        rows, cond = self._sampler.draw(seed, np.asarray(positions))
        c[np.arange(b), cond] = 1
        return {'x': self.rows[rows], 'c': c}


def _overrides(table: ml_collections.ConfigDict) -> dict[str, list[str]]:
    """config.table.<kind> (comma-separated column names) as kind -> names."""
    return {kind: [n.strip() for n in str(table.get(kind, '') or '').split(',') if n.strip()] for kind in COLUMN_KINDS}


def load(config: ml_collections.ConfigDict) -> TableDataset:
    """Reads config.dataset, holds out config.table.holdout of its rows (chosen with config.seed), fits
    the transform on the rest (config.table.max_modes modes at most per number) and encodes them."""
    name = canonical(config.dataset)
    t = config.table
    df = read_table(name)
    kinds = infer_kinds(df, _overrides(t))
    train, holdout = split(df, t.holdout, config.seed)
    if len(train) < MIN_ROWS:
        raise UserError(f'{name}: {len(train)} training rows after holding out {len(holdout)} '
                        f'(config.table.holdout={t.holdout}); a GAN needs at least {MIN_ROWS}')
    transform = TableTransform.fit(train, kinds, seed=config.seed, max_modes=t.max_modes)
    rows = transform.transform(train, seed=config.seed)
    spec = DataSpec('table', (transform.dim,), len(train), name, table=transform.to_json())
    return TableDataset(spec, transform, train, holdout, rows)
