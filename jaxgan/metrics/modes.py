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
    reverse_kl = kl_to_uniform(q) if seen.any() else None
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


def channel_kls(metrics: dict) -> list[float]:
    """The `stacked_channel_kl_c` of `stacked_modes`'s result, in channel order."""
    kls = []
    while f'stacked_channel_kl_{len(kls)}' in metrics:
        kls.append(metrics[f'stacked_channel_kl_{len(kls)}'])
    return kls


def stacked_modes(modes: np.ndarray, total: int, channels: int = 1) -> dict:
    """Of `total` modes (1,000 for three channels of digits), how many the samples' modes reach, and the
    KL divergence of their histogram to the uniform distribution. With `channels` (the modes are
    sum_c d_c K^(C-1-c), K = total^(1/C) classes a channel), also each channel's KL of its own class
    histogram to uniform (`stacked_channel_kl_0`, `_1`, ...): where a low joint count comes from, a class each
    channel draws too rarely or too often, or the channels' dependence (the joint KL less their sum)."""
    q = np.bincount(modes, minlength=total).astype(np.float64) / len(modes)
    result = {'stacked_modes': int((q > 0).sum()), 'stacked_total': total,
              'stacked_kl_to_uniform': kl_to_uniform(q), 'stacked_samples': len(modes)}
    if channels > 1:
        k = round(total ** (1 / channels))
        if k ** channels != total:
            raise ValueError(f'{total} modes are not a power of {channels} channels')
        digits = (np.asarray(modes)[:, None] // k ** np.arange(channels - 1, -1, -1)) % k
        for c, d in enumerate(digits.T):
            result[f'stacked_channel_kl_{c}'] = kl_to_uniform(np.bincount(d, minlength=k) / len(d))
    return result


def kl_to_uniform(p: np.ndarray) -> float:
    """KL(p || uniform over its len(p) bins), in nats, of a histogram p of frequencies summing to 1; empty
    bins add nothing."""
    seen = p > 0
    return float(np.sum(p[seen] * np.log(p[seen] * len(p))))
