"""The fitted encoding of a table's rows for CTGAN (jaxgan.data.tables's docstring describes it):
`TableTransform`, a `ColumnInfo` per column, and the condition vectors of sampling."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import warnings
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.special import digamma

from jaxgan.data import table_identifiers
from jaxgan.data.table_columns import (COLUMN_KINDS, DISCRETE, MADE, NUMERICAL, _categories, _category,
                                       _category_order, _listing, _missing, _numbers, date_format, date_numbers,
                                       date_unit, decimals, numbers_to_dates)
from jaxgan.data.table_sources import _is_number
from jaxgan.errors import UserError

WEIGHT_CONCENTRATION_PRIOR = 0.001  # rdt ClusterBasedNormalizer's BayesianGaussianMixture
WEIGHT_THRESHOLD = 0.005  # rdt: modes of smaller weight are dropped
STD_MULTIPLIER = 4  # rdt: alpha = (x - mean) / (4 std)
ALPHA_CLIP = 0.99  # rdt clips the encoded alpha to [-0.99, 0.99]
# The mixtures' most variational iterations. rdt keeps sklearn's 100, where a unimodal column's fit
# has not converged: it is left as 7 to 9 overlapping modes, each row's drawn at random, and the rows
# lose pairwise correlation (docs/tables.md, 'Keeping the correlations'). 1000 converge on them.
MIXTURE_ITERATIONS = 1000
MODE_FLOOR = 1e-6  # rdt adds it to each mode's probability before drawing the mode
MISSING_TEXT = ('', 'nan', 'NaN', 'None', 'null', 'NA', '<NA>')  # --where's names of the missing category
MODE_STREAM = 0x30de5  # keeps the seed's uses apart: the modes drawn by the transform
_MASK64 = (1 << 64) - 1


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
    Continuous columns keep their `decimals`; datetime columns are numbers of `unit` since 1970 (a
    numerical column) with the input's `format`. Columns made without the generator have no block:
    a constant column's one value is its `categories`, an identifier's fresh values are described
    by `format`, `prefix`, `suffix`, `digits`, `start`, `alphabets` and `room` (table_identifiers).
    Fields added since the first version have defaults, so older checkpoints read as they did.
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
    decimals: int | None = None  # continuous: the input's decimals (None: a float's all)
    format: str = ''  # datetime: the input's strftime format ('': a datetime dtype); identifier: its format
    unit: str = ''  # datetime: 'D' (days) or 's' (seconds)
    prefix: str = ''  # identifier (table_identifiers)
    suffix: str = ''
    digits: int = 0
    start: int = 0
    alphabets: tuple[str, ...] = ()
    room: int = 0

    @property
    def numerical(self) -> bool:
        return self.kind in NUMERICAL

    @property
    def discrete(self) -> bool:
        """Whether it is a one-hot block of the condition vector."""
        return self.kind in DISCRETE

    @property
    def width(self) -> int:
        """The columns of its block in the encoded row (none for a constant or an identifier)."""
        if self.numerical:
            return 1 + len(self.modes) + (2 if self.missing else 0)
        return len(self.categories) if self.discrete else 0

    def spans(self, start: int) -> list[Span]:
        if self.kind in MADE:
            return []
        if not self.numerical:
            return [Span(start, len(self.categories), 'softmax')]
        out = [Span(start, 1, 'tanh'), Span(start + 1, len(self.modes), 'softmax')]
        if self.missing:
            out.append(Span(start + 1 + len(self.modes), 2, 'softmax'))
        return out


def _fit_column(series: pd.Series, name: str, kind: str, seed: int, max_modes: int,
                iterations: int = MIXTURE_ITERATIONS) -> ColumnInfo:
    missing = float(series.isna().mean())
    dtype = str(series.dtype)
    if kind == 'constant':
        value = series.iloc[0] if len(series) else None
        return ColumnInfo(name, kind, dtype, missing, categories=(_category(value, False),), counts=(len(series),))
    if kind == 'identifier':
        return ColumnInfo(name, kind, dtype, missing, **table_identifiers.fit_identifier(series))
    if kind in DISCRETE:
        values = _categories(series, name, kind)
        categories = sorted(set(values), key=_category_order)
        index = {c: i for i, c in enumerate(categories)}
        counts = np.bincount([index[v] for v in values], minlength=len(categories))
        return ColumnInfo(name, kind, str(series.dtype), missing, categories=tuple(categories),
                          counts=tuple(int(c) for c in counts))
    extra: dict[str, Any] = {}
    if kind == 'datetime':
        fmt = date_format(series)
        if fmt is None:
            raise UserError(f'column {name!r} is datetime, but its values are no dates of one format')
        extra = {'format': fmt, 'unit': date_unit(fmt, series)}
        x = date_numbers(series, fmt, extra['unit'], name)
    else:
        x = _numbers(series, name, kind)
    x = x[~np.isnan(x)]
    if not len(x):
        raise UserError(f'column {name!r} is {kind}, but every one of its values is missing')
    if kind == 'continuous':
        extra = {'decimals': decimals(x)}
    from sklearn.exceptions import ConvergenceWarning  # here: importing sklearn takes a second
    from sklearn.mixture import BayesianGaussianMixture
    bgm = BayesianGaussianMixture(n_components=min(max_modes, len(x)),
                                  weight_concentration_prior_type='dirichlet_process',
                                  weight_concentration_prior=WEIGHT_CONCENTRATION_PRIOR, n_init=1,
                                  max_iter=iterations, random_state=seed & 0xFFFFFFFF)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', ConvergenceWarning)  # as rdt: a mixture short of converging is used
        bgm.fit(x.reshape(-1, 1))
    modes = np.flatnonzero(bgm.weights_ > WEIGHT_THRESHOLD)
    return ColumnInfo(name, kind, dtype, missing, float(x.min()), float(x.max()),
                      means=_floats(bgm.means_.ravel()), stds=_floats(np.sqrt(bgm.covariances_.ravel())),
                      offsets=_floats(_log_offsets(bgm)), modes=tuple(int(k) for k in modes),
                      weights=_floats(bgm.weights_[modes]), **extra)


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
    if info.kind in ('integer', 'datetime'):
        x = np.round(x)
    elif info.decimals is not None:
        x = np.round(x, info.decimals)  # the input's precision: 71.9 stays 71.9, not 71.93718290367
    x = np.clip(x, info.minimum, info.maximum)
    if info.missing:
        x[block[:, 1 + k:3 + k].argmax(1) == 1] = np.nan
    if info.kind == 'datetime':
        dates = numbers_to_dates(x, info.format, info.unit).rename(info.name)
        dtype = _input_dtype(info.dtype)  # text dates in the input's string dtype
        return dates.astype(dtype) if isinstance(dtype, pd.StringDtype) else dates
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
    if not present:  # a constant column with every value missing
        return series.astype(np.float64) if info.dtype.startswith(('float', 'int')) else series
    if all(isinstance(c, bool) for c in present):
        return series.astype('boolean' if has_missing else bool)
    if all(isinstance(c, int) for c in present):
        return series.astype('Int64' if has_missing else np.int64)
    if all(isinstance(c, (int, float)) for c in present):
        return series.astype(np.float64)
    dtype = _input_dtype(info.dtype)
    return series.astype(dtype) if dtype is not None else series


def _decode_identifier(info: ColumnInfo, n: int) -> pd.Series:
    fields = {field: getattr(info, field) for field in ('format', 'prefix', 'suffix', 'digits', 'start', 'alphabets',
                                                         'room')}
    values = table_identifiers.fresh(info.name, fields, n)
    if info.format == 'integer':
        return pd.Series(values, name=info.name, dtype=np.int64)
    dtype = _input_dtype(info.dtype)
    series = pd.Series(values, name=info.name, dtype=object)
    return series.astype(dtype) if isinstance(dtype, pd.StringDtype) else series


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
    def fit(cls, df: pd.DataFrame, kinds: Mapping[str, str], *, seed: int, max_modes: int = 10,
            keys: pd.DataFrame | None = None, iterations: int = MIXTURE_ITERATIONS) -> 'TableTransform':
        """Fitted on the rows of `df`, a column per entry of `kinds` (in the table's order); the
        mixtures are fitted with random_state=seed; identifiers' formats on the rows of `keys` (default
        df): all the real rows, so that no fresh key equals a real one. iterations: the mixtures' most
        variational iterations (sklearn's max_iter; rdt's 100)."""
        if max_modes < 1:
            raise UserError(f'config.table.max_modes={max_modes} must be >= 1')
        unknown = [name for name in kinds if name not in df.columns]
        if unknown:
            raise UserError(f'the table has no column {unknown[0]!r} (its columns: {_listing(df.columns)})')
        for name, kind in kinds.items():
            if kind not in COLUMN_KINDS:
                raise UserError(f'column {name!r} has kind {kind!r}; expected one of {", ".join(COLUMN_KINDS)}')
        keys = df if keys is None else keys
        return cls(tuple(_fit_column((keys if kinds[name] == 'identifier' else df)[name], name, kinds[name], seed,
                                     max_modes, iterations)
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
            if info.discrete:
                out.append(CondSpan(start, info.width, cond_start))
                cond_start += info.width
            start += info.width
        return tuple(out)

    @property
    def cond_dim(self) -> int:
        return sum(span.size for span in self.cond_spans)

    @functools.cached_property
    def _discrete(self) -> dict[str, tuple[ColumnInfo, CondSpan]]:
        discrete = [info for info in self.columns if info.discrete]
        return {info.name: (info, span) for info, span in zip(discrete, self.cond_spans)}

    def transform(self, df: pd.DataFrame, seed: int) -> np.ndarray:
        """Rows of `df` (with the fitted columns) encoded: float32 [n, dim]. Each numerical column's
        modes are drawn with a generator of (seed, the column's place)."""
        blocks = []
        for i, info in enumerate(self.columns):
            if info.name not in df.columns:
                raise UserError(f'the table has no column {info.name!r}, which the transform was fitted on')
            series = df[info.name]
            if info.kind in MADE:
                continue  # made without the generator
            if info.numerical:
                x = (date_numbers(series, info.format, info.unit, info.name) if info.kind == 'datetime'
                     else _numbers(series, info.name, info.kind))
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
        column names and order; continuous float64 with the input's decimals, integer int64, boolean
        bool, categorical the input's values ('Int64' and 'boolean' where the column has missing
        values), datetime in the input's format, a constant its value, an identifier fresh keys (the
        i-th row the i-th: table_identifiers). The inverse is deterministic, as rdt's: `seed` draws
        nothing, and is taken for the interface's symmetry."""
        del seed
        x = np.asarray(x, np.float32)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f'expected rows of {self.dim} values, got an array of shape {x.shape}')
        out, start = {}, 0
        for info in self.columns:
            block = x[:, start:start + info.width]
            if info.kind == 'identifier':
                out[info.name] = _decode_identifier(info, len(x))
            elif info.kind == 'constant':
                out[info.name] = _decode_discrete(info, np.ones((len(x), 1), np.float32))
            else:
                out[info.name] = (_decode_numerical if info.numerical else _decode_discrete)(info, block)
            start += info.width
        return pd.DataFrame(out, index=pd.RangeIndex(len(x)))

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
            discrete = [info for info in self.columns if info.discrete]
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
