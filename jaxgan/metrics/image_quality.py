"""Per-image quality of a translation against its truth: L1, PSNR, SSIM, and a sharpness measure.

Each function takes batches [..., H, W, C] (any real dtype; uint8 images in [0, 255], say, with
data_range=255) and returns one value per image, [...], in float64. `scores` gives their means.

SSIM is Wang, Bovik, Sheikh and Simoncelli 2004 ("Image quality assessment: from error visibility to
structural similarity"): local statistics under an 11x11 Gaussian window of sigma 1.5 (population
variances), C1 = (0.01 R)^2, C2 = (0.03 R)^2 for data range R, the SSIM map averaged over the positions
where the window fits inside the image (a "valid" filter, as the paper's MATLAB code), per channel, then
over channels.
"""

from __future__ import annotations

import numpy as np

SSIM_WINDOW, SSIM_SIGMA, SSIM_K1, SSIM_K2 = 11, 1.5, 0.01, 0.03


def _pair(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.shape != y.shape or x.ndim < 3:
        raise ValueError(f'image batches must be [..., H, W, C] of one shape, got {x.shape} and {y.shape}')
    return x, y


def l1(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mean absolute difference per image, in the images' units."""
    x, y = _pair(x, y)
    return np.abs(x - y).mean(axis=(-3, -2, -1))


def psnr(x: np.ndarray, y: np.ndarray, *, data_range: float) -> np.ndarray:
    """Peak signal-to-noise ratio per image in dB, 10 log10(R^2 / MSE); inf where the images are equal."""
    x, y = _pair(x, y)
    mse = np.square(x - y).mean(axis=(-3, -2, -1))
    with np.errstate(divide='ignore'):
        return 10.0 * np.log10(data_range ** 2 / mse)


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """The 1-D normalised Gaussian [size]; SSIM's 2-D window is its outer product with itself."""
    t = np.arange(size) - (size - 1) / 2
    w = np.exp(-t ** 2 / (2 * sigma ** 2))
    return w / w.sum()


def _filter(x: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Separable 'valid' filtering of [..., H, W, C] over H and W."""
    k = len(window)
    x = np.lib.stride_tricks.sliding_window_view(x, k, axis=-3) @ window  # [..., H-k+1, W, C]
    return np.lib.stride_tricks.sliding_window_view(x, k, axis=-2) @ window


def ssim(x: np.ndarray, y: np.ndarray, *, data_range: float) -> np.ndarray:
    """Structural similarity per image (module docstring); 1 for equal images."""
    x, y = _pair(x, y)
    if min(x.shape[-3:-1]) < SSIM_WINDOW:
        raise ValueError(f'SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels, got {x.shape}')
    window = gaussian_window()
    mx, my = _filter(x, window), _filter(y, window)
    vx = _filter(x * x, window) - mx * mx
    vy = _filter(y * y, window) - my * my
    cxy = _filter(x * y, window) - mx * my
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    ssim_map = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return ssim_map.mean(axis=(-3, -2, -1))  # over positions per channel, then channels: equal counts


def sharpness(x: np.ndarray) -> np.ndarray:
    """Variance of the 4-neighbour Laplacian per image (Pech-Pacheco et al. 2000), averaged over channels:
    blur lowers it. Units: the images' squared."""
    x = np.asarray(x, np.float64)
    lap = (x[..., 1:-1, :-2, :] + x[..., 1:-1, 2:, :] + x[..., :-2, 1:-1, :] + x[..., 2:, 1:-1, :]
           - 4 * x[..., 1:-1, 1:-1, :])
    return lap.var(axis=(-3, -2)).mean(axis=-1)


def scores(x: np.ndarray, y: np.ndarray, *, data_range: float) -> dict[str, float]:
    """{'l1', 'psnr', 'ssim'}: the means over images of x against the truth y (PSNR's mean is inf where
    an image is exact), and {'sharpness', 'sharpness_truth'} of x and of y."""
    return {'l1': float(l1(x, y).mean()), 'psnr': float(psnr(x, y, data_range=data_range).mean()),
            'ssim': float(ssim(x, y, data_range=data_range).mean()),
            'sharpness': float(sharpness(x).mean()), 'sharpness_truth': float(sharpness(y).mean())}
