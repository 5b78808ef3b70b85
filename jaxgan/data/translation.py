"""Data for image-to-image translation: pairs (pix2pix) and two unpaired domains (CycleGAN, U-GAT-IT).

    paired:DIR[:SPLIT]           pix2pix's layout: DIR/SPLIT/* each hold A and B side by side (A left);
                                 or DIR/A and DIR/B (or DIR/A/SPLIT and DIR/B/SPLIT) with files of the
                                 same names (extension aside). SPLIT: train (default), val, test, ...
    unpaired:DIR[:SPLIT]         CycleGAN's layout: DIR/trainA and DIR/trainB (SPLIT train, the
                                 default), DIR/testA and DIR/testB (test)
    tfds:cycle_gan/NAME[:SPLIT]  TFDS's CycleGAN datasets: splits trainA and trainB (train), or testA
                                 and testB (test); `tfds:cycle_gan/NAME:trainB` alone is one domain,
                                 an ordinary image dataset
    demo:NAME[:SPLIT]            the download-free demos of `demos`

Batches are {'a': uint8 [b, H, W, C], 'b': uint8 [b, H, W, C]}: `pipeline.Batcher` reads them from a
`TranslationDataset`, and `dispatch_batches` stacks them to [n, b, H, W, C] per step as it does 'x'.
Both domains share one `DataSpec` (one image): their images are resized to config.image_size and
converted to config.data.channels, or where that is 0 to 3 channels where any of a sample of files spread
over both domains is colour, else 1 (`reading.choose_channels`: a grey domain beside an RGB one, or a few
grey files among colour ones, are given 3 equal channels; a line in the log says what was chosen and why). Decoding, centre crop, resize,
config.data.on_corrupt and config.data.limit (per domain, for unpaired data) are those of every source.

The index streams: paired data have one, and A and B of a batch are one pair each. Unpaired data have
one per domain, of the domain's own size, each walking its own seeded permutation per epoch (A's is
the stream an image dataset of A would have; B's is drawn with another key), so the domains are
sampled independently and a resumed run continues both exactly.

config.data.jitter: the papers' random jitter, on the host in the Batcher. Each image is resized to
286/256 of the training size (bicubic), cropped back at a random place, and flipped left to right with
probability 1/2: pytorch-CycleGAN-and-pix2pix's defaults (data/base_dataset.py, get_transform with
--preprocess resize_and_crop, --load_size 286, --crop_size 256, flips unless --no_flip), scaled for other
sizes. A pair gets one draw, applied to A and B alike (the aligned dataset's get_params); the images
of unpaired domains get draws of their own. The draws are a function of the seed and the example's
position in the global stream, so a run, a resumed run and a run on more processes jitter alike.

config.data.direction: `a2b` (the default) learns A to B as the data hold them; `b2a` swaps the two
(each pair's halves, or the domains), pytorch-CycleGAN-and-pix2pix's `--direction BtoA` (facades'
labels to photo).
"""

from __future__ import annotations

import dataclasses
import os
import re
from concurrent.futures import ThreadPoolExecutor
from typing import ClassVar, Sequence

import ml_collections
import numpy as np
from absl import logging

from jaxgan.data import base, demos, fingerprint, images, memory, reading, sources, transforms
from jaxgan.data.spec import DataSpec
from jaxgan.errors import UserError

KINDS = ('paired', 'unpaired', 'demo')
DIRECTIONS = ('a2b', 'b2a')
JITTER_LOAD, JITTER_CROP = 286, 256  # pytorch-CycleGAN-and-pix2pix's --load_size and --crop_size
JITTER_STREAM = 0x717e5  # keeps the jitter's random draws apart from the other uses of the seed
B_STREAM = 1  # the Batcher's stream index of an unpaired B domain


