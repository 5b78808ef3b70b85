"""From `config.dataset` to device batches: preprocessing, seeded shuffle, per-process batching, prefetch.

The order of examples is a pure function of the seed: D-update t reads positions [t*B, (t+1)*B) of a
stream that walks a fresh permutation of the dataset each epoch, and process p reads its slice
[p*B/P, (p+1)*B/P) of those. Resuming at step s therefore continues the stream exactly, and P processes
see the same global batches as one process.
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
from absl import logging

from jaxgan.data import sources, toy, transforms
from jaxgan.data.spec import DataSpec
from jaxgan.errors import UserError


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A source, the map from its raw examples to model-shaped host examples, and the result's spec.

    on_corrupt='skip' replaces an image that cannot be decoded by the next readable one (by index, so
    the same on every run and resume) and counts it in `skipped`; 'error' raises, naming the file.
    flip (config.data.flip): examples n..2n-1 are examples 0..n-1 of the source mirrored left to right,
    after preprocessing, so each copy is the exact mirror image of the example it copies.
    """

    source: sources.Source
    spec: DataSpec
    prepare: Callable[[np.ndarray], np.ndarray]  # raw example -> host example of spec.shape
    on_corrupt: str = 'error'
    flip: bool = False
    skipped: set = dataclasses.field(default_factory=set)  # source indices of unreadable examples seen

    @property
    def labels(self) -> np.ndarray | None:
        """The class of each of the spec.num_examples examples, where the data have classes."""
        labels = self.source.labels
        return np.concatenate([labels, labels]) if self.flip and labels is not None else labels

    def examples(self, indices: np.ndarray, pool: ThreadPoolExecutor | None = None) -> np.ndarray:
        """Host examples [len(indices), *spec.shape] in spec.host_dtype."""
        indices = np.asarray(indices)
        n = len(self.source)
        read = indices % n if self.flip else indices
        if self.source.array is not None and (self.source.preprocessed or self.spec.kind == 'vector'):
            out = self.prepare(np.asarray(self.source.array[np.sort(read)])[
                np.argsort(np.argsort(read))])  # sorted reads are faster on memory maps
        else:
            out = np.stack(map_in_order(self._example, read, pool))
        if self.flip:
            out = np.where((indices >= n).reshape(-1, 1, 1, 1), out[:, :, ::-1], out)
        return out

    def example(self, index: int) -> np.ndarray:
        n = len(self.source)
        x = self._example(int(index) % n)
        return x[:, ::-1] if self.flip and index >= n else x

    def _example(self, index: int) -> np.ndarray:
        """Source example `index` prepared, or with on_corrupt='skip' the next readable one."""
        n = len(self.source)
        for offset in range(n):
            i = (int(index) + offset) % n
            try:
                return self.prepare(self.source[i])
            except sources.CorruptImageError as e:
                if self.on_corrupt != 'skip':
                    raise
                if i not in self.skipped:
                    self.skipped.add(i)
                    logging.warning('skipped an unreadable image (%d so far): %s', len(self.skipped), e)
        raise UserError(f'{self.source.description}: no example can be read')


SHARE = 64  # examples per thread task


