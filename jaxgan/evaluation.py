"""Evaluation of a generator against its data: FID, KID, IS, precision/recall, density/coverage, class
coverage and mode counts, each reported with its protocol. The command line is `jaxgan.evaluate`:

    python -m jaxgan.evaluate --workdir=DIR --metrics=fid,kid,is,pr --num_samples=50000
    python -m jaxgan.evaluate --workdir=DIR --metrics=fid,classes --features=classifier:classifiers/mnist

Writes <workdir>/eval/step_<step>.json: the numbers and the protocol (feature network and resizer,
reference data, split and size, sample count, generator). Features are extracted batch by batch on all
devices; FID's means and covariances are accumulated as they come, so 50,000 samples never sit in memory
at once. KID, precision/recall and density/coverage use the first `keep` features of each side (10,000
by default). Reference statistics are cached as .npz under a key of the reference examples' content
(sha256 of the arrays the network sees, whatever path they came from), their number and the network
with its weights.

Metrics:
    fid       Frechet distance of the feature statistics (float64)
    kid       kernel inception distance: unbiased polynomial MMD^2, mean and std over 100 subsets of 1,000
    is        inception score over 10 splits (needs logits: the Inception network, or a classifier)
    pr        precision and recall, k = 3 (Kynkaanniemi et al. 2019)
    dc        density and coverage, k = 5 (Naeem et al. 2020)
    classes   with a classifier: classes generated, KL of the predicted-class histogram to uniform
    stacked   with a classifier of single digits, on 3-channel stacked digits: of the 1,000 modes, how
              many are generated, and the KL of the mode histogram to uniform (VEEGAN's protocol), and
              each channel's KL of its digit histogram to uniform; the classifier reads each channel, so
              every metric then uses the per-channel features and the 1,000 modes' probabilities
    nearest   memorisation: each generated sample's nearest training examples, in pixels (data units
              for vectors) and in the features, against held-out examples' (see `NearestReference`)
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import time
from typing import Callable, Iterator

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan import data, files, sampling
from jaxgan.core import parallel
from jaxgan.errors import UserError
from jaxgan.metrics import stats

METRICS = ('fid', 'kid', 'is', 'pr', 'dc', 'classes', 'stacked', 'nearest')


@dataclasses.dataclass(frozen=True)
class FeatureNet:
    """uint8 images [B, H, W, C] -> (features [B, F], logits [B, num_classes])."""

    name: str  # the protocol's description of the network and its input
    identity: str  # what its outputs depend on (network, weights' sha256, input), never a path: cache keys
    apply: Callable[[jax.Array], tuple[jax.Array, jax.Array]]
    num_classes: int
    input_shape: tuple[int, int, int] | None = None  # (H, W, C) it takes; None: any size, 1 or 3 channels
    classifier: object | None = None  # a metrics.classifier.TrainedClassifier, for classes / stacked

    def check(self, shape: tuple[int, ...], data: str) -> None:
        """A one-line UserError unless this network takes the images `data` gives, of `shape`."""
        shape = tuple(shape)
        if self.input_shape is None:
            if len(shape) != 3 or shape[-1] not in (1, 3):
                raise UserError(f'the feature network takes images of 1 or 3 channels; {data} gives {shape}')
        elif shape != self.input_shape:
            raise UserError(f'the feature network takes {_shape(self.input_shape)} images and {data} gives '
                            f'{_shape(shape)} ({self.name}); train a classifier at that size: python -m '
                            f'jaxgan.metrics.classifier --image_size={shape[0]} ...')


def _shape(shape: tuple[int, ...]) -> str:
    return 'x'.join(map(str, shape))


def weights_sha256(variables) -> str:
    """sha256 over a network's variables: names, shapes, dtypes and values."""
    h = hashlib.sha256()
    leaves = jax.tree_util.tree_flatten_with_path(variables)[0]
    for path, leaf in sorted(leaves, key=lambda item: jax.tree_util.keystr(item[0])):
        leaf = np.ascontiguousarray(jax.device_get(leaf))
        h.update(f'{jax.tree_util.keystr(path)} {leaf.dtype.str} {leaf.shape}'.encode())
        h.update(leaf.tobytes())
    return h.hexdigest()


