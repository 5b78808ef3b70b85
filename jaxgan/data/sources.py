"""Data sources: one function per kind of `config.dataset` string, each giving random access.

    digits              scikit-learn's 8x8 digits (1,797 images), embedded: no download
    npy:PATH            an array file: [N, H, W, C] or [N, H, W] uint8 images, or [N, D] float vectors
    folder:PATH         a directory tree of image files (JPEG, PNG, BMP, GIF, WebP)
    tfds:NAME[:SPLIT]   a TensorFlow Datasets dataset (split 'train' by default)

A source is a sequence: `len(source)` and `source[i]`, a raw example (an image of any size as uint8
[H, W, C], or a float vector). Preprocessing to the model's size lives in `images.py`.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import os
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence

import numpy as np
from PIL import Image

from jaxgan.data import fingerprint as fingerprints
from jaxgan.errors import UserError

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.gif', '.webp')


@dataclasses.dataclass(frozen=True)
class Source:
    """Random access to raw examples. `read(i)` returns example i; `kind` is 'image' or 'vector'."""

    description: str
    kind: str
    size: int
    read: Callable[[int], np.ndarray]
    array: np.ndarray | None = None  # set where all examples sit in one array (npy, digits, caches)
    preprocessed: bool = False  # examples are already at the training size (decoded caches)
    labels: np.ndarray | None = None  # int class of each example, where the data have classes
    class_names: tuple[str, ...] = ()
    # (channels once decoded, whether an alpha channel is dropped) of example i from its file's header,
    # without decoding it: where examples are files (folders), so that many can be looked at cheaply.
    peek: Callable[[int], tuple[int, bool]] | None = None
    # What the examples are made of, for a checkpoint to notice changed data (`fingerprint`); None:
    # data that do not change (embedded, TFDS), known by the description.
    fingerprint: Callable[[], str] | None = None
    # Examples decoded from encoded files at each read (image files, TFDS records): the input pipeline
    # reads these in worker processes (`pipeline.Batcher.stream`); arrays in memory it reads in place.
    encoded: bool = False

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: int) -> np.ndarray:
        return self.read(int(i))

    def content(self) -> str:
        """The fingerprint of what the examples are made of (see `fingerprint`)."""
        return self.fingerprint() if self.fingerprint is not None else fingerprints.of_name(self.description)


def check_labels(labels: np.ndarray, size: int, description: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (size,) or not np.issubdtype(labels.dtype, np.integer) or (labels < 0).any():
        raise UserError(f'{description}: labels must be {size} non-negative integers, got shape '
                        f'{labels.shape} of {labels.dtype}')
    return labels.astype(np.int32)


def array_source(array: np.ndarray, description: str, labels: np.ndarray | None = None,
                 class_names: tuple[str, ...] = ()) -> Source:
    """Images [N, H, W(, C)] uint8 or vectors [N, D] float, checked for what training cannot use."""
    if array.ndim == 3 and array.dtype == np.uint8:
        array = array[..., None]
    if array.ndim == 4:
        if array.dtype != np.uint8:
            raise UserError(f'{description}: images must be uint8, got {array.dtype}')
        if array.shape[-1] not in (1, 3, 4):
            raise UserError(f'{description}: images must have 1, 3 or 4 channels, got shape {array.shape}')
        kind = 'image'
    elif array.ndim == 2:
        if not np.issubdtype(array.dtype, np.floating) and not np.issubdtype(array.dtype, np.integer):
            raise UserError(f'{description}: vectors must be numbers, got {array.dtype}')
        if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
            bad = np.argwhere(~np.isfinite(array))[0]
            raise UserError(f'{description}: non-finite value at row {bad[0]}, column {bad[1]}')
        kind = 'vector'
    else:
        raise UserError(f'{description}: expected [N, H, W, C] uint8 images or [N, D] vectors, '
                        f'got shape {array.shape} of {array.dtype}')
    if len(array) == 0:
        raise UserError(f'{description}: the array is empty')
    if labels is not None:
        labels = check_labels(labels, len(array), description)
        class_names = class_names or tuple(str(c) for c in range(int(labels.max()) + 1))
    return Source(description, kind, len(array), lambda i: np.asarray(array[i]), array, labels=labels,
                  class_names=class_names)


def subset(source: Source, indices: np.ndarray, description: str) -> Source:
    """The examples `indices` of `source` (labels and all), as a source of their own. Where the examples
    sit in one array, the subset's are read into memory (a subset is a small dataset's use)."""
    indices = np.asarray(indices, np.int64)
    labels = source.labels[indices] if source.labels is not None else None
    peek = (lambda i: source.peek(int(indices[i]))) if source.peek is not None else None
    if source.array is not None:
        array = np.asarray(source.array[indices])
        return Source(description, source.kind, len(indices), lambda i: array[i], array, source.preprocessed,
                      labels, source.class_names, fingerprint=source.content)
    return Source(description, source.kind, len(indices), lambda i: source[int(indices[i])],
                  preprocessed=source.preprocessed, labels=labels, class_names=source.class_names, peek=peek,
                  fingerprint=source.content, encoded=source.encoded)


def digits(split: str = '') -> Source:
    """scikit-learn's embedded 8x8 handwritten digits (1,797), as uint8 images in [0, 255], with labels.

    split '' takes all; 'train' the first 1,437 and 'test' the last 360 (80/20, in the file's order).
    """
    from sklearn.datasets import load_digits
    digits = load_digits()  # images: float64 in [0, 16]
    images, labels = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8), digits.target
    cut = 1437
    parts = {'': slice(None), 'train': slice(None, cut), 'test': slice(cut, None)}
    if split not in parts:
        raise UserError(f'digits:{split}: the splits are digits:train and digits:test')
    name = f'digits:{split}' if split else 'digits'
    return array_source(images[parts[split]], name, labels[parts[split]])


def npy(path: str) -> Source:
    if not os.path.isfile(path):
        raise UserError(f'npy file not found: {path}')
    try:
        array = np.load(path, mmap_mode='r', allow_pickle=False)
    except Exception as e:  # numpy raises several types for a file that is not an array
        raise UserError(f'cannot read {path} as a .npy array: {e}') from None
    if not isinstance(array, np.ndarray):
        raise UserError(f'{path} holds no single array (an .npz archive?); save one array with np.save')
    labels_path = labels_path_for(path)
    labels = np.load(labels_path, allow_pickle=False) if os.path.isfile(labels_path) else None
    files = [path, labels_path] if labels is not None else [path]
    return dataclasses.replace(array_source(array, f'npy:{path}', labels),
                               fingerprint=lambda: fingerprints.joined([fingerprints.of_file(f) for f in files]))


def labels_path_for(path: str) -> str:
    """The optional label file beside an npy dataset: x.npy -> x.labels.npy, [N] integers."""
    return f'{path[:-4] if path.endswith(".npy") else path}.labels.npy'


class CorruptImageError(UserError):
    """An image file that cannot be decoded."""


GREY_MODES = ('L', 'I;16', 'I;16B', 'I', 'F', '1', 'LA', 'La')  # PIL modes decoded to one channel
ALPHA_MODES = ('RGBA', 'RGBa', 'LA', 'La', 'PA')  # ... and those whose alpha channel is dropped


def decode_image(data: bytes | str, name: str) -> np.ndarray:
    """Decodes an image file (path or bytes) to uint8 [H, W, C] with C in {1, 3}. An alpha channel is
    dropped: the colour stored under transparent pixels is kept as it is."""
    try:
        with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as img:
            img.load()
            if img.mode in ('L', 'RGB'):
                out = img
            elif img.mode in GREY_MODES:
                out = img.convert('L')
            else:  # RGBA, P, CMYK, YCbCr, ...: to RGB (alpha dropped)
                out = img.convert('RGB')
            array = np.asarray(out, dtype=np.uint8)
    except Exception as e:  # PIL raises many types for truncated or foreign files
        raise CorruptImageError(f'cannot decode image {name}: {type(e).__name__}: {e}') from None
    return array[..., None] if array.ndim == 2 else array


def peek_image(path: str) -> tuple[int, bool]:
    """(channels `decode_image` gives, whether it drops an alpha channel) of an image file, from its
    header: PIL reads no pixels until asked, so this costs a file open and a few bytes."""
    try:
        with Image.open(path) as img:
            mode, transparent = img.mode, 'transparency' in img.info
    except Exception as e:  # PIL raises many types for foreign files
        raise CorruptImageError(f'cannot decode image {path}: {type(e).__name__}: {e}') from None
    return (1 if mode in GREY_MODES else 3), mode in ALPHA_MODES or transparent


def image_files(path: str) -> list[str]:
    """Every image file below the folder `path`, sorted; a UserError where there is none, or no folder."""
    if not os.path.isdir(path):
        raise UserError(f'image folder not found: {path}')
    files = sorted(
        os.path.join(root, f)
        for root, _, names in os.walk(path, followlinks=True)
        for f in names if f.lower().endswith(IMAGE_SUFFIXES))
    if not files:
        raise UserError(f'image folder {path} holds no {"/".join(s[1:] for s in IMAGE_SUFFIXES)} files')
    return files


def folder(path: str) -> Source:
    files = image_files(path)
    # Sub-folder names are classes, where every file sits in one.
    parts = [os.path.relpath(f, path).split(os.sep) for f in files]
    labels, class_names = None, ()
    if all(len(p) > 1 for p in parts):
        class_names = tuple(sorted({p[0] for p in parts}))
        index = {name: i for i, name in enumerate(class_names)}
        labels = np.array([index[p[0]] for p in parts], np.int32)
    return Source(f'folder:{path}', 'image', len(files), lambda i: decode_image(files[i], files[i]),
                  labels=labels, class_names=class_names, peek=lambda i: peek_image(files[i]),
                  fingerprint=lambda: fingerprints.of_files(files, path), encoded=True)


STACKED_MIN_EXAMPLES = 25_600  # stacked: at least this many examples, 25.6 per mode of 1,000 on average


def stacked(base: Source, *, seed: int, count: int = 3) -> Source:
    """Stacked MNIST (VEEGAN, Srivastava et al. 2017): each example stacks `count` grey examples of `base`,
    each drawn uniformly and independently (with the seed), as the channels of one image; with 10 classes,
    10^count modes, label sum_k y_k 10^(count-1-k). It holds max(len(base), STACKED_MIN_EXAMPLES)
    examples, so that a small base (the 1,797 embedded digits) still gives every one of the 1,000 modes
    (each is missing with probability e^-25.6) and a histogram near uniform: the mode-count target is then
    one the data themselves meet."""
    if base.kind != 'image':
        raise UserError(f'stacked:{base.description} needs images')
    size = max(len(base), STACKED_MIN_EXAMPLES)
    draws = np.random.default_rng([seed, 0x57ac]).integers(len(base), size=(count, size))

    def read(i: int) -> np.ndarray:
        planes = [base[int(d[i])] for d in draws]
        if any(plane.shape[-1] != 1 for plane in planes):
            raise UserError(f'stacked:{base.description} needs grey images')
        return np.concatenate(planes, axis=-1)

    labels = None
    if base.labels is not None:
        labels = sum(base.labels[d] * 10 ** (count - 1 - k) for k, d in enumerate(draws)).astype(np.int32)
    return Source(f'stacked:{base.description}', 'image', size, read, labels=labels,
                  class_names=tuple(f'{i:0{count}d}' for i in range(10 ** count)) if labels is not None else (),
                  fingerprint=base.content, encoded=base.encoded)


def parse_tfds(spec: str) -> tuple[str, str]:
    """'celeb_a' -> ('celeb_a', 'train'); 'mnist:3.0.1:test[:10%]' -> ('mnist:3.0.1', 'test[:10%]')."""
    match = re.fullmatch(r'(?P<name>[^:\[\]]+(?::\d+\.\d+\.\d+)?)(?::(?P<split>.+))?', spec)
    if not match:
        raise UserError(f'config.dataset=tfds:{spec} is not tfds:NAME[:VERSION][:SPLIT]')
    return match['name'], match['split'] or 'train'


def tfds_source(spec: str, *, data_dir: str, manual_dir: str, download: bool, image_key: str,
                label_key: str, cache_path: Callable[[str], str],
                preprocess: Callable[[np.ndarray, str], np.ndarray]) -> Source:
    """A TFDS split, read by index from ArrayRecord files, or else from a decoded cache.

    Datasets prepared as TFRecord files (TFDS's default) cannot be read by index: their split is
    decoded and preprocessed once into `cache_path(fingerprint)`, an .npy at the training size.
    """
    import tensorflow_datasets as tfds
    name, split = parse_tfds(spec)
    description = f'tfds:{name}:{split}'
    try:
        builder = tfds.builder(name, data_dir=data_dir or None)
    except tfds.core.registered.DatasetNotFoundError:
        raise UserError(f'unknown TFDS dataset {name!r} (config.dataset=tfds:{spec})') from None
    if not builder.is_prepared():
        if not download:
            raise UserError(f'{description} is not prepared in {builder.data_dir} and '
                            'config.data.tfds_download is False')
        _prepare(builder, description, manual_dir)
    if builder.info.splits and split.split('[')[0] not in builder.info.splits:
        raise UserError(f'{description}: no split {split!r}; the dataset has '
                        f'{", ".join(sorted(builder.info.splits))}')
    if image_key not in builder.info.features:
        raise UserError(f'{description} has no feature {image_key!r} (config.data.image_key); it has '
                        f'{", ".join(builder.info.features)}')
    decoders = {image_key: tfds.decode.SkipDecoding()}
    fixed = lambda: fingerprints.of_name(f'tfds:{builder.info.full_name}:{split}')  # noqa: E731 (a release does not change)
    feature = builder.info.features[label_key] if label_key in builder.info.features else None
    class_names = tuple(getattr(feature, 'names', None) or ())
    try:
        records: Sequence[Any] = builder.as_data_source(split=split, decoders=decoders)
    except NotImplementedError:  # TFRecord files: no random access
        fingerprint = re.sub(r'[^\w.-]+', '_', f'{builder.info.full_name}-{split}')
        path = cache_path(fingerprint)
        labels_path = labels_path_for(path)
        if not os.path.exists(path):
            dataset = builder.as_dataset(split=split, decoders=decoders, shuffle_files=False)
            _decode_to_cache(dataset, _count(builder, split, dataset), image_key,
                             label_key if feature is not None else None, preprocess, path, description)
        cached = np.load(path, mmap_mode='r')
        labels = np.load(labels_path) if os.path.exists(labels_path) else None
        return Source(f'{description} (decoded cache {path})', 'image', len(cached),
                      lambda i: cached[i], cached, preprocessed=True, labels=labels,
                      class_names=class_names if labels is not None else (), fingerprint=fixed)

    def read(i: int) -> np.ndarray:
        return _image(records[i][image_key], f'{description}[{i}]')

    labels = None
    if feature is not None:
        labels = check_labels([int(records[i][label_key]) for i in range(len(records))], len(records),
                              description)
        class_names = class_names or tuple(str(c) for c in range(int(labels.max()) + 1))
    return Source(description, 'image', len(records), read, labels=labels, class_names=class_names,
                  fingerprint=fixed, encoded=True)


PREPARE_ELSEWHERE = ('prepare it on a machine that is online (the same command there with '
                     'config.data.tfds_data_dir=DIR prepares it in DIR) and point config.data.tfds_data_dir '
                     'at a copy of DIR, or put the files TFDS asks for in config.data.tfds_manual_dir')


def _prepare(builder, description: str, manual_dir: str) -> None:
    """Downloads and prepares a TFDS dataset as ArrayRecord files; a one-line UserError naming the real
    cause where it cannot: an unreachable download host (found in seconds, not after TFDS's minutes
    of retries), a Python module TFDS needs, or whatever TFDS raised."""
    import tensorflow_datasets as tfds
    urls = _download_urls(builder)
    if urls and not _has_downloads(builder):
        unreachable = unreachable_hosts(urls)
        if unreachable:
            raise UserError(f'cannot download {description}: {"; ".join(unreachable)} cannot be reached '
                            f'(offline?); {PREPARE_ELSEWHERE}')
    try:
        builder.download_and_prepare(
            file_format='array_record',
            download_config=tfds.download.DownloadConfig(manual_dir=manual_dir or None))
    except ImportError as e:  # TFDS imports much lazily, on first use
        module = (e.name or str(e)).split('.')[0]
        raise UserError(f'cannot prepare {description}: TFDS needs the Python module {module!r}, which is '
                        f'not installed ({type(e).__name__}: {e}); pip install {module}') from None
    except Exception as e:  # network, manual-download and preparation errors of every kind
        first = (str(e).strip().splitlines() or [''])[0]
        raise UserError(f'cannot download or prepare {description} in {builder.data_dir}: '
                        f'{type(e).__name__}: {first} ({PREPARE_ELSEWHERE})') from None


def _download_urls(builder) -> list[str]:
    """The URLs a TFDS dataset downloads, from its checksums file (none known: [])."""
    try:
        return sorted(builder.url_infos or ())
    except Exception:  # a builder without a checksums file, or with one TFDS cannot read
        return []


def _has_downloads(builder) -> bool:
    """Whether files of this dataset sit in TFDS's download directory already (it may need no network)."""
    directory = os.path.join(os.fspath(builder.data_dir_root), 'downloads', builder.name)
    return os.path.isdir(directory) and bool(os.listdir(directory))


def unreachable_hosts(urls: Sequence[str], timeout: float = 5.0) -> list[str]:
    """'host (reason)' for each http(s) host of `urls` that a TCP connection cannot reach within
    `timeout` seconds. Hosts reached through a proxy are not tried (the download will say)."""
    import socket
    import urllib.parse
    import urllib.request
    proxies = urllib.request.getproxies()
    hosts = sorted({(u.scheme, u.hostname, u.port or (443 if u.scheme == 'https' else 80))
                    for u in map(urllib.parse.urlsplit, urls) if u.scheme in ('http', 'https') and u.hostname})
    bad = []
    for scheme, host, port in hosts:
        if (proxies.get(scheme) or proxies.get('all')) and not urllib.request.proxy_bypass(host):
            continue
        try:
            socket.create_connection((host, port), timeout=timeout).close()
        except OSError as e:
            bad.append(f'{host} ({e.strerror or type(e).__name__})')
    return bad


def _image(value: Any, name: str) -> np.ndarray:
    """A TFDS image feature (encoded bytes, or an array where decoding was not skipped)."""
    if isinstance(value, bytes):
        return decode_image(value, name)
    value = np.asarray(value)
    return value if value.ndim == 3 else value[..., None]


def _count(builder, split: str, dataset) -> int:
    """Examples in a split, from the dataset's info where it has them."""
    try:
        return builder.info.splits[split].num_examples
    except (KeyError, ValueError):
        n = int(dataset.cardinality())
        return n if n >= 0 else sum(1 for _ in dataset)


def _check_disk(path: str, need: int, description: str) -> None:
    """A UserError where the cache's folder has less free space than the cache needs."""
    import shutil
    free = shutil.disk_usage(os.path.dirname(path) or '.').free
    if need > free:
        raise UserError(f'{description}: its decoded cache at the training size needs {need / 1e9:.1f} GB, and '
                        f'{os.path.dirname(path) or "."} has {free / 1e9:.1f} GB free (config.data.cache_dir; or '
                        'a smaller config.image_size)')


def _decode_to_cache(dataset, num_examples: int, image_key: str, label_key: str | None,
                     preprocess: Callable[[np.ndarray, str], np.ndarray], path: str,
                     description: str) -> None:
    """Decodes a tf.data split once into an .npy (and its labels into .labels.npy); written beside
    and renamed, so never half there."""
    import tensorflow_datasets as tfds
    os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
    tmp = f'{path}.tmp{os.getpid()}'
    out = None
    labels = np.zeros(num_examples, np.int64)
    try:
        def prepare(item: tuple[int, dict]) -> np.ndarray:
            name = f'{description}[{item[0]}]'
            return preprocess(_image(item[1][image_key], name), name)

        examples = enumerate(tfds.as_numpy(dataset))
        with ThreadPoolExecutor(os.cpu_count()) as pool:
            while chunk := list(itertools.islice(examples, 1024)):  # bounded memory
                images = pool.map(prepare, chunk)
                for (i, example), image in zip(chunk, images):
                    if out is None:
                        _check_disk(path, num_examples * image.nbytes, description)
                        out = np.lib.format.open_memmap(tmp, 'w+', np.uint8, (num_examples, *image.shape))
                    out[i] = image
                    if label_key is not None:
                        labels[i] = example[label_key]
        if out is None:
            raise UserError(f'{description} is empty')
        out.flush()
        del out
        if label_key is not None:
            np.save(f'{tmp}.labels.npy', labels)
            os.replace(f'{tmp}.labels.npy', labels_path_for(path))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
