"""Toy distributions: the 1-D Gaussian of Goodfellow et al. (2014)'s figures and the 2-D mixtures of
the mode-collapse literature (VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018).

    gauss1d   N(4, 0.5^2) on the line
    ring8     8 Gaussians, sigma 0.01, evenly on the unit circle
    grid25    25 Gaussians, sigma 0.05, at {-4, -2, 0, 2, 4}^2
"""

from __future__ import annotations

import dataclasses

import numpy as np

SIZE = 100_000  # points drawn once per seed: a fixed training set, as for any other data source


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


MIXTURES = {
    'gauss1d': Mixture(np.array([[4.0]]), 0.5),
    'ring8': Mixture(_ring(), 0.01),
    'grid25': Mixture(np.array([(x, y) for x in range(-4, 5, 2) for y in range(-4, 5, 2)], np.float64), 0.05),
}


def sample(name: str, n: int = SIZE, seed: int = 0) -> np.ndarray:
    return MIXTURES[name].sample(n, np.random.default_rng([seed, 0x70]))
