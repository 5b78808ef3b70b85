"""Reference statistics: the features' mean, covariance and kept features of the reference examples,
cached under a key of the examples' content, their number and the feature network."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Iterator

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
    h = hashlib.sha256()
    for i, batch in enumerate(batches):
        batch = np.ascontiguousarray(batch)
        if i == 0:
            h.update(f'{batch.dtype.str} {batch.shape[1:]}'.encode())
        h.update(batch.tobytes())
    return h.hexdigest()


def reference_statistics(dataset: data.Dataset, extractor: Extractor, *, num: int, seed: int, cache_dir: str,
                         batch: int = 500) -> dict:
    """Mean, covariance and kept features of `num` examples of the dataset, drawn with `seed`; cached as
    .npz under a key of what they depend on: the examples' content (sha256 of the uint8 arrays the
    network sees, so never a stale file's statistics, and the same data under any path share them), their
    number, the feature network with its weights and input, and how many features are kept."""
    num = min(num, dataset.spec.num_examples)
    content = examples_sha256(reference_batches(dataset, num, batch, seed))
    key = hashlib.sha256(json.dumps({'examples_sha256': content, 'count': num, 'network': extractor.net.identity,
                                     'keep': extractor.keep}, sort_keys=True).encode()).hexdigest()
    path = os.path.join(cache_dir, 'reference_stats', f'{key}.npz')
    if os.path.exists(path):
        with np.load(path) as f:
            return {**{k: f[k] for k in f.files}, 'examples_sha256': content}
    out = extractor(reference_batches(dataset, num, batch, seed))
    mu, sigma = out['moments'].mean_cov()
    result = {'mu': mu, 'sigma': sigma, 'features': out['features'], 'logits': out['logits'][:extractor.keep],
              'count': np.asarray(num)}
    with files.atomic_path(path) as tmp:
        np.savez(tmp, **result)
    return {**result, 'examples_sha256': content}
