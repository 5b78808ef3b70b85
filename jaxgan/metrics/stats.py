"""Statistics of feature sets: Frechet distance (FID), kernel inception distance (KID), inception score
(IS), precision and recall (Kynkaanniemi et al. 2019), density and coverage (Naeem et al. 2020).

Means and covariances are accumulated batch by batch (`MomentAccumulator`), so 50,000 samples never sit
in memory at once for FID (`DeviceMoments`: the same sums held on a device, for a loop that never
returns to the host); KID, precision/recall and density/coverage need the features themselves.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass
class MomentAccumulator:
    """Running sums for a mean and covariance in float64, fed one batch of features at a time.

    Each batch's sums are taken relative to a shift (the first batch's mean), which keeps the float32
    sums that a device computes accurate before they are added up here in float64.
    """

    count: int = 0
    shift: np.ndarray | None = None
    total: np.ndarray | None = None  # sum of (x - shift)
    outer: np.ndarray | None = None  # sum of (x - shift)(x - shift)^T

    def add(self, features: np.ndarray | jax.Array) -> None:
        if self.shift is None:
            self.shift = np.asarray(features, np.float64).mean(axis=0)
            self.total = np.zeros_like(self.shift)
            self.outer = np.zeros((len(self.shift), len(self.shift)))
        s, o = _centred_sums(jnp.asarray(features, jnp.float32), jnp.asarray(self.shift, jnp.float32))
        self.total += np.asarray(s, np.float64)
        self.outer += np.asarray(o, np.float64)
        self.count += int(features.shape[0])

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        """The mean and the unbiased covariance (as numpy.cov) of everything added."""
        m = self.total / self.count
        cov = (self.outer - self.count * np.outer(m, m)) / (self.count - 1)
        return self.shift + m, cov


class DeviceMoments(NamedTuple):
    """The running sums of `MomentAccumulator` held on a device in float32, which TPUs have (float64 they
    have not): each batch's sums of (x - shift) and (x - shift)(x - shift)^T are taken in float32, and
    added across batches with Neumaier's compensated summation, so the error does not grow with the
    number of batches (about one float32 rounding of each entry, where a plain float32 running sum loses
    log2(batches) bits). The shift is the first batch's mean, as in `MomentAccumulator`."""

    count: jax.Array  # int32 []
    shift: jax.Array  # [F]
    total: jax.Array  # sum of (x - shift), [F]
    total_error: jax.Array  # Neumaier's running compensation of `total`
    outer: jax.Array  # sum of (x - shift)(x - shift)^T, [F, F]
    outer_error: jax.Array

    @classmethod
    def zeros(cls, dim: int) -> 'DeviceMoments':
        vector, matrix = jnp.zeros((dim,), jnp.float32), jnp.zeros((dim, dim), jnp.float32)
        return cls(jnp.zeros((), jnp.int32), vector, vector, vector, matrix, matrix)

    def add(self, features: jax.Array, valid: jax.Array) -> 'DeviceMoments':
        """These moments with the rows of `features` [B, F] where `valid` [B] is true; traceable (a loop
        body). The first batch that holds a valid row sets the shift to its valid rows' mean."""
        x = features.astype(jnp.float32)
        mask = valid[:, None]
        n = jnp.sum(valid.astype(jnp.int32))
        mean = jnp.sum(jnp.where(mask, x, 0.0), axis=0) / jnp.maximum(n, 1).astype(jnp.float32)
        shift = jnp.where(self.count == 0, mean, self.shift)
        c = jnp.where(mask, x - shift, 0.0)
        # HIGHEST: a GPU's default float32 matmul rounds its inputs to TF32 (10 bits)
        outer = jnp.matmul(c.T, c, precision=jax.lax.Precision.HIGHEST)
        total, total_error = _neumaier(self.total, self.total_error, jnp.sum(c, axis=0))
        outer, outer_error = _neumaier(self.outer, self.outer_error, outer)
        return DeviceMoments(self.count + n, shift, total, total_error, outer, outer_error)

    def to_host(self, host) -> MomentAccumulator:
        """A `MomentAccumulator` in float64 holding these sums; `host` turns arrays into NumPy
        (parallel.to_host, for arrays of every process)."""
        m = host(self)
        return MomentAccumulator(int(m.count), np.asarray(m.shift, np.float64),
                                 np.asarray(m.total, np.float64) + np.asarray(m.total_error, np.float64),
                                 np.asarray(m.outer, np.float64) + np.asarray(m.outer_error, np.float64))