def feature_net(spec: str, *, inception_weights: str = '', cache_dir: str = '') -> FeatureNet:
    """'inception' or 'classifier:DIR'."""
    if spec == 'inception':
        from jaxgan.metrics import inception
        variables = inception.load_weights(inception_weights, cache_dir)
        module = inception.FIDInceptionV3()
        return FeatureNet(f'{inception.NETWORK}; {inception.RESIZER}',
                          f'{inception.NETWORK}; {inception.RESIZER}; weights sha256 {weights_sha256(variables)}',
                          lambda x: module.apply(variables, x), num_classes=1008)
    if spec.startswith('classifier:'):
        from jaxgan.metrics import classifier
        directory = spec.split(':', 1)[1]
        trained = classifier.load(directory)
        module, meta = trained.module, trained.meta
        return FeatureNet(f'classifier {directory} trained on {meta["dataset"]} at {meta["image_size"]}px '
                          f'(held-out accuracy {meta["held_out_accuracy"]:.4f})',
                          f'jaxgan classifier of {meta["num_classes"]} classes on {_shape(trained.input_shape)} '
                          f'images; weights sha256 {weights_sha256(trained.variables)}',
                          lambda x: module.apply(trained.variables, x), meta['num_classes'],
                          trained.input_shape, trained)
    raise UserError(f'--features={spec!r} is not inception or classifier:DIR')


def stacked_net(net: FeatureNet, channels: int = 3) -> FeatureNet:
    """A classifier of single grey images applied to each channel of stacked images (VEEGAN's stacked
    MNIST): features, the channels' features side by side; logits, the log-probabilities of the
    num_classes^channels modes (a class per channel, the channels independent)."""
    from jaxgan.metrics import modes
    base = net.input_shape
    if net.classifier is None or base is None:
        raise UserError('--metrics=stacked needs --features=classifier:DIR, a classifier of single digits')
    if base[-1] != 1:
        raise UserError(f'--metrics=stacked needs a classifier of single grey images (1 channel) to read each '
                        f'channel; {net.name} takes {_shape(base)} images')
    total = net.num_classes ** channels
    if total > modes.MAX_STACKED_MODES:
        raise UserError(f'--metrics=stacked: a classifier of {net.num_classes} classes makes {total} modes of '
                        f'{channels} channels, more than {modes.MAX_STACKED_MODES}')

    def apply(x: jax.Array) -> tuple[jax.Array, jax.Array]:
        b, h, w, c = x.shape
        features, logits = net.apply(jnp.moveaxis(x, -1, 1).reshape(b * c, h, w, 1))
        return (features.reshape(b, c * features.shape[-1]),
                modes.stacked_log_probs(logits.reshape(b, c, net.num_classes)))

    return FeatureNet(f'{net.name}, applied to each of the {channels} channels ({total} modes)',
                      f'each of {channels} channels: {net.identity}', apply, total,
                      (*base[:2], channels), net.classifier)


