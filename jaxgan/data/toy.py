"""Toy distributions: the 1-D Gaussian of Goodfellow et al. (2014)'s figures and the 2-D mixtures of
the mode-collapse literature (VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018), and larger ones
of the same families, parsed from the name:

    gauss1d   N(4, 0.5^2) on the line
    ring8     8 Gaussians, sigma 0.01, evenly on the unit circle (VEEGAN, PacGAN)
    grid25    25 Gaussians, sigma 0.05, at {-4, -2, 0, 2, 4}^2 (VEEGAN, PacGAN)
    ringK     K Gaussians evenly on the unit circle (K >= 2), sigma 0.01 * min(1, sin(pi/K) / sin(pi/8)):
              beyond 8 modes sigma shrinks with the chord between neighbours, which stays 76.5 sigma as
              in ring8 (ring32: sigma 0.00256); fewer than 8 keep sigma 0.01
    gridN     N = n^2 Gaussians (n >= 2), sigma 0.05, spacing 2, centred on the origin (grid100: n = 10,
              at {-9, -7, ..., 9}^2): neighbours 40 sigma apart as in grid25

Both families keep their modes as far apart, in sigmas, as the published settings; what grows with the
mode count is the precision G needs relative to the data's extent. ring8 and grid25 are these families'
members exactly.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re

import numpy as np

from jaxgan.errors import UserError

SIZE = 100_000  # points drawn once per seed: a fixed training set, as for any other data source
MAX_MODES = 10_000  # mode_coverage holds a [samples, modes] distance matrix: 2,500 x 10,000 floats is 200 MB
FORMS = 'toy:gauss1d, toy:ringK (K >= 2 modes on the unit circle), toy:gridN (N = n^2 >= 4 modes)'


@dataclasses.dataclass(frozen=True)
class Mixture:
    """An equal-weight mixture of isotropic Gaussians."""

    centers: np.ndarray  # [K, D]
    sigma: float

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        modes = rng.integers(0, len(self.centers), n)
        return (self.centers[modes] + self.sigma * rng.standard_normal((n, self.centers.shape[1]))).astype(np.float32)


def _ring(k: int = 8, radius: float = 1.0) -> np.ndarray:
    angles = 2 * np.pi * np.arange(k) / k
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def ring(k: int) -> Mixture:
    """k modes on the unit circle; sigma shrinks past 8 modes so neighbours stay ring8's 76.5 sigma apart."""
    return Mixture(_ring(k), 0.01 * min(1.0, math.sin(math.pi / k) / math.sin(math.pi / 8)))


def grid(n: int) -> Mixture:
    """n x n modes, spacing 2, sigma 0.05, centred (x the outer index, as grid25 has always been listed)."""
    coords = 2.0 * np.arange(n) - (n - 1)
    return Mixture(np.array([(x, y) for x in coords for y in coords], np.float64), 0.05)


MIXTURES = {  # the named ones; `mixture` also parses ringK and gridN
    'gauss1d': Mixture(np.array([[4.0]]), 0.5),
    'ring8': ring(8),
    'grid25': grid(5),
}


def parse(name: str) -> tuple[str, int] | None:
    """('ring', K) or ('grid', n) for a well-formed ringK or gridN; None otherwise."""
    match = re.fullmatch(r'(ring|grid)([1-9][0-9]*)', name)
    if match is None:
        return None
    family, count = match.group(1), int(match.group(2))
    if count > MAX_MODES:
        return None
    if family == 'ring':
        return ('ring', count) if count >= 2 else None
    side = math.isqrt(count)
    return ('grid', side) if side * side == count and side >= 2 else None


def is_mixture(name: str) -> bool:
    return name in MIXTURES or parse(name) is not None


@functools.lru_cache(maxsize=16)
def mixture(name: str) -> Mixture:
    """The mixture `name` (without `toy:`); a UserError listing the forms for anything else."""
    if name in MIXTURES:
        return MIXTURES[name]
    parsed = parse(name)
    if parsed is None:
        raise UserError(f'toy:{name} is not a toy distribution: the forms are {FORMS}, '
                        f'at most {MAX_MODES:,} modes')
    family, count = parsed
    return ring(count) if family == 'ring' else grid(count)


def sample(name: str, n: int = SIZE, seed: int = 0) -> np.ndarray:
    return mixture(name).sample(n, np.random.default_rng([seed, 0x70]))
