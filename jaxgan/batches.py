"""A run's data streams: the Batchers of each GAN of the run, and the prefetched device batches of each
dispatch (read on the host, or gathered on the devices from the dataset held there)."""

from __future__ import annotations

import jax
import ml_collections
import numpy as np

from jaxgan import data, ensemble
from jaxgan.core import parallel
from jaxgan.data import resident
from jaxgan.family import Model


def make_batchers(config: ml_collections.ConfigDict, dataset: data.Dataset, gan: Model, *, seed: int | None = None,
                  workers: int | None = None) -> dict[str, data.Batcher]:
    """The data streams of a run (of the member with `seed`): the main one ('') and a semi-supervised
    run's labelled one."""
    common = dict(seed=config.seed if seed is None else seed, workers=config.data.workers if workers is None else workers,
                  process_index=jax.process_index(), process_count=jax.process_count())
    batchers = {'': data.Batcher(dataset, global_batch=config.batch_size, labels=gan.real_labels, **common)}
    ssl = config.semi_supervised
    if ssl.num_labels:
        subset = data.balanced_subset(dataset.source.labels, ssl.num_labels, config.seed)
        batchers['_labelled'] = data.Batcher(dataset, global_batch=ssl.batch_size, labels=True, subset=subset,
                                             **common)
    return batchers


def member_batchers(config: ml_collections.ConfigDict, dataset: data.Dataset, gan: Model
                    ) -> list[dict[str, data.Batcher]]:
    """A run's data streams: one, or one per member of an ensemble that does not share its data (each
    in the order of the member's seed, with a share of the worker processes: none where there are fewer
    than members, the members' batches then decoded in the main process)."""
    n = ensemble.size(config)
    if n == 1 or config.ensemble.shared_data:
        return [make_batchers(config, dataset, gan)]
    workers = config.data.workers // n
    return [make_batchers(config, dataset, gan, seed=seed, workers=workers) for seed in ensemble.seeds(config)]


def _stacked(streams: list, axis: int):
    """The members' host batches of each dispatch, stacked along a member axis. Closing it closes the
    members' streams (and so stops their worker processes)."""
    try:
        for parts in zip(*streams):
            step = parts[0][0]
            yield step, {key: np.stack([p[1][key] for p in parts], axis=axis) for key in parts[0][1]}
    finally:
        for stream in streams:
            stream.close()


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
