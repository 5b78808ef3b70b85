"""The checkpoint lifecycle of a run: where it starts and what it keeps.

    restore_or_init(checkpoints, model, config, mesh) -> RunState   the checkpoint to resume, or a new state
    rewind(checkpoints, workdir, step)                              what came after `step` moved aside
    meta(config, model)                                             what each checkpoint carries besides the state

A resume is refused, in one line, where the workdir's checkpoints are of another set-up (config or
arrays) or of data that changed since they were written (`data.changed_source`; the option
config.data.allow_changed accepts them with a warning). A different batch size is accepted and said: the
data stream continues at the step, in batches of the new size.
"""

from __future__ import annotations

import os
import re

import jax
import ml_collections
from absl import logging

from jaxgan import config as config_lib, data, ensemble, family, transfer, writers
from jaxgan.checkpoint import Checkpoints, abstract_like, layout_diff, layout_of
from jaxgan.core import parallel
from jaxgan.core.state import RunState
from jaxgan.errors import UserError
from jaxgan.family import Model


def canonical(config: ml_collections.ConfigDict) -> dict:
    """The config as saved with checkpoints: its dataset's file paths absolute and real, so that the same
    data named another way (relative, then absolute) resume as the same set-up."""
    saved = config.to_dict()
    saved['dataset'] = data.canonical_dataset(config.dataset)
    if 'privacy' in saved:  # a private run's secret stays in its own file (jaxgan.privacy.SECRET_FILE)
        saved['privacy'].pop('secret', None)
    return saved


def meta(config: ml_collections.ConfigDict, model: Model, step: int | None = None) -> dict:
    """What a checkpoint of `model` carries besides the state: the config, the data's spec and the
    plugin modules its family and architecture come from (jaxgan.plugins), which the tools import; and,
    at `step` of a private run, the privacy accountant's record (jaxgan.privacy)."""
    out = {'config': canonical(config), 'data': model.spec.to_json(), 'modules': family.modules_of(config)}
    record = getattr(model, 'privacy_record', None)
    if step is not None and record is not None and record(step) is not None:
        out['privacy'] = record(step)
    return out


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:300]


def restore_or_init(checkpoints: Checkpoints, gan: Model, config: ml_collections.ConfigDict,
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
            saved_meta, layout = checkpoints.read_meta(step), checkpoints.layout(step)
            saved = saved_meta['config']
        except UserError:  # another checkpoint format: not damaged, not to be moved aside
            raise
        except Exception as e:  # orbax and tensorstore raise many types for damaged files
            error = e
        else:
            check_data_unchanged(saved_meta, gan, config, checkpoints.directory)
            check_privacy(saved_meta, gan, step)
            diffs = (config_lib.structural_diff(saved, ml_collections.ConfigDict(canonical(config)))
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
                note_batch_size(saved, config, step)
                return state
        problem = f'the checkpoint at step {step} in {checkpoints.directory} cannot be read ({_first_line(error)})'
        if not config.resume_fallback:
            raise UserError(f'{problem}; --config.resume_fallback=True resumes from the one before')
        moved = checkpoints.set_aside(step)
        logging.warning('%s; moved it to %s and trying the one before', problem, moved)
    logging.warning('no readable checkpoint left in %s: starting from scratch', checkpoints.directory)
    return transfer.initial_state(gan, config, rep)


def check_privacy(saved_meta: dict, model: Model, step: int) -> None:
    """A private run resumes only within its budget (jaxgan.privacy.Plan.check_resume), and a run without
    privacy never from a private checkpoint's networks' record lost: refused in one line."""
    plan = getattr(model, 'privacy', None)
    if plan is not None:
        plan.check_resume(saved_meta.get('privacy'), step)
        # The transform holds the released noisy counts, drawn again at each start from (seed, secret): the
        # same release only where it is the same transform (another schema, k or order would land the same
        # noise on other counts, and two releases would be two mechanisms).
        before = saved_meta.get('data', {}).get('table')
        if before is not None and before != model.spec.table:
            raise UserError(f'config.privacy: the checkpoint at step {step} was trained on another release of the '
                            'counts (a changed schema, config.table.marginals or max_modes): a private run '
                            'resumes only with the release it accounted; use another --workdir')
    elif 'privacy' in saved_meta:
        raise UserError(f'the checkpoint at step {step} is of a private run (config.privacy.epsilon='
                        f'{saved_meta["privacy"]["epsilon_budget"]:g}): resume it with its privacy config')


def check_data_unchanged(saved_meta: dict, model: Model, config: ml_collections.ConfigDict, directory: str) -> None:
    """Refuses, in one line, to resume on data that changed since the checkpoint was written (the source's
    content hash in its meta: data.changed_source); with config.data.allow_changed, says so and goes on."""
    changed = data.changed_source(saved_meta.get('data', {}), model.spec)
    if changed is None:
        return
    if not config.data.allow_changed:
        raise UserError(f'{changed}: the checkpoints in {directory} were trained on the data as they were; '
                        '--config.data.allow_changed=True resumes on the data as they are now, or use another --workdir')
    logging.warning('%s: resuming on the data as they are now (config.data.allow_changed)', changed)


def note_batch_size(saved: dict, config: ml_collections.ConfigDict, step: int) -> str | None:
    """Says, in a warning, how the data stream continues where the batch size changed since the checkpoint:
    the examples of step t are those at positions t * batch_size ... of the seeded order (data.Batcher), so
    the stream jumps to the new batch size's position of the step. Returns the line."""
    before = saved.get('batch_size')
    if before is None or before == config.batch_size:
        return None
    line = (f'config.batch_size is {config.batch_size}, the checkpoint of step {step} was trained with {before}: '
            f'training continues from step {step} in batches of {config.batch_size}; the seeded data order goes on '
            f'from example {step * config.batch_size} of the stream, where it stopped at {step * before} (the '
            'learning-rate schedule and the EMA count steps, not examples)')
    logging.warning(line)
    return line


SAMPLE_STEP = re.compile(r'_(\d+)\.(?:png|csv)$')  # samples/step_00000100.png, density_00000100.png, ...
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
