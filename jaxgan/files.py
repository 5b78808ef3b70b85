"""Files written whole or not at all: the write-to-a-temporary-then-rename pattern, in one place.

    atomic_write(path, data)            # bytes or text
    with atomic_path(path) as tmp:      # for writers that want a path: np.save, PIL, matplotlib
        np.save(tmp, array)

The temporary file sits beside the target (same directory, so the rename is atomic on POSIX), keeps
the target's extension (libraries pick the format from it) and is removed if writing fails. A reader
sees the old file or the new one, never a part of either; a process killed mid-write leaves at most a
hidden `.NAME.PID.tmp.EXT` beside the target.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator


def temporary_path(path: str) -> str:
    """Where `path` is written before it is renamed into place: hidden, beside it, same extension."""
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f'.{name}.{os.getpid()}.tmp{os.path.splitext(name)[1]}')


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yields a temporary path to write; renames it to `path` when the block ends without an error."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = temporary_path(path)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_write(path: str, data: bytes | str) -> None:
    """Writes `data` (text as UTF-8) to `path` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, 'wb') as f:
            f.write(data.encode('utf-8') if isinstance(data, str) else data)
