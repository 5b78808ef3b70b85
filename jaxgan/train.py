"""The training loop: the one place that knows about time.

    train(config, workdir) -> Trained(state, gan, dataset)

Starts from the latest checkpoint in <workdir>/checkpoints if there is one (weights, optimizer states,
EMA, step, RNG; the data stream is a function of the step and continues where it stopped), else from
scratch. Writes checkpoints, sample grids (<workdir>/samples/), TensorBoard events
(<workdir>/tensorboard/) and metrics.jsonl; reports progress on the console.

Faults: SIGTERM (preemption) and SIGINT (Ctrl-C) save a checkpoint at the current step and raise
errors.Stopped (the command line exits 0 and 130, without a traceback); a non-finite loss or
gradient stops the run naming the step and the quantity (or, with config.nonfinite='skip', skips the
update, a bounded number of times); a state that is not finite is never saved.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import sys
import threading
import time
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import logging

from jaxgan import (config as config_lib, data, ensemble, errors, families, files, preflight, sampling, transfer,
                    workdir_lock, writers)
from jaxgan.core import health, parallel, step as step_lib
from jaxgan.checkpoint import Checkpoints, abstract_like, layout_diff, layout_of
from jaxgan.data import resident
from jaxgan.errors import UserError
from jaxgan.families import Model as GAN, make_train_step
from jaxgan.tabular import TableGAN
from jaxgan.translation import Translation
from jaxgan.core.state import RunState


class NonFiniteError(UserError):
    """A loss or gradient became NaN or infinite."""


def crossed(before: int, after: int, every: int) -> bool:
    """Whether a multiple of `every` lies in (before, after]."""
    return after // every > before // every


def _canonical(config: ml_collections.ConfigDict) -> dict:
    """The config as saved with checkpoints: its dataset's file paths absolute and real, so that the same
    data named another way (relative, then absolute) resume as the same set-up."""
    saved = config.to_dict()
    saved['dataset'] = data.canonical_dataset(config.dataset)
    return saved


def _meta(config: ml_collections.ConfigDict, gan: GAN) -> dict:
    return {'config': _canonical(config), 'data': gan.spec.to_json()}


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:300]


def restore_or_init(checkpoints: Checkpoints, gan: GAN, config: ml_collections.ConfigDict,
                    mesh: jax.sharding.Mesh) -> RunState:
    """The checkpoint config.resume_step asks for (the latest by default), or a fresh state.

    A checkpoint that cannot be read is an error, unless config.resume_fallback, which moves it aside
    (never deletes it) and tries the one before.
    """
    rep = parallel.replicated(mesh)
    steps = checkpoints.all_steps()
    if config.resume_step >= 0 and config.resume_step not in steps:
        raise UserError(f'config.resume_step={config.resume_step}: no checkpoint at that step in '
                        f'{checkpoints.directory}; there are {steps or "none"}')
    if not steps:
        return transfer.initial_state(gan, config, rep)  # fresh, or from config.init_from
    transfer.note_resume(config, checkpoints.directory)
    candidates = sorted((s for s in steps if config.resume_step < 0 or s <= config.resume_step),
                        reverse=True)
    abstract = abstract_like(ensemble.abstract_state(gan, config), rep)
    for step in candidates:
        try:
            saved, layout = checkpoints.read_meta(step)['config'], checkpoints.layout(step)
        except UserError:  # another checkpoint format: not damaged, not to be moved aside
            raise
        except Exception as e:  # orbax and tensorstore raise many types for damaged files
            error = e
        else:
            diffs = (config_lib.structural_diff(saved, ml_collections.ConfigDict(_canonical(config)))
                     or layout_diff(layout, layout_of(abstract)))
            if diffs:
                raise UserError(f'{checkpoints.directory} holds checkpoints of another set-up '
                                f'({"; ".join(diffs)}): use another --workdir, or the same config')
            try:
                state = checkpoints.restore(step, abstract)
            except Exception as e:
                error = e
            else:
                logging.info('resuming from the checkpoint at step %d in %s', step, checkpoints.directory)
                return state
        problem = f'the checkpoint at step {step} in {checkpoints.directory} cannot be read ({_first_line(error)})'
        if not config.resume_fallback:
            raise UserError(f'{problem}; --config.resume_fallback=True resumes from the one before')
        moved = checkpoints.set_aside(step)
        logging.warning('%s; moved it to %s and trying the one before', problem, moved)
    logging.warning('no readable checkpoint left in %s: starting from scratch', checkpoints.directory)
    return transfer.initial_state(gan, config, rep)


SAMPLE_STEP = re.compile(r'_(\d+)\.png$')  # samples/step_00000100.png, density_00000100.png, ...
LOGS = ('metrics.jsonl', os.path.join('eval', 'history.jsonl'))


def rewind(checkpoints: Checkpoints, workdir: str, step: int) -> str | None:
    """Moves what `workdir` holds of the steps after `step`, where the run starts, out of its way into
    <workdir>/rewound/<step>/ (<step>.2, ... where taken), deleting nothing: the later checkpoints (when
    config.resume_step chose an earlier one), and the rows of metrics.jsonl and eval/history.jsonl and
    the sample images of steps after `step` (a rewind's, or a killed run's from after its last
    checkpoint). The run then forks at `step`: its logs hold each step once, its checkpoints one line.
    Returns that directory, or None where nothing came after `step`."""
    later = sorted(s for s in checkpoints.all_steps() if s > step)
    samples = os.path.join(workdir, 'samples')
    images = sorted(name for name in (os.listdir(samples) if os.path.isdir(samples) else ())
                    if (m := SAMPLE_STEP.search(name)) and int(m.group(1)) > step)
    target, n = os.path.join(workdir, 'rewound', str(step)), 1
    while os.path.exists(target):
        n += 1
        target = os.path.join(workdir, 'rewound', f'{step}.{n}')
    rows = 0
    if jax.process_index() == 0:
        rows = sum(writers.move_rows_after(os.path.join(workdir, log), step, os.path.join(target, log))
                   for log in LOGS)
        for name in images:
            os.makedirs(os.path.join(target, 'samples'), exist_ok=True)
            os.replace(os.path.join(samples, name), os.path.join(target, 'samples', name))
    if later:
        checkpoints.move_out({s: os.path.join(target, 'checkpoints', str(s)) for s in later})
    if not (later or rows or images):
        return None
    if jax.process_index() == 0:
        moved = f'{rows} log rows and {len(images)} sample images after step {step}'
        if later:
            logging.warning('rewound to the checkpoint of step %d: the run forks here; the later checkpoints '
                            '(%s) and the %s are moved to %s', step, ', '.join(map(str, later)), moved, target)
        else:
            logging.info('the %s (written by an earlier start of the run after its last checkpoint; those '
                         'steps are trained again) are moved to %s', moved, target)
    return target


def members(size: int) -> list[tuple[int | None, str]]:
    """(member, file-name prefix) of each GAN of a run: (None, '') for a single GAN, else (i,
    'member_<i>_') for an ensemble's members (samples/member_3_step_00001000.png)."""
    return [(None, '')] if size == 1 else [(i, f'member_{i}_') for i in range(size)]


