"""A table's encoding and batches under differential privacy (jaxgan.privacy; docs/privacy.md).

What the non-private pipeline reads from the rows is replaced by a declared public schema or a DP release:
  - the schema (`Schema`: config.privacy.bounds, .categories, .missing, config.table.integer; an embedded
    table's in PUBLIC_SCHEMA) by the user's declaration: every column is numerical (with public bounds, or
    bounds estimated under DP where config.privacy.bounds names it without a range: `estimate_bounds`) or
    discrete (with a public category set), an integer or not, with missing cells allowed or not; nothing
    of it is inferred from the rows, which are only checked against it (an error to the data's holder,
    before anything is trained or written);
  - a numerical column's Bayesian Gaussian mixture (fitted on the rows) by `modes` (config.table.max_modes)
    equal modes tiling its bounds: mode k is centred on the k-th of `modes` equal bins, with std a quarter
    of half a bin (alpha = (x - centre) / half a bin, within the bin); values outside the bounds are
    clipped. The mode one-hot is then a histogram bin the generator learns as a category, and alpha the
    place in the bin: the mixture's role, fitted on nothing. Its decimals are not read from the rows
    either (the output keeps a float's). Where the generator matches the marginals (config.table.marginals),
    the bins' counts plus Gaussian noise (released with the category counts) are the modes' weights;
  - a discrete column's category counts by the counts plus Gaussian noise (jaxgan.privacy's first
    mechanism), rounded and at least 1: they weigh the generator's conditions in training and sampling;
  - training-by-sampling (a row picked per condition, by log-frequency) by a uniform sample of `batch`
    rows without replacement at each critic update (the accountant's sampling), the conditions of the
    generator drawn apart from them (a discrete column uniformly, a category by the noisy counts); the
    discriminator sees each real row with its own category of the same column (computed on the device:
    families.tables), so both sides' conditions follow (nearly) the same distribution.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from jaxgan import privacy
from jaxgan.data import dp_bounds
from jaxgan.data.table_columns import _categories, _numbers, column_names
from jaxgan.data.table_transform import STD_MULTIPLIER, ColumnInfo, TableTransform, _CategoryTable
from jaxgan.errors import UserError

ROW_STREAM = 0xD5A  # keeps the seed's uses apart: the rows of each critic update
COUNT_STREAM = 0xC0C  # the counts' noise
BOUNDS_STREAM = 0xB0D  # the bounds estimate's noise
TRUTH = ('false', 'true')  # a category set of these two (any case) declares a boolean column
# The embedded tables' public schemas, from what the columns measure, not from the rows (scikit-learn's
# description of the diabetes study: age in years, sex coded 1 and 2, BMI, mean blood pressure in mm Hg, total
# cholesterol, LDL and HDL in mg/dL, their ratio, log triglycerides, glucose in mg/dL, a disease score): ranges
# wide enough for any patient, the whole numbers of its units as integers. The config's fields override them
# column by column (config.table.integer adds integers).
PUBLIC_SCHEMA = {
    'table:diabetes': {
        'bounds': 'age=0:120;bmi=10:70;bp=40:200;s1=50:400;s2=20:300;s3=10:150;s4=1:15;s5=2:8;s6=40:200;'
                  'progression=0:400',
        'categories': 'sex=1|2',
        'integer': 'age,s1,s6,progression',
    },
    # The Wisconsin diagnostic study's classes only. Its 30 features have no public ranges: the Min and Max
    # that scikit-learn's description prints (load_breast_cancer().DESCR) are its 569 rows' own, so a bound
    # taken from them moves with one row; and the DP estimate (config.privacy.bounds_share) finds no bin for
    # its features near 0 that spread over many powers of 2 (at epsilon 3 with a fifth of it on the 30
    # columns' bounds: 8 of them, mean concavity's 0 to 0.43 among them; with a tenth: 24). A private run on
    # it declares each feature's range from what it knows of the measurements (config.privacy.bounds).
    'table:breast_cancer': {
        'categories': 'diagnosis=malignant|benign',
    },
}


@dataclasses.dataclass(frozen=True)
class Schema:
    """A private run's public schema: numerical columns' bounds, discrete columns' category sets (as
    declared, text), the integer columns and the columns that may have missing cells."""

    bounds: dict[str, tuple[float, float] | None]  # None: to be estimated (`estimate_bounds`)
    categories: dict[str, tuple[str, ...]]
    integer: frozenset[str]
    missing: frozenset[str]

    @classmethod
    def of(cls, config, name: str, columns: list[str]) -> 'Schema':
        """The declared schema of table `name` with `columns` (after config.table.drop): PUBLIC_SCHEMA's for
        those columns, then config.privacy's and config.table.integer on top, column by column."""
        public = PUBLIC_SCHEMA.get(name, {})
        p = config.privacy
        kept = lambda d: {c: v for c, v in d.items() if c in columns}
        return cls(bounds={**kept(privacy.parse_bounds(public.get('bounds', ''))), **privacy.parse_bounds(p.bounds)},
                   categories={**kept(privacy.parse_categories(public.get('categories', ''))),
                               **privacy.parse_categories(p.categories)},
                   integer=frozenset([c for c in column_names(public.get('integer', '')) if c in columns]
                                     + list(column_names(config.table.integer))),
                   missing=frozenset([c for c in column_names(public.get('missing', '')) if c in columns]
                                     + list(column_names(p.missing))))

    def kinds(self, columns: list[str]) -> dict[str, str]:
        """Each column's kind, from the declaration alone; one line where a column is declared twice, not
        at all, or is no column of the table."""
        both = [c for c in self.bounds if c in self.categories]
        if both:
            raise UserError(f'config.privacy: column {both[0]!r} is declared both numerical (.bounds) and discrete '
                            '(.categories): keep one')
        for field, names in (('bounds', self.bounds), ('categories', self.categories), ('missing', self.missing),
                             ('integer', self.integer)):
            unknown = [c for c in names if c not in columns]
            if unknown:
                owner = 'table' if field == 'integer' else 'privacy'
                raise UserError(f'config.{owner}.{field}: the table has no column {unknown[0]!r} '
                                f'(its columns: {", ".join(columns)})')
        plain = [c for c in self.integer if c in self.categories]
        if plain:
            raise UserError(f'config.table.integer: {plain[0]!r} is declared discrete (config.privacy.categories); '
                            'an integer column is numerical, with bounds')
        undeclared = [c for c in columns if c not in self.bounds and c not in self.categories]
        if undeclared:
            s = 's' if len(undeclared) > 1 else ''
            raise UserError(f'config.privacy: column{s} {", ".join(map(repr, undeclared))} declared neither numerical '
                            f'(config.privacy.bounds, e.g. {undeclared[0]}=0:100) nor discrete '
                            f'(config.privacy.categories, e.g. {undeclared[0]}=a|b): a private run reads no schema '
                            'from the rows; declare each from knowledge of the domain, or leave it out '
                            '(config.table.drop)')
        return {c: (('integer' if c in self.integer else 'continuous') if c in self.bounds
                    else 'boolean' if sorted(v.lower() for v in self.categories[c]) == list(TRUTH) else 'categorical')
                for c in columns}


