"""The evaluation of a translation model on a test split (`make_translation_evaluator`,
`TranslationEvaluator`)."""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import Callable, Iterator

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan import data
from jaxgan.core import parallel
from jaxgan.errors import UserError
from jaxgan.evaluation.features import Extractor, FeatureNet, feature_net
from jaxgan.evaluation.scores import check_sizes, compute_metrics


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
