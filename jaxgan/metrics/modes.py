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


MAX_STACKED_MODES = 100_000  # the stacked feature network's logits hold one column per mode


def stacked_log_probs(logits):
    """Stacked MNIST (VEEGAN, Srivastava et al. 2017): a classifier's logits for each of C channels,
    [B, C, K], to the log-probabilities of the K^C modes, [B, K^C], the channels read independently.
    Mode (d_0, ..., d_{C-1}) is column sum_c d_c K^(C-1-c), as the stacked data's labels."""
    import jax
    b, c, k = logits.shape
    log_p = jax.nn.log_softmax(logits, axis=-1)
    out = log_p[:, 0]
    for channel in range(1, c):
        out = (out[:, :, None] + log_p[:, channel, None, :]).reshape(b, -1)
    return out


def stacked_modes(modes: np.ndarray, total: int) -> dict[str, float]:
    """Of `total` modes (1,000 for three channels of digits), how many the samples' modes reach, and the
    KL divergence of their histogram to the uniform distribution."""
    q = np.bincount(modes, minlength=total).astype(np.float64) / len(modes)
    seen = q > 0
    return {'stacked_modes': int(seen.sum()), 'stacked_total': total,
            'stacked_kl_to_uniform': float(np.sum(q[seen] * np.log(q[seen] * total))), 'stacked_samples': len(modes)}
