"""Evaluation of a generator against its data: FID, KID, IS, precision/recall, density/coverage, class
coverage and mode counts, each reported with its protocol. The command line is `jaxgan.evaluate`:

    python -m jaxgan.evaluate --workdir=DIR --metrics=fid,kid,is,pr --num_samples=50000
    python -m jaxgan.evaluate --workdir=DIR --metrics=fid,classes --features=classifier:classifiers/mnist

Writes <workdir>/eval/step_<step>.json: the numbers and the protocol (feature network and resizer,
reference data, split and size, sample count, generator). Features are extracted batch by batch on all
devices; FID's means and covariances are accumulated as they come, so 50,000 samples never sit in memory
at once. KID, precision/recall and density/coverage use the first `keep` features of each side (10,000
by default). Reference statistics are computed once per dataset, size and network and cached as .npz.

Metrics:
    fid       Frechet distance of the feature statistics (float64)
    kid       kernel inception distance: unbiased polynomial MMD^2, mean and std over 100 subsets of 1,000
    is        inception score over 10 splits (needs logits: the Inception network, or a classifier)
    pr        precision and recall, k = 3 (Kynkaanniemi et al. 2019)
    dc        density and coverage, k = 5 (Naeem et al. 2020)
    classes   with a classifier: classes generated, KL of the predicted-class histogram to uniform
    stacked   with a classifier of single digits, on 3-channel stacked digits: of the 1,000 modes, how
              many are generated, and the KL of the mode histogram to uniform (VEEGAN's protocol)
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from typing import Callable, Iterator

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan import data, sampling
from jaxgan.core import parallel
from jaxgan.errors import UserError
from jaxgan.metrics import stats

METRICS = ('fid', 'kid', 'is', 'pr', 'dc', 'classes', 'stacked')


@dataclasses.dataclass(frozen=True)
class FeatureNet:
    """uint8 images [B, H, W, C] -> (features [B, F], logits [B, K])."""

    name: str  # the protocol's description of the network and its input
    apply: Callable[[jax.Array], tuple[jax.Array, jax.Array]]
    classifier: object | None = None  # a metrics.classifier.TrainedClassifier, for classes / stacked

    def check(self, shape: tuple[int, ...]) -> None:
        if self.classifier is not None and not self.name.startswith('stacked'):
            self.classifier.check_input(shape)


def feature_net(spec: str, *, inception_weights: str = '', cache_dir: str = '') -> FeatureNet:
    """'inception' or 'classifier:DIR'."""
    if spec == 'inception':
        from jaxgan.metrics import inception
        variables = inception.load_weights(inception_weights, cache_dir)
        module = inception.FIDInceptionV3()
        return FeatureNet(f'{inception.NETWORK}; {inception.RESIZER}',
                          lambda x: module.apply(variables, x))
    if spec.startswith('classifier:'):
        from jaxgan.metrics import classifier
        trained = classifier.load(spec.split(':', 1)[1])
        module = trained.module
        return FeatureNet(f'classifier {spec.split(":", 1)[1]} trained on {trained.meta["dataset"]} at '
                          f'{trained.meta["image_size"]}px (held-out accuracy {trained.meta["held_out_accuracy"]:.4f})',
                          lambda x: module.apply(trained.variables, x), trained)
    raise UserError(f'--features={spec!r} is not inception or classifier:DIR')


class Extractor:
    """Runs a feature network over batches, on every device, keeping what the metrics need."""

    def __init__(self, net: FeatureNet, mesh: jax.sharding.Mesh, keep: int):
        self.net, self.mesh, self.keep = net, mesh, keep
        sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(parallel.DATA))
        self._apply = jax.jit(net.apply, in_shardings=sharding)

    def __call__(self, batches: Iterator[np.ndarray]) -> dict:
        moments = stats.MomentAccumulator()
        kept, logits, images_kept = [], [], []
        n_kept = 0
        for images in batches:
            n = len(images)
            pad = -n % self.mesh.size  # the batch is split over devices
            padded = np.concatenate([images, images[:pad]]) if pad else images
            features, out = self._apply(jnp.asarray(padded))
            features, out = np.asarray(features)[:n], np.asarray(out)[:n]
            moments.add(features)
            logits.append(out)
            if n_kept < self.keep:
                kept.append(features[:self.keep - n_kept])
                images_kept.append(images[:self.keep - n_kept])
                n_kept += len(kept[-1])
        return {'moments': moments, 'features': np.concatenate(kept), 'logits': np.concatenate(logits),
                'images': np.concatenate(images_kept)}


def d_head_predictions(gan, state, config: ml_collections.ConfigDict, head: str,
                       batch: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """(argmax of D's output `head`, the true labels) for every example of config.eval_dataset: D as a
    classifier (the semi-supervised GAN's 'class_logits', InfoGAN's 'q_categorical')."""
    eval_config = config.copy_and_resolve_references()
    eval_config.dataset = config.eval_dataset
    dataset = data.load(eval_config)
    labels = dataset.source.labels
    if labels is None:
        raise UserError(f'config.eval_dataset={config.eval_dataset!r} has no labels')
    predict = jax.jit(lambda p, s, x: jnp.argmax(
        gan.discriminate(p, s, gan.spec.model_input(x), train=False)[0][head], axis=-1))
    predictions = [np.asarray(predict(state.params['D'], state.model_state['D'],
                                      dataset.examples(np.arange(i, min(i + batch, len(labels))))))
                   for i in range(0, len(labels), batch)]
    return np.concatenate(predictions), np.asarray(labels)


def _reference_batches(dataset: data.Dataset, num: int, batch: int, seed: int) -> Iterator[np.ndarray]:
    order = np.random.default_rng([seed, 0xe7a1]).permutation(dataset.spec.num_examples)[:num]
    for start in range(0, len(order), batch):
        yield dataset.examples(np.sort(order[start:start + batch]))


def reference_statistics(config: ml_collections.ConfigDict, extractor: Extractor, *, num: int,
                         cache_dir: str, batch: int = 500) -> dict:
    """Mean, covariance and kept features of `num` examples of config.dataset; cached as .npz."""
    dataset = data.load(config)
    num = min(num, dataset.spec.num_examples)
    key = re.sub(r'[^\w.-]+', '_', f'{config.dataset}-{config.image_size}px-crop{config.data.crop}-'
                                   f'c{config.data.channels}-{num}-{extractor.keep}-{extractor.net.name}')[:200]
    path = os.path.join(cache_dir, 'reference_stats', f'{key}.npz')
    if os.path.exists(path):
        with np.load(path) as f:
            return {k: f[k] for k in f.files}
    out = extractor(_reference_batches(dataset, num, batch, config.seed))
    mu, sigma = out['moments'].mean_cov()
    result = {'mu': mu, 'sigma': sigma, 'features': out['features'], 'logits': out['logits'][:extractor.keep],
              'count': np.asarray(num)}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.savez(f'{path}.part.npz', **result)
    os.replace(f'{path}.part.npz', path)
    return result


def _sample_batches(gan, params, model_state, config, num: int, batch: int, seed: int) -> Iterator[np.ndarray]:
    """Generated examples in the data's units; a conditional G draws its classes uniformly."""
    fn = sampling.jitted_generate(gan, config.sample_bn)
    key = jax.random.fold_in(jax.random.key(seed), 0xe7a1)
    for start in range(0, num, batch):
        z_key, y_key = jax.random.split(jax.random.fold_in(key, start))
        z, y = gan.latents(z_key, batch), gan.labels(y_key, batch)
        yield gan.spec.to_data_units(parallel.to_host(fn(params, model_state, z, y)))[:num - start]


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
        if net.classifier is None:
            raise UserError('--metrics=classes needs --features=classifier:DIR')
        predicted = np.argmax(fake['logits'], axis=1)
        results.update(_histogram_coverage(predicted, net.classifier.meta['num_classes'], 'classes'))
    if 'stacked' in metrics:
        if net.classifier is None:
            raise UserError('--metrics=stacked needs --features=classifier:DIR of single digits')
        from jaxgan.metrics import modes
        results.update(modes.stacked_modes(fake['images'], net.classifier))
    return results


def _histogram_coverage(labels: np.ndarray, num: int, name: str) -> dict:
    counts = np.bincount(labels, minlength=num).astype(np.float64)
    q = counts / counts.sum()
    seen = q > 0
    return {name: int(seen.sum()), f'{name}_total': num,
            f'{name}_kl_to_uniform': float(np.sum(q[seen] * np.log(q[seen] * num)))}


@dataclasses.dataclass
class Evaluator:
    """Evaluates generators of one config, with the reference statistics computed once."""

    config: ml_collections.ConfigDict
    metrics: tuple[str, ...]
    net: FeatureNet
    extractor: Extractor
    reference: dict
    protocol: dict
    num_samples: int

    def __call__(self, gan, state, *, seed: int = 0, ema: bool = True) -> dict:
        start = time.perf_counter()
        params = state.ema['G'] if ema else state.params['G']
        batch = max(self.config.batch_size, self.extractor.mesh.size)
        fake = self.extractor(_sample_batches(gan, params, state.model_state['G'], self.config, self.num_samples,
                                              batch, seed))
        results = compute_metrics(self.metrics, self.reference, fake, self.net)
        protocol = dict(self.protocol, samples=self.num_samples, generator='EMA' if ema else 'trained params',
                        step=int(parallel.to_host(state.step)), seconds=round(time.perf_counter() - start, 2))
        return {'metrics': results, 'protocol': protocol}


def make_evaluator(config: ml_collections.ConfigDict, metrics: tuple[str, ...], *, num_samples: int,
                   features: str = 'inception', inception_weights: str = '', reference_size: int = 50_000,
                   keep: int = 10_000, mesh: jax.sharding.Mesh | None = None) -> Evaluator:
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise UserError(f'unknown metric {unknown[0]!r}: choose from {", ".join(METRICS)}')
    from jaxgan.data.pipeline import default_cache_dir
    cache_dir = config.data.cache_dir or default_cache_dir()
    net = feature_net(features, inception_weights=inception_weights, cache_dir=cache_dir)
    if 'stacked' in metrics:
        net = dataclasses.replace(net, name=f'stacked: {net.name}, per channel')
    mesh = mesh or parallel.make_mesh()
    extractor = Extractor(net, mesh, keep=min(keep, num_samples))
    reference = reference_statistics(config, extractor, num=reference_size, cache_dir=cache_dir)
    protocol = {
        'features': net.name, 'reference': f'{config.dataset} at {config.image_size}px, crop {config.data.crop}',
        'reference_size': int(reference['count']), 'kept_for_kid_pr_dc': extractor.keep,
        'kid': '100 subsets of min(1000, kept)', 'is_splits': 10, 'pr_k': 3, 'dc_k': 5,
    }
    return Evaluator(config, tuple(metrics), net, extractor, reference, protocol, num_samples)
