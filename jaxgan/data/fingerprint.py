"""Fingerprints of what a dataset is made of, kept in the DataSpec (and so in every checkpoint's meta),
so that a run resumed on data that changed since its checkpoint can be told so (`spec.changed_source`).

Each fingerprint is one line, `METHOD:DIGEST SUMMARY`:

    sha256:<hex> 2345 bytes           a file's content (csv, parquet, xlsx, npy), streamed through sha256
    listing:<hex> 120 files           a folder's image files: the sha256 of their sorted (relative path,
                                      size, mtime_ns); reading every image would cost an epoch's decoding
    name:tfds:mnist/3.0.1:train       data that do not change (TFDS releases, embedded and demo data)

Several parts (unpaired domains, an array and its labels) are joined with '; '.
"""

from __future__ import annotations

import hashlib
import os
from typing import Sequence

CHUNK = 1 << 20  # bytes read at a time: a file of any size is hashed in bounded memory


def of_file(path: str) -> str:
    """The sha256 of the file's content, and its size."""
    digest = hashlib.sha256()
    size = 0
    with open(path, 'rb') as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return f'sha256:{digest.hexdigest()} {size} bytes'


def of_files(paths: Sequence[str], root: str) -> str:
    """The sha256 of the sorted (path relative to `root`, size, mtime_ns) of the files: a file added,
    removed, renamed, or written again changes it."""
    digest = hashlib.sha256()
    for rel, path in sorted((os.path.relpath(p, root), p) for p in paths):
        stat = os.stat(path)
        digest.update(f'{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n'.encode())
    return f'listing:{digest.hexdigest()} {len(paths)} files'


def of_name(name: str) -> str:
    """Data known by name alone: they do not change."""
    return f'name:{name}'


def joined(parts: Sequence[str]) -> str:
    return '; '.join(parts)


def describe(fingerprint: str) -> str:
    """A fingerprint for a message: 'content 1a2b3c4d, 2345 bytes', '120 files (listing 1a2b3c4d)'."""
    return '; '.join(map(_describe_part, fingerprint.split('; ')))


def _describe_part(part: str) -> str:
    method, _, rest = part.partition(':')
    digest, _, summary = rest.partition(' ')
    if method == 'sha256':
        return f'content {digest[:8]}, {summary}'
    if method == 'listing':
        return f'{summary} (listing {digest[:8]})'
    return rest if method == 'name' else part
