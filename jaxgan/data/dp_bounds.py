"""A DP estimate of the bounds of numerical columns a private run was not given a range for.

    estimate({'age': values, ...}, noise_std, rng)  -> {'age': (low, high), ...}

The mechanism is Google's ApproxBounds (differential-privacy, cc/algorithms/approx-bounds.h, class
ApproxBounds; its description in docs/algorithms/approx-bounds.md), which smartnoise-synth copies for
its preprocessor_eps (smartnoise-sdk, synth/snsynth/transform/mechanism.py, `approx_bounds`, used by
MinMaxTransformer, the budget split equally over the columns by TableTransformer.allocate_privacy_budget):
  - each column's values fall into logarithmic bins of base 2 (ApproxBounds' default base_ = 2), one
    histogram for the positives, [0, s], (s, 2 s], (2 s, 4 s], ..., and one for the negatives, mirrored
    without 0 (ApproxBounds::MostSignificantBit, PosLeftBinBoundary); here s = 2^MIN_EXPONENT and the last
    bins, up to 2^MAX_EXPONENT in magnitude, also hold the values beyond (ApproxBounds clamps to its
    num_bins_ the same way); missing cells are left out (ApproxBounds::AddEntry skips NaN);
  - noise is added to every bin's count, and a bin counts as non-empty where its noisy count passes a
    threshold chosen so that, with probability SUCCESS, no empty bin of the 2N - 1 that may be empty passes
    (ApproxBounds::Builder::BuildAlgorithm's k_ from success_probability_);
  - the estimate is the lower edge of the lowest bin that passes and the upper edge of the highest
    (ApproxBounds::GenerateResult); none passing is an error (there, "Bin count threshold was too large").
Two changes, both for tables of a few hundred rows and tens of columns:
  - **Gaussian noise, one mechanism over the k columns' histograms**, in place of Laplace noise per column
    with the budget split k ways (smartnoise-synth): replacing one row (the neighbouring relation of
    jaxgan.privacy's accountant) moves two counts of each column's histogram by 1, an L2 sensitivity of
    sqrt(2 k) for all k at once, so the noise grows as sqrt(k), where Laplace's, calibrated to the L1
    sensitivity 2 k, grows as k; and the Gaussian's light tails make the threshold 4.3 standard deviations,
    where Laplace's is 11 scales (k = 10 columns, epsilon 0.3 at delta 1e-5: a threshold of 240 rows in a
    bin against 730). It is accounted in the same Renyi-DP accountant as the counts (a GaussianDpEvent);
  - SUCCESS 1 - 1e-3 per column, not ApproxBounds' default 1 - 1e-9, whose threshold (6.3 standard
    deviations) no bin of a small table passes; an empty bin passing costs resolution, not privacy (the
    estimate is wider than the rows).
MARGIN_BINS widens the estimate by one bin on each side (post-processing): the bins whose rows are too few
to pass the threshold lie mostly beside those that pass, and are clipped to the estimate otherwise.
How coarse: the estimate's ends are powers of 2 (or 0), so it covers the bins that pass, up to twice
their extent, then the margin; a column whose rows are below the threshold in every bin is refused.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from jaxgan.errors import UserError

MIN_EXPONENT, MAX_EXPONENT = -20, 40  # the bins' magnitudes, 2^-20 (1e-6) to 2^40 (1e12)
SUCCESS = 1 - 1e-3  # per column: the probability that no empty bin passes the threshold
MARGIN_BINS = 1  # the estimate reaches this many bins beyond the outermost that pass
N = MAX_EXPONENT - MIN_EXPONENT + 1  # bins per sign


def edges() -> np.ndarray:
    """The 2 N + 1 edges of the bins on one axis: -2^MAX .. -2^MIN, 0, 2^MIN .. 2^MAX."""
    powers = 2.0 ** np.arange(MIN_EXPONENT, MAX_EXPONENT + 1)
    return np.concatenate([-powers[::-1], [0.0], powers])


def histogram(x: np.ndarray) -> np.ndarray:
    """The counts of x's present values in the 2 N bins (negatives [e_j, e_j+1), positives (e_j, e_j+1],
    0 in [0, 2^MIN]; magnitudes beyond 2^MAX in the end bins)."""
    x = np.asarray(x, np.float64)
    x = x[~np.isnan(x)]
    e = edges()
    index = np.where(x >= 0, np.maximum(np.searchsorted(e, x, 'left') - 1, N), np.searchsorted(e, x, 'right') - 1)
    return np.bincount(np.clip(index, 0, 2 * N - 1), minlength=2 * N).astype(np.float64)


def threshold(noise_std: float, success: float = SUCCESS) -> float:
    """The noisy count a bin must reach to count as non-empty: the 2 N - 1 bins that may be empty all stay
    below it with probability `success` (ApproxBounds' rule, for Gaussian noise)."""
    per_bin = success ** (1 / (2 * N - 1))
    return noise_std * NormalDist().inv_cdf(per_bin)


def estimate(columns: dict[str, np.ndarray], noise_std: float, rng: np.random.Generator
             ) -> dict[str, tuple[float, float]]:
    """Each column's (low, high) from its noisy histogram (module docstring), the noise of std `noise_std`
    on every count drawn from rng (the run's secret-seeded stream); one line for a column no bin passes."""
    e, cut = edges(), threshold(noise_std)
    out = {}
    for name, x in columns.items():
        passing = np.flatnonzero(histogram(x) + rng.normal(0.0, noise_std, 2 * N) >= cut)
        if not len(passing):
            raise UserError(f'config.privacy.bounds: column {name!r}: no bin of its DP bounds estimate holds more than '
                            f'the threshold of {cut:.0f} noisy rows (noise std {noise_std:.3g}): too few rows for '
                            f'the budget; declare its range ({name}=LOW:HIGH) or raise config.privacy.bounds_share')
        low = e[max(passing[0] - MARGIN_BINS, 0)]
        high = e[min(passing[-1] + 1 + MARGIN_BINS, 2 * N)]
        out[name] = (float(low), float(high))
    return out