def estimate_bounds(train: pd.DataFrame, schema: Schema, kinds: dict[str, str], *, noise_std: float, seed: int,
                    secret: int) -> Schema:
    """The schema with the bounds of the numerical columns declared without a range estimated from the
    training rows (jaxgan.data.dp_bounds), the noise of std `noise_std` on each bin count drawn with the
    run's secret beside the seed, as the counts' (`fit`)."""
    names = [c for c, span in schema.bounds.items() if span is None]
    if not names:
        return schema
    rng = np.random.default_rng([seed, BOUNDS_STREAM, secret])
    found = dp_bounds.estimate({c: _numbers(train[c], c, kinds[c]) for c in names}, noise_std, rng)
    return dataclasses.replace(schema, bounds={**schema.bounds, **found})


def _declared(kind: str, texts: tuple[str, ...], name: str) -> tuple:
    """The declared categories as values, from the declaration alone: truth values for a boolean, numbers
    where every one is a finite number (integers where whole), text otherwise; one line where two name the
    same value (1|1.0)."""
    if kind == 'boolean':
        return tuple(t.lower() == 'true' for t in texts)
    try:
        numbers = [float(t) for t in texts]
    except ValueError:
        return texts
    if not all(math.isfinite(x) for x in numbers):
        return texts
    values = tuple(int(x) if x == round(x) else x for x in numbers)
    if len(set(values)) < len(values):
        raise UserError(f'config.privacy.categories: column {name!r}: {"|".join(texts)} name the same number twice')
    return values


def _dtype(kind: str, declared: tuple) -> str:
    """A discrete column's output dtype, from its declared values (not the input's, which the rows decide)."""
    if kind == 'boolean':
        return 'bool'
    if all(isinstance(v, int) for v in declared):
        return 'int64'
    return 'float64' if all(isinstance(v, (int, float)) for v in declared) else 'object'


def check_rows(df: pd.DataFrame, schema: Schema, kinds: dict[str, str]) -> None:
    """One line where a row holds what the schema does not declare: a category outside its column's set, a
    missing cell where none is declared (every row, the holdout's too; shown to the data's holder only)."""
    for name, kind in kinds.items():
        missing = name in schema.missing
        if name in schema.bounds:
            if not missing and df[name].isna().any():
                _check_values(name, [None], (), False)
            continue
        _check_values(name, _categories(df[name], name, kind), _declared(kind, schema.categories[name], name), missing)


