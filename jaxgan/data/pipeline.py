"""From `config.dataset` to device batches: preprocessing, seeded shuffle, per-process batching, prefetch.

The order of examples is a pure function of the seed: D-update t reads positions [t*B, (t+1)*B) of a
stream that walks a fresh permutation of the dataset each epoch, and process p reads its slice
[p*B/P, (p+1)*B/P) of those. Resuming at step s therefore continues the stream exactly, and P processes
see the same global batches as one process.

Every kind of data meets the Batcher through one interface, `base.DataSource`: images and vectors
(`images`), translation pairs and domains (`translation`) and tables (`tables`).
"""

from __future__ import annotations

import dataclasses
import os
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator

import ml_collections
import numpy as np

from jaxgan.data import base, fingerprint, images, translation
# Names callers use from here, where they lived before `images` held them.
from jaxgan.data.images import (Dataset, balanced_subset, default_cache_dir, limited,  # noqa: F401
                                map_in_order, open_source)
from jaxgan.errors import UserError

TABLE_KINDS = ('csv', 'parquet', 'table', 'xlsx')  # tables.KINDS (a test keeps them equal)


def canonical_dataset(dataset: str) -> str:
    """A dataset string with its file paths absolute and real (`~` expanded, symlinks resolved), so
    that the same data named two ways, relative and absolute, read as one dataset: 'npy:x.npy' ->
    'npy:/abs/x.npy', 'folder:~/d' -> 'folder:/home/u/d', 'stacked:npy:x.npy' -> 'stacked:npy:/abs/x.npy'.
    Other kinds are returned as they are. Relative paths are resolved against the working directory."""
    kind = dataset.partition(':')[0]
    if kind in translation.KINDS:
        return translation.canonical(dataset)
    if is_table(dataset):
        from jaxgan.data import tables  # pandas and scipy: imported for tables only
        return tables.canonical(dataset)
    return images.canonical(dataset)


def dataset_config(config: ml_collections.ConfigDict, dataset: str) -> ml_collections.ConfigDict:
    """A copy of `config` that opens `dataset` whole, prepared as the training data are: without the
    training data's config.data.limit and config.data.flip (for evaluation data, say)."""
    out = config.copy_and_resolve_references()
    out.dataset = dataset
    with out.unlocked():
        out.data.limit, out.data.flip = 0, False
    return out


def load(config: ml_collections.ConfigDict) -> base.DataSource:
    """Opens config.dataset: images and vectors give an `images.Dataset`, translation data (paired:,
    unpaired:, ...) a `translation.TranslationDataset`, tables (csv:, parquet:, xlsx:, table:) a
    `tables.TableDataset`; each a `base.DataSource` whose spec holds the source's fingerprint."""
    if translation.is_translation(config.dataset):
        return translation.load(config)
    if is_table(config.dataset):
        from jaxgan.data import tables  # pandas and scipy: imported for tables only
        dataset = tables.load(config)
        return dataclasses.replace(dataset, spec=dataclasses.replace(
            dataset.spec, fingerprint=table_fingerprint(dataset.spec.source)))
    return images.load(config)


def is_table(dataset: str) -> bool:
    """Whether config.dataset names a table (`tables.is_table`, without importing pandas)."""
    return dataset.partition(':')[0] in TABLE_KINDS


def table_fingerprint(name: str) -> str:
    """A table file's content (an xlsx: sheet's whole workbook), or an embedded table's name (`fingerprint`)."""
    from jaxgan.data import tables  # pandas: imported for tables only
    path = tables.source_file(name)
    return fingerprint.of_file(path) if path and os.path.isfile(path) else fingerprint.of_name(name)


