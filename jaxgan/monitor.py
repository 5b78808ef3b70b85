"""The loop's watch over each dispatch: its health flags read one dispatch late (a non-finite update stops
the run, or is skipped a bounded number of times; an ensemble's member is frozen), progress on the
console, TensorBoard and metrics.jsonl, the collapse watch, and the saves of finite states.

    trainer = Trainer(config, model, checkpoints, writer, start)
    trainer.check(Dispatched(before, after, metrics)); state = trainer.act(state, current)
    trainer.save(state, done)

A collapse is `fake_diversity` under config.collapse_diversity for config.collapse_window steps in a row
(`health.CollapseWatch`, each dispatch's mean read): one warning at its onset, naming the step, the
measure against the threshold and what to try, and one line when it recovers; `collapsed` (0 or 1) goes
to TensorBoard and metrics.jsonl with every report. config.on_collapse='stop' then saves the state and
stops the run (`CollapseError`: one line, exit status 2, as a non-finite stop); 'freeze' freezes a
collapsed ensemble member as a non-finite one is (`ensemble.freeze`) while the others train on, and
stops a single GAN, or an ensemble whose members are all frozen, as 'stop' does.
"""

from __future__ import annotations

import dataclasses
import sys
import time

import jax
import ml_collections
import numpy as np
from absl import logging

from jaxgan import ensemble, resume, writers
from jaxgan.checkpoint import Checkpoints
from jaxgan.core import health, parallel, step as step_lib
from jaxgan.core.state import RunState
from jaxgan.errors import UserError
from jaxgan.family import Model


class NonFiniteError(UserError):
    """A loss or gradient became NaN or infinite."""


class CollapseError(UserError):
    """The generator collapsed, with config.on_collapse='stop' (or 'freeze' and nothing left to train)."""


def diversities(metrics: dict, size: int) -> np.ndarray | None:
    """[size] fake_diversity of each member over a dispatch, from host metrics (None where the family reports
    none)."""
    if 'fake_diversity' not in metrics:
        return None
    return np.asarray(metrics['fake_diversity'], np.float64).reshape(size)


def crossed(before: int, after: int, every: int) -> bool:
    """Whether a multiple of `every` lies in (before, after]."""
    return after // every > before // every


@dataclasses.dataclass
class Dispatched:
    """One dispatch's steps (before, after] and its metrics, still on the device."""

    before: int
    after: int
    metrics: dict
    checked: bool = False