@dataclasses.dataclass(frozen=True)
class TranslationDataset:
    """Paired data (`parts`: one `images.Dataset` whose examples are pairs, uint8 [2, H, W, C]) or
    unpaired data (`parts`: the A and B domains, each an `images.Dataset` of images [H, W, C]). A
    `base.DataSource` of layout PAIRED or UNPAIRED.

    `spec` describes one image of either domain; its num_examples is the number of pairs, or of A
    images (`sizes` has both domains'). `aligned`: example i of B is the true translation of example i
    of A (pairs, and a demo's test split), so translations can be scored against it. `readable`: for
    the demos, {direction: a map of translations to the images a digits classifier reads}
    (`demos.READABLE`), so that a translation's class can be checked against its input's label."""

    spec: DataSpec
    parts: tuple[images.Dataset, ...]
    jitter: bool = False
    aligned: bool = False
    readable: dict | None = None
    keys: ClassVar[tuple[str, str]] = ('a', 'b')
    labels: ClassVar[None] = None  # translation batches hold no classes (the demos' are in parts' sources)

    @property
    def paired(self) -> bool:
        return len(self.parts) == 1

    @property
    def layout(self) -> str:
        return base.PAIRED if self.paired else base.UNPAIRED

    @property
    def sizes(self) -> tuple[int, ...]:
        """The size of each index stream: (pairs,) or (A images, B images)."""
        return tuple(part.spec.num_examples for part in self.parts)

    @property
    def source(self) -> sources.Source:
        """The pairs' source, or domain A's."""
        return self.parts[0].source

    def labels_of(self, key: str) -> np.ndarray | None:
        """The class of each example of domain `key` ('a' or 'b'), where the data have classes."""
        return self.parts[0 if self.paired else self.keys.index(key)].source.labels

    def read(self, indices: Sequence[np.ndarray], pool: ThreadPoolExecutor | None = None
             ) -> dict[str, np.ndarray]:
        """{'a': [b, H, W, C], 'b': [b, H, W, C]} uint8 of the pairs `indices[0]`, or of the A images
        `indices[0]` and the B images `indices[1]`; without jitter."""
        if self.paired:
            pairs = self.parts[0].examples(indices[0], pool)
            return {'a': pairs[:, 0], 'b': pairs[:, 1]}
        return {key: part.examples(i, pool) for key, part, i in zip(self.keys, self.parts, indices)}

    examples = read  # the name callers used before `base.DataSource`

    def batch(self, indices: Sequence[np.ndarray], positions: np.ndarray, seed: int,
              pool: ThreadPoolExecutor | None = None) -> dict[str, np.ndarray]:
        """`read`, jittered where config.data.jitter asks, with draws from the seed and each
        example's position in the global stream."""
        out = self.read(indices, pool)
        if self.jitter:
            out = jitter(out, positions, seed, paired=self.paired, pool=pool)
        return out


