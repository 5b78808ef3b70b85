"""Images and vectors: one example per index (`Dataset`), from digits, npy:, folder:, tfds:, stacked: and
toy: data, preprocessed to the training size on the host."""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, ClassVar, Sequence

import ml_collections
import numpy as np
from absl import logging

from jaxgan.data import base, memory, reading, sources, toy, transforms
from jaxgan.data.spec import DataSpec
from jaxgan.errors import UserError

@dataclasses.dataclass(frozen=True)
class Dataset:
    """A source, the map from its raw examples to model-shaped host examples, and the result's spec.

    on_corrupt='skip' replaces an image that cannot be decoded by the next readable one (by index, so
    the same on every run and resume) and counts it in `skipped`; 'error' raises, naming the file.
    flip (config.data.flip): examples n..2n-1 are examples 0..n-1 of the source mirrored left to right,
    after preprocessing, so each copy is the exact mirror image of the example it copies.
    A `base.DataSource` of layout SINGLE: batches {'x': examples} (the Batcher adds {'y'}, their classes).
    """

    source: sources.Source
    spec: DataSpec
    prepare: Callable[[np.ndarray], np.ndarray]  # raw example -> host example of spec.shape
    on_corrupt: str = 'error'
    flip: bool = False
    skipped: set = dataclasses.field(default_factory=set)  # source indices of unreadable examples seen
    skip_reasons: dict = dataclasses.field(default_factory=dict)  # ... and why each cannot be read
    layout: ClassVar[str] = base.SINGLE

    @property
    def sizes(self) -> tuple[int]:
        """One index stream, of the examples."""
        return (self.spec.num_examples,)

    def read(self, indices: Sequence[np.ndarray], pool: ThreadPoolExecutor | None = None
             ) -> dict[str, np.ndarray]:
        return {'x': self.examples(indices[0], pool)}

    def batch(self, indices: Sequence[np.ndarray], positions: np.ndarray, seed: int,
              pool: ThreadPoolExecutor | None = None) -> dict[str, np.ndarray]:
        """`read`: images and vectors draw nothing at random on the host."""
        del positions, seed
        return self.read(indices, pool)

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
                self.note_skipped(i, str(e))
        raise UserError(f'{self.source.description}: no example can be read')

    def note_skipped(self, index: int, reason: str) -> None:
        """Counts source example `index` as unreadable (on_corrupt='skip'), saying so the first time. The
        input pipeline's worker processes hand theirs to the main process, which says it (`pipeline`)."""
        if index in self.skipped:
            return
        self.skipped.add(index)
        self.skip_reasons[index] = reason
        if LOG_SKIPS:
            logging.warning('skipped an unreadable image (%d so far): %s', len(self.skipped), reason)


LOG_SKIPS = True  # False in the input pipeline's worker processes: the main process counts and logs skips


SHARE = 64  # examples per thread task