class Trainer:
    """The loop's state: what was dispatched, when it was last reported, what was last saved."""

    def __init__(self, config: ml_collections.ConfigDict, gan: Model, checkpoints: Checkpoints,
                 writer: writers.Writer, start: int):
        self.config, self.gan = config, gan
        self.checkpoints, self.writer = checkpoints, writer
        self.clock = (time.perf_counter(), start)
        self.last_saved = start  # the step of the state restored (or initialised), which needs no saving
        self.size = ensemble.size(config)
        self.halted: set[int] = set()  # an ensemble's frozen members (see jaxgan.ensemble)
        self.watches = [health.CollapseWatch(config.collapse_diversity, config.collapse_window)
                        for _ in range(self.size)]
        self.to_freeze: list[int] = []  # members collapsed with on_collapse='freeze', frozen by `act`
        self.stop_reason: str | None = None  # a collapse that stops the run, by `act`
        self._finite = jax.jit(health.all_finite)
        # Progress: a live bar on a terminal, plain lines every log_every steps elsewhere (logs, CI).
        self.live = writers.live_progress(sys.stderr.isatty(), jax.process_index() == 0)
        self.bar: writers.ProgressBar | None = None

    def started(self, step: int) -> None:
        """The first dispatch (with compilation) is done: rates and the bar count from here."""
        self.clock = (time.perf_counter(), step)
        if self.live:
            self.bar = writers.ProgressBar(step, self.config.num_steps, self.config.batch_size)

    def close(self) -> None:
        if self.bar:
            self.bar.close()
            self.bar = None

    def last_good(self) -> str:
        """Where the last good checkpoint is, for messages."""
        latest = self.checkpoints.latest_step()
        if latest is None:
            return 'no checkpoint has been saved yet'
        return f'the checkpoint of step {latest} in {self.checkpoints.directory} stays the last good one'

    def save(self, state: RunState, done: Dispatched) -> None:
        """Saves the state after `done`, unless that dispatch or the state is not finite."""
        step = done.after
        if step == self.last_saved:
            return
        self.check(done)  # waits for the dispatch; raises in 'stop' mode if it went non-finite
        if not bool(parallel.to_host(self._finite(state))):
            logging.error('step %d: the state is not finite; not saved (%s)', step, self.last_good())
            return
        self.checkpoints.save(step, state, resume.meta(self.config, self.gan, step))
        self.last_saved = step

    def check(self, done: Dispatched) -> None:
        """Reads a finished dispatch's health flags (once); reports it at log steps."""
        if done.checked:
            return
        done.checked = True
        # One transfer: the health flags, and the diversity for the collapse watch
        read = step_lib.PER_STEP_METRICS + tuple(k for k in ('fake_diversity',) if k in done.metrics)
        flags = parallel.to_host({k: done.metrics[k] for k in read})
        if self.bar:
            self.bar.update(done.after)
        self._watch_collapse(done, flags)
        masks = np.asarray(flags['nonfinite']).reshape(-1, self.size)  # [steps, members]
        skips = np.asarray(flags['nonfinite_skips']).reshape(-1, self.size)
        if self.size > 1:
            self._check_members(done, masks, skips)
            return self._report_if_due(done)
        masks, skips = masks[:, 0], skips[:, 0]
        for offset in np.flatnonzero(masks):
            step = done.before + int(offset) + 1
            what = self._describe(int(masks[offset]))
            if self.config.nonfinite == 'stop':
                raise NonFiniteError(f'non-finite {what} at step {step}: stopped; {self.last_good()} '
                                     '(--config.nonfinite=skip skips such updates)')
            logging.warning('step %d: non-finite %s: update skipped (%d so far)', step, what, skips[offset])
            if skips[offset] > self.config.max_nonfinite_skips:
                raise NonFiniteError(f'{skips[offset]} updates skipped for non-finite values, more than '
                                     f'config.max_nonfinite_skips={self.config.max_nonfinite_skips}; last at '
                                     f'step {step} ({what})')
        self._report_if_due(done)

    def _watch_collapse(self, done: Dispatched, flags: dict) -> None:
        """Each member's diversity over the dispatch into its watch: the onset of a collapse logged once
        (and acted on as config.on_collapse asks), a recovery logged once."""
        values = diversities(flags, self.size)
        if values is None:
            return
        c = self.config
        for member, (watch, value) in enumerate(zip(self.watches, values)):
            if member in self.halted:
                continue
            who = '' if self.size == 1 else f' member {member}:'
            event = watch.update(done.before, done.after, float(value))
            if event == 'recovered':
                logging.info('step %d:%s fake_diversity %.3g is back at or over %g: the collapse is over', done.after,
                             who, value, c.collapse_diversity)
            if event != 'onset':
                continue
            logging.warning('step %d:%s the generator collapsed: fake_diversity %.3g under %g '
                            '(config.collapse_diversity) since step %d (config.collapse_window=%d): its samples are '
                            'much closer to each other than real examples are; %s', done.after, who, value,
                            c.collapse_diversity, watch.low_since, c.collapse_window, health.COLLAPSE_ADVICE)
            if c.on_collapse == 'freeze' and self.size > 1:
                self.to_freeze.append(member)
                self.halted.add(member)
                logging.warning('step %d: member %d frozen for its collapse (config.on_collapse=freeze; %d of %d '
                                'members train on)', done.after, member, self.size - len(self.halted), self.size)
            elif c.on_collapse != 'warn' and self.stop_reason is None:
                self.stop_reason = (f'the generator{who.rstrip(":")} collapsed by step {done.after} (fake_diversity '
                                    f'{value:.3g} under {c.collapse_diversity:g} for {c.collapse_window} steps; '
                                    f'config.on_collapse={c.on_collapse})')
        if self.size > 1 and self.halted and len(self.halted) == self.size and self.stop_reason is None:
            self.stop_reason = f'every member of the ensemble is frozen by step {done.after}'

    def act(self, state: RunState, current: Dispatched) -> RunState:
        """What the collapse watch asked for: members frozen (from the state after `current`, the dispatch in
        flight), or the run stopped after saving that state (CollapseError)."""
        if self.to_freeze:
            state = ensemble.freeze(state, self.to_freeze)
            self.to_freeze = []
        if self.stop_reason:
            self.save(state, current)
            self.checkpoints.wait()
            raise CollapseError(f'{self.stop_reason}: stopped; {self.last_good()} (config.on_collapse=warn '
                                'trains on)')
        return state

    def _describe(self, mask: int) -> str:
        return health.describe_nonfinite(mask, health.nonfinite_names(tuple(p.name for p in self.gan.game.players)))

    def _check_members(self, done: Dispatched, masks: np.ndarray, skips: np.ndarray) -> None:
        """An ensemble's members: each non-finite update skipped and logged; a member past its limit
        frozen (once, logged); the run stopped when every member is frozen."""
        halt_after = ensemble.halt_after(self.config)
        for offset, member in zip(*np.nonzero(masks)):
            if member in self.halted:
                continue
            step, what = done.before + int(offset) + 1, self._describe(int(masks[offset, member]))
            if skips[offset, member] > halt_after:
                self.halted.add(int(member))
                logging.warning('step %d: member %d: non-finite %s: member frozen at its last finite state '
                                '(%d of %d members train on)', step, member, what, self.size - len(self.halted),
                                self.size)
            else:
                logging.warning('step %d: member %d: non-finite %s: update skipped (%d so far)', step, member,
                                what, skips[offset, member])
        if len(self.halted) == self.size:
            raise NonFiniteError(f'every member of the ensemble is frozen for non-finite values by step {done.after}: '
                                 f'stopped; {self.last_good()}')

    def _report_if_due(self, done: Dispatched) -> None:
        if crossed(done.before, done.after, self.config.log_every) or done.after == self.config.num_steps:
            self.report(done)

    def report(self, done: Dispatched) -> None:
        metrics = parallel.to_host({k: v for k, v in done.metrics.items() if k not in step_lib.PER_STEP_METRICS})
        now = time.perf_counter()
        steps = done.after - self.clock[1]
        rates = {}
        if steps > 0:  # none after the first dispatch, whose time was compilation
            rate = steps / max(now - self.clock[0], 1e-9)
            rates = dict(steps_per_s=rate, images_per_s=rate * self.config.batch_size * self.size)
        self.clock = (now, done.after)
        if self.size == 1:
            per_member = [(None, {k: float(v) for k, v in metrics.items()})]
        else:  # the console shows the mean of the members that train on, then each member's values
            per_member = [(i, {k: float(v[i]) for k, v in metrics.items()}) for i in range(self.size)]
        host = getattr(self.gan, 'host_metrics', None)  # computed on the host: a private run's spent epsilon
        for _, row in per_member:
            row.update(host(done.after) if host else {})
        live = [row for i, row in per_member if i not in self.halted] or [row for _, row in per_member]
        shown = {k: float(np.mean([row[k] for row in live])) for k in live[0]}
        shown.update(rates)
        if self.bar:
            self.bar.show(shown)
        else:
            logging.info(writers.progress_line(done.after, self.config.num_steps, shown))
        if self.size > 1:
            logging.info(writers.members_lines([row for _, row in per_member], sorted(self.halted)))
        for member, scalars in per_member:
            if 'fake_diversity' in scalars:
                scalars['collapsed'] = float(self.watches[member or 0].collapsed)
            self.writer.scalars(done.after, {**scalars, **rates}, member)
