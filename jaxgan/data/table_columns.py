"""Column kinds of a table (jaxgan.data.tables): what each column is, and its values read as numbers,
truth values or categories."""

from __future__ import annotations

import difflib
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from jaxgan.errors import UserError

COLUMN_KINDS = ('continuous', 'integer', 'categorical', 'boolean')
NUMERICAL = ('continuous', 'integer')
DISCRETE = ('categorical', 'boolean')
MAX_CATEGORICAL_INTEGERS = 10  # integral numbers with at most this many distinct values read as categories


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
