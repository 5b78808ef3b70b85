"""The training loop: the one place that knows about time.

    train(config, workdir) -> GANState

Starts from the latest checkpoint in <workdir>/checkpoints if there is one (weights, optimizer states,
EMA, step, RNG; the data stream is a function of the step and continues where it stopped), else from
scratch. Writes checkpoints, sample grids (<workdir>/samples/), TensorBoard events
(<workdir>/tensorboard/) and metrics.jsonl; reports progress on the console.
"""

from __future__ import annotations

import json
import os
import time

import jax
import ml_collections
import numpy as np
from absl import logging

from jaxgan import config as config_lib, data, parallel, sample, step as step_lib, writers
from jaxgan.checkpoint import Checkpoints, abstract_like
from jaxgan.errors import UserError
from jaxgan.gan import GAN, build_gan
from jaxgan.state import GANState, create_state, init_state


def crossed(before: int, after: int, every: int) -> bool:
    """Whether a multiple of `every` lies in (before, after]."""
    return after // every > before // every


def _meta(config: ml_collections.ConfigDict, gan: GAN) -> dict:
    return {'config': config.to_dict(), 'data': gan.spec.to_json()}


def restore_or_init(checkpoints: Checkpoints, gan: GAN, config: ml_collections.ConfigDict,
                    mesh: jax.sharding.Mesh) -> GANState:
    rep = parallel.replicated(mesh)
    latest = checkpoints.latest_step()
    if latest is None:
        return create_state(gan, config.seed, rep)
    diffs = config_lib.structural_diff(checkpoints.read_meta(latest)['config'], config)
    if diffs:
        raise UserError(f'{checkpoints.directory} holds checkpoints of another set-up '
                        f'({"; ".join(diffs)}): use another --workdir, or the same config')
    logging.info('resuming from the checkpoint at step %d in %s', latest, checkpoints.directory)
    abstract = abstract_like(jax.eval_shape(lambda: init_state(gan, config.seed)), rep)
    return checkpoints.restore(latest, abstract)


class SampleGrid:
    """A PNG grid of the EMA generator's samples for fixed latents, and the same image in TensorBoard."""

    def __init__(self, gan: GAN, config: ml_collections.ConfigDict, workdir: str, writer: writers.Writer):
        self.gan, self.writer = gan, writer
        self.directory = os.path.join(workdir, 'samples')
        self.z = gan.latents(jax.random.fold_in(jax.random.key(config.seed), 0x5a), config.num_samples)
        self.bn = config.sample_bn
        self._fn = jax.jit(lambda p, s, z: sample.generate(gan, p, s, z, bn=config.sample_bn))

    def __call__(self, state: GANState, step: int) -> None:
        if self.gan.spec.kind != 'image':
            return
        images = self.gan.spec.to_data_units(
            parallel.to_host(self._fn(state.ema_params, state.g_state, self.z)))
        if jax.process_index() == 0:
            grid = sample.make_grid(images)
            sample.save_png(os.path.join(self.directory, f'step_{step:08d}.png'), grid)
            self.writer.image(step, 'samples', grid)


def train(config: ml_collections.ConfigDict, workdir: str) -> GANState:
    mesh = parallel.make_mesh()
    config_lib.validate(config, num_devices=mesh.size, num_processes=jax.process_count())
    dataset = data.load(config)
    gan = build_gan(config, dataset.spec)
    logging.info('data: %s; %d devices, %d processes', dataset.spec, mesh.size, jax.process_count())

    checkpoints = Checkpoints(workdir, keep=config.keep_checkpoints, async_save=config.async_checkpoints)
    state = restore_or_init(checkpoints, gan, config, mesh)
    start = int(parallel.to_host(state.step))
    if start >= config.num_steps:
        logging.info('step %d already reaches config.num_steps=%d: nothing to do', start, config.num_steps)
        checkpoints.close()
        return state

    is_chief = jax.process_index() == 0
    if is_chief:
        with open(os.path.join(workdir, 'config.json'), 'w', encoding='utf-8') as f:
            json.dump(_meta(config, gan), f, indent=2)
    writer = writers.Writer(workdir, enabled=is_chief)
    grid = SampleGrid(gan, config, workdir, writer)
    train_step = step_lib.make_train_step(gan, config, mesh)
    k = config.steps_per_dispatch
    batcher = data.Batcher(dataset, global_batch=config.batch_size, seed=config.seed,
                           workers=config.data.workers, process_index=jax.process_index(),
                           process_count=jax.process_count())
    batches = data.Prefetcher(
        data.dispatch_batches(batcher, start_step=start, num_steps=config.num_steps,
                              n_critic=config.n_critic, steps_per_dispatch=k),
        place=lambda host: parallel.place_batch(host, mesh, leading_axes=2 if k > 1 else 1),
        depth=config.data.prefetch)

    step, last_saved = start, start
    pending = None  # (step, metrics on device): read one dispatch late so the host never waits
    clock = (time.perf_counter(), start)
    first_dispatch = True
    try:
        for at, x in batches:
            assert at == step, (at, step)
            state, metrics = train_step(state, {'x': x})
            done = step + (x.shape[0] if k > 1 else 1)
            if first_dispatch:
                jax.block_until_ready(metrics)
                logging.info('first step (with compilation) took %.1f s', time.perf_counter() - clock[0])
                clock, first_dispatch = (time.perf_counter(), done), False
            if pending is not None:
                clock = _report(pending, clock, config, writer)
                pending = None
            if crossed(step, done, config.log_every) or done == config.num_steps:
                pending = (done, metrics)
            if crossed(step, done, config.sample_every):
                grid(state, done)
            if crossed(step, done, config.checkpoint_every):
                checkpoints.save(done, state, _meta(config, gan))
                last_saved = done
            step = done
        if pending is not None:
            _report(pending, clock, config, writer)
        if last_saved != step:
            checkpoints.save(step, state, _meta(config, gan))
        if not crossed(step - 1, step, config.sample_every):
            grid(state, step)
        checkpoints.wait()
        logging.info('done: step %d; checkpoints in %s', step, checkpoints.directory)
    finally:
        batches.close()
        batcher.close()
        checkpoints.close()
        writer.close()
    return state


def _report(pending, clock, config: ml_collections.ConfigDict, writer: writers.Writer):
    step, metrics = pending
    scalars = {k: float(v) for k, v in parallel.to_host(metrics).items()}
    now = time.perf_counter()
    steps = step - clock[1]
    rate = steps / max(now - clock[0], 1e-9)
    scalars.update(steps_per_s=rate, images_per_s=rate * config.batch_size)
    logging.info(writers.progress_line(step, config.num_steps, scalars, rate, rate * config.batch_size))
    writer.scalars(step, scalars)
    return now, step