def map_in_order(fn: Callable, items: np.ndarray, pool: ThreadPoolExecutor | None = None) -> list:
    """[fn(x) for x in items], on the pool's threads in tasks of SHARE consecutive items. A task per item
    cost more than decoding a small image: on the 2-core CPU (2026-12-04), 1,024 64x64 JPEGs were read at
    2.8k to 4.9k images/s with a task each on 1 to 8 threads, 4.0k to 4.9k on 8 threads in tasks of 64,
    and 6.0k to 8.2k with no pool, the threads contending for Python's lock."""
    if pool is None or len(items) <= SHARE:
        return [fn(x) for x in items]
    shares = pool.map(lambda share: [fn(x) for x in share], np.array_split(items, -(-len(items) // SHARE)))
    return [x for share in shares for x in share]


def default_cache_dir() -> str:
    return os.path.join(os.environ.get('XDG_CACHE_HOME', os.path.expanduser('~/.cache')), 'jaxgan')


def canonical_dataset(dataset: str) -> str:
    """A dataset string with its file paths absolute and real (`~` expanded, symlinks resolved), so
    that the same data named two ways, relative and absolute, read as one dataset: 'npy:x.npy' ->
    'npy:/abs/x.npy', 'folder:~/d' -> 'folder:/home/u/d', 'stacked:npy:x.npy' -> 'stacked:npy:/abs/x.npy'.
    Other kinds are returned as they are. Relative paths are resolved against the working directory."""
    kind, _, arg = dataset.partition(':')
    if kind in ('paired', 'unpaired', 'demo'):
        from jaxgan.data import translation  # it builds on this module
        return translation.canonical(dataset)
    if kind in ('csv', 'parquet', 'table'):
        from jaxgan.data import tables
        return tables.canonical(dataset)
    if kind in ('npy', 'folder') and arg:
        return f'{kind}:{os.path.realpath(os.path.expanduser(arg))}'
    if kind == 'stacked' and arg:
        return f'stacked:{canonical_dataset(arg)}'
    return dataset


def open_source(config: ml_collections.ConfigDict, preprocess) -> sources.Source:
    """The source named by config.dataset (see `sources`), described by its canonical string."""
    name = canonical_dataset(config.dataset)
    kind, _, arg = name.partition(':')
    if kind == 'digits':
        return sources.digits(arg)
    if kind == 'stacked' and arg:
        base = config.copy_and_resolve_references()
        base.dataset = arg
        return sources.stacked(open_source(base, preprocess), seed=config.seed)
    if kind == 'toy' and arg in toy.MIXTURES:
        return sources.array_source(toy.sample(arg, seed=config.seed), f'toy:{arg}')
    if kind == 'npy' and arg:
        return sources.npy(arg)
    if kind == 'folder' and arg:
        return sources.folder(arg)
    if kind == 'tfds' and arg:
        d = config.data
        cache_dir = d.cache_dir or default_cache_dir()
        tag = f'{config.image_size}px-crop{d.crop}-c{d.channels}'
        return sources.tfds_source(
            arg, data_dir=d.tfds_data_dir, manual_dir=d.tfds_manual_dir, download=d.tfds_download,
            image_key=d.image_key, label_key=d.label_key, preprocess=preprocess,
            cache_path=lambda fingerprint: os.path.join(cache_dir, f'{fingerprint}-{tag}.npy'))
    raise UserError(f'config.dataset={name!r} is not one of digits[:train|test], npy:PATH, folder:PATH, '
                    f'tfds:NAME[:SPLIT], stacked:DATASET, {", ".join("toy:" + t for t in toy.MIXTURES)}, '
                    'translation data: paired:DIR, unpaired:DIR, demo:NAME, or tables: csv:PATH, parquet:PATH, table:NAME')


def dataset_config(config: ml_collections.ConfigDict, dataset: str) -> ml_collections.ConfigDict:
    """A copy of `config` that opens `dataset` whole, prepared as the training data are: without the
    training data's config.data.limit and config.data.flip (for evaluation data, say)."""
    out = config.copy_and_resolve_references()
    out.dataset = dataset
    with out.unlocked():
        out.data.limit, out.data.flip = 0, False
    return out


def load(config: ml_collections.ConfigDict) -> Dataset:
    """Opens config.dataset and works out the spec of what training will see: with config.data.limit, a
    subset of the examples (`limited`); with config.data.flip, their mirrored copies after them.
    Translation data (paired:, unpaired:, ...) give a `translation.TranslationDataset` instead, tables
    (csv:, parquet:, table:) a `tables.TableDataset`."""
    from jaxgan.data import tables, translation  # they build on this module
    if translation.is_translation(config.dataset):
        return translation.load(config)
    if tables.is_table(config.dataset):
        return tables.load(config)
    if config.data.get('jitter', False):
        raise UserError(f'config.data.jitter is for translation data (paired:, unpaired:, demo:); '
                        f'{config.dataset} is not')
    channels = config.data.channels

    def preprocess(raw: np.ndarray, name: str = 'image') -> np.ndarray:
        return transforms.preprocess_image(raw, size=config.image_size, crop=config.data.crop,
                                           channels=channels or _channels_of(raw), name=name)

    source = limited(open_source(config, preprocess), config.data.get('limit', 0), config.seed)
    flip = bool(config.data.get('flip', False))
    if flip and source.kind != 'image':
        raise UserError(f'config.data.flip mirrors images; {source.description} holds vectors')
    first = _first_readable(source, config.data.on_corrupt)
    classes = {'num_classes': len(source.class_names), 'class_names': source.class_names} if source.labels is not None else {}
    if source.kind == 'vector':
        array = np.asarray(source.array, np.float64)
        mean, std = array.mean(0), array.std(0)
        std = np.where(std > 0, std, 1.0)
        spec = DataSpec('vector', (array.shape[1],), len(source), source.description,
                        tuple(map(float, mean)), tuple(map(float, std)), **classes)
        mean32, std32 = mean.astype(np.float32), std.astype(np.float32)
        return Dataset(source, spec, lambda x: ((np.asarray(x, np.float32) - mean32) / std32))
    if source.preprocessed:
        shape = first.shape
        prepare = np.asarray
    else:
        channels = channels or _channels_of(first)
        shape = preprocess(first, f'{source.description}[0]').shape
        prepare = preprocess
    description = f'{source.description} with x-flips' if flip else source.description
    size = 2 * len(source) if flip else len(source)
    return Dataset(source, DataSpec('image', tuple(shape), size, description, **classes), prepare,
                   config.data.on_corrupt, flip)


def limited(source: sources.Source, limit: int, seed: int) -> sources.Source:
    """config.data.limit: `limit` examples of the source chosen with the seed, the same number of each
    class where the source has labels (a UserError where limit is not a multiple of the classes, or a
    class is too small); all of them for limit 0. More than the source holds is a UserError."""
    if not limit:
        return source
    if limit > len(source):
        raise UserError(f'config.data.limit={limit} is more than the {len(source)} examples of {source.description}')
    if source.labels is not None:
        indices = balanced_subset(source.labels, limit, seed, field='config.data.limit', stream=0x11a17,
                                  data=source.description)
    else:
        indices = np.sort(np.random.default_rng([seed, 0x11a17]).choice(len(source), limit, replace=False))
    return sources.subset(source, indices, f'{source.description} ({limit} examples, seed {seed})')


def balanced_subset(labels: np.ndarray | None, num: int, seed: int, *,
                    field: str = 'config.semi_supervised.num_labels', stream: int = 0x1abe1,
                    data: str = 'the data') -> np.ndarray:
    """`num` example indices, the same number of each class, drawn with the seed (sorted). `field` names
    the config field asking, in errors; `stream` keeps each use's draw apart."""
    if labels is None:
        raise UserError(f'{field}: {data} have no labels')
    classes = int(labels.max()) + 1
    if num % classes:
        raise UserError(f'{field}={num} is not a multiple of the {classes} classes of {data} '
                        f'(it takes the same number of each)')
    rng = np.random.default_rng([seed, stream])
    chosen = []
    for c in range(classes):
        members = np.flatnonzero(labels == c)
        if len(members) < num // classes:
            raise UserError(f'{field}={num}: class {c} of {data} has only {len(members)} examples')
        chosen.append(rng.choice(members, num // classes, replace=False))
    return np.sort(np.concatenate(chosen))


def _first_readable(source: sources.Source, on_corrupt: str) -> np.ndarray:
    """Example 0, or with on_corrupt='skip' the first that can be decoded."""
    for i in range(len(source)):
        try:
            return source[i]
        except sources.CorruptImageError:
            if on_corrupt != 'skip':
                raise
    raise UserError(f'{source.description}: no example can be read')


def _channels_of(image: np.ndarray) -> int:
    return 1 if image.ndim == 2 or image.shape[-1] == 1 else 3


class Batcher:
    """This process's share of each global batch, by D-update index; see the module docstring.

    `subset`: draw from these source indices only (the labelled examples of a semi-supervised run).
    `labels`: batches hold the examples' classes too.
    """

    def __init__(self, dataset: Dataset, *, global_batch: int, seed: int, workers: int,
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
        self.size = len(subset) if subset is not None else dataset.spec.num_examples
        # Translation data: an index stream per size (one of pairs, or one per unpaired domain).
        self.stream_sizes: tuple[int, ...] = getattr(dataset, 'sizes', (self.size,))
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
        """{'x': examples [b, ...]} and, with labels, {'y': classes [b]}; of translation data, {'a': [b, ...],
        'b': [b, ...]} (see `translation`)."""
        if hasattr(self.dataset, 'sizes'):
            return self.dataset.batch([self.indices(t, s) for s in range(len(self.stream_sizes))],
                                      self.positions(t), self.seed, self._pool)
        indices = self.indices(t)
        out = {'x': self.dataset.examples(indices, self._pool)}
        if self.labels:
            out['y'] = self.dataset.labels[indices].astype(np.int32)
        return out

    def index_batch(self, t: int) -> dict[str, np.ndarray]:
        """{'i': [b] int32}: the indices of `batch(t)`'s examples, for a dataset held on the devices."""
        if hasattr(self.dataset, 'sizes'):
            raise UserError('config.data.on_device: not supported for translation data')
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