class Extractor:
    """Runs a feature network over batches, on every device, keeping what the metrics need.

    Every call runs the network on chunks of one size, so it compiles once per extractor, whatever the
    batches (the reference's and the generator's differ, and a stream's last batch is short): `chunk`
    examples (rounded up to a multiple of the devices), or where it is 0 the size of the first batch
    given. The batches are cut and joined into chunks of that size; the last chunk of a call is padded
    with repeats, and the padding's outputs dropped. So a short last batch or a second batch size costs
    no second compilation of the network (the FID Inception is a large program to compile)."""

    def __init__(self, net: FeatureNet, mesh: jax.sharding.Mesh, keep: int, chunk: int = 0):
        self.net, self.mesh, self.keep = net, mesh, keep
        self.chunk = -(-chunk // mesh.size) * mesh.size
        sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(parallel.DATA))
        self._apply = jax.jit(net.apply, in_shardings=sharding)

    def _outputs(self, batches: Iterator[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(features, logits) on the host for the examples of the batches, in order, a chunk at a time."""
        for chunk in self._rechunked(batches):
            n = len(chunk)
            padded = chunk[np.arange(self.chunk) % n] if n < self.chunk else chunk
            features, out = self._apply(jnp.asarray(padded))
            yield np.asarray(features)[:n], np.asarray(out)[:n]

    def _rechunked(self, batches: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        """The examples of the batches, in order, in chunks of self.chunk (the last one may be short)."""
        held: list[np.ndarray] = []
        count = 0
        for images in batches:
            if not len(images):
                continue
            if not self.chunk:
                self.chunk = -(-len(images) // self.mesh.size) * self.mesh.size
            held.append(images)
            count += len(images)
            while count >= self.chunk:
                joined = np.concatenate(held) if len(held) > 1 else held[0]
                yield joined[:self.chunk]
                held, count = [joined[self.chunk:]], count - self.chunk
        if count:
            yield np.concatenate(held)

    def __call__(self, batches: Iterator[np.ndarray]) -> dict:
        moments = stats.MomentAccumulator()
        kept, logits = [], []
        n_kept = 0
        for features, out in self._outputs(batches):
            moments.add(features)
            logits.append(out)
            if n_kept < self.keep:
                kept.append(features[:self.keep - n_kept])
                n_kept += len(kept[-1])
        return {'moments': moments, 'features': np.concatenate(kept), 'logits': np.concatenate(logits)}

    def all_features(self, batches: Iterator[np.ndarray]) -> np.ndarray:
        """The features [N, F] of every example of the batches."""
        return np.concatenate([features for features, _ in self._outputs(batches)])


def d_head_predictions(gan, state, config: ml_collections.ConfigDict, head: str,
                       batch: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """(argmax of D's output `head`, the true labels) for every example of config.eval_dataset: D as a
    classifier (the semi-supervised GAN's 'class_logits', InfoGAN's 'q_categorical')."""
    dataset = data.load(data.dataset_config(config, config.eval_dataset))
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


def examples_sha256(batches: Iterator[np.ndarray]) -> str:
    """sha256 over examples as training sees them (their dtype, shape and bytes, in order)."""
    h = hashlib.sha256()
    for i, batch in enumerate(batches):
        batch = np.ascontiguousarray(batch)
        if i == 0:
            h.update(f'{batch.dtype.str} {batch.shape[1:]}'.encode())
        h.update(batch.tobytes())
    return h.hexdigest()


def reference_statistics(dataset: data.Dataset, extractor: Extractor, *, num: int, seed: int, cache_dir: str,
                         batch: int = 500) -> dict:
    """Mean, covariance and kept features of `num` examples of the dataset, drawn with `seed`; cached as
    .npz under a key of what they depend on: the examples' content (sha256 of the uint8 arrays the
    network sees, so never a stale file's statistics, and the same data under any path share them), their
    number, the feature network with its weights and input, and how many features are kept."""
    num = min(num, dataset.spec.num_examples)
    content = examples_sha256(_reference_batches(dataset, num, batch, seed))
    key = hashlib.sha256(json.dumps({'examples_sha256': content, 'count': num, 'network': extractor.net.identity,
                                     'keep': extractor.keep}, sort_keys=True).encode()).hexdigest()
    path = os.path.join(cache_dir, 'reference_stats', f'{key}.npz')
    if os.path.exists(path):
        with np.load(path) as f:
            return {**{k: f[k] for k in f.files}, 'examples_sha256': content}
    out = extractor(_reference_batches(dataset, num, batch, seed))
    mu, sigma = out['moments'].mean_cov()
    result = {'mu': mu, 'sigma': sigma, 'features': out['features'], 'logits': out['logits'][:extractor.keep],
              'count': np.asarray(num)}
    with files.atomic_path(path) as tmp:
        np.savez(tmp, **result)
    return {**result, 'examples_sha256': content}


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


NEAREST_K = 3  # training neighbours shown beside each sample
NEAREST_SHOWN = 16  # samples in the grid


@dataclasses.dataclass
class NearestReference:
    """What --metrics=nearest compares samples with: the training data (all of it, as the run trains on
    it: the config.data.limit subset, with config.data.flip its mirrored copies as second views of
    their examples, never as examples of their own) and the held-out examples' distances to them.

    Spaces: 'pixels' for images (the root mean square difference of the uint8 values, 0 to 255), 'data'
    for vectors (Euclidean, in the data's own units), and 'features' (Euclidean, in the evaluation's
    feature network) where there is one. A distance to an example is to the nearer of its views."""

    views: np.ndarray  # [V, ...] the training examples, then their mirrored copies where flipped
    num_examples: int  # distinct training examples (V, or V / 2 where flipped)
    view_features: np.ndarray | None  # [V, F]
    holdout_distances: dict  # space -> [H] distance of each held-out example to its nearest training example
    pixel_space: str  # 'pixels' or 'data'
    protocol: dict

    def neighbours(self, space: str, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(distances [Q, k], view indices [Q, k]) of the k nearest distinct training examples."""
        from jaxgan.metrics import nearest
        references = self.views if space != 'features' else self.view_features
        k = min(NEAREST_K, self.num_examples)
        per_example = len(self.views) // self.num_examples
        d, i = nearest.nearest(queries, references, min(per_example * k, len(references)))
        d, i = nearest.distinct_examples(d, i, self.num_examples, k)
        if space == 'pixels':  # root mean square over the values of an image
            d = d / np.sqrt(np.prod(self.views.shape[1:]))
        return d, i

    def compare(self, samples: np.ndarray, features: np.ndarray | None) -> tuple[dict, dict, dict]:
        """(flat metrics, the distributions and the first samples' neighbours for JSON, the neighbours'
        view indices per space for a figure) of generated samples (and their features)."""
        from jaxgan.metrics import nearest
        metrics, report, shown = {}, {}, {}
        spaces = [self.pixel_space] + (['features'] if features is not None else [])
        for space in spaces:
            d, i = self.neighbours(space, samples if space != 'features' else features)
            holdout = self.holdout_distances[space]
            score, threshold = nearest.memorisation_score(d[:, 0], holdout)
            metrics[f'nearest_memorisation_{space}'] = score
            metrics[f'nearest_median_{space}'] = float(np.median(d[:, 0]))
            metrics[f'nearest_holdout_median_{space}'] = float(np.median(holdout))
            report[space] = {
                'memorisation': score, 'threshold': threshold,
                'samples': nearest.distribution(d[:, 0]), 'holdout': nearest.distribution(holdout),
                'holdout_at_distance_0': float(np.mean(holdout == 0)),
                'first_samples_neighbours': [
                    [{'example': int(v % self.num_examples), 'mirrored': bool(v >= self.num_examples),
                      'distance': float(x)} for v, x in zip(row_i, row_d)]
                    for row_i, row_d in zip(i[:NEAREST_SHOWN], d[:NEAREST_SHOWN])]}
            shown[space] = i[:NEAREST_SHOWN]
        # The single score: in the features where there are, else in pixels (data units for vectors).
        metrics['nearest_memorisation'] = metrics[f'nearest_memorisation_{spaces[-1]}']
        return metrics, report, shown

    def grid(self, samples: np.ndarray, shown: dict) -> np.ndarray:
        """uint8 image: a row per sample, the sample, then its nearest training examples in each space."""
        from jaxgan import sampling
        rows = [np.concatenate([samples[r:r + 1], *(self.views[i[r]] for i in shown.values())])
                for r in range(len(next(iter(shown.values()))))]
        return sampling.make_grid(np.concatenate(rows), columns=len(rows[0]))


def _all_examples(dataset: data.Dataset, num: int, batch: int = 500) -> Iterator[np.ndarray]:
    for start in range(0, num, batch):
        yield dataset.examples(np.arange(start, min(start + batch, num)))


def _in_data_units(dataset: data.Dataset, batches: Iterator[np.ndarray]) -> np.ndarray:
    """Examples as the generator's samples are given: uint8 images, or vectors in the data's units."""
    out = np.concatenate(list(batches))
    return dataset.spec.to_data_units(out) if dataset.spec.kind == 'vector' else out


def nearest_reference(config: ml_collections.ConfigDict, dataset: data.Dataset, holdout: str,
                      extractor: 'Extractor | None', *, reference_size: int) -> NearestReference:
    """The training data of `dataset` and up to `reference_size` examples of `holdout` (drawn with the
    seed), with their features and the held-out examples' distances to the training data."""
    from jaxgan.metrics import nearest
    name, held = holdout_dataset(config, dataset, holdout)
    if extractor is not None:
        extractor.net.check(held.spec.shape, f'--holdout={name}')
    num_views = dataset.spec.num_examples
    num_examples = num_views // 2 if dataset.flip else num_views
    if num_examples < 1:
        raise UserError(f'--metrics=nearest: config.dataset={config.dataset} has no examples')
    count = min(reference_size, held.spec.num_examples)
    views = _in_data_units(dataset, _all_examples(dataset, num_views))
    held_out = _in_data_units(held, _reference_batches(held, count, 500, config.seed))
    pixel_space = 'pixels' if dataset.spec.kind == 'image' else 'data'
    view_features = held_features = None
    if extractor is not None:
        view_features = extractor.all_features(_all_examples(dataset, num_views))
        held_features = extractor.all_features(_reference_batches(held, count, 500, config.seed))
    reference = NearestReference(views, num_examples, view_features, {}, pixel_space, {
        'nearest_training': f'{config.dataset}: {num_examples} examples'
                            + (' and their mirrored copies (the nearer view counts)' if dataset.flip else ''),
        'nearest_holdout': f'{name}: {count} examples', 'nearest_k': min(NEAREST_K, num_examples),
        'nearest_threshold': f'the {nearest.PERCENTILE:g}th percentile of the held-out examples\' distances',
        'nearest_spaces': f'{pixel_space}' + (', features' if extractor is not None else '')})
    reference.holdout_distances[pixel_space] = reference.neighbours(pixel_space, held_out)[0][:, 0]
    if held_features is not None:
        reference.holdout_distances['features'] = reference.neighbours('features', held_features)[0][:, 0]
    return reference


@dataclasses.dataclass
class Evaluator:
    """Evaluates generators of one config, with the reference statistics computed once. `net` and
    `extractor` are None for vectors (only --metrics=nearest, in the data's units); after each call,
    `figures` holds the images a metric draws ('nearest': samples beside their nearest training examples)."""

    config: ml_collections.ConfigDict
    metrics: tuple[str, ...]
    net: FeatureNet | None
    extractor: Extractor | None
    reference: dict
    protocol: dict
    num_samples: int
    keep: int = 10_000
    nearest: NearestReference | None = None
    figures: dict = dataclasses.field(default_factory=dict)

    def __call__(self, gan, state, *, seed: int = 0, ema: bool = True) -> dict:
        start = time.perf_counter()
        params = state.ema['G'] if ema else state.params['G']
        mesh_size = self.extractor.mesh.size if self.extractor is not None else 1
        batch = max(self.config.batch_size, mesh_size)
        # nearest uses the first `keep` samples: alone, it needs no more
        num = self.num_samples if set(self.metrics) - {'nearest'} else min(self.num_samples, self.keep)
        batches = _sample_batches(gan, params, state.model_state['G'], self.config, num, batch, seed)
        kept: list[np.ndarray] = []
        if self.nearest is not None:
            batches = _keeping(batches, kept, self.keep)
        results: dict = {}
        if self.extractor is not None:
            fake = self.extractor(batches)
            results = compute_metrics(self.metrics, self.reference, fake, self.net)
        else:
            fake = {'features': None}
            for _ in batches:
                pass
        extra = {}
        self.figures = {}
        if self.nearest is not None:
            samples = np.concatenate(kept)
            features = fake['features'][:len(samples)] if fake['features'] is not None else None
            metrics, extra['nearest'], shown = self.nearest.compare(samples, features)
            results.update(metrics)
            if samples.ndim == 4:
                self.figures['nearest'] = self.nearest.grid(samples, shown)
        protocol = dict(self.protocol, samples=num, generator='EMA' if ema else 'trained params',
                        step=int(parallel.to_host(state.step)), seconds=round(time.perf_counter() - start, 2))
        return {'metrics': results, 'protocol': protocol, **extra}


def _keeping(batches: Iterator[np.ndarray], kept: list, keep: int) -> Iterator[np.ndarray]:
    """The batches, passed on; the first `keep` examples also appended to `kept`."""
    n = 0
    for batch in batches:
        if n < keep:
            kept.append(batch[:keep - n])
            n += len(kept[-1])
        yield batch


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


def make_evaluator(config: ml_collections.ConfigDict, metrics: tuple[str, ...], *, num_samples: int,
                   features: str = 'inception', inception_weights: str = '', reference_size: int = 50_000,
                   keep: int = 10_000, mesh: jax.sharding.Mesh | None = None, holdout: str = '',
                   reference: str = '') -> Evaluator:
    """Checks that the metrics can be computed (sizes, the feature network against the data, the
    held-out data of `nearest`) before anything is computed or written, then the reference statistics
    (cached). `holdout`: nearest's held-out data, config.eval_dataset by default. `reference`: the data
    of the reference statistics (FID, KID, PR, DC), read whole; by default the training data as
    configured (a data.limit subset and data.flip copies included)."""
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise UserError(f'unknown metric {unknown[0]!r}: choose from {", ".join(METRICS)}')
    if not metrics:
        raise UserError('no metrics given: choose from ' + ', '.join(METRICS))
    check_sizes(metrics, num_samples=num_samples, reference_size=reference_size, keep=keep)
    needs_classifier = [m for m in ('classes', 'stacked') if m in metrics]
    if needs_classifier and not features.startswith('classifier:'):
        raise UserError(f'--metrics={needs_classifier[0]} needs --features=classifier:DIR (python -m '
                        'jaxgan.metrics.classifier trains one)')
    from jaxgan.data.pipeline import default_cache_dir
    cache_dir = config.data.cache_dir or default_cache_dir()
    dataset = data.load(config)
    if dataset.spec.kind != 'image':
        return _vector_evaluator(config, metrics, dataset, num_samples=num_samples, reference_size=reference_size,
                                 keep=keep, holdout=holdout)
    reference_data, reference_name = dataset, f'config.dataset={config.dataset}'
    if reference:
        try:
            reference_data = data.load(data.dataset_config(config, reference))
            reference_name = f'--reference={reference}'
        except UserError as e:
            raise UserError(f'--reference={reference}: {e}') from None
        if reference_data.spec.shape != dataset.spec.shape:
            raise UserError(f'--reference={reference} gives images of {_shape(reference_data.spec.shape)}; the '
                            f'training data {config.dataset} are of {_shape(dataset.spec.shape)}')
    count = min(reference_size, reference_data.spec.num_examples)
    check_sizes(metrics, num_samples=num_samples, reference_size=count, keep=keep,
                reference=f'{reference_name} has {count} example{"s" * (count != 1)}')
    if 'stacked' in metrics and dataset.spec.shape[-1] != 3:
        raise UserError(f'--metrics=stacked counts the modes of 3-channel stacked digits '
                        f'(config.dataset=stacked:DATASET); config.dataset={config.dataset} gives '
                        f'{_shape(dataset.spec.shape)} images')
    if 'nearest' in metrics:  # the held-out data's name and shape, before a feature network is loaded
        holdout_dataset(config, dataset, holdout)
    net = feature_net(features, inception_weights=inception_weights, cache_dir=cache_dir)
    if 'stacked' in metrics:
        net = stacked_net(net)
    net.check(dataset.spec.shape, f'config.dataset={config.dataset}')
    mesh = mesh or parallel.make_mesh()
    # chunks of the samples' batch, so a run with cached reference statistics runs the network as one without
    extractor = Extractor(net, mesh, keep=min(keep, num_samples), chunk=max(config.batch_size, mesh.size))
    protocol = {'features': net.name}
    statistics: dict = {}
    if set(metrics) - {'nearest'}:
        statistics = reference_statistics(reference_data, extractor, num=reference_size, seed=config.seed,
                                          cache_dir=cache_dir)
        protocol.update({
            'reference': f'{reference or config.dataset} at {config.image_size}px, crop {config.data.crop}',
            'reference_size': int(statistics['count']), 'reference_sha256': statistics['examples_sha256'],
            'kept_for_kid_pr_dc': extractor.keep,
            'kid': '100 subsets of min(1000, kept)', 'is_splits': 10, 'pr_k': 3, 'dc_k': 5,
        })
    near = None
    if 'nearest' in metrics:
        near = nearest_reference(config, dataset, holdout, extractor, reference_size=reference_size)
        protocol.update(near.protocol, nearest_samples=f'the first {min(keep, num_samples)} samples')
    return Evaluator(config, tuple(metrics), net, extractor, statistics, protocol, num_samples, keep, near)


def holdout_dataset(config: ml_collections.ConfigDict, dataset: data.Dataset,
                    holdout: str) -> tuple[str, data.Dataset]:
    """(name, dataset) of nearest's held-out data: `holdout`, else config.eval_dataset, opened whole as
    the training data are prepared; a one-line UserError where there is none, it cannot be opened, or
    its examples are not of the training data's kind and shape."""
    name = holdout or config.get('eval_dataset', '')
    if not name:
        raise UserError('--metrics=nearest compares samples with held-out data: pass --holdout=DATASET '
                        '(e.g. digits:test), or train with config.eval_dataset set')
    try:
        held = data.load(data.dataset_config(config, name))
    except UserError as e:
        raise UserError(f'--holdout={name}: {e}') from None
    if (held.spec.kind, held.spec.shape) != (dataset.spec.kind, dataset.spec.shape):
        raise UserError(f'--holdout={name} gives {held.spec.kind}s of shape {_shape(held.spec.shape)}; the training '
                        f'data {config.dataset} are {dataset.spec.kind}s of {_shape(dataset.spec.shape)}')
    return name, held


def _vector_evaluator(config: ml_collections.ConfigDict, metrics: tuple[str, ...], dataset: data.Dataset, *,
                      num_samples: int, reference_size: int, keep: int, holdout: str) -> Evaluator:
    """Vectors and tables: no feature network, only nearest, in the data's own units."""
    others = [m for m in metrics if m != 'nearest']
    if others:
        raise UserError(f'--metrics={others[0]} needs images; config.dataset={config.dataset} gives vectors of '
                        f'{_shape(dataset.spec.shape)}: use --metrics=nearest (toy_2d reports its own mode coverage)')
    near = nearest_reference(config, dataset, holdout, None, reference_size=reference_size)
    protocol = dict(near.protocol, features='none (vectors: distances in the data\'s units)',
                    nearest_samples=f'the first {min(keep, num_samples)} samples')
    return Evaluator(config, tuple(metrics), None, None, {}, protocol, num_samples, keep, near)


def translations(model, state, images: np.ndarray, direction: str = 'a2b', batch: int = 64, *,
                 ema: bool = True) -> np.ndarray:
    """A translation model's outputs (EMA generators unless ema=False, evaluation mode) for uint8 images
    [N, H, W, C], as uint8 in the data's units."""
    params = state.ema if ema else state.params
    fn = _translator(model, direction)
    out = [np.asarray(fn(params, state.model_state, jnp.asarray(images[i:i + batch])))
           for i in range(0, len(images), batch)]
    return model.spec.to_data_units(np.concatenate(out))


@functools.lru_cache(maxsize=16)
def _translator(model, direction: str):
    """The jitted generator of `direction` on uint8 images, compiled once per model, not per evaluation."""
    return jax.jit(lambda p, model_state, x: model.translate(p, model_state, model.spec.model_input(x), direction))


def _chunks(images: np.ndarray, size: int = 500) -> Iterator[np.ndarray]:
    """Consecutive batches of at most about `size` images, for an Extractor."""
    return iter(np.array_split(images, max(1, len(images) // size)))


# Scores of a translation model on a test split (TranslationEvaluator).
TRANSLATION_METRICS = ('aligned', 'accuracy', 'fid', 'kid')
LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601, for a network of grey images shown RGB ones


def grey_input(net: FeatureNet) -> FeatureNet:
    """A feature network of grey images [H, W, 1] that takes RGB images [H, W, 3] as their luma."""
    h, w, _ = net.input_shape

    def apply(x: jax.Array) -> tuple[jax.Array, jax.Array]:
        grey = jnp.round(x.astype(jnp.float32) @ jnp.asarray(LUMA, jnp.float32))[..., None]
        return net.apply(grey.astype(jnp.uint8))

    return dataclasses.replace(net, name=f'{net.name}, on the luma of RGB images', apply=apply,
                               identity=f'{net.identity}; on BT.601 luma', input_shape=(h, w, 3))


@dataclasses.dataclass
class TranslationEvaluator:
    """Scores a translation model on the test split `dataset`, translating its source domain (A, or B for
    direction b2a) with the generator of `direction`:

    - aligned: L1, PSNR, SSIM and sharpness (metrics.image_quality) against the true translations, where
      the split holds them (pairs, a demo's test split);
    - accuracy: the share of translations whose class, read by a digits classifier (config.eval.features
      =classifier:DIR) through the demo's inverse map (`demos.READABLE`), is the input's label;
    - fid, kid: the translations against the split's target-domain images, in the features of the
      feature network (a network of grey images reads RGB ones by their luma).
    """

    metrics: tuple[str, ...]
    direction: str
    inputs: np.ndarray
    targets: np.ndarray
    labels: np.ndarray | None
    readable: Callable[[np.ndarray], np.ndarray] | None
    net: FeatureNet | None
    extractor: Extractor | None
    reference: dict
    protocol: dict
    truth_accuracy: float | None = None  # the classifier's accuracy on the true translations, where known
    figures: dict = dataclasses.field(default_factory=dict)

    def __call__(self, model, state, *, seed: int = 0, ema: bool = True) -> dict:
        del seed  # translations are deterministic
        start = time.perf_counter()
        out = translations(model, state, self.inputs, self.direction, ema=ema)
        results: dict = {}
        if 'aligned' in self.metrics:
            from jaxgan.metrics import image_quality
            results.update(image_quality.scores(out, self.targets, data_range=255))
        if 'accuracy' in self.metrics:
            from jaxgan.metrics import classifier
            predicted = classifier.predict(self.net.classifier, self.readable(out))
            results['accuracy'] = float(np.mean(predicted == self.labels))
            if self.truth_accuracy is not None:
                results['accuracy_truth'] = self.truth_accuracy
        distances = tuple(m for m in self.metrics if m in ('fid', 'kid'))
        if distances:
            fake = self.extractor(_chunks(out))
            results.update(compute_metrics(distances, self.reference, fake, self.net))
        protocol = dict(self.protocol, generator='EMA' if ema else 'trained params',
                        step=int(parallel.to_host(state.step)), seconds=round(time.perf_counter() - start, 2))
        return {'metrics': results, 'protocol': protocol}


def make_translation_evaluator(config: ml_collections.ConfigDict, metrics: tuple[str, ...], dataset: str, *,
                               direction: str = 'a2b', features: str = '', inception_weights: str = '',
                               keep: int = 10_000, mesh: jax.sharding.Mesh | None = None) -> TranslationEvaluator:
    """Checks that `metrics` (TRANSLATION_METRICS) can be computed on the test split `dataset` before
    anything is computed, then reads it and, for fid and kid, its target domain's features."""
    from jaxgan.data import base
    unknown = [m for m in metrics if m not in TRANSLATION_METRICS]
    if unknown or not metrics:
        raise UserError(f'{"unknown metric " + repr(unknown[0]) if unknown else "no metrics given"} for a '
                        f'translation model: choose from {", ".join(TRANSLATION_METRICS)}')
    if not dataset:
        raise UserError('scoring translations needs a test split: config.eval_dataset (e.g. demo:edges2digits:test, '
                        'paired:DIR:test, unpaired:DIR:test)')
    test = data.load(data.dataset_config(config, dataset))
    if test.layout not in base.TRANSLATION:
        raise UserError(f'{dataset} is not translation data (paired:, unpaired:, tfds:cycle_gan/, demo:)')
    source, target = ('a', 'b') if direction == 'a2b' else ('b', 'a')
    if 'aligned' in metrics and not test.aligned:
        raise UserError(f'--metrics=aligned: {dataset} holds no true translations (pairs, or a demo\'s test split); '
                        'score unpaired data with fid, kid')
    readable = (test.readable or {}).get(direction)
    labels = test.labels_of(source)
    if 'accuracy' in metrics and (readable is None or labels is None):
        raise UserError(f'--metrics=accuracy: {dataset} has no known map from its translations ({direction}) to '
                        'classes (the demos digits_colour and edges2digits have)')
    if ('accuracy' in metrics or {'fid', 'kid'} & set(metrics)) and not features:
        raise UserError('accuracy, fid and kid need a feature network: config.eval.features=inception or '
                        'classifier:DIR')
    if 'accuracy' in metrics and not features.startswith('classifier:'):
        raise UserError('--metrics=accuracy needs config.eval.features=classifier:DIR, a digits classifier '
                        '(python -m jaxgan.metrics.classifier --dataset=digits --image_size=32 --out=DIR)')
    images = test.examples([np.arange(n) for n in test.sizes])
    inputs, targets = images[source], images[target]
    protocol: dict = {'dataset': test.spec.source, 'direction': direction, 'inputs': len(inputs),
                      'targets': len(targets)}
    net = extractor = truth_accuracy = None
    reference: dict = {}
    if 'accuracy' in metrics or {'fid', 'kid'} & set(metrics):
        from jaxgan.data.pipeline import default_cache_dir
        net = feature_net(features, inception_weights=inception_weights,
                          cache_dir=config.data.cache_dir or default_cache_dir())
        protocol['features'] = net.name
        if 'accuracy' in metrics:
            net.check(readable(targets[:1]).shape[1:], f'{dataset} (translations read as the classifier\'s images)')
            protocol['accuracy'] = f'{len(inputs)} translations read through the demo\'s inverse map'
            if test.aligned:  # the ceiling: the classifier on the true translations
                from jaxgan.metrics import classifier
                truth_accuracy = float(np.mean(classifier.predict(net.classifier, readable(targets)) == labels))
        if {'fid', 'kid'} & set(metrics):
            check_sizes(tuple(m for m in metrics if m in ('fid', 'kid')), num_samples=len(inputs),
                        reference_size=len(targets), keep=keep)
            if net.input_shape is not None and net.input_shape[-1] == 1 and targets.shape[-1] == 3:
                net = grey_input(net)
            net.check(targets.shape[1:], dataset)
            extractor = Extractor(net, mesh or parallel.make_mesh(), keep=min(keep, len(inputs)))
            real = extractor(_chunks(targets))
            mu, sigma = real['moments'].mean_cov()
            reference = {'mu': mu, 'sigma': sigma, 'features': real['features']}
            protocol.update(features=net.name, reference=f'the {len(targets)} images of {dataset}\'s domain '
                            f'{target.upper()}', kid='100 subsets of min(1000, kept)')
    return TranslationEvaluator(tuple(metrics), direction, inputs, targets, labels, readable, net, extractor,
                                reference, protocol, truth_accuracy)
