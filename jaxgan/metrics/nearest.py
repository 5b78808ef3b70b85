"""Nearest training examples of generated samples: is a generator copying its training set?

A generator that draws fresh examples from the data's distribution puts its samples about as far from
the training set as unseen examples of the same distribution are. A generator that copies puts them
closer. `memorisation_score` compares the two directly: the threshold is the 5th percentile of the
distances from held-out examples to their nearest training example, and the score is the fraction of
generated samples at most that far from theirs. Samples drawn from the data's distribution score about
0.05; exact copies of training examples score 1 (their distance is 0); samples far from every training
example score 0. It is a plain comparison of nearest-neighbour distances, not the three-sample test of
Meehan et al. (2020).

Distances are Euclidean. They are found in two passes, so that no [queries, references] matrix is ever
formed whole: blocks of squared distances in float32 on the device (centred on the references' mean, and
at the highest matmul precision, to keep float32 rounding small) keep each query's `k + margin` best
candidates; the candidates' distances are then recomputed exactly, in float64 on the host, and sorted by
(distance, index). The result is that of a brute-force float64 search, unless float32 rounding misranks
neighbours by more than `margin` places.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

MARGIN = 8  # float32 candidates kept beyond k, re-ranked in float64
PERCENTILE = 5.0  # of held-out distances, the memorisation threshold
QUANTILES = (0, 5, 25, 50, 75, 95, 100)


@functools.partial(jax.jit, static_argnames=('c',))
def _merge(best_d: jax.Array, best_i: jax.Array, queries: jax.Array, block: jax.Array, offset: jax.Array,
           valid: jax.Array, *, c: int) -> tuple[jax.Array, jax.Array]:
    """The c smallest squared distances (and their indices) of the running best and one block."""
    dots = jnp.matmul(queries, block.T, precision=jax.lax.Precision.HIGHEST)
    d = jnp.sum(queries * queries, 1)[:, None] + jnp.sum(block * block, 1)[None, :] - 2.0 * dots
    d = jnp.where(jnp.arange(block.shape[0])[None, :] < valid, d, jnp.inf)  # the padding of a last block
    index = jnp.broadcast_to(offset + jnp.arange(block.shape[0]), d.shape)
    # The running best come first, with lower indices: top_k keeps the lower index among equals.
    neg, at = jax.lax.top_k(-jnp.concatenate([best_d, d], 1), c)
    return -neg, jnp.take_along_axis(jnp.concatenate([best_i, index], 1), at, 1)


def _exact(queries: np.ndarray, references: np.ndarray, candidates: np.ndarray, chunk: int = 64) -> np.ndarray:
    """Euclidean distances [Q, C] in float64 from each query to its candidate references."""
    out = np.empty(candidates.shape)
    for start in range(0, len(queries), chunk):
        q = np.asarray(queries[start:start + chunk], np.float64)
        r = np.asarray(references[candidates[start:start + chunk]], np.float64)  # [q, C, D]
        out[start:start + len(q)] = np.sqrt(np.sum((r - q[:, None]) ** 2, axis=-1))
    return out


def nearest(queries: np.ndarray, references: np.ndarray, k: int, *, block: int = 4096,
            query_block: int = 1024, margin: int = MARGIN) -> tuple[np.ndarray, np.ndarray]:
    """(distances [Q, k], indices [Q, k]): each query's k nearest references in Euclidean distance,
    nearest first, ties broken by the lower index. Queries [Q, ...] and references [M, ...] are
    flattened to vectors; at most `query_block` x `block` distances exist at once."""
    queries = np.asarray(queries).reshape(len(queries), -1)
    references = np.asarray(references).reshape(len(references), -1)
    if queries.shape[1] != references.shape[1]:
        raise ValueError(f'queries of {queries.shape[1]} values and references of {references.shape[1]}')
    if not 1 <= k <= len(references):
        raise ValueError(f'k={k} nearest of {len(references)} references')
    c = min(k + margin, len(references))
    block = min(block, len(references))
    query_block = min(query_block, max(len(queries), 1))
    shift = references.mean(0, dtype=np.float64)
    blocks = []
    for start in range(0, len(references), block):
        part = np.asarray(references[start:start + block], np.float64) - shift
        valid = len(part)
        blocks.append((jnp.asarray(np.pad(part, ((0, block - valid), (0, 0))), jnp.float32), start, valid))
    candidates = np.empty((len(queries), c), np.int64)
    for q0 in range(0, len(queries), query_block):
        q = np.asarray(queries[q0:q0 + query_block], np.float64) - shift
        n = len(q)
        qj = jnp.asarray(np.pad(q, ((0, query_block - n), (0, 0))), jnp.float32)
        best_d = jnp.full((query_block, c), jnp.inf, jnp.float32)
        best_i = jnp.full((query_block, c), -1, jnp.int32)
        for part, start, valid in blocks:
            best_d, best_i = _merge(best_d, best_i, qj, part, jnp.int32(start), jnp.int32(valid), c=c)
        candidates[q0:q0 + n] = np.asarray(best_i)[:n]
    distances = _exact(queries, references, candidates)
    order = np.lexsort((candidates, distances), axis=1)[:, :k]  # by distance, then index
    return np.take_along_axis(distances, order, 1), np.take_along_axis(candidates, order, 1)


def distinct_examples(distances: np.ndarray, indices: np.ndarray, num_examples: int,
                      k: int) -> tuple[np.ndarray, np.ndarray]:
    """Neighbours among views of examples (view v shows example v % num_examples: a mirrored copy after
    its example) to neighbours among examples: each example once, at its nearest view. Returns the first
    k distinct examples of each row as (distances [Q, k], view indices [Q, k]); rows of `indices`
    must hold at least k distinct examples (2k views when each example has two)."""
    out_d = np.empty((len(indices), k))
    out_i = np.empty((len(indices), k), np.int64)
    for row, (d, i) in enumerate(zip(distances, indices)):
        _, first = np.unique(i % num_examples, return_index=True)
        keep = np.sort(first)[:k]
        if len(keep) < k:
            raise ValueError(f'row {row} holds {len(keep)} distinct examples, fewer than k={k}')
        out_d[row], out_i[row] = d[keep], i[keep]
    return out_d, out_i


def memorisation_score(sample_distances: np.ndarray, holdout_distances: np.ndarray,
                       percentile: float = PERCENTILE) -> tuple[float, float]:
    """(score, threshold): the fraction of generated samples whose nearest-training distance is at most
    the threshold, the `percentile`-th percentile of the held-out examples' nearest-training distances.
    About percentile/100 for samples of the data's distribution, 1 for copies, 0 for samples far away."""
    sample_distances, holdout_distances = np.asarray(sample_distances), np.asarray(holdout_distances)
    if not len(sample_distances) or not len(holdout_distances):
        raise ValueError('memorisation_score needs samples and held-out examples')
    threshold = float(np.percentile(holdout_distances, percentile))
    return float(np.mean(sample_distances <= threshold)), threshold


def distribution(distances: np.ndarray) -> dict[str, float]:
    """The mean and the QUANTILES of a set of distances, as {'mean': ., 'p0': ., 'p5': ., ...}."""
    distances = np.asarray(distances, np.float64)
    return {'mean': float(distances.mean()),
            **{f'p{q}': float(v) for q, v in zip(QUANTILES, np.percentile(distances, QUANTILES))}}
