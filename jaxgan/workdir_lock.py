"""One run at a time in a workdir: an advisory lock on <workdir>/.lock for the run's life.

Two runs in one workdir would interleave their metrics.jsonl and delete or overwrite each other's
checkpoints, so `train.train` holds `held(workdir)` while it runs, and a second run is refused in one
line naming the first (pid, host, command, start), before it writes anything.

The lock is `fcntl.flock` on an open file descriptor: the kernel releases it when the process ends,
however it ends, so a SIGKILLed run never leaves its workdir locked. The file's text only describes the
holder for the message; a killed run's stale file is taken over by the next run. Of a multi-host run only
process 0 takes the lock (the other processes share the workdir by design). Filesystems without locks
(`ENOLCK`, some network mounts) run unlocked, with a warning.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shlex
import socket
import sys
import time
from typing import Iterator

from absl import logging

from jaxgan.errors import UserError

LOCK_FILE = '.lock'
MAX_COMMAND = 300  # characters of the holder's command shown in the refusal
_NO_LOCKS = (errno.ENOLCK, errno.ENOTSUP, errno.EOPNOTSUPP)


def describe() -> dict:
    """This process, as a refused run names it."""
    argv = list(getattr(sys, 'orig_argv', sys.argv))  # orig_argv keeps `python -m MODULE`
    if argv:
        argv[0] = os.path.basename(argv[0])
    return {'pid': os.getpid(), 'host': socket.gethostname(), 'command': shlex.join(argv),
            'since': time.strftime('%Y-%m-%d %H:%M:%S %z')}


def refusal(workdir: str, holder: dict | None) -> str:
    """The one-line message of a run refused because `holder` (its description; None where it has not
    written one yet) holds the workdir."""
    if not holder:
        who = 'another run (it has not written its description yet)'
    else:
        command = ' '.join(str(holder.get('command', '?')).split())
        if len(command) > MAX_COMMAND:
            command = command[:MAX_COMMAND] + '...'
        who = (f'another run: pid {holder.get("pid", "?")} on host {holder.get("host", "?")}, running since '
               f'{holder.get("since", "?")}: {command}')
    return (f'--workdir={workdir} is in use by {who} (two runs in one workdir would overwrite each other\'s '
            'checkpoints): wait for it to end, stop it, or use another --workdir')


@contextlib.contextmanager
def held(workdir: str, *, enabled: bool = True) -> Iterator[None]:
    """Holds the workdir's lock inside the block (making the workdir where it is missing), or raises a
    one-line UserError naming the run that holds it. On leaving, the lock file is removed, and so are
    the directories it made where they are still empty: a run refused later writes nothing.
    `enabled=False` (processes other than 0) takes nothing."""
    if not enabled:
        yield
        return
    made = _missing(workdir)
    try:
        fd = _acquire(workdir)
    except BaseException:
        _remove_empty(made)
        raise
    path = os.path.join(workdir, LOCK_FILE)
    try:
        if fd is not None:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(describe()) + '\n').encode(), 0)
        yield
    finally:
        if fd is not None:
            # Unlinked while still held: a run that opened this file meanwhile sees it is no longer at
            # the path once it gets the lock, and takes a fresh one (see _acquire).
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            os.close(fd)
        _remove_empty(made)


def _acquire(workdir: str) -> int | None:
    """An open descriptor of <workdir>/.lock holding its exclusive lock; None where the filesystem has
    no locks."""
    path = os.path.join(workdir, LOCK_FILE)
    while True:
        os.makedirs(workdir, exist_ok=True)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:  # the workdir was removed by a run that made it, leaving: again
            continue
        except PermissionError:
            raise UserError(f'--workdir={workdir}: cannot open its lock file {path}: permission denied') from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise UserError(refusal(workdir, holder)) from None
        except OSError as e:
            os.close(fd)
            if e.errno not in _NO_LOCKS:
                raise
            logging.warning('--workdir=%s: its filesystem has no file locks (%s): nothing stops a second run '
                            'from using it at the same time', workdir, e.strerror)
            return None
        if _is_at(fd, path):
            return fd
        os.close(fd)  # the holder left, unlinking the file we locked: lock the one at the path now


def _is_at(fd: int, path: str) -> bool:
    """Whether `path` names the file open as `fd`."""
    try:
        at = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (at.st_dev, at.st_ino) == (mine.st_dev, mine.st_ino)


def _read(fd: int) -> dict | None:
    """The holder's description, or None where it is not (yet) readable."""
    try:
        text = os.pread(fd, 65536, 0).decode(errors='replace')
        holder = json.loads(text)
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def _missing(workdir: str) -> list[str]:
    """The directories from `workdir` up that do not exist yet, deepest first."""
    path, missing = os.path.abspath(workdir), []
    while not os.path.exists(path):
        missing.append(path)
        path = os.path.dirname(path)
    return missing


def _remove_empty(made: list[str]) -> None:
    """Removes the directories of `made` (deepest first) that are empty, stopping at one that is not."""
    for path in made:
        try:
            os.rmdir(path)
        except OSError:
            return