class Batcher:
    """This process's share of each global batch, by D-update index; see the module docstring.

    `subset`: draw from these source indices only (the labelled examples of a semi-supervised run).
    `labels`: batches hold the examples' classes too.
    """

    def __init__(self, dataset: base.DataSource, *, global_batch: int, seed: int, workers: int,
                 process_index: int = 0, process_count: int = 1, labels: bool = False,
                 subset: np.ndarray | None = None):
        if global_batch % process_count:
            raise UserError(f'config.batch_size={global_batch} is not divisible by the '
                            f'{process_count} processes')
        if labels and dataset.labels is None:
            raise UserError(f'{dataset.spec.source} has no labels, and this config needs them')
        self.dataset = dataset
        self.global_batch = global_batch
        self.local_batch = global_batch // process_count
        self.offset = process_index * self.local_batch
        self.seed = seed
        self.labels = labels
        self.subset = subset
        if subset is not None and len(dataset.sizes) > 1:
            raise UserError(f'{dataset.spec.source}: a subset of examples needs data of one index stream')
        # An index stream per size: of the examples (or the subset's), pairs or rows; one per unpaired domain.
        self.stream_sizes: tuple[int, ...] = (len(subset),) if subset is not None else tuple(dataset.sizes)
        self.size = self.stream_sizes[0]
        self._perms: list[dict[int, np.ndarray]] = [{} for _ in self.stream_sizes]
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix='jaxgan-data')

    def _permutation(self, epoch: int, stream: int = 0) -> np.ndarray:
        perms = self._perms[stream]
        if epoch not in perms:
            if len(perms) > 2:
                perms.pop(min(perms))
            key = [self.seed, epoch] if stream == 0 else [self.seed, epoch, stream]
            perm = np.random.default_rng(key).permutation(self.stream_sizes[stream])
            perms[epoch] = self.subset[perm] if self.subset is not None else perm
        return perms[epoch]

    def positions(self, t: int) -> np.ndarray:
        """Positions in the global stream of this process's examples for D-update t."""
        return t * self.global_batch + self.offset + np.arange(self.local_batch, dtype=np.int64)

    def indices(self, t: int, stream: int = 0) -> np.ndarray:
        """Source indices of this process's examples for D-update t (of an unpaired B domain: stream 1)."""
        epochs, offsets = np.divmod(self.positions(t), self.stream_sizes[stream])
        return np.concatenate([self._permutation(int(e), stream)[offsets[epochs == e]]
                               for e in np.unique(epochs)])

    def batch(self, t: int) -> dict[str, np.ndarray]:
        """The dataset's batch of D-update t (`base.DataSource.batch`): {'x': examples [b, ...]} and, with
        labels, {'y': classes [b]}; of translation data, {'a': [b, ...], 'b': [b, ...]} (see
        `translation`); of tables, {'x': rows, 'c': conditions} (see `tables`)."""
        indices = [self.indices(t, s) for s in range(len(self.stream_sizes))]
        out = self.dataset.batch(indices, self.positions(t), self.seed, self._pool)
        if self.labels:
            out['y'] = self.dataset.labels[indices[0]].astype(np.int32)
        return out

    def index_batch(self, t: int) -> dict[str, np.ndarray]:
        """{'i': [b] int32}: the indices of `batch(t)`'s examples, for a dataset held on the devices."""
        if self.dataset.layout != base.SINGLE:
            raise UserError(f'config.data.on_device: not supported for {self.dataset.layout} data')
        return {'i': self.indices(t).astype(np.int32)}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def dispatch_batches(batchers: dict[str, Batcher], *, start_step: int, num_steps: int, n_critic: int,
                     steps_per_dispatch: int, indices_only: bool = False
                     ) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """(step, host batch) for each dispatch from start_step. The batch is a dict of arrays
    [n_critic, b, ...] per step, with a leading [steps_per_dispatch] axis when that is above 1; the last
    dispatch may hold fewer steps. Each batcher's keys get its name as a suffix ('' for the main one:
    'x', 'y'; '_labelled' for a semi-supervised run's labelled stream: 'x_labelled', 'y_labelled').
    With `indices_only`, the batch holds the examples' indices instead ('i', 'i_labelled'; see
    `resident`)."""
    for step in range(start_step, num_steps, steps_per_dispatch):
        k = min(steps_per_dispatch, num_steps - step)
        out = {}
        for suffix, batcher in batchers.items():
            read = batcher.index_batch if indices_only else batcher.batch
            parts = [read(t) for t in range(step * n_critic, (step + k) * n_critic)]
            for key in parts[0]:
                stacked = np.stack([p[key] for p in parts])
                stacked = stacked.reshape(k, n_critic, *stacked.shape[1:])
                out[key + suffix] = stacked if steps_per_dispatch > 1 else stacked[0]
        yield step, out


class Prefetcher:
    """Runs a host-batch iterator on a thread and places each batch on the devices, `depth` ahead.

    `place` turns a host batch (a dict of arrays) into the step's device batch (see
    `parallel.place_batch`). An exception on the thread (an unreadable file, say) is raised by `next()`
    in the consumer.
    """

    def __init__(self, batches: Iterator[tuple[int, dict]], place: Callable[[dict], dict], depth: int = 2):
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(batches, place), daemon=True,
                                        name='jaxgan-prefetch')
        self._thread.start()

    def _run(self, batches, place) -> None:
        try:
            for step, host in batches:
                self._put_until_stopped((step, place(host)))
                if self._stop.is_set():
                    return
            self._put_until_stopped(StopIteration())
        except BaseException as e:  # handed to the consumer, which raises it
            self._put_until_stopped(e)

    def _put(self, item) -> bool:
        try:
            self._queue.put(item, timeout=0.1)
            return True
        except queue.Full:
            return False

    def _put_until_stopped(self, item) -> None:
        while not self._stop.is_set() and not self._put(item):
            pass

    def __iter__(self):
        return self

    def __next__(self):
        item = self._queue.get()
        if isinstance(item, BaseException):
            if isinstance(item, StopIteration):
                raise StopIteration
            raise item
        return item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
