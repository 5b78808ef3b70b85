"""Evaluation while training: config.eval's metrics every config.eval.every steps (`PeriodicEvaluation`)."""

from __future__ import annotations

import json
import os

import jax
import ml_collections
from absl import logging

from jaxgan import ensemble, files, writers
from jaxgan.checkpoint import Checkpoints
from jaxgan.core.state import RunState
from jaxgan.family import Model


class PeriodicEvaluation:
    """config.eval: the model's evaluator (`Model.evaluator`: a GAN's samples against the data, a
    translation model's test split, config.eval_dataset) every `every` steps, logged; the best-FID
    checkpoint kept in <workdir>/best."""

    def __init__(self, model: Model, config: ml_collections.ConfigDict, workdir: str, meta: dict):
        e = config.eval
        metrics = tuple(m.strip() for m in e.metrics.split(',') if m.strip())
        self.evaluator = model.evaluator(config, metrics)
        self.writer: writers.Writer | None = None  # set once the run's writer exists
        self.meta = meta
        self.directory = os.path.join(workdir, 'eval')
        self.best = Checkpoints(workdir, keep=1, async_save=False, subdir='best')
        self.best_path = os.path.join(workdir, 'best', 'best.json')
        self.best_fid = json.load(open(self.best_path))['fid'] if os.path.exists(self.best_path) else float('inf')
        self.size = ensemble.size(config)

    def __call__(self, gan: Model, state: RunState, step: int) -> None:
        """Evaluates each GAN of the state (each member of an ensemble, its rows marked "member"); the
        best FID's checkpoint holds the whole state, best.json says which member made it."""
        best = None
        for member, _, one in ensemble.each_member(state, self.size):
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
