"""Where scalars and images go: the console, TensorBoard event files and a JSONL log.

Only process 0 writes files. <workdir>/metrics.jsonl gets one JSON object per logged step
({"step": ..., "d_loss": ..., ...}; an ensemble's, one per member and step, with "member": i, and
TensorBoard a run per member, tensorboard/member_<i>, so that their curves overlay); it is opened for appending, so a resumed run adds to it. A run that
starts again at step s first moves the rows after s out (`move_rows_after`: they belong to steps that
are trained again), so the log holds each step once; TensorBoard hides its events after s (purge_step).
"""

from __future__ import annotations

import datetime
import json
import math
import os
import sys

import numpy as np

from jaxgan import files


def row_step(line: str) -> int | None:
    """The step of a metrics.jsonl or eval/history.jsonl row (None for a line that is not one, such as
    the half-written last line of a killed run)."""
    try:
        row = json.loads(line)
        step = row['step'] if 'step' in row else row['protocol']['step']
        return int(step)
    except (ValueError, KeyError, TypeError):
        return None


def move_rows_after(path: str, step: int, aside: str) -> int:
    """Moves the rows of JSONL file `path` after `step` (and lines that are not rows) to the end of
    `aside`; rewrites `path` atomically with the rest. Returns how many lines moved."""
    if not os.path.exists(path):
        return 0
    with open(path, encoding='utf-8') as f:
        lines = f.read().splitlines(keepends=True)
    keep, moved = [], []
    for line in lines:
        at = row_step(line)
        (keep if at is not None and at <= step else moved).append(line if line.endswith('\n') else line + '\n')
    if not moved:
        return 0
    os.makedirs(os.path.dirname(os.path.abspath(aside)), exist_ok=True)
    with open(aside, 'a', encoding='utf-8') as f:
        f.writelines(moved)
    files.atomic_write(path, ''.join(keep))
    return len(moved)


class Writer:
    def __init__(self, workdir: str, *, enabled: bool = True, start: int = 0):
        """`start`: the step the run starts at; TensorBoard hides events logged after it by an earlier
        start of the run (tensorboardX's purge_step), which are trained again."""
        self.enabled = enabled
        self._tb = self._jsonl = None
        self._workdir, self._start = workdir, start
        self._members: dict[int, object] = {}  # member: its TensorBoard writer
        if enabled:
            os.makedirs(workdir, exist_ok=True)
            self._tb = self._summary_writer('tensorboard')
            self._jsonl = open(os.path.join(workdir, 'metrics.jsonl'), 'a', encoding='utf-8')

    def _summary_writer(self, subdir: str):
        from tensorboardX import SummaryWriter
        return SummaryWriter(os.path.join(self._workdir, subdir), flush_secs=30,
                             purge_step=self._start + 1 if self._start else None)

    def scalars(self, step: int, scalars: dict[str, float], member: int | None = None) -> None:
        """Logs scalars of a step (of an ensemble's member)."""
        if not self.enabled:
            return
        tb = self._tb
        if member is not None:
            if member not in self._members:
                self._members[member] = self._summary_writer(os.path.join('tensorboard', f'member_{member}'))
            tb = self._members[member]
        for name, value in scalars.items():
            tb.add_scalar(name, value, step)
        row = {'step': step, **({} if member is None else {'member': member}),
               **{k: (v if math.isfinite(v) else str(v)) for k, v in scalars.items()}}
        self._jsonl.write(json.dumps(row) + '\n')
        self._jsonl.flush()

    def image(self, step: int, name: str, image_HWC: np.ndarray) -> None:
        if self.enabled:
            self._tb.add_image(name, image_HWC, step, dataformats='HWC')

    def flush(self) -> None:
        if self.enabled:
            for tb in (self._tb, *self._members.values()):
                tb.flush()
            self._jsonl.flush()

    def close(self) -> None:
        if self.enabled:
            for tb in (self._tb, *self._members.values()):
                tb.close()
            self._jsonl.close()
            self.enabled = False


