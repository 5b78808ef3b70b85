"""Column kinds of a table (jaxgan.data.tables): what each column is, and its values read as numbers,
truth values, dates or categories.

Besides the four kinds CTGAN models (continuous, integer, categorical, boolean), three are recognised so
that the synthetic table neither copies nor loses them:
    identifier  a key, a distinct value in every row (`is_identifier`): a generator that learned it as a
                category would copy real keys into synthetic rows, so its values are made fresh
                (`jaxgan.data.table_identifiers`), or the column dropped or refused (config.table.on_identifier)
    datetime    dates or times (`date_format`): modelled as a number (days, or seconds, since 1970) and
                written back in the input's format
    constant    one value in every row: kept, and written as that value
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from jaxgan.errors import UserError

COLUMN_KINDS = ('continuous', 'integer', 'categorical', 'boolean', 'datetime', 'identifier', 'constant')
OVERRIDES = ('continuous', 'integer', 'categorical', 'boolean', 'identifier')  # config.table.<kind>
NUMERICAL = ('continuous', 'integer', 'datetime')  # encoded as numbers (datetime: days or seconds)
DISCRETE = ('categorical', 'boolean')
MADE = ('identifier', 'constant')  # made without the generator: no block in the encoded row
MAX_CATEGORICAL_INTEGERS = 10  # integral numbers with at most this many distinct values read as categories
MAX_DECIMALS = 10  # a continuous column with more decimals than this is written at full precision
KEY_NAME = re.compile(r'(^|[^A-Za-z])(id|key)$|[a-z0-9](Id|ID|Key)$', re.IGNORECASE)  # patient_id, PatientID, key
# The text formats a date column may have (strftime), the first that reads every value and writes it back
# unchanged wins: ISO first, then the usual day-first and month-first forms.
DATE_FORMATS = ('%Y-%m-%d', '%Y-%m-%d %H:%M:%S', '%Y-%m-%dT%H:%M:%S', '%Y-%m-%d %H:%M', '%Y-%m-%dT%H:%M',
                '%Y-%m-%dT%H:%M:%SZ', '%Y/%m/%d', '%m/%d/%Y', '%d/%m/%Y', '%d.%m.%Y', '%m/%d/%Y %H:%M',
                '%d/%m/%Y %H:%M', '%d %b %Y', '%b %d, %Y')
EPOCH = pd.Timestamp('1970-01-01')


def column_names(text: str | None) -> tuple[str, ...]:
    """A config field's comma-separated column names ('a, b,' -> ('a', 'b'))."""
    return tuple(n.strip() for n in str(text or '').split(',') if n.strip())