class SampleGrid:
    """A PNG grid of the EMA generator's samples for fixed latents, and the same image in TensorBoard."""

    def __init__(self, gan: GAN, config: ml_collections.ConfigDict, workdir: str, writer: writers.Writer):
        self.gan, self.writer, self.size = gan, writer, ensemble.size(config)
        self.directory = os.path.join(workdir, 'samples')
        self.z = gan.latents(jax.random.fold_in(jax.random.key(config.seed), 0x5a), config.num_samples)
        self.y = jnp.arange(config.num_samples) % gan.num_classes if gan.g_conditioned else None
        self.columns = gan.num_classes if gan.g_conditioned else None  # a column per class
        self._fn = sampling.jitted_generate(gan, config.sample_bn)

    def __call__(self, gan: GAN, state: RunState, step: int) -> None:
        if self.gan.spec.kind != 'image':
            return
        for member, prefix in members(self.size):
            one = state if member is None else ensemble.member_state(state, member)
            images = self.gan.spec.to_data_units(
                parallel.to_host(self._fn(one.ema['G'], one.model_state['G'], self.z, self.y)))
            if jax.process_index() == 0:
                grid = sampling.make_grid(images, self.columns)
                sampling.save_png(os.path.join(self.directory, f'{prefix}step_{step:08d}.png'), grid)
                self.writer.image(step, 'samples' if member is None else f'samples/member_{member}', grid)


