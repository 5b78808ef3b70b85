"""Plots of low-dimensional GANs (matplotlib, written to PNG): what G and D do on toy data."""

from __future__ import annotations

import numpy as np

from jaxgan import files


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path: str) -> None:
    """Written whole or not at all (`files.atomic_path`): an existing plot is never left half-written."""
    with files.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)


def density_1d(path: str, *, grid: np.ndarray, data_pdf: np.ndarray, samples: np.ndarray,
               d_output: np.ndarray, step: int) -> None:
    """Goodfellow et al. (2014), figure 1: the data's density, G's density and D's output on a line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(grid, data_pdf, 'k:', lw=2, label='data density')
    ax.hist(samples, bins=80, range=(grid[0], grid[-1]), density=True, histtype='step', color='tab:green',
            lw=1.5, label='G(z) density')
    ax.plot(grid, d_output, '--', color='tab:blue', lw=1.5, label='D(x)')
    ax.axhline(0.5, color='gray', lw=0.5)
    ax.set_xlim(grid[0], grid[-1])
    ax.set_ylim(0, max(1.05, float(data_pdf.max()) * 1.1))
    ax.set_title(f'step {step}')
    ax.legend(loc='upper left', fontsize=8)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def scatter_2d(path: str, *, data: np.ndarray, samples: np.ndarray, title: str) -> None:
    """Generated samples over the data, both [N, 2] points in the plane."""
    for name, points in (('data', data), ('samples', samples)):
        if np.ndim(points) != 2 or np.shape(points)[1] != 2:
            raise ValueError(f'scatter_2d plots 2-d points; the {name} have shape {np.shape(points)}')
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(data[:, 0], data[:, 1], s=2, c='lightgray', label='data')
    ax.scatter(samples[:, 0], samples[:, 1], s=2, c='tab:red', alpha=0.6, label='G(z)')
    ax.set_aspect('equal')
    ax.set_title(title, fontsize=9)
    ax.legend(loc='upper right', fontsize=8, markerscale=4)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