def jitter(batch: dict[str, np.ndarray], positions: np.ndarray, seed: int, *, paired: bool,
           pool: ThreadPoolExecutor | None = None) -> dict[str, np.ndarray]:
    """The papers' jitter (module docstring) of {'a': [b, H, W, C], 'b': ...}: example j's draws come
    from (seed, positions[j]); one draw for A and B of a pair, one each for unpaired images."""
    size = batch['a'].shape[1]
    load = max(size, round(size * JITTER_LOAD / JITTER_CROP))

    def one(j: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([seed, JITTER_STREAM, int(positions[j])])
        draws = [(rng.integers(0, load - size + 1, 2), rng.random() < 0.5)]
        draws.append(draws[0] if paired else (rng.integers(0, load - size + 1, 2), rng.random() < 0.5))
        out = []
        for image, ((top, left), flip) in zip((batch['a'][j], batch['b'][j]), draws):
            image = transforms.resize(image, load)[top:top + size, left:left + size]
            out.append(image[:, ::-1] if flip else image)
        return out[0], out[1]

    mapper = pool.map if pool is not None else map
    a, b = zip(*mapper(one, range(len(positions))))
    return {'a': np.stack(a), 'b': np.stack(b)}


def is_translation(dataset: str) -> bool:
    """Whether config.dataset names translation data: paired:, unpaired:, demo:, or a CycleGAN dataset
    of TFDS with both domains (tfds:cycle_gan/NAME with split train, test or none)."""
    kind, _, arg = dataset.partition(':')
    if kind in KINDS:
        return True
    if kind == 'tfds' and arg.startswith('cycle_gan/'):
        _, split = sources.parse_tfds(arg)
        return split.split('[')[0] in ('train', 'test')
    return False


def path_and_split(arg: str, default: str = 'train') -> tuple[str, str]:
    """'DIR' -> ('DIR', 'train'); 'DIR:test' -> ('DIR', 'test'). A split is a word after the last colon."""
    head, colon, tail = arg.rpartition(':')
    if colon and head and re.fullmatch(r'\w+', tail):
        return head, tail
    return arg, default


def canonical(dataset: str) -> str:
    """paired:/unpaired: with the folder's path absolute and real (as `images.canonical` does), and
    the split named: 'paired:~/facades' -> 'paired:/home/u/facades:train', 'demo:NAME' -> 'demo:NAME:train'."""
    kind, _, arg = dataset.partition(':')
    if kind in ('paired', 'unpaired') and arg:
        path, split = path_and_split(arg)
        return f'{kind}:{os.path.realpath(os.path.expanduser(path))}:{split}'
    if kind == 'demo' and arg:
        return 'demo:{}:{}'.format(*path_and_split(arg))
    return dataset


def load(config: ml_collections.ConfigDict) -> TranslationDataset:
    """Opens the translation data config.dataset names (module docstring)."""
    d = config.data
    jittered = bool(d.get('jitter', False))
    name = canonical(config.dataset)
    if d.get('flip', False):
        raise UserError(f'config.data.flip: {name} is translation data, whose mirrored copies would have '
                        'to mirror both domains alike; config.data.jitter=true flips them so')
    if d.get('on_device', False):
        raise UserError(f'config.data.on_device: not supported for translation data ({name})')
    direction = d.get('direction', 'a2b')
    if direction not in DIRECTIONS:
        raise UserError(f'config.data.direction={direction!r} is not a2b or b2a')
    kind, _, arg = name.partition(':')
    memory.check_batch_fits(config, images_per_example=2)
    aligned, readable = kind == 'paired', None
    if kind == 'paired' and arg:
        parts = _paired_parts(*path_and_split(arg))
    elif kind == 'unpaired' and arg:
        parts = _unpaired_parts(config, *path_and_split(arg))
    elif kind == 'demo' and arg:
        demo, split = path_and_split(arg)
        readable = demos.READABLE.get(demo)
        if demo == 'edges2digits':
            parts, aligned = (demos.edges2digits(split),), True
        elif demo == 'digits_colour':
            parts, aligned = demos.digits_colour(split, config.seed), split == 'test'
        else:
            raise UserError(f'config.dataset={name!r}: the demos are '
                            f'{", ".join("demo:" + n for n in demos.NAMES)}')
    elif kind == 'tfds':
        parts = _tfds_parts(config, arg)
        name = 'tfds:{}:{}'.format(*sources.parse_tfds(arg))
    else:
        raise UserError(f'config.dataset={name!r} is not paired:DIR[:SPLIT], unpaired:DIR[:SPLIT], '
                        f'tfds:cycle_gan/NAME[:SPLIT] or demo:NAME[:SPLIT]')
    content = fingerprint.joined([part.content() for part in parts])  # before b2a swaps them
    if direction == 'b2a':
        parts = (_swapped(parts[0]),) if len(parts) == 1 else parts[::-1]
        readable = {a2b: readable[b2a] for a2b, b2a in zip(DIRECTIONS, DIRECTIONS[::-1]) if b2a in readable} \
            if readable else None
        name += ' (B to A)'
    parts = tuple(images.limited(p, d.get('limit', 0), config.seed) for p in parts)
    return _dataset(config, parts, name, jittered, aligned, readable, content)


def _swapped(pairs: sources.Source) -> sources.Source:
    """Pairs (A, B) as (B, A)."""
    array = pairs.array[:, ::-1] if pairs.array is not None else None
    return sources.Source(f'{pairs.description} (B to A)', pairs.kind, len(pairs), lambda i: pairs[i][::-1], array,
                          pairs.preprocessed, pairs.labels, pairs.class_names, pairs.peek, pairs.fingerprint,
                          pairs.encoded)


def _dataset(config: ml_collections.ConfigDict, parts: tuple[sources.Source, ...], name: str,
             jittered: bool, aligned: bool = False, readable: dict | None = None,
             content: str = '') -> TranslationDataset:
    """Sources (one of pairs, or A and B) to Datasets at config.image_size with one channel count."""
    d, size = config.data, config.image_size
    paired = len(parts) == 1
    channels, why = reading.choose_channels(parts, d.channels)
    logging.info('%s: %s', name, why)
    memory.check_batch_fits(config, channels=channels, images_per_example=2)  # before any is decoded
    firsts = [reading.first_readable(p, d.on_corrupt) for p in parts]  # a pair, or A's and B's

    def preprocess(raw: np.ndarray, what: str) -> np.ndarray:
        return transforms.preprocess_image(raw, size=size, crop=d.crop, channels=channels, name=what)

    datasets = []
    for part, first in zip(parts, firsts):
        if part.preprocessed:  # a decoded TFDS cache: at the training size, but maybe not the channels
            prepare = lambda x: transforms.convert_channels(np.asarray(x), channels)  # noqa: E731
        elif paired:
            prepare = lambda pair, name=part.description: np.stack(  # noqa: E731
                [preprocess(pair[0], f'{name} A'), preprocess(pair[1], f'{name} B')])
        else:
            prepare = lambda x, name=part.description: preprocess(x, name)  # noqa: E731
        shape = prepare(first).shape
        datasets.append(images.Dataset(part, DataSpec('image', shape, len(part), part.description),
                                         prepare, d.on_corrupt))
    image = datasets[0].spec.shape[1:] if paired else datasets[0].spec.shape
    if not paired and datasets[1].spec.shape != image:
        raise UserError(f'{name}: the images of domain A are {image}, those of B '
                        f'{datasets[1].spec.shape} (decoded caches of another size?)')
    spec = DataSpec('image', tuple(image), len(parts[0]), name + (' with jitter' if jittered else ''),
                    fingerprint=content)
    return TranslationDataset(spec, tuple(datasets), jittered, aligned, readable)


def _few(names, count: int = 3) -> str:
    names = sorted(names)
    return ', '.join(names[:count]) + (f' and {len(names) - count} more' if len(names) > count else '')


def _paired_parts(path: str, split: str) -> tuple[sources.Source]:
    if not os.path.isdir(path):
        raise UserError(f'paired image folder not found: {path}')
    a_dir, b_dir = os.path.join(path, 'A'), os.path.join(path, 'B')
    if os.path.isdir(a_dir) and os.path.isdir(b_dir):
        split_dirs = [os.path.join(a_dir, split), os.path.join(b_dir, split)]
        if all(map(os.path.isdir, split_dirs)):
            a_dir, b_dir = split_dirs
        elif any(map(os.path.isdir, split_dirs)) or _subfolders(a_dir):
            missing = [p for p in split_dirs if not os.path.isdir(p)]
            raise UserError(f'paired:{path}:{split}: no split folder {missing[0]}')
        return (_matched_pairs(a_dir, b_dir, f'paired:{path}:{split}'),)
    folder = os.path.join(path, split)
    if not os.path.isdir(folder):
        raise UserError(f'paired:{path}:{split}: no split folder {folder} (pix2pix\'s layout: '
                        f'{path}/train, val, test with A|B side by side; or {path}/A and {path}/B); '
                        f'{path} holds: {_few(os.listdir(path), 8) or "nothing"}')
    files = sources.image_files(folder)

    def read(i: int) -> tuple[np.ndarray, np.ndarray]:
        image = sources.decode_image(files[i], files[i])
        h, w = image.shape[:2]
        if w % 2:
            raise UserError(f'{files[i]}: {w} pixels wide, so its halves A|B differ in size '
                            '(a paired image holds A and B side by side, of one size)')
        return image[:, :w // 2], image[:, w // 2:]

    return (sources.Source(f'paired:{path}:{split}', 'image', len(files), read,
                           peek=lambda i: sources.peek_image(files[i]),
                           fingerprint=lambda: fingerprint.of_files(files, folder), encoded=True),)


def _subfolders(path: str) -> list[str]:
    return [e for e in os.listdir(path) if os.path.isdir(os.path.join(path, e))]


def _matched_pairs(a_dir: str, b_dir: str, description: str) -> sources.Source:
    """Files of a_dir and b_dir paired by relative path less the extension (x.jpg with x.png)."""
    def by_stem(folder: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for f in sources.image_files(folder):
            stem = os.path.splitext(os.path.relpath(f, folder))[0]
            if stem in out:
                raise UserError(f'{description}: {out[stem]} and {f} both give the name {stem!r} '
                                'that pairs A with B')
            out[stem] = f
        return out

    a, b = by_stem(a_dir), by_stem(b_dir)
    if a.keys() != b.keys():
        only_a, only_b = a.keys() - b.keys(), b.keys() - a.keys()
        problems = [f'{len(s)} of {x} have no match in {y} ({_few(s)})'
                    for s, x, y in ((only_a, a_dir, b_dir), (only_b, b_dir, a_dir)) if s]
        raise UserError(f'{description}: A and B do not match by file name: {"; ".join(problems)}')
    stems = sorted(a)

    def read(i: int) -> tuple[np.ndarray, np.ndarray]:
        fa, fb = a[stems[i]], b[stems[i]]
        image_a, image_b = sources.decode_image(fa, fa), sources.decode_image(fb, fb)
        if image_a.shape[:2] != image_b.shape[:2]:
            raise UserError(f'{description}: {fa} is {image_a.shape[1]}x{image_a.shape[0]} pixels but '
                            f'{fb} is {image_b.shape[1]}x{image_b.shape[0]}: a pair must be of one size')
        return image_a, image_b

    def peek(i: int) -> tuple[int, bool]:
        (ca, alpha_a), (cb, alpha_b) = sources.peek_image(a[stems[i]]), sources.peek_image(b[stems[i]])
        return max(ca, cb), alpha_a or alpha_b

    files = [*a.values(), *b.values()]
    return sources.Source(description, 'image', len(stems), read, peek=peek,
                          fingerprint=lambda: fingerprint.of_files(files, os.path.commonpath([a_dir, b_dir])),
                          encoded=True)


def _domain_config(config: ml_collections.ConfigDict, dataset: str) -> ml_collections.ConfigDict:
    out = config.copy_and_resolve_references()
    out.dataset = dataset
    return out


def _unpaired_parts(config: ml_collections.ConfigDict, path: str, split: str
                    ) -> tuple[sources.Source, sources.Source]:
    if not os.path.isdir(path):
        raise UserError(f'unpaired image folder not found: {path}')
    folders = [os.path.join(path, split + domain) for domain in ('A', 'B')]
    for folder in folders:
        if not os.path.isdir(folder):
            present = sorted(e for e in _subfolders(path) if e.endswith(('A', 'B')))
            raise UserError(f'unpaired:{path}:{split}: no split folder {folder} (CycleGAN\'s layout: '
                            f'trainA, trainB, testA, testB); {path} holds {_few(present, 8) or "none"}')
    return tuple(images.open_source(_domain_config(config, f'folder:{f}'), None) for f in folders)


def _tfds_parts(config: ml_collections.ConfigDict, arg: str) -> tuple[sources.Source, sources.Source]:
    """tfds:cycle_gan/NAME:SPLIT as its SPLIT + 'A' and SPLIT + 'B' splits ('train[:10%]' slices both)."""
    name, split = sources.parse_tfds(arg)
    base, bracket, rest = split.partition('[')
    channels = config.data.channels

    def preprocess(raw: np.ndarray, what: str = 'image') -> np.ndarray:  # for a decoded cache
        return transforms.preprocess_image(raw, size=config.image_size, crop=config.data.crop,
                                           channels=channels or reading.channels_of(raw), name=what)

    return tuple(images.open_source(_domain_config(config, f'tfds:{name}:{base}{domain}{bracket}{rest}'),
                                      preprocess) for domain in ('A', 'B'))
