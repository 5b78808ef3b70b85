"""Mode coverage of samples from a known mixture (VEEGAN and PacGAN's protocol).

A sample is high quality if it lies within 3 sigma of its nearest mode's centre; a mode is captured if
at least one high-quality sample is nearest to it; the reverse KL is KL(q || p) between q, the
histogram of high-quality samples over modes, and p, the uniform distribution over modes (modes q
misses contribute nothing). VEEGAN and PacGAN draw 2,500 samples.
"""

from __future__ import annotations

import numpy as np


def mode_coverage(samples: np.ndarray, centers: np.ndarray, sigma: float) -> dict[str, float]:
    """{'modes': captured, 'num_modes', 'high_quality': fraction in [0, 1], 'reverse_kl': nats}."""
    d2 = np.sum((samples[:, None, :] - centers[None, :, :]) ** 2, axis=-1)
    nearest = np.argmin(d2, axis=1)
    good = np.sqrt(d2[np.arange(len(samples)), nearest]) <= 3.0 * sigma
    counts = np.bincount(nearest[good], minlength=len(centers)).astype(np.float64)
    q = counts / max(counts.sum(), 1.0)
    seen = q > 0
    reverse_kl = float(np.sum(q[seen] * np.log(q[seen] * len(centers)))) if seen.any() else float('inf')
    return {'modes': int(seen.sum()), 'num_modes': len(centers), 'high_quality': float(good.mean()),
            'reverse_kl': reverse_kl}
