"""Table sources for CTGAN (jaxgan.data.tables): reading the file or the embedded table, its basic
checks, the seeded holdout split, and writing rows (`write_rows`: .csv, .parquet, .xlsx).

    csv:PATH            a CSV file with a header line (pandas.read_csv)
    parquet:PATH        a Parquet file (pandas.read_parquet)
    xlsx:PATH[:SHEET]   an Excel workbook's sheet, its first row the header (pandas.read_excel with
                        openpyxl); SHEET may be left out where the workbook has one sheet
    table:diabetes      scikit-learn's diabetes study in raw units: age, sex, bmi, bp, s1..s6 and the
                        target as 'progression' (442 rows)
    table:breast_cancer scikit-learn's Wisconsin breast cancer: 30 measurements and 'diagnosis',
                        'malignant' or 'benign' (569 rows)

Bad input is a `UserError` that names the file, the line or row and the column.
"""

from __future__ import annotations

import csv
import os
import zipfile

import numpy as np
import pandas as pd

from jaxgan import files
from jaxgan.errors import UserError

KINDS = ('csv', 'parquet', 'table', 'xlsx')
TABLES = ('diabetes', 'breast_cancer')
MIN_ROWS = 10  # fewer training rows than this is an error
SPLIT_STREAM = 0x5b117  # keeps the seed's uses apart: the holdout rows (table_transform and tables: the others)
ROW_SUFFIXES = ('.csv', '.parquet', '.xlsx')  # the files `write_rows` writes
SHEET = 'synthetic'  # the sheet `write_rows` writes rows to in an .xlsx
# Excel's limits on a sheet ("Excel specifications and limits", Microsoft): rows, the header included, and columns.
EXCEL_ROWS, EXCEL_COLUMNS = 1_048_576, 16_384
OLE2 = bytes.fromhex('D0CF11E0A1B11AE1')  # a Compound File's signature: an encrypted .xlsx is one, not a zip


def is_table(dataset: str) -> bool:
    """Whether config.dataset names a table: csv:PATH, parquet:PATH, xlsx:PATH[:SHEET] or table:NAME."""
    return dataset.partition(':')[0] in KINDS


def xlsx_parts(arg: str) -> tuple[str, str | None]:
    """xlsx:'s PATH[:SHEET] as (path, sheet or None): a path that is a file is the whole of it (a colon
    in a file's name stays the file's), else the text after the last colon is the sheet."""
    if os.path.isfile(os.path.expanduser(arg)) or ':' not in arg:
        return arg, None
    path, _, sheet = arg.rpartition(':')
    return (path, sheet or None) if path else (arg, None)


def canonical(dataset: str) -> str:
    """csv:, parquet: and xlsx: with the path absolute and real, an xlsx: sheet kept (see
    `pipeline.canonical_dataset`); table:NAME as it is."""
    kind, _, arg = dataset.partition(':')
    if kind in ('csv', 'parquet') and arg:
        return f'{kind}:{_real(arg)}'
    if kind == 'xlsx' and arg:
        path, sheet = xlsx_parts(arg)
        return f'xlsx:{_real(path)}' + (f':{sheet}' if sheet is not None else '')
    return dataset


def _real(path: str) -> str:
    return os.path.realpath(os.path.expanduser(path))


def source_file(dataset: str) -> str | None:
    """The file a table source reads (the workbook of xlsx:PATH:SHEET); None for an embedded table."""
    kind, _, arg = dataset.partition(':')
    if kind == 'table' or not arg:
        return None
    return xlsx_parts(arg)[0] if kind == 'xlsx' else arg


