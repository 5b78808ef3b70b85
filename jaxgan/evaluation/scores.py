"""The metrics of generated samples' features against the reference statistics, and the fewest
examples each can be computed from."""

from __future__ import annotations

import numpy as np

from jaxgan.errors import UserError
from jaxgan.evaluation.features import FeatureNet
from jaxgan.metrics import stats

METRICS = ('fid', 'kid', 'is', 'pr', 'dc', 'classes', 'stacked', 'nearest')

# The fewest generated samples and reference examples each metric can be computed from, and whether it
# uses only the first `keep` features of each side.
NEEDS = {'fid': (2, 2, False), 'kid': (2, 2, True), 'is': (10, 1, False), 'pr': (4, 4, True), 'dc': (1, 6, True),
         'classes': (1, 1, False), 'stacked': (1, 1, False), 'nearest': (1, 1, True)}


def check_sizes(metrics: tuple[str, ...], *, num_samples: int, reference_size: int, keep: int,
                reference: str = '') -> None:
    """A one-line UserError if a metric cannot be computed from these numbers of examples.
    `reference` names the reference examples where they are fewer than reference_size asked."""
    for metric in metrics:
        samples_min, reference_min, on_kept = NEEDS[metric]
        for name, value, least, what in (('num_samples', num_samples, samples_min, 'generated samples'),
                                         ('reference_size', reference_size, reference_min, 'reference examples')):
            label = reference if name == 'reference_size' and reference else f'{name}={value}'
            if value < least:
                raise UserError(f'{label}: {metric} needs at least {least} {what}')
            if on_kept and min(keep, value) < least:
                raise UserError(f'keep={keep}: {metric} uses the first `keep` features of each side and needs '
                                f'at least {least} {what}')


def compute_metrics(metrics: tuple[str, ...], reference: dict, fake: dict, net: FeatureNet) -> dict:
    results: dict = {}
    if 'fid' in metrics:
        mu, sigma = fake['moments'].mean_cov()
        results['fid'] = stats.frechet_distance(mu, sigma, reference['mu'], reference['sigma'])
    if 'kid' in metrics:
        results['kid'], results['kid_std'] = stats.kid(reference['features'], fake['features'])
    if 'is' in metrics:
        results['is'], results['is_std'] = stats.inception_score(fake['logits'])
    if 'pr' in metrics:
        results.update(stats.precision_recall(reference['features'], fake['features'], k=3))
    if 'dc' in metrics:
        results.update(stats.density_coverage(reference['features'], fake['features'], k=5))
    if 'classes' in metrics:
        results.update(_histogram_coverage(np.argmax(fake['logits'], axis=1), net.num_classes, 'classes'))
    if 'stacked' in metrics:
        from jaxgan.metrics import modes
        results.update(modes.stacked_modes(np.argmax(fake['logits'], axis=1), net.num_classes,
                                            channels=net.input_shape[-1]))
    return results


def _histogram_coverage(labels: np.ndarray, num: int, name: str) -> dict:
    from jaxgan.metrics import modes
    counts = np.bincount(labels, minlength=num).astype(np.float64)
    q = counts / counts.sum()
    return {name: int((q > 0).sum()), f'{name}_total': num, f'{name}_kl_to_uniform': modes.kl_to_uniform(q)}