def infer_kinds(df: pd.DataFrame, overrides: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Each column's kind, in the table's order. A column of one value (missing included) is constant,
    whatever the overrides; then overrides (kind -> column names, config.table.<kind>) win; otherwise
    dates (`date_format`) are datetime, keys (`is_identifier`) identifier; a bool column, or one whose
    two values are True and False (or the strings true and false, in any case), is boolean; other
    non-numbers are categorical; numbers that are all integral are integer with more than 10 distinct
    values and categorical with fewer (diabetes' sex, 1 or 2); other numbers are continuous. A column
    declared continuous or integer must hold numbers, one declared boolean truth values: a UserError
    names the first row (counted from 1, the first row after the header in the file) that does not."""
    forced: dict[str, str] = {}
    for kind, names in overrides.items():
        if kind not in OVERRIDES:
            raise UserError(f'column kind {kind!r} is not one of {", ".join(OVERRIDES)}')
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
        if df[name].nunique(dropna=False) < 2:
            kinds[name] = 'constant'
            continue
        kind = forced.get(name) or _infer(df[name], name)
        if kind in ('continuous', 'integer'):
            _numbers(df[name], name, kind)
        elif kind == 'boolean':
            _booleans(df[name], name)
        kinds[name] = kind
    return kinds


def _infer(series: pd.Series, name: str) -> str:
    values = series.dropna()
    if date_format(series) is not None:
        return 'datetime'
    if is_identifier(series, name):
        return 'identifier'
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


# --- identifiers, dates and precision ---------------------------------------------------------------


def is_identifier(series: pd.Series, name: str) -> bool:
    """Whether a column is a key: no value missing, a distinct value in every row, and either text
    (not truth values, and not mostly numbers) or integers that are named as a key (id or key as the name's last word:
    patient_id, PatientID, record-key) or that fill a contiguous range (row numbers, 1..n in any
    order). Distinct floats are measurements, not keys; distinct integers of another name (counts,
    amounts) are numbers. Declare a key that this misses with config.table.identifier, and a column it
    wrongly takes for one with config.table.categorical or .integer."""
    if len(series) < 2 or series.isna().any() or series.nunique() < len(series) or pd.api.types.is_bool_dtype(series):
        return False
    if not pd.api.types.is_numeric_dtype(series):  # text, unless numbers with a slip (a number column's typo)
        numbers = pd.to_numeric(series, errors='coerce').notna().mean()
        return not _truth_values(series) and numbers < 0.5
    x = series.to_numpy(np.float64)
    if not np.all(np.isfinite(x) & (x == np.round(x))):
        return False
    return bool(KEY_NAME.search(str(name))) or x.max() - x.min() + 1 == len(x)


def date_format(series: pd.Series) -> str | None:
    """'' for a pandas datetime column; for text, the first of DATE_FORMATS that reads every present
    value and writes it back unchanged (one consistent format: 2020-01-05, not 2020-1-5 beside it);
    None for anything else (a column with no value present included)."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return ''
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return None
    values = series.dropna()
    if not len(values) or not all(isinstance(v, str) for v in values):
        return None
    text = values.astype(str)
    for fmt in DATE_FORMATS:
        if all(_reads_back(part, fmt) for part in (text.iloc[:50], text)):  # the first rows weed out most formats fast
            return fmt
    return None


def _reads_back(text: pd.Series, fmt: str) -> bool:
    parsed = pd.to_datetime(text, format=fmt, errors='coerce')
    return not parsed.isna().any() and bool((parsed.dt.strftime(fmt) == text).all())


def date_unit(fmt: str, series: pd.Series) -> str:
    """'D' where the values are whole days (a format without a time, or datetimes all at midnight), else 's'."""
    if fmt:
        return 's' if any(code in fmt for code in ('%H', '%M', '%S')) else 'D'
    times = _datetimes(series, fmt, str(series.name)).dropna()
    return 'D' if (times == times.dt.normalize()).all() else 's'


def _datetimes(series: pd.Series, fmt: str, name: str) -> pd.Series:
    """A datetime column as naive datetime64 (time zones converted to UTC), missing NaT; a UserError
    names the first row that is no date of the format."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return series.dt.tz_convert(None) if getattr(series.dt, 'tz', None) is not None else series
    parsed = pd.to_datetime(series, format=fmt, errors='coerce')
    bad = np.flatnonzero(parsed.isna().to_numpy() & series.notna().to_numpy())
    if len(bad):
        raise UserError(f'column {name!r} holds dates ({fmt}), but its row {bad[0] + 1} (counted from 1 after the '
                        f'header) holds {series.iloc[bad[0]]!r}')
    return parsed


def date_numbers(series: pd.Series, fmt: str, unit: str, name: str) -> np.ndarray:
    """A datetime column as float64 days (unit 'D') or seconds ('s') since 1970-01-01, missing NaN."""
    times = _datetimes(series, fmt, name)
    return ((times - EPOCH) / pd.Timedelta(1, unit)).to_numpy(np.float64, na_value=np.nan)


def numbers_to_dates(x: np.ndarray, fmt: str, unit: str) -> pd.Series:
    """`date_numbers`' inverse: datetime64 where fmt is '' (the input was), else text in the format
    (missing None)."""
    times = pd.Series(EPOCH + pd.to_timedelta(np.round(x), unit=unit))
    if not fmt:
        return times
    return pd.Series([None if pd.isna(t) else t.strftime(fmt) for t in times], dtype=object)


def decimals(x: np.ndarray) -> int | None:
    """The fewest decimals (at most MAX_DECIMALS) that write every value of x (NaNs ignored) as it is
    (up to float rounding); None for more."""
    x = x[~np.isnan(x)]
    for d in range(MAX_DECIMALS + 1):
        if np.all(np.abs(np.round(x, d) - x) <= 1e-12 * np.maximum(1.0, np.abs(x))):  # float64 keeps ~15 digits
            return d
    return None
