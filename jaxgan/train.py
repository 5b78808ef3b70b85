"""The training loop: the one place that knows about time.

    train(config, workdir) -> Trained(state, model, dataset)

Starts from the latest checkpoint in <workdir>/checkpoints if there is one (weights, optimizer states,
EMA, step, RNG; the data stream is a function of the step and continues where it stopped), else from
scratch (`resume`). Writes checkpoints, the model's previews every config.sample_every steps
(<workdir>/samples/: `Model.preview`), TensorBoard events (<workdir>/tensorboard/) and metrics.jsonl;
reports progress on the console (`monitor`). It meets every family through `jaxgan.family` alone.

Faults: SIGTERM (preemption) and SIGINT (Ctrl-C) save a checkpoint at the current step and raise
errors.Stopped (the command line exits 0 and 130, without a traceback; `signals`); a non-finite loss or
gradient stops the run naming the step and the quantity (or, with config.nonfinite='skip', skips the
update, a bounded number of times); a state that is not finite is never saved (`monitor`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Callable, Sequence

import jax
import ml_collections
import numpy as np
from absl import logging

from jaxgan import (anneal, config as config_lib, data, ensemble, family, files, preflight, privacy, resume, transfer,
                    workdir_lock, writers)
from jaxgan.batches import batch_stream, member_batchers
from jaxgan.checkpoint import Checkpoints
from jaxgan.core import parallel
from jaxgan.core.state import RunState
from jaxgan.family import Model
from jaxgan.monitor import Dispatched, Trainer, crossed
from jaxgan.periodic import PeriodicEvaluation
from jaxgan.signals import Preemption

# callback(model, state, step, prefix): called for each GAN of the run (an ensemble's members one by one);
# prefix ('' or 'member_<i>_') keeps the files each writes apart.
Callback = Callable[[Model, RunState, int, str], None]


@dataclasses.dataclass(frozen=True)
class Trained:
    """What `train` hands back: the final state, the model it trained and the dataset it read."""

    state: RunState
    gan: Model
    dataset: data.Dataset


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


def _with_secret(config: ml_collections.ConfigDict, workdir: str) -> ml_collections.ConfigDict:
    """A copy of a private run's config with its secret (jaxgan.privacy): the one the workdir's run drew, or
    a new one (process 0's, on every process) for a run that restores no checkpoint; written to the workdir
    with config.json, after every check."""
    checkpoints = os.path.join(workdir, 'checkpoints')
    resuming = os.path.isdir(checkpoints) and any(name.isdigit() for name in os.listdir(checkpoints))
    # A fresh run draws its own: two runs with one secret and one seed would draw the same noise.
    secret = (privacy.read_secret(workdir) if resuming else None) or privacy.new_secret()
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils
        words = multihost_utils.broadcast_one_to_all(np.array(privacy.secret_words(secret), np.uint32))
        secret = (int(words[0]) << 32) | int(words[1])
    config = config.copy_and_resolve_references()
    config.privacy.secret = secret
    return config


def _train(config: ml_collections.ConfigDict, workdir: str, callbacks: Sequence[Callback],
           preemption: Preemption) -> 'Trained':
    mesh = parallel.make_mesh()
    config_lib.validate(config, num_devices=mesh.size, num_processes=jax.process_count())
    if privacy.enabled(config):
        config = _with_secret(config, workdir)
    dataset = data.load(config)
    family.check_data(config, dataset)
    ensemble.check(config, dataset.spec, mesh)
    anneal.check(config, dataset.spec, mesh)
    gan = ensemble.member_gan(config, dataset.spec)
    logging.info('data: %s; %d devices, %d processes', dataset.spec, mesh.size, jax.process_count())
    preflight.check_resolution(config, dataset)
    preflight.check_eval_dataset(config, dataset.spec, labels=gan.eval_labels)  # read after training: checked now
    transfer.check(config, workdir, gan)  # config.init_from, before anything is written
    for warning in preflight.warnings(config, dataset):
        logging.warning(warning)

    # Built before anything is written: missing Inception weights stop the run here.
    evaluation = PeriodicEvaluation(gan, config, workdir, resume.meta(config, gan)) if config.eval.every else None
    checkpoints = Checkpoints(workdir, keep=config.keep_checkpoints, async_save=config.async_checkpoints)
    try:
        state = resume.restore_or_init(checkpoints, gan, config, mesh)
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
    resume.rewind(checkpoints, workdir, start)

    is_chief = jax.process_index() == 0
    if is_chief:
        if privacy.enabled(config) and privacy.read_secret(workdir) != config.privacy.secret:  # after every check
            privacy.write_secret(workdir, config.privacy.secret)
        files.atomic_write(os.path.join(workdir, 'config.json'), json.dumps(resume.meta(config, gan, start), indent=2))
    writer = writers.Writer(workdir, enabled=is_chief, start=start)
    trainer = Trainer(config, gan, checkpoints, writer, start)
    if ensemble.size(config) > 1:  # members frozen before the run stopped stay frozen
        trainer.halted = {int(i) for i in np.flatnonzero(ensemble.halted(state, config))}
        if trainer.halted:
            logging.warning('members %s are frozen (non-finite values or, %s, a collapse, before step %d)',
                            sorted(trainer.halted), sorted(np.flatnonzero(ensemble.collapsed(state)).tolist()), start)
    preview = gan.preview(config, workdir, writer, dataset)
    if evaluation:
        evaluation.writer = writer

    def periodic(state: RunState, step: int) -> None:
        for member, prefix, one in ensemble.each_member(state, ensemble.size(config)):
            preview(one, step, prefix, member)
            for callback in callbacks:
                callback(gan, one, step, prefix)

    train_step = anneal.make_train_step(gan, config, mesh)  # one GAN's or an ensemble's, annealed or not
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
            current = Dispatched(step, step + (x[gan.batch_keys[0]].shape[0] if k > 1 else 1), metrics)
            if previous is None:
                jax.block_until_ready(metrics)
                logging.info('first step (with compilation) took %.1f s', time.perf_counter() - trainer.clock[0])
                trainer.started(current.after)
            else:
                trainer.check(previous)  # one dispatch late: the device is busy with `current` meanwhile
                state = trainer.act(state, current)  # a collapse: members frozen, or the run saved and stopped
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
        state = trainer.act(state, previous)
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
