"""The values of a table's columns as the table metrics read them (jaxgan.metrics.table and
table_quality): the column kinds, numbers (dates as days), canonical category labels, the KS statistic,
and JSON-ready results.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import pandas as pd

from jaxgan.errors import UserError

NUMERICAL = ('continuous', 'integer', 'datetime')
DISCRETE = ('categorical', 'boolean', 'constant')
KINDS = NUMERICAL + DISCRETE + ('identifier',)

Kinds = Mapping[str, str]


def _columns(kinds: Kinds, *tables: pd.DataFrame) -> list[str]:
    """The columns of `kinds` but identifiers, in its order, after checking every kind and that each
    table has them."""
    for column, kind in kinds.items():
        if kind not in KINDS:
            raise UserError(f'column {column!r} has kind {kind!r}; expected one of {", ".join(KINDS)}')
    for table in tables:
        missing = [c for c in kinds if c not in table.columns]
        if missing:
            raise UserError(f'table lacks column(s) {", ".join(map(repr, missing))} of its kinds '
                            f'(it has {", ".join(map(str, list(table.columns)[:20]))})')
    columns = [c for c, kind in kinds.items() if kind != 'identifier']
    if not columns:
        raise UserError('no columns to evaluate: ' + ('kinds is empty' if not kinds else 'only identifiers'))
    return columns


def _numbers(series: pd.Series) -> np.ndarray:
    """A numerical column as float64, missing (or unparseable) values as NaN; dates (datetimes, or
    text in one of jaxgan.data.table_columns.DATE_FORMATS) as days since 1970-01-01."""
    from jaxgan.data.table_columns import date_format, date_numbers
    fmt = date_format(series)  # the format a table's transform reads the column in
    if fmt is not None:
        return date_numbers(series, fmt, 'D', str(series.name))
    return pd.to_numeric(series, errors='coerce').to_numpy(dtype=np.float64, na_value=np.nan)


def _label(value: Any) -> str | None:
    """A discrete value as a canonical string (None if missing): True and 'True' alike, 3.0 as '3', so a
    column read with NaN (floats) and one without (ints) share their categories."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _labels(series: pd.Series) -> list[str | None]:
    return [_label(v) for v in series.tolist()]


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """The two-sample Kolmogorov-Smirnov statistic sup |F_a - F_b| of two samples (NaNs dropped), as
    scipy.stats.ks_2samp's: 0 for samples of one distribution, 1 for disjoint supports. 0 if both are
    empty, 1 if one is."""
    a, b = np.sort(a[~np.isnan(a)]), np.sort(b[~np.isnan(b)])
    if not len(a) or not len(b):
        return 0.0 if len(a) == len(b) else 1.0
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side='right') / len(a)
    fb = np.searchsorted(b, grid, side='right') / len(b)
    return float(np.max(np.abs(fa - fb)))


def _plain(value: Any) -> Any:
    """Numpy scalars to Python numbers and NaN to None, through dicts and lists: json.dumps-ready."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    return value