class TableSamples:
    """CSV files of the generator's synthetic rows (config.num_samples, the same seed each time) in the
    input's schema, samples/step_N.csv: a table's sample grid."""

    def __init__(self, model: TableGAN, config: ml_collections.ConfigDict, workdir: str):
        self.model, self.config, self.size = model, config, ensemble.size(config)
        self.directory = os.path.join(workdir, 'samples')

    def __call__(self, model, state: RunState, step: int) -> None:
        for member, prefix in members(self.size):
            one = state if member is None else ensemble.member_state(state, member)
            rows = self.model.sample(one.ema['G'], one.model_state['G'], self.config.num_samples,
                                     seed=self.config.seed, batch_size=self.config.batch_size,
                                     bn=self.config.sample_bn)
            if jax.process_index() == 0:
                files.atomic_write(os.path.join(self.directory, f'{prefix}step_{step:08d}.csv'),
                                   rows.to_csv(index=False))


def heatmap_image(heatmap: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """U-GAT-IT's CAM heatmaps [B, h, w] as images of `shape` [B, H, W, C] in [-1, 1]: each scaled to
    [0, 1] by its own minimum and maximum and resized bilinearly (the official `cam`, UGATIT-pytorch's
    utils.py, which then applies OpenCV's jet colour map), coloured by the piecewise-linear jet (blue, low,
    to red, high) for 3 channels, grey for 1."""
    low = heatmap.min(axis=(1, 2), keepdims=True)
    t = (heatmap - low) / jnp.maximum(heatmap.max(axis=(1, 2), keepdims=True) - low, 1e-12)
    t = jax.image.resize(t, shape[:3], 'bilinear')[..., None]
    if shape[-1] == 1:
        return 2 * t - 1
    jet = jnp.concatenate([jnp.clip(1.5 - jnp.abs(4 * t - c), 0, 1) for c in (3, 2, 1)], axis=-1)
    return 2 * jet - 1


class TranslationGrid:
    """A PNG grid of the generators' translations of fixed training inputs (EMA params, evaluation
    mode), a row per input: a | G(a) | b for pix2pix (input, translation, target); a | G_ab(a) |
    G_ba(G_ab(a)) then b | G_ba(b) | G_ab(G_ba(b)) for CycleGAN (input, translation, reconstruction);
    U-GAT-IT's rows hold G's attention heatmap (`heatmap_image`) after the input."""

    def __init__(self, model: Translation, config: ml_collections.ConfigDict, workdir: str, writer: writers.Writer,
                 dataset):
        self.model, self.writer, self.size = model, writer, ensemble.size(config)
        self.directory = os.path.join(workdir, 'samples')
        rows = max(1, min(config.num_samples // 3, 16, *dataset.sizes))
        self.inputs = dataset.examples([np.arange(rows)] * len(dataset.sizes))
        prepare = lambda key: model.spec.model_input(jnp.asarray(self.inputs[key]))
        self._a, self._b = prepare('a'), prepare('b')

        def grid(ema, model_state):
            to = lambda d, x: model.translate(ema, model_state, x, d)
            if model.kind == 'pix2pix':
                return jnp.stack([self._a, to('a2b', self._a), self._b], axis=1)
            if model.kind == 'ugatit':  # the attention beside each translation, as the official samples show it
                rows = []
                for x, there, back in ((self._a, 'a2b', 'b2a'), (self._b, 'b2a', 'a2b')):
                    out = model.outputs(ema, model_state, x, there)
                    rows.append(jnp.stack([x, heatmap_image(out['heatmap'], x.shape), out['image'],
                                           to(back, out['image'])], 1))
                return jnp.concatenate(rows)
            ab, ba = to('a2b', self._a), to('b2a', self._b)
            return jnp.concatenate([jnp.stack([self._a, ab, to('b2a', ab)], 1), jnp.stack([self._b, ba, to('a2b', ba)], 1)])

        self._fn = jax.jit(grid)

    def __call__(self, model, state: RunState, step: int) -> None:
        for member, prefix in members(self.size):
            one = state if member is None else ensemble.member_state(state, member)
            rows = np.asarray(parallel.to_host(self._fn(one.ema, one.model_state)))
            images = self.model.spec.to_data_units(rows.reshape(-1, *rows.shape[2:]))
            if jax.process_index() == 0:
                grid = sampling.make_grid(images, rows.shape[1])
                sampling.save_png(os.path.join(self.directory, f'{prefix}step_{step:08d}.png'), grid)
                self.writer.image(step, 'samples' if member is None else f'samples/member_{member}', grid)


class PeriodicEvaluation:
    """config.eval: metrics every `every` steps, logged; the best-FID checkpoint kept in <workdir>/best.
    A translation model is scored on its test split, config.eval_dataset (`evaluation.TranslationEvaluator`)."""

    def __init__(self, config: ml_collections.ConfigDict, workdir: str, meta: dict):
        from jaxgan import evaluation
        e = config.eval
        metrics = tuple(m.strip() for m in e.metrics.split(',') if m.strip())
        if families.is_translation(config):
            self.evaluator = evaluation.make_translation_evaluator(
                config, metrics, config.eval_dataset, features=e.features, inception_weights=e.inception_weights,
                keep=e.keep)
        else:
            self.evaluator = evaluation.make_evaluator(
                config, metrics, num_samples=e.num_samples, features=e.features,
                inception_weights=e.inception_weights, reference_size=e.reference_size, keep=e.keep,
                reference=e.reference)
        self.writer: writers.Writer | None = None  # set once the run's writer exists
        self.meta = meta
        self.directory = os.path.join(workdir, 'eval')
        self.best = Checkpoints(workdir, keep=1, async_save=False, subdir='best')
        self.best_path = os.path.join(workdir, 'best', 'best.json')
        self.best_fid = json.load(open(self.best_path))['fid'] if os.path.exists(self.best_path) else float('inf')
        self.size = ensemble.size(config)

    def __call__(self, gan: GAN, state: RunState, step: int) -> None:
        """Evaluates each GAN of the state (each member of an ensemble, its rows marked "member"); the
        best FID's checkpoint holds the whole state, best.json says which member made it."""
        best = None
        for member, _ in members(self.size):
            one = state if member is None else ensemble.member_state(state, member)
            result = self.evaluator(gan, one)
            if member is not None:
                result['member'] = member
            logging.info('step %d%s: %s', step, '' if member is None else f', member {member}',
                         json.dumps(result['metrics']))
            self.writer.scalars(step, {f'eval/{k}': float(v) for k, v in result['metrics'].items()}, member)
            if jax.process_index() == 0:
                os.makedirs(self.directory, exist_ok=True)
                with open(os.path.join(self.directory, 'history.jsonl'), 'a', encoding='utf-8') as f:
                    f.write(json.dumps(result) + '\n')
            fid = result['metrics'].get('fid')
            if fid is not None and (best is None or fid < best[0]):
                best = (fid, member, result)
        if best is not None and best[0] < self.best_fid:
            fid, member, result = best
            self.best_fid = fid
            self.best.save(step, state, self.meta)
            self.best.wait()
            if jax.process_index() == 0:
                files.atomic_write(self.best_path, json.dumps(
                    {'step': step, 'fid': fid, **({} if member is None else {'member': member}),
                     'protocol': result['protocol']}, indent=2))

    def close(self) -> None:
        self.best.close()


class Preemption:
    """Whether the run was asked to stop, and by which signal: SIGTERM (preemption) or SIGINT (Ctrl-C).

    In a single process, handlers of our own note the signal; the loop saves at the end of the current
    step and stops. A second Ctrl-C stops at once without saving (the latest complete checkpoint stays;
    orbax never lists a save it did not finish). SIGINT is left alone where it is ignored (a background
    job of a script). In a multi-process run, JAX's preemption sync point stops all processes at the
    same step; a Ctrl-C is passed to it as SIGTERM.
    """

    EXIT_CODES = {'SIGTERM': 0, 'SIGINT': 130}

    def __init__(self):
        self.requested: str | None = None
        self._multi = jax.process_count() > 1
        self._previous = {}
        if threading.current_thread() is threading.main_thread():
            signals = [signal.SIGINT] if self._multi else [signal.SIGTERM, signal.SIGINT]
            for signum in signals:
                if signum == signal.SIGINT and signal.getsignal(signum) is signal.SIG_IGN:
                    continue
                self._previous[signum] = signal.signal(signum, self._handle)

    def _handle(self, signum, frame) -> None:
        del frame
        name = signal.Signals(signum).name
        if name == 'SIGINT' and self.requested == 'SIGINT':
            os.write(2, b'\nstopped at once by a second Ctrl-C, without saving; the latest complete checkpoint '
                        b'stays\n')
            os._exit(130)
        if name == 'SIGINT':
            os.write(2, b'\ninterrupted (SIGINT): saving a checkpoint at the end of the current step, then '
                        b'exiting; Ctrl-C again stops at once, without saving\n')
        self.requested = self.requested or name
        if self._multi:  # JAX's preemption notifier listens for SIGTERM: all processes stop together
            os.kill(os.getpid(), signal.SIGTERM)

    def reached(self, dispatch: int) -> bool:
        if self._multi:
            from jax.experimental import multihost_utils
            if multihost_utils.reached_preemption_sync_point(dispatch):
                self.requested = self.requested or 'SIGTERM'
                return True
            return False
        return self.requested is not None

    def before_training(self) -> None:
        """Stops a single-process run signalled while it was getting ready: nothing new to save."""
        if self.requested and not self._multi:
            message = f'{self.requested} before training started: nothing new to save; exiting'
            logging.warning(message)
            raise errors.Stopped(message, self.EXIT_CODES[self.requested])

    def stop(self, step: int) -> errors.Stopped:
        """What to raise once the checkpoint of `step` is saved; logs it."""
        what = 'preempted' if self.requested == 'SIGTERM' else 'interrupted'
        message = f'{what} ({self.requested}): saved the checkpoint of step {step}; exiting'
        logging.warning(message)
        return errors.Stopped(message, self.EXIT_CODES[self.requested])

    def close(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)


@dataclasses.dataclass
class Dispatched:
    """One dispatch's steps (before, after] and its metrics, still on the device."""

    before: int
    after: int
    metrics: dict
    checked: bool = False


class Trainer:
    """The loop's state: what was dispatched, when it was last reported, what was last saved."""

    def __init__(self, config: ml_collections.ConfigDict, gan: GAN, checkpoints: Checkpoints,
                 writer: writers.Writer, start: int):
        self.config, self.gan = config, gan
        self.checkpoints, self.writer = checkpoints, writer
        self.clock = (time.perf_counter(), start)
        self.last_saved = start  # the step of the state restored (or initialised), which needs no saving
        self.size = ensemble.size(config)
        self.halted: set[int] = set()  # an ensemble's frozen members (see jaxgan.ensemble)
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
        self.checkpoints.save(step, state, _meta(self.config, self.gan))
        self.last_saved = step

    def check(self, done: Dispatched) -> None:
        """Reads a finished dispatch's health flags (once); reports it at log steps."""
        if done.checked:
            return
        done.checked = True
        flags = parallel.to_host({k: done.metrics[k] for k in step_lib.PER_STEP_METRICS})
        if self.bar:
            self.bar.update(done.after)
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

    def _describe(self, mask: int) -> str:
        return health.describe_nonfinite(mask, health.nonfinite_names(tuple(p.name for p in self.gan.game.players)))

    def _check_members(self, done: Dispatched, masks: np.ndarray, skips: np.ndarray) -> None:
        """An ensemble's members: each non-finite update skipped and logged; a member past its limit
        frozen (once, logged); the run stopped when every member is frozen."""
        halt_after = self.config.max_nonfinite_skips if self.config.nonfinite == 'skip' else 0
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
            finite = np.isfinite(scalars.get('d_loss', 0.0)) and np.isfinite(scalars.get('g_loss', 0.0))
            if finite and member not in self.halted and scalars.get('fake_diversity', 1.0) < health.COLLAPSE_DIVERSITY:
                logging.warning('step %d%s: fake_diversity %.3g: the generator may have collapsed to a few '
                                'outputs (generated examples are much closer to each other than real ones)',
                                done.after, '' if member is None else f', member {member}', scalars['fake_diversity'])
            self.writer.scalars(done.after, {**scalars, **rates}, member)


# callback(gan, state, step, prefix): called for each GAN of the run (an ensemble's members one by one);
# prefix ('' or 'member_<i>_') keeps the files each writes apart.
Callback = Callable[[GAN, RunState, int, str], None]


@dataclasses.dataclass(frozen=True)
class Trained:
    """What `train` hands back: the final state, the GAN it trained and the dataset it read."""

    state: RunState
    gan: GAN
    dataset: data.Dataset


def make_batchers(config: ml_collections.ConfigDict, dataset: data.Dataset, gan: GAN, *, seed: int | None = None,
                  workers: int | None = None) -> dict[str, data.Batcher]:
    """The data streams of a run (of the member with `seed`): the main one ('') and a semi-supervised
    run's labelled one."""
    common = dict(seed=config.seed if seed is None else seed, workers=workers or config.data.workers,
                  process_index=jax.process_index(), process_count=jax.process_count())
    batchers = {'': data.Batcher(dataset, global_batch=config.batch_size, labels=gan.real_labels, **common)}
    ssl = config.semi_supervised
    if ssl.num_labels:
        subset = data.balanced_subset(dataset.source.labels, ssl.num_labels, config.seed)
        batchers['_labelled'] = data.Batcher(dataset, global_batch=ssl.batch_size, labels=True, subset=subset,
                                             **common)
    return batchers


def member_batchers(config: ml_collections.ConfigDict, dataset: data.Dataset, gan: GAN
                    ) -> list[dict[str, data.Batcher]]:
    """A run's data streams: one, or one per member of an ensemble that does not share its data (each
    in the order of the member's seed, with a share of the decoding threads)."""
    n = ensemble.size(config)
    if n == 1 or config.ensemble.shared_data:
        return [make_batchers(config, dataset, gan)]
    workers = max(1, config.data.workers // n)
    return [make_batchers(config, dataset, gan, seed=seed, workers=workers) for seed in ensemble.seeds(config)]


def _stacked(streams: list, axis: int):
    """The members' host batches of each dispatch, stacked along a member axis."""
    for parts in zip(*streams):
        step = parts[0][0]
        yield step, {key: np.stack([p[1][key] for p in parts], axis=axis) for key in parts[0][1]}


def batch_stream(config: ml_collections.ConfigDict, dataset: data.Dataset, streams: list[dict[str, data.Batcher]],
                 mesh: jax.sharding.Mesh, *, real_batches: int, start_step: int, num_steps: int) -> data.Prefetcher:
    """(step, device batch) for each dispatch of steps [start_step, num_steps), prepared on a thread:
    read and placed by the host pipeline, or with config.data.on_device gathered on the devices from
    the dataset held there (`data.resident`). Several streams (an ensemble's members) are stacked
    along an axis after the dispatch's steps: [k, N, n, B, ...]."""
    per_dispatch = 1 if config.steps_per_dispatch > 1 else 0
    leading = per_dispatch + 1 + (len(streams) > 1)
    place = lambda host: {key: parallel.place_batch(a, mesh, leading) for key, a in host.items()}
    batchers = streams[0]
    if config.data.on_device:
        table = resident.load_table(dataset, mesh, labels=any(b.labels for b in batchers.values()),
                                    workers=config.data.workers)
        gather = resident.make_gather(table, {suffix: b.labels for suffix, b in batchers.items()},
                                      jax.sharding.NamedSharding(mesh, parallel.batch_spec(leading)))
        place_indices = place
        place = lambda host: gather(place_indices(host))
    host = [data.dispatch_batches(b, start_step=start_step, num_steps=num_steps, n_critic=real_batches,
                                  steps_per_dispatch=config.steps_per_dispatch, indices_only=config.data.on_device)
            for b in streams]
    return data.Prefetcher(host[0] if len(host) == 1 else _stacked(host, per_dispatch), place=place,
                           depth=config.data.prefetch)


def train(config: ml_collections.ConfigDict, workdir: str, callbacks: Sequence[Callback] = ()) -> 'Trained':
    """Trains in workdir; each callback(gan, state, step, prefix) runs every config.sample_every steps
    and at the end, after the sample grid, for each GAN of the run (see `Callback`) (experiments use them for plots of their own). Raises
    errors.Stopped after saving, on SIGTERM or SIGINT."""
    # Signals are noted from the start: a Ctrl-C while loading or compiling must not raise
    # KeyboardInterrupt inside XLA or orbax (a crash at exit), but stop the run where it can stop.
    preemption = Preemption()
    try:
        preflight.check_workdir(workdir)
        with workdir_lock.held(workdir, enabled=jax.process_index() == 0):  # one run at a time in a workdir
            return _train(config, workdir, callbacks, preemption)
    finally:
        preemption.close()


def _train(config: ml_collections.ConfigDict, workdir: str, callbacks: Sequence[Callback],
           preemption: Preemption) -> 'Trained':
    mesh = parallel.make_mesh()
    config_lib.validate(config, num_devices=mesh.size, num_processes=jax.process_count())
    dataset = data.load(config)
    families.check_data(config, dataset)
    ensemble.check(config, dataset.spec, mesh)
    gan = ensemble.member_gan(config, dataset.spec)
    logging.info('data: %s; %d devices, %d processes', dataset.spec, mesh.size, jax.process_count())
    preflight.check_resolution(config, dataset)
    preflight.check_eval_dataset(config, dataset.spec)  # read after training: checked before it
    transfer.check(config, workdir, gan)  # config.init_from, before anything is written
    for warning in preflight.warnings(config, dataset):
        logging.warning(warning)

    # Built before anything is written: missing Inception weights stop the run here.
    evaluation = PeriodicEvaluation(config, workdir, _meta(config, gan)) if config.eval.every else None
    checkpoints = Checkpoints(workdir, keep=config.keep_checkpoints, async_save=config.async_checkpoints)
    try:
        state = restore_or_init(checkpoints, gan, config, mesh)
    except BaseException:
        checkpoints.close()
        if evaluation:
            evaluation.close()
        raise
    start = ensemble.step_of(state)
    if start >= config.num_steps:
        logging.info('step %d already reaches config.num_steps=%d: nothing to do', start, config.num_steps)
        checkpoints.close()
        if evaluation:
            evaluation.close()
        return Trained(state, gan, dataset)
    rewind(checkpoints, workdir, start)

    is_chief = jax.process_index() == 0
    if is_chief:
        files.atomic_write(os.path.join(workdir, 'config.json'), json.dumps(_meta(config, gan), indent=2))
    writer = writers.Writer(workdir, enabled=is_chief, start=start)
    trainer = Trainer(config, gan, checkpoints, writer, start)
    if ensemble.size(config) > 1:  # members frozen before the run stopped stay frozen
        trainer.halted = {int(i) for i in np.flatnonzero(ensemble.halted(state, config))}
        if trainer.halted:
            logging.warning('members %s are frozen (non-finite values before step %d)', sorted(trainer.halted), start)
    if isinstance(gan, Translation):
        grid = TranslationGrid(gan, config, workdir, writer, dataset)
    elif isinstance(gan, TableGAN):
        grid = TableSamples(gan, config, workdir)
    else:
        grid = SampleGrid(gan, config, workdir, writer)
    if evaluation:
        evaluation.writer = writer

    def periodic(state: RunState, step: int) -> None:
        grid(gan, state, step)
        for member, prefix in members(ensemble.size(config)):
            one = state if member is None else ensemble.member_state(state, member)
            for callback in callbacks:
                callback(gan, one, step, prefix)

    train_step = (ensemble.make_train_step if ensemble.size(config) > 1 else make_train_step)(gan, config, mesh)
    k = config.steps_per_dispatch
    streams = member_batchers(config, dataset, gan)
    batches = batch_stream(config, dataset, streams, mesh, real_batches=gan.game.real_batches, start_step=start,
                           num_steps=config.num_steps)

    step, previous = start, None
    try:
        preemption.before_training()
        for dispatch, (at, x) in enumerate(batches):
            assert at == step, (at, step)
            state, metrics = train_step(state, x)
            current = Dispatched(step, step + (x['x'].shape[0] if k > 1 else 1), metrics)
            if previous is None:
                jax.block_until_ready(metrics)
                logging.info('first step (with compilation) took %.1f s', time.perf_counter() - trainer.clock[0])
                trainer.started(current.after)
            else:
                trainer.check(previous)  # one dispatch late: the device is busy with `current` meanwhile
            previous, step = current, current.after
            if crossed(current.before, step, config.sample_every):
                periodic(state, step)
            if evaluation and crossed(current.before, step, config.eval.every):
                evaluation(gan, state, step)
            if crossed(current.before, step, config.checkpoint_every):
                trainer.save(state, current)
            if preemption.reached(dispatch):
                trainer.save(state, current)
                checkpoints.wait()
                raise preemption.stop(step)
        trainer.check(previous)
        trainer.save(state, previous)
        if not crossed(step - 1, step, config.sample_every):
            periodic(state, step)
        checkpoints.wait()
        logging.info('done: step %d; checkpoints in %s', step, checkpoints.directory)
    finally:
        if evaluation:
            evaluation.close()
        trainer.close()
        batches.close()
        for batcher in (b for stream in streams for b in stream.values()):
            batcher.close()
        checkpoints.close()
        writer.close()
    return Trained(state, gan, dataset)