def read_table(dataset: str) -> pd.DataFrame:
    """The rows of the table `dataset` names, all of them, in the input's schema (index 0..n-1)."""
    name = canonical(dataset)
    kind, _, arg = name.partition(':')
    if kind == 'csv' and arg:
        df = _read_csv(arg)
    elif kind == 'parquet' and arg:
        df = _read_parquet(arg)
    elif kind == 'xlsx' and arg:
        df = _read_xlsx(*xlsx_parts(arg))
    elif kind == 'table':
        df = _embedded(arg)
    else:
        raise UserError(f'config.dataset={dataset!r} is not csv:PATH, parquet:PATH, xlsx:PATH[:SHEET] or '
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


def _read_xlsx(path: str, sheet: str | None) -> pd.DataFrame:
    """A workbook's sheet (the only one where `sheet` is None) as pandas.read_excel reads it, but for
    truth values with gaps: pandas makes TRUE, FALSE and an empty cell 1.0, 0.0 and NaN, where CSV
    keeps True, False and NaN, so such a column is read again as the cells' values (`_excel_booleans`)."""
    _check_file(path)
    with open(path, 'rb') as f:
        if f.read(len(OLE2)) == OLE2:
            raise UserError(_ole2_message(path))
    try:
        with pd.ExcelFile(path, engine='openpyxl') as book:
            sheets = [str(s) for s in book.sheet_names]
            if sheet is None and len(sheets) > 1:
                raise UserError(f'xlsx:{path} has {len(sheets)} sheets ({", ".join(sheets)}): name one, '
                                f'xlsx:{path}:SHEET')
            if sheet is not None and sheet not in sheets:
                raise UserError(f'xlsx:{path} has no sheet {sheet!r}: its sheets are {", ".join(sheets)}')
            sheet = sheets[0] if sheet is None else sheet
            df = pd.read_excel(book, sheet_name=sheet)
            if df.shape[1] == 0:
                raise UserError(f'xlsx:{path}: sheet {sheet!r} is empty: no header row and no rows')
            if all(isinstance(c, (int, float)) for c in df.columns):
                raise UserError(f'xlsx:{path}: sheet {sheet!r}: its first row ({",".join(map(str, df.columns))[:80]}) '
                                'holds numbers, not column names: add a header row that names the columns')
            return _excel_booleans(df, book, sheet)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as e:  # openpyxl's InvalidFileException is an OSError
        raise UserError(f'cannot read {path} as an Excel workbook (.xlsx): {str(e).splitlines()[0]}') from None


def _excel_booleans(df: pd.DataFrame, book: pd.ExcelFile, sheet: str) -> pd.DataFrame:
    """Columns of TRUE/FALSE cells with gaps as object columns of True, False and NaN (CSV's)."""
    suspects = [c for c in df.columns if df[c].dtype.kind == 'f' and df[c].isna().any()
                and df[c].dropna().isin([0.0, 1.0]).all()]
    if not suspects:
        return df
    cells = pd.read_excel(book, sheet_name=sheet, dtype=object, usecols=suspects)
    for column in suspects:
        present = cells[column].dropna()
        if len(present) and all(isinstance(v, bool) for v in present):
            df[column] = cells[column].astype(object).where(cells[column].notna(), np.nan)
    return df


def _ole2_message(path: str) -> str:
    """An OLE2 file where a workbook should be: a workbook encrypted with a password is one holding an
    'EncryptionInfo' stream (MS-OFFCRYPTO 2.3.4), and Excel 97-2003's .xls is one too."""
    with open(path, 'rb') as f:
        encrypted = 'EncryptionInfo'.encode('utf-16-le') in f.read(1 << 20)  # the directory is near the start
    if not encrypted and path.lower().endswith('.xls'):
        return f'{path} is an Excel 97-2003 .xls workbook, which cannot be read: save it as .xlsx'
    return (f'{path} is an encrypted (password-protected) workbook, which cannot be read: save a copy without '
            'the password' + ('' if encrypted else ' (or, if it is an Excel 97-2003 .xls file, as .xlsx)'))


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


def write_rows(frame: pd.DataFrame, path: str) -> None:
    """Rows to `path`, atomically, by its suffix: .csv, .parquet, or .xlsx (one sheet, `SHEET`; openpyxl
    writes datetimes as Excel dates, truth values as TRUE/FALSE, missing values as empty cells).
    A UserError, before anything is written, for another suffix or rows beyond Excel's sheet."""
    if not path.endswith(ROW_SUFFIXES):
        raise UserError(f'{path}: rows are written to {", ".join(ROW_SUFFIXES)} files')
    if path.endswith('.xlsx') and (len(frame) + 1 > EXCEL_ROWS or frame.shape[1] > EXCEL_COLUMNS):
        raise UserError(f'{path}: {counted(len(frame), "row")} of {counted(frame.shape[1], "column")} exceed an Excel '
                        f'sheet ({EXCEL_ROWS - 1} rows under the header, {EXCEL_COLUMNS} columns): '
                        'write .csv or .parquet')
    from openpyxl.utils.exceptions import IllegalCharacterError
    try:
        with files.atomic_path(path) as tmp:
            if path.endswith('.csv'):
                frame.to_csv(tmp, index=False)
            elif path.endswith('.parquet'):
                frame.to_parquet(tmp, index=False)
            else:  # the temporary file has no .xlsx suffix: the engine is named
                frame.to_excel(tmp, index=False, sheet_name=SHEET, engine='openpyxl')
    except IllegalCharacterError as e:
        raise UserError(f'{path}: a value holds a control character an Excel cell cannot hold ({e}): '
                        'write .csv or .parquet') from None


def split(df: pd.DataFrame, holdout: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training rows, holdout rows): round(holdout * rows) rows chosen with the seed are held out; both
    keep the table's order, with their index reset. holdout 0 holds out none."""
    if not 0 <= holdout < 1:
        raise UserError(f'config.table.holdout={holdout} must be in [0, 1)')
    held = np.zeros(len(df), bool)
    held[np.random.default_rng([seed, SPLIT_STREAM]).permutation(len(df))[:round(holdout * len(df))]] = True
    return df[~held].reset_index(drop=True), df[held].reset_index(drop=True)
