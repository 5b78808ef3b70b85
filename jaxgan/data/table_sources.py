"""Table sources for CTGAN (jaxgan.data.tables): reading the file or the embedded table, its basic
checks, and the seeded holdout split.

    csv:PATH            a CSV file with a header line (pandas.read_csv)
    parquet:PATH        a Parquet file (pandas.read_parquet)
    table:diabetes      scikit-learn's diabetes study in raw units: age, sex, bmi, bp, s1..s6 and the
                        target as 'progression' (442 rows)
    table:breast_cancer scikit-learn's Wisconsin breast cancer: 30 measurements and 'diagnosis',
                        'malignant' or 'benign' (569 rows)

Bad input is a `UserError` that names the file, the line or row and the column.
"""

from __future__ import annotations

import csv
import os

import numpy as np
import pandas as pd

from jaxgan.errors import UserError

KINDS = ('csv', 'parquet', 'table')
TABLES = ('diabetes', 'breast_cancer')
MIN_ROWS = 10  # fewer training rows than this is an error
SPLIT_STREAM = 0x5b117  # keeps the seed's uses apart: the holdout rows (table_transform and tables: the others)


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
    """Columns, and enough rows."""
    if df.shape[1] == 0:
        raise UserError(f'{name} has no columns')
    if len(df) == 0:
        raise UserError(f'{name} has a header but no rows')
    if len(df) < MIN_ROWS:
        raise UserError(f'{name} has {counted(len(df), "row")}; a GAN needs at least {MIN_ROWS}')


def counted(n: int, noun: str) -> str:
    """'1 row', '2 rows': n and the noun, plural unless n is 1."""
    return f'{n} {noun}' if n == 1 else f'{n} {noun}s'


def split(df: pd.DataFrame, holdout: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training rows, holdout rows): round(holdout * rows) rows chosen with the seed are held out; both
    keep the table's order, with their index reset. holdout 0 holds out none."""
    if not 0 <= holdout < 1:
        raise UserError(f'config.table.holdout={holdout} must be in [0, 1)')
    held = np.zeros(len(df), bool)
    held[np.random.default_rng([seed, SPLIT_STREAM]).permutation(len(df))[:round(holdout * len(df))]] = True
    return df[~held].reset_index(drop=True), df[held].reset_index(drop=True)