def _check_values(name: str, values: list, declared: tuple, missing: bool) -> None:
    if not missing and any(v is None for v in values):
        raise UserError(f'config.privacy.missing: column {name!r} has missing cells; declare it (config.privacy.missing) '
                        'if the public schema allows them, or fill them')
    extra = sorted({v for v in values if v is not None and v not in declared}, key=str)
    if extra:
        raise UserError(f'config.privacy.categories: column {name!r} holds {extra[0]!r}, not among its declared '
                        f'categories ({"|".join(map(str, declared))}): declare every value the column may take')


def bin_counts(x: np.ndarray, low: float, high: float, modes: int) -> np.ndarray:
    """The counts of x's present values in `modes` equal bins of [low, high] (values outside in the end bins)."""
    x = x[~np.isnan(x)]
    index = np.clip(np.floor((x - low) / (high - low) * modes), 0, modes - 1).astype(np.int64)
    return np.bincount(index, minlength=modes).astype(np.float64)


def fit(train: pd.DataFrame, schema: Schema, kinds: dict[str, str], *, count_std: float, uniform: bool, seed: int,
        secret: int, modes: int = 10, bins: bool = False) -> TableTransform:
    """The private transform of the training rows (module docstring); count_std: the noise on each count,
    drawn with the run's secret (jaxgan.privacy.new_secret) beside the seed; uniform: every category
    weighed 1 (no counts released); bins: the numerical columns' bin counts released too, with the same
    noise, as their modes' weights (the generator's marginal targets: families.tables.MarginalLoss), else
    equal weights."""
    check_rows(train, schema, kinds)
    rng = np.random.default_rng([seed, COUNT_STREAM, secret])
    columns = []
    for name, kind in kinds.items():
        series, missing = train[name], name in schema.missing
        if name in schema.bounds:
            dtype = ('Int64' if missing else 'int64') if kind == 'integer' else 'float64'
            low, high = schema.bounds[name]
            half = (high - low) / (2 * modes)  # half a bin
            weights = np.ones(modes)
            if bins and not uniform:  # rounded, negatives to 0 (post-processing); all 0: equal weights
                noisy = bin_counts(_numbers(series, name, kind), low, high, modes) + rng.normal(0.0, count_std, modes)
                weights = np.maximum(np.round(noisy), 0) if np.round(noisy).max() > 0 else weights
            columns.append(ColumnInfo(name, kind, dtype, float(missing), low, high,
                                      means=tuple(low + (2 * k + 1) * half for k in range(modes)),
                                      stds=(half / STD_MULTIPLIER,) * modes, offsets=(0.0,) * modes,
                                      modes=tuple(range(modes)), weights=tuple(float(w) for w in weights / weights.sum())))
            continue
        values = _categories(series, name, kind)
        declared = _declared(kind, schema.categories[name], name)
        categories = declared + ((None,) if missing else ())
        counts = np.array([sum(v == c if c is not None else v is None for v in values) for c in categories], float)
        counts = np.ones(len(categories)) if uniform else counts + rng.normal(0.0, count_std, len(categories))
        columns.append(ColumnInfo(name, kind, _dtype(kind, declared), float(missing), categories=categories,
                                  counts=tuple(int(c) for c in np.maximum(np.round(counts), 1))))
    return TableTransform(tuple(columns))


def batch(transform: TableTransform, rows: np.ndarray, global_batch: int, positions: np.ndarray,
          seed: int, secret: int) -> dict[str, np.ndarray]:
    """{'x': the rows of stream positions `positions`, 'c': the generator's conditions}: the rows of
    critic update t (positions t * batch ...) a uniform sample of `global_batch` rows without replacement,
    drawn with (seed, secret, t) alone; the conditions drawn with them and the released counts. The secret
    keeps the sample unknown to whoever holds the released rows, as the accounting's subsampling assumes."""
    positions = np.asarray(positions)
    updates, offsets = np.divmod(positions, global_batch)
    index = np.empty(len(positions), np.int64)
    c = np.zeros((len(positions), transform.cond_dim), np.float32)
    discrete = [info for info in transform.columns if info.discrete]
    table = (_CategoryTable.of(transform.cond_spans, [np.asarray(info.counts, np.float64) for info in discrete])
             if discrete else None)
    for t in np.unique(updates):
        here = updates == t
        rng = np.random.default_rng([seed, ROW_STREAM, int(t), secret])
        index[here] = rng.choice(len(rows), global_batch, replace=False)[offsets[here]]
        if table is not None:
            columns, u = rng.integers(len(discrete), size=global_batch), rng.random(global_batch)
            c[np.flatnonzero(here), table.draw(columns[offsets[here]], u[offsets[here]])] = 1
    return {'x': rows[index], 'c': c}
