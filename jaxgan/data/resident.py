"""A dataset held on the devices (config.data.on_device): decoded once, gathered by index on the devices.

Every example is decoded and preprocessed once on the host, and the result (uint8 images or standardised
vectors, as the host pipeline would give them) is copied to every device. The host then sends each step
only the examples' indices, 4 bytes an example, and the devices gather the batch from their copy. The
indices are the host pipeline's (the same seeded epochs and per-process slices), so a run with the
dataset on the devices reads the same batches in the same order as one without.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import jax
import numpy as np
from absl import logging
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from jaxgan.data import base
from jaxgan.errors import UserError

Table = dict[str, jax.Array]  # 'x': [N, ...] every example; 'y': [N] their classes (where needed)


def load_table(dataset: base.DataSource, mesh: Mesh, *, labels: bool, workers: int) -> Table:
    """Every example of `dataset` (and its label, with `labels`) on every device of `mesh`: data of one
    example per index (layout SINGLE), whose batches the devices can gather by index alone."""
    if dataset.layout != base.SINGLE:
        raise UserError(f'config.data.on_device: not supported for {dataset.layout} data ({dataset.spec.source})')
    n = dataset.sizes[0]
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix='jaxgan-decode') as pool:  # once, at the start
        host = {'x': dataset.read([np.arange(n)], pool)['x']}
    if labels:
        host['y'] = np.asarray(dataset.labels, np.int32)
    replicated = NamedSharding(mesh, P())
    size = sum(a.nbytes for a in host.values())
    logging.info('config.data.on_device: %d examples, %.1f MiB on each device', n, size / 2**20)
    return {k: jax.make_array_from_callback(a.shape, replicated, lambda index, a=a: a[index])
            for k, a in host.items()}


def make_gather(table: Table, labelled: dict[str, bool], out_sharding: NamedSharding
                ) -> Callable[[dict[str, jax.Array]], dict[str, jax.Array]]:
    """A jitted map from placed index batches {'i' + suffix: [..., B]} to the batches the step takes:
    {'x' + suffix: [..., B, ...]} and, where `labelled[suffix]`, {'y' + suffix: [..., B]}."""

    def gather(table: Table, indices: dict[str, jax.Array]) -> dict[str, jax.Array]:
        out = {}
        for key, i in indices.items():
            suffix = key[1:]
            out['x' + suffix] = table['x'][i]
            if labelled[suffix]:
                out['y' + suffix] = table['y'][i]
        return out

    jitted = jax.jit(gather, out_shardings=out_sharding)
    return lambda indices: jitted(table, indices)
