"""A table's encoding and batches under differential privacy (jaxgan.privacy; docs/privacy.md).

What the non-private pipeline fits on the rows is replaced by public knowledge or a DP release:
  - a numerical column's Bayesian Gaussian mixture (fitted on the rows) by `modes` (config.table.max_modes)
    equal modes tiling the bounds the user gives (config.privacy.bounds): mode k is centred on the k-th
    of `modes` equal bins, with std a quarter of half a bin (alpha = (x - centre) / half a bin, within
    the bin); values outside the bounds are clipped. The mode one-hot is then a histogram bin the
    generator learns as a category, and alpha the place in the bin: the mixture's role, fitted on nothing.
    Its decimals are not read from the rows either (the output keeps a float's);
  - a discrete column's category counts by the counts plus Gaussian noise (jaxgan.privacy's first
    mechanism), rounded and at least 1: they weigh the generator's conditions in training and sampling;
    its category set, and whether a column has missing values, are schema: public;
  - training-by-sampling (a row picked per condition, by log-frequency) by a uniform sample of `batch`
    rows without replacement at each critic update (the accountant's sampling), the conditions of the
    generator drawn apart from them (a discrete column uniformly, a category by the noisy counts); the
    discriminator sees each real row with its own category of the same column (computed on the device:
    families.tables), so both sides' conditions follow (nearly) the same distribution.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from jaxgan.data.table_columns import NUMERICAL
from jaxgan.data.table_transform import STD_MULTIPLIER, ColumnInfo, TableTransform, _CategoryTable, _fit_column
from jaxgan.errors import UserError

ROW_STREAM = 0xD5A  # keeps the seed's uses apart: the rows of each critic update
COUNT_STREAM = 0xC0C  # the counts' noise
REFUSED_KINDS = ('datetime', 'identifier')
# Public ranges of the embedded tables' numerical columns, from what the columns measure (scikit-learn's
# description of the diabetes study: age in years, BMI, mean blood pressure in mm Hg, total cholesterol,
# LDL and HDL in mg/dL, their ratio, log triglycerides, glucose in mg/dL, a disease score), wide enough for
# any patient: not read from the rows. config.privacy.bounds overrides them column by column.
PUBLIC_BOUNDS = {
    'table:diabetes': 'age=0:120;bmi=10:70;bp=40:200;s1=50:400;s2=20:300;s3=10:150;s4=1:15;s5=2:8;s6=40:200;'
                      'progression=0:400',
}


def check_columns(kinds: dict[str, str], bounds: dict[str, tuple[float, float]]) -> None:
    """One line where a column cannot be encoded privately: a date or an identifier (their formats are read
    from the rows), a numerical column without bounds, bounds of no numerical column."""
    for name, kind in kinds.items():
        if kind in REFUSED_KINDS:
            raise UserError(f'config.privacy: column {name!r} is {kind}, whose format is read from the rows: declare it '
                            'config.table.continuous or .categorical, or drop it from the table '
                            '(config.table.on_identifier=drop for identifiers)')
    missing = [name for name, kind in kinds.items() if kind in NUMERICAL and name not in bounds]
    if missing:
        raise UserError(f'config.privacy.bounds: no public range for the numerical column{"s" if len(missing) > 1 else ""} '
                        f'{", ".join(map(repr, missing))}: give COLUMN=LOW:HIGH for each (e.g. '
                        f'{missing[0]}=0:100), from knowledge of the domain, not from the rows')
    extra = [name for name in bounds if kinds.get(name) not in NUMERICAL]
    if extra:
        raise UserError(f'config.privacy.bounds: {extra[0]!r} is no numerical column of the table')


def fit(train: pd.DataFrame, kinds: dict[str, str], bounds: dict[str, tuple[float, float]], *, count_std: float,
        uniform: bool, seed: int, secret: int, modes: int = 10) -> TableTransform:
    """The private transform of the training rows (module docstring); count_std: the noise on each count,
    drawn with the run's secret (jaxgan.privacy.new_secret) beside the seed; uniform: every category
    weighed 1 (no counts released)."""
    rng = np.random.default_rng([seed, COUNT_STREAM, secret])
    columns = []
    for name in train.columns:
        if name not in kinds:
            continue
        kind, series = kinds[name], train[name]
        has_missing = float(bool(series.isna().any()))  # schema: whether the column has missing values
        if kind in NUMERICAL:
            low, high = bounds[name]
            half = (high - low) / (2 * modes)  # half a bin
            columns.append(ColumnInfo(name, kind, str(series.dtype), has_missing, low, high,
                                      means=tuple(low + (2 * k + 1) * half for k in range(modes)),
                                      stds=(half / STD_MULTIPLIER,) * modes, offsets=(0.0,) * modes,
                                      modes=tuple(range(modes)), weights=(1 / modes,) * modes))
            continue
        info = _fit_column(series, name, kind, seed, 1)
        if info.discrete:
            counts = np.ones(len(info.counts)) if uniform else np.asarray(info.counts) + rng.normal(
                0.0, count_std, len(info.counts))
            info = ColumnInfo(**{**info.__dict__, 'missing': has_missing,
                                 'counts': tuple(int(c) for c in np.maximum(np.round(counts), 1))})
        columns.append(info)
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
