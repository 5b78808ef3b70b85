"""Reference statistics: the features' mean, covariance and kept features of the reference examples,
cached under a key of what the examples are made of (`cache_key`), their number and the feature network."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Iterator

import ml_collections
import numpy as np

from jaxgan import data, files
from jaxgan.evaluation.features import Extractor


def reference_batches(dataset: data.Dataset, num: int, batch: int, seed: int) -> Iterator[np.ndarray]:
    """`num` examples of the dataset drawn with `seed` (the same ones for the same seed), in batches."""
    order = np.random.default_rng([seed, 0xe7a1]).permutation(dataset.spec.num_examples)[:num]
    for start in range(0, len(order), batch):
        yield dataset.examples(np.sort(order[start:start + batch]))


def examples_sha256(batches: Iterator[np.ndarray]) -> str:
    """sha256 over examples as training sees them (their dtype, shape and bytes, in order)."""
    h = _ExamplesHash()
    for batch in batches:
        h.update(batch)
    return h.hexdigest()


class _ExamplesHash:
    """`examples_sha256` fed one batch at a time (while the batches go to the network)."""

    def __init__(self):
        self._h, self._first = hashlib.sha256(), True

    def update(self, batch: np.ndarray) -> None:
        batch = np.ascontiguousarray(batch)
        if self._first:
            self._h.update(f'{batch.dtype.str} {batch.shape[1:]}'.encode())
            self._first = False
        self._h.update(batch.tobytes())

    def hexdigest(self) -> str:
        return self._h.hexdigest()

    def passing(self, batches: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        for batch in batches:
            self.update(batch)
            yield batch


def preparation(config: ml_collections.ConfigDict) -> dict:
    """What, beside its source, decides the examples a config reads: the kind of data (not a path: the
    same file elsewhere is the same data), the size, crop, channels, subset and mirroring, the seed (a
    data.limit subset, stacked digits' channels) and what an unreadable image becomes."""
    kinds, rest = [], config.dataset
    while True:  # stacked:digits is not digits, though it has digits' fingerprint
        kind, _, rest = rest.partition(':')
        kinds.append(kind)
        if kind != 'stacked':
            break
    d = config.data
    return {'kind': ':'.join(kinds), 'image_size': config.image_size, 'crop': d.crop, 'channels': d.channels,
            'limit': d.get('limit', 0), 'flip': bool(d.get('flip', False)), 'on_corrupt': d.on_corrupt,
            'seed': config.seed}


def cache_key(dataset: data.Dataset, *, num: int, seed: int, batch: int, prepared: dict | None) -> dict:
    """What the reference examples are made of. With the config's `preparation` and a fingerprint of the
    source (`jaxgan.data.fingerprint`: a file's sha256, a folder's listing of names, sizes and times, a
    release's name), the key costs one batch's read, not the whole reference's (50,000 decoded images
    on every evaluator made): the fingerprint, the spec's shape and size, the preparation, and the sha256
    of the first batch of examples (a change in how images are prepared shows there). Otherwise the
    sha256 of every example (read whole)."""
    if prepared is not None and dataset.spec.fingerprint:
        first = examples_sha256(iter([next(reference_batches(dataset, num, batch, seed))]))
        return {'fingerprint': dataset.spec.fingerprint, 'shape': list(dataset.spec.shape),
                'num_examples': dataset.spec.num_examples, 'preparation': prepared, 'first_batch_sha256': first}
    return {'examples_sha256': examples_sha256(reference_batches(dataset, num, batch, seed))}


def reference_statistics(dataset: data.Dataset, extractor: Extractor, *, num: int, seed: int, cache_dir: str,
                         batch: int = 500, prepared: dict | None = None) -> dict:
    """Mean, covariance and kept features of `num` examples of the dataset, drawn with `seed`; cached as
    .npz under a key of what they depend on: what the examples are made of (`cache_key`; `prepared`: the
    `preparation` of the config that loaded the dataset), their number, the feature network with its
    weights and input, and how many features are kept. Never a stale file's statistics, and the same data
    under any path share them. 'examples_sha256', the sha256 of every example the network saw, is taken
    as they are computed and kept with them (the protocol reports it)."""
    num = min(num, dataset.spec.num_examples)
    content = cache_key(dataset, num=num, seed=seed, batch=batch, prepared=prepared)
    key = hashlib.sha256(json.dumps({**content, 'count': num, 'network': extractor.net.identity,
                                     'keep': extractor.keep}, sort_keys=True).encode()).hexdigest()
    path = os.path.join(cache_dir, 'reference_stats', f'{key}.npz')
    if os.path.exists(path):
        with np.load(path) as f:
            return {k: f[k] if k != 'examples_sha256' else str(f[k]) for k in f.files}
    hashed = _ExamplesHash()
    out = extractor(hashed.passing(reference_batches(dataset, num, batch, seed)))
    mu, sigma = out['moments'].mean_cov()
    result = {'mu': mu, 'sigma': sigma, 'features': out['features'], 'logits': out['logits'][:extractor.keep],
              'count': np.asarray(num), 'examples_sha256': hashed.hexdigest()}
    with files.atomic_path(path) as tmp:
        np.savez(tmp, **result)
    return result