def map_in_order(fn: Callable, items: np.ndarray, pool: ThreadPoolExecutor | None = None) -> list:
    """[fn(x) for x in items], on the pool's threads in tasks of SHARE consecutive items (with no pool, in
    this thread). Training reads no longer pass a pool: they decode in worker processes
    (`pipeline.Batcher.stream`); the dataset held on the devices is read once through one (`resident`).
    A task per item cost more than decoding a small image: on the 2-core CPU (2026-12-04), 1,024 64x64
    JPEGs were read at 2.8k to 4.9k images/s with a task each on 1 to 8 threads, 4.0k to 4.9k on 8 threads
    in tasks of 64, and 6.0k to 8.2k with no pool, the threads contending for Python's lock."""
    if pool is None or len(items) <= SHARE:
        return [fn(x) for x in items]
    shares = pool.map(lambda share: [fn(x) for x in share], np.array_split(items, -(-len(items) // SHARE)))
    return [x for share in shares for x in share]


def default_cache_dir() -> str:
    return os.path.join(os.environ.get('XDG_CACHE_HOME', os.path.expanduser('~/.cache')), 'jaxgan')


def canonical(dataset: str) -> str:
    """npy:, folder: and stacked: data with their file paths absolute and real (see
    `pipeline.canonical_dataset`, which dispatches here); other kinds as they are."""
    kind, _, arg = dataset.partition(':')
    if kind in ('npy', 'folder') and arg:
        return f'{kind}:{os.path.realpath(os.path.expanduser(arg))}'
    if kind == 'stacked' and arg:
        return f'stacked:{canonical(arg)}'
    return dataset


def open_source(config: ml_collections.ConfigDict, preprocess) -> sources.Source:
    """The source named by config.dataset (see `sources`), described by its canonical string."""
    name = canonical(config.dataset)
    kind, _, arg = name.partition(':')
    if kind == 'digits':
        return sources.digits(arg)
    if kind == 'stacked' and arg:
        base = config.copy_and_resolve_references()
        base.dataset = arg
        return sources.stacked(open_source(base, preprocess), seed=config.seed)
    if kind == 'toy':  # a malformed toy name: a UserError listing the forms
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
                    f'tfds:NAME[:SPLIT], stacked:DATASET, {toy.FORMS}, '
                    'translation data: paired:DIR, unpaired:DIR, demo:NAME, or tables: csv:PATH, parquet:PATH, xlsx:PATH[:SHEET], table:NAME')


def load(config: ml_collections.ConfigDict) -> Dataset:
    """Opens config.dataset and works out the spec of what training will see: with config.data.limit, a
    subset of the examples (`limited`); with config.data.flip, their mirrored copies after them. Image
    data have the channels `reading.choose_channels` decides (a line in the log says why); a batch that
    cannot fit in memory at config.image_size is refused before anything is read."""
    if config.data.get('jitter', False):
        raise UserError(f'config.data.jitter is for translation data (paired:, unpaired:, demo:); '
                        f'{config.dataset} is not')
    kind = config.dataset.partition(':')[0]
    if kind not in ('toy', 'npy'):  # toy data are points; npy images are checked once opened (below)
        memory.check_batch_fits(config)  # before anything is opened: a TFDS cache is decoded as it opens
    channels = config.data.channels

    def preprocess(raw: np.ndarray, name: str = 'image') -> np.ndarray:
        return transforms.preprocess_image(raw, size=config.image_size, crop=config.data.crop,
                                           channels=channels or reading.channels_of(raw), name=name)

    source = limited(open_source(config, preprocess), config.data.get('limit', 0), config.seed)
    flip = bool(config.data.get('flip', False))
    if flip and source.kind != 'image':
        raise UserError(f'config.data.flip mirrors images; {source.description} holds vectors')
    classes = {'num_classes': len(source.class_names), 'class_names': source.class_names} if source.labels is not None else {}
    if source.kind == 'vector':
        array = np.asarray(source.array, np.float64)
        mean, std = array.mean(0), array.std(0)
        std = np.where(std > 0, std, 1.0)
        spec = DataSpec('vector', (array.shape[1],), len(source), source.description,
                        tuple(map(float, mean)), tuple(map(float, std)), **classes,
                        fingerprint=source.content())
        mean32, std32 = mean.astype(np.float32), std.astype(np.float32)
        return Dataset(source, spec, lambda x: ((np.asarray(x, np.float32) - mean32) / std32))
    if source.preprocessed:
        first = reading.first_readable(source, config.data.on_corrupt)
        memory.check_batch_fits(config, channels=first.shape[-1])
        shape = first.shape
        prepare = np.asarray
    else:
        channels, why = reading.choose_channels([source], channels)
        logging.info('%s: %s', source.description, why)
        memory.check_batch_fits(config, channels=channels)  # the data's channels, before any is decoded
        first = reading.first_readable(source, config.data.on_corrupt)
        shape = preprocess(first, f'{source.description}[0]').shape
        prepare = preprocess
    description = f'{source.description} with x-flips' if flip else source.description
    size = 2 * len(source) if flip else len(source)
    spec = DataSpec('image', tuple(shape), size, description, **classes, fingerprint=source.content())
    return Dataset(source, spec, prepare, config.data.on_corrupt, flip)


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


