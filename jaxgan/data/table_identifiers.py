"""Fresh values for a table's identifier columns (keys: `table_columns.is_identifier`), in the format of
the real ones and never equal to one of them.

A generator that learned a key as a category would write real keys into the synthetic rows (CTGAN's
one-hot of a key is a copy of it). Keys carry no information about the other columns, so the synthetic
rows get new ones, made without the generator. The format is fitted on the training values and stored
in the transform; the training values themselves are not (a checkpoint holds no real key):

    integer    integers: start, start + 1, ... with start = the largest training key + 1
    numbered   text that is one prefix, a number and one suffix in every row (P000123, id-7, 12-A): the
               same prefix and suffix around numbers from the largest training number + 1, zero-padded
               to the training width where every training number has the same width
    template   other text of one length (UUIDs, hex digests, codes like AB-X12): per position the
               smallest alphabet of the training characters there (a digit, hex, a letter, ...), and
               the values that follow the largest training value in that alphabet's order (wrapping
               round below the smallest), which no training value lies among
    marked     anything else: a marker that starts no training value (syn-, or syn-- and so on) and a
               running number: syn-1, syn-2, ...
Every format makes distinct values, the i-th row of a sample getting the i-th; a template too small for
ten times the training rows is left for `marked`.
"""

from __future__ import annotations

import re
import string
from typing import Any

import numpy as np
import pandas as pd

from jaxgan.errors import UserError

NUMBERED = re.compile(r'^(.*?)(\d+)(\D*)$')  # the last run of digits, and the text around it
ALPHABETS = (string.digits, '0123456789abcdef', '0123456789ABCDEF', string.ascii_lowercase, string.ascii_uppercase,
             string.digits + string.ascii_lowercase, string.digits + string.ascii_uppercase, string.ascii_letters,
             string.digits + string.ascii_letters)
MARKER = 'syn-'
ROOM_PER_ROW = 10  # a template must have room for this many fresh values per training row


def fit_identifier(series: pd.Series) -> dict[str, Any]:
    """The fields of `ColumnInfo` that describe the fresh values of a key column: format, prefix,
    suffix, digits, start, alphabets, room (the module docstring)."""
    values = series.dropna()
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        top = float(values.max()) if len(values) else -1.0
        return {'format': 'integer', 'start': int(np.floor(top)) + 1}
    text = [str(v) for v in values.unique()]
    matches = [NUMBERED.match(t) for t in text]
    if text and all(matches) and len({(m[1], m[3]) for m in matches}) == 1:
        widths = {len(m[2]) for m in matches}
        return {'format': 'numbered', 'prefix': matches[0][1], 'suffix': matches[0][3],
                'digits': widths.pop() if len(widths) == 1 else 0, 'start': max(int(m[2]) for m in matches) + 1}
    if text and len({len(t) for t in text}) == 1:
        alphabets = tuple(_alphabet({t[i] for t in text}) for i in range(len(text[0])))
        codes = [_code(t, alphabets) for t in text]
        space = int(np.prod([len(a) for a in alphabets], dtype=object))
        room = space - (max(codes) - min(codes) + 1)
        if room >= ROOM_PER_ROW * len(text):
            return {'format': 'template', 'alphabets': alphabets, 'start': max(codes) + 1, 'room': room}
    marker = MARKER
    while any(t.startswith(marker) for t in text):
        marker += '-'
    return {'format': 'marked', 'prefix': marker}


def _alphabet(chars: set[str]) -> str:
    """The smallest of ALPHABETS that holds every character, or the characters themselves (one: a literal)."""
    if len(chars) > 1:
        for alphabet in ALPHABETS:
            if chars <= set(alphabet):
                return alphabet
    return ''.join(sorted(chars))


def _code(text: str, alphabets: tuple[str, ...]) -> int:
    """The text's place in the template's order: a number in mixed radix, the first position the most significant."""
    code = 0
    for char, alphabet in zip(text, alphabets):
        code = code * len(alphabet) + alphabet.index(char)
    return code


def _text(code: int, alphabets: tuple[str, ...]) -> str:
    chars = []
    for alphabet in reversed(alphabets):
        code, digit = divmod(code, len(alphabet))
        chars.append(alphabet[digit])
    return ''.join(reversed(chars))


def fresh(name: str, fields: dict[str, Any], n: int) -> list[Any]:
    """n distinct fresh keys of column `name`, in its format (`fit_identifier`'s fields)."""
    kind = fields['format']
    if kind == 'integer':
        return [fields['start'] + i for i in range(n)]
    if kind == 'numbered':
        return [f'{fields["prefix"]}{str(fields["start"] + i).zfill(fields["digits"])}{fields["suffix"]}'
                for i in range(n)]
    if kind == 'template':
        if n > fields['room']:
            raise UserError(f'column {name!r} is an identifier whose format has room for {fields["room"]} fresh '
                            f'values; {n} rows were asked for: ask for fewer, or train with '
                            'config.table.on_identifier=drop')
        alphabets = tuple(fields['alphabets'])
        space = int(np.prod([len(a) for a in alphabets], dtype=object))
        return [_text((fields['start'] + i) % space, alphabets) for i in range(n)]
    return [f'{fields["prefix"]}{i + 1}' for i in range(n)]
