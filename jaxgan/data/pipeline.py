"""From `config.dataset` to device batches: preprocessing, seeded shuffle, per-process batching, prefetch.

The order of examples is a pure function of the seed: D-update t reads positions [t*B, (t+1)*B) of a
stream that walks a fresh permutation of the dataset each epoch, and process p reads its slice
[p*B/P, (p+1)*B/P) of those. Resuming at step s therefore continues the stream exactly, and P processes
see the same global batches as one process.

Every kind of data meets the Batcher through one interface, `base.DataSource`: images and vectors
(`images`), translation pairs and domains (`translation`) and tables (`tables`).

Data decoded from files at each read (folders of images, TFDS read by index, translation folders) are
read by Grain (`grain.MapDataset` over the D-update indices, `mp_prefetch`): config.data.workers worker
processes each build whole batches `Batcher.batch(t)` of their share of the indices, ahead of use, and
the main process takes them back in order. A worker runs the very code a read in the main process runs,
so the batches are the same with any number of workers. The loader keeps no position of its own: a
stream from step s is a fresh loader over the indices from s, so the checkpoint's step is the position.
Arrays in memory (npy, digits, decoded caches, tables) are read in the main process, where a batch is a
gather: shipping them to workers would copy them.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import threading
from typing import Callable, Iterator

import ml_collections
import numpy as np
from absl import flags

from jaxgan.data import base, fingerprint, images, translation
# Names callers use from here, where they lived before `images` held them.
from jaxgan.data.images import (Dataset, balanced_subset, default_cache_dir, limited,  # noqa: F401
                                map_in_order, open_source)
from jaxgan.errors import UserError

NO_SHARED_MEMORY = 2**62  # Grain's min_shm_size: arrays smaller than this are sent through its queues
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

    `workers`: processes decoding ahead of use in `stream` (0: in this process; at most the CPU count).
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
        if workers < 0:
            raise UserError(f'config.data.workers={workers}: the number of worker processes is 0 or more')
        self.dataset = dataset
        self.global_batch = global_batch
        self.local_batch = global_batch // process_count
        self.offset = process_index * self.local_batch
        self.seed = seed
        self.labels = labels
        self.subset = subset
        self.workers = min(workers, os.cpu_count() or 1) if decodes_files(dataset) else 0
        if subset is not None and len(dataset.sizes) > 1:
            raise UserError(f'{dataset.spec.source}: a subset of examples needs data of one index stream')
        # An index stream per size: of the examples (or the subset's), pairs or rows; one per unpaired domain.
        self.stream_sizes: tuple[int, ...] = (len(subset),) if subset is not None else tuple(dataset.sizes)
        self.size = self.stream_sizes[0]
        self._perms: list[dict[int, np.ndarray]] = [{} for _ in self.stream_sizes]

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
        """The dataset's batch of D-update t (`base.DataSource.batch`), read in this process: {'x':
        examples [b, ...]} and, with labels, {'y': classes [b]}; of translation data, {'a': [b, ...],
        'b': [b, ...]} (see `translation`); of tables, {'x': rows, 'c': conditions} (see `tables`)."""
        indices = [self.indices(t, s) for s in range(len(self.stream_sizes))]
        out = self.dataset.batch(indices, self.positions(t), self.seed)
        if self.labels:
            out['y'] = self.dataset.labels[indices[0]].astype(np.int32)
        return out

    def stream(self, start: int, stop: int) -> Iterator[dict[str, np.ndarray]]:
        """batch(t) for t in [start, stop): from `workers` Grain worker processes, each building whole
        batches of its share of the t ahead of use, or in this process where `workers` is 0. Closing the
        generator stops the workers."""
        if not self.workers:
            yield from (self.batch(t) for t in range(start, stop))
            return
        import grain  # its worker processes are for data decoded from files only
        if not flags.FLAGS.is_parsed():  # Grain reads absl flags of its own; outside absl.app none are parsed
            flags.FLAGS.mark_as_parsed()
        loader = (grain.MapDataset.range(start, stop).map(_WorkerBatch(self))
                  # Whole batches are the elements: no reading threads inside a worker, a batch or two ahead.
                  .to_iter_dataset(grain.ReadOptions(num_threads=0, prefetch_buffer_size=0)))
        # Batches come back through the workers' queues, not shared memory, whose blocks Grain frees on a
        # thread of its own: the last ones were still held at exit, and Python warned of leaked shared memory.
        loader = grain.experimental.WithOptionsIterDataset(
            loader, grain.experimental.DatasetOptions(min_shm_size=NO_SHARED_MEMORY))
        loader = loader.mp_prefetch(grain.MultiprocessingOptions(num_workers=self.workers, per_worker_buffer_size=2),
                                    worker_init_fn=_init_worker)
        batches = iter(loader)
        try:
            for out, skips in batches:
                for part, seen in zip(_readers(self.dataset), skips):
                    for index, reason in seen.items():
                        part.note_skipped(index, reason)
                yield out
        finally:
            batches.close()

    def index_batch(self, t: int) -> dict[str, np.ndarray]:
        """{'i': [b] int32}: the indices of `batch(t)`'s examples, for a dataset held on the devices."""
        if self.dataset.layout != base.SINGLE:
            raise UserError(f'config.data.on_device: not supported for {self.dataset.layout} data')
        return {'i': self.indices(t).astype(np.int32)}

    def index_stream(self, start: int, stop: int) -> Iterator[dict[str, np.ndarray]]:
        """index_batch(t) for t in [start, stop)."""
        return (self.index_batch(t) for t in range(start, stop))

    def close(self) -> None:
        """Nothing to release: each `stream` stops its own workers when it is closed."""


