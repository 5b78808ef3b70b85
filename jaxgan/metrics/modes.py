"""Mode coverage of samples from a known mixture (VEEGAN and PacGAN's protocol).

A sample is high quality if it lies within 3 sigma of its nearest mode's centre; a mode is captured if
at least one high-quality sample is nearest to it; the reverse KL is KL(q || p) between q, the
histogram of high-quality samples over modes, and p, the uniform distribution over modes (modes q
misses contribute nothing). VEEGAN and PacGAN draw 2,500 samples.
"""

from __future__ import annotations

import numpy as np


def mode_coverage(samples: np.ndarray, centers: np.ndarray, sigma: float) -> dict[str, float | None]:
    """{'modes': captured, 'num_modes', 'high_quality': fraction in [0, 1], 'reverse_kl': nats}; the
    reverse KL is None (JSON null) when no sample is of high quality: q is then no distribution."""
    if samples.ndim != 2 or samples.shape[1] != centers.shape[1]:
        raise ValueError(f'samples of shape {samples.shape} for modes in {centers.shape[1]} dimensions')
    d2 = np.sum((samples[:, None, :] - centers[None, :, :]) ** 2, axis=-1)
    nearest = np.argmin(d2, axis=1)
    good = np.sqrt(d2[np.arange(len(samples)), nearest]) <= 3.0 * sigma
    counts = np.bincount(nearest[good], minlength=len(centers)).astype(np.float64)
    q = counts / max(counts.sum(), 1.0)
    seen = q > 0
    reverse_kl = float(np.sum(q[seen] * np.log(q[seen] * len(centers)))) if seen.any() else None
    return {'modes': int(seen.sum()), 'num_modes': len(centers), 'high_quality': float(good.mean()),
            'reverse_kl': reverse_kl}


def stacked_modes(images: np.ndarray, trained_classifier, num_digits: int = 3) -> dict[str, float]:
    """Stacked MNIST (VEEGAN, Srivastava et al. 2017): each of the 3 channels holds a digit, so there are
    1,000 modes. A classifier of single digits labels each channel; returns how many of the modes the
    samples reach and the KL divergence of their mode histogram to the uniform distribution."""
    from jaxgan.metrics.classifier import predict
    n, h, w, c = images.shape
    if c != num_digits:
        raise ValueError(f'stacked images need {num_digits} channels, got {c}')
    trained_classifier.check_input((h, w, 1))
    digits = predict(trained_classifier, images.transpose(0, 3, 1, 2).reshape(n * c, h, w, 1)).reshape(n, c)
    modes = digits @ (10 ** np.arange(c - 1, -1, -1))
    total = 10 ** c
    q = np.bincount(modes, minlength=total).astype(np.float64) / n
    seen = q > 0
    return {'stacked_modes': int(seen.sum()), 'stacked_total': total,
            'stacked_kl_to_uniform': float(np.sum(q[seen] * np.log(q[seen] * total))), 'stacked_samples': n}