def _neumaier(total: jax.Array, error: jax.Array, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """total + x, and the rounding error of that sum added to `error` (Neumaier 1974: Kahan's
    compensated summation, exact also where |x| > |total|)."""
    t = total + x
    lost = jnp.where(jnp.abs(total) >= jnp.abs(x), (total - t) + x, (x - t) + total)
    return t, error + lost


@jax.jit
def _centred_sums(x: jax.Array, shift: jax.Array) -> tuple[jax.Array, jax.Array]:
    c = x - shift
    # HIGHEST: a GPU's default float32 matmul rounds its inputs to TF32 (10 bits): a covariance off by 1e-3
    return jnp.sum(c, axis=0), jnp.matmul(c.T, c, precision=jax.lax.Precision.HIGHEST)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)), in float64.

    Tr((S1 S2)^(1/2)) is the sum of the square roots of the eigenvalues of S1^(1/2) S2 S1^(1/2), a
    symmetric positive semi-definite matrix with the same eigenvalues as S1 S2: no complex parts to
    discard, unlike scipy.linalg.sqrtm(S1 S2).
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    w, v = np.linalg.eigh((s1 + s1.T) / 2)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = root1 @ s2 @ root1
    eig = np.linalg.eigvalsh((m + m.T) / 2)
    trace_sqrt = np.sum(np.sqrt(np.clip(eig, 0, None)))
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt)


def kid(real: np.ndarray, fake: np.ndarray, *, num_subsets: int = 100, subset_size: int = 1000,
        seed: int = 0) -> tuple[float, float]:
    """Kernel inception distance (Binkowski et al. 2018): the unbiased MMD^2 with the polynomial kernel
    k(x, y) = (x.y / d + 1)^3, averaged over random subsets; returns (mean, std) over subsets."""
    rng = np.random.default_rng(seed)
    m = min(subset_size, len(real), len(fake))
    d = real.shape[1]
    values = []
    for _ in range(num_subsets):
        x = real[rng.choice(len(real), m, replace=False)].astype(np.float64)
        y = fake[rng.choice(len(fake), m, replace=False)].astype(np.float64)
        kxx, kyy, kxy = ((x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3)
        off = lambda k: (k.sum() - np.trace(k)) / (m * (m - 1))
        values.append(off(kxx) + off(kyy) - 2 * kxy.mean())
    return float(np.mean(values)), float(np.std(values))


def inception_score(logits: np.ndarray, *, splits: int = 10) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))) per split of the samples (Salimans et al. 2016); (mean, std)."""
    logits = np.asarray(logits, np.float64)
    log_p = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
    scores = []
    for part in np.array_split(log_p, splits):
        log_marginal = np.log(np.mean(np.exp(part), axis=0))
        scores.append(np.exp(np.mean(np.sum(np.exp(part) * (part - log_marginal), axis=1))))
    return float(np.mean(scores)), float(np.std(scores))


@jax.jit
def _squared_distances(a: jax.Array, b: jax.Array) -> jax.Array:
    return jnp.maximum(jnp.sum(a * a, 1)[:, None] + jnp.sum(b * b, 1)[None, :] - 2.0 * a @ b.T, 0.0)


def _blocks(a: np.ndarray, b: np.ndarray, size: int = 4096):
    """(start, squared distances of a[start:start+size] to all of b), block by block."""
    bj = jnp.asarray(b, jnp.float32)
    for start in range(0, len(a), size):
        yield start, np.asarray(_squared_distances(jnp.asarray(a[start:start + size], jnp.float32), bj))


def knn_radii(x: np.ndarray, k: int) -> np.ndarray:
    """Each point's squared distance to its k-th nearest neighbour in x (itself excluded)."""
    radii = np.empty(len(x))
    for start, d in _blocks(x, x):
        radii[start:start + len(d)] = np.partition(d, k, axis=1)[:, k]  # index 0 is the point itself
    return radii


def precision_recall(real: np.ndarray, fake: np.ndarray, *, k: int = 3) -> dict[str, float]:
    """Kynkaanniemi et al. (2019): precision, the fraction of fake samples inside the real manifold (the
    union of balls reaching each real point's k-th neighbour), and recall, the converse."""
    real_radii, fake_radii = knn_radii(real, k), knn_radii(fake, k)
    return {'precision': float(_inside(fake, real, real_radii).mean()),
            'recall': float(_inside(real, fake, fake_radii).mean())}


def _inside(points: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
    inside = np.zeros(len(points), bool)
    for start, d in _blocks(points, centres):
        inside[start:start + len(d)] = np.any(d <= radii[None, :], axis=1)
    return inside


def density_coverage(real: np.ndarray, fake: np.ndarray, *, k: int = 5) -> dict[str, float]:
    """Naeem et al. (2020): density, (1 / kM) sum over fakes of how many real k-NN balls hold each, and
    coverage, the fraction of real balls that hold at least one fake sample."""
    radii = knn_radii(real, k)
    counts = np.zeros(len(fake))
    covered = np.zeros(len(real), bool)
    for start, d in _blocks(fake, real):
        within = d <= radii[None, :]
        counts[start:start + len(d)] = within.sum(axis=1)
        covered |= within.any(axis=0)
    return {'density': float(counts.sum() / (k * len(fake))), 'coverage': float(covered.mean())}