def _readers(dataset: base.DataSource) -> list[images.Dataset]:
    """The image datasets a DataSource reads its examples through: itself, a translation dataset's parts."""
    return [dataset] if isinstance(dataset, images.Dataset) else list(getattr(dataset, 'parts', ()))


def decodes_files(dataset: base.DataSource) -> bool:
    """Whether the dataset decodes its examples from files at each read (`sources.Source.encoded`)."""
    return any(part.source.encoded for part in _readers(dataset))


@dataclasses.dataclass(frozen=True)
class _WorkerBatch:
    """In a worker process: D-update t's batch, and the unreadable examples it met ({index: reason} per
    image dataset, config.data.on_corrupt='skip'), which the main process counts and logs."""

    batcher: Batcher

    def __call__(self, t: int) -> tuple[dict[str, np.ndarray], list[dict[int, str]]]:
        parts = _readers(self.batcher.dataset)
        before = [set(part.skipped) for part in parts]
        out = self.batcher.batch(int(t))
        return out, [{i: part.skip_reasons.get(i, '') for i in part.skipped - seen}
                     for part, seen in zip(parts, before)]


def _init_worker(index: int, count: int) -> None:
    """A worker's skips are logged once, by the main process, with the run's count."""
    del index, count
    images.LOG_SKIPS = False


def dispatch_batches(batchers: dict[str, Batcher], *, start_step: int, num_steps: int, n_critic: int,
                     steps_per_dispatch: int, indices_only: bool = False
                     ) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """(step, host batch) for each dispatch from start_step. The batch is a dict of arrays
    [n_critic, b, ...] per step, with a leading [steps_per_dispatch] axis when that is above 1; the last
    dispatch may hold fewer steps. Each batcher's keys get its name as a suffix ('' for the main one:
    'x', 'y'; '_labelled' for a semi-supervised run's labelled stream: 'x_labelled', 'y_labelled').
    With `indices_only`, the batch holds the examples' indices instead ('i', 'i_labelled'; see
    `resident`). Each batcher's stream starts at D-update start_step * n_critic: a resumed run reads on
    from its step (see the module docstring)."""
    first, stop = start_step * n_critic, num_steps * n_critic
    streams = {suffix: (b.index_stream if indices_only else b.stream)(first, stop) for suffix, b in batchers.items()}
    try:
        for step in range(start_step, num_steps, steps_per_dispatch):
            k = min(steps_per_dispatch, num_steps - step)
            out = {}
            for suffix, stream in streams.items():
                parts = [next(stream) for _ in range(k * n_critic)]
                for key in parts[0]:
                    stacked = np.stack([p[key] for p in parts])
                    stacked = stacked.reshape(k, n_critic, *stacked.shape[1:])
                    out[key + suffix] = stacked if steps_per_dispatch > 1 else stacked[0]
            yield step, out
    finally:
        for stream in streams.values():
            stream.close()


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
        finally:
            if hasattr(batches, 'close'):  # a generator: stops the loader's worker processes now, not at exit
                batches.close()

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