# On the console (where the run has them; metrics.jsonl has them all): the losses, D's outputs, and ADA's
# augmentation probability, which moves with D's overfitting (Karras et al. 2020).
SHOWN = ('d_loss', 'g_loss', 'd_real_prob', 'd_fake_prob', 'augment_p', 'privacy_epsilon')


def counted(n: int, noun: str, plural: str = '') -> str:
    """'1 translation', '2 translations' (plural: the noun's plural where it does not add an s)."""
    return f'{n} {noun if n == 1 else plural or noun + "s"}'


def duration(seconds: float) -> str:
    """'0:04:05', '12:00:00', '2 days, 3:00:00'."""
    return str(datetime.timedelta(seconds=round(seconds)))


def progress_line(step: int, num_steps: int, scalars: dict[str, float]) -> str:
    """The plain progress line, logged every log_every steps where the console is not a terminal."""
    shown = ' '.join(f'{k} {scalars[k]:.4g}' for k in SHOWN if k in scalars)
    line = f'step {step}/{num_steps} | {shown}'
    if 'steps_per_s' in scalars:
        line += f' | {scalars["steps_per_s"]:.2f} steps/s, {scalars["images_per_s"]:.0f} img/s'
        line += f' | ETA {duration((num_steps - step) / max(scalars["steps_per_s"], 1e-9))}'
    return line


def members_lines(rows: list[dict[str, float]], halted: list[int]) -> str:
    """An ensemble's log step as a table: a row per member of the SHOWN metrics, frozen ones marked."""
    keys = [k for k in SHOWN if k in rows[0]]
    lines = ['member ' + ' '.join(f'{k:>12}' for k in keys)]
    for i, row in enumerate(rows):
        lines.append(f'{i:>6} ' + ' '.join(f'{row[k]:>12.4g}' for k in keys) + (' (frozen)' if i in halted else ''))
    return '\n'.join(lines)


def live_progress(isatty: bool, is_chief: bool) -> bool:
    """Whether to draw a live progress bar (a terminal, process 0) rather than log plain lines."""
    return isatty and is_chief


class _AboveTheBar:
    """A stream for the log handler that prints above the progress bar instead of through it."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> None:
        import tqdm
        with tqdm.tqdm.external_write_mode(file=self.stream):
            self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


class ProgressBar:
    """The live form: tqdm's bar of steps with ETA and steps/s, then images/s (at tqdm's rate) and the
    latest logged losses. While it is shown, absl's log lines are printed above it."""

    def __init__(self, step: int, num_steps: int, batch_size: int, stream=None):
        import tqdm
        from absl import logging
        self.batch_size, self.shown = batch_size, ''
        self._bar = tqdm.tqdm(total=num_steps, initial=step, unit='step', file=stream or sys.stderr,
                              dynamic_ncols=True, smoothing=0.1)
        self._handler = logging.get_absl_handler().python_handler
        self._previous = self._handler.stream
        self._handler.setStream(_AboveTheBar(self._previous))

    def update(self, step: int) -> None:
        self._bar.update(step - self._bar.n)
        d = self._bar.format_dict  # tqdm's smoothed rate, else the mean since the bar started (as it shows)
        rate = d.get('rate') or ((d['n'] - d['initial']) / d['elapsed'] if d['elapsed'] else None)
        images = f'{rate * self.batch_size:.0f} img/s' if rate else ''
        self._bar.set_postfix_str(', '.join(x for x in (images, self.shown) if x))

    def show(self, scalars: dict[str, float]) -> None:
        """The losses (and D's outputs) of a log step, shown until the next one."""
        self.shown = ', '.join(f'{k} {scalars[k]:.4g}' for k in SHOWN if k in scalars)
        self.update(self._bar.n)

    def close(self) -> None:
        self._bar.close()
        self._handler.setStream(self._previous)

