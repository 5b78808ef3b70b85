"""The evaluation of a generator against its data (`make_evaluator`, `Evaluator`), and D as a classifier
(`d_head_predictions`)."""

from __future__ import annotations

import dataclasses
import time
from typing import Iterator

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan import data, sampling
from jaxgan.core import parallel
from jaxgan.errors import UserError
from jaxgan.evaluation.features import Extractor, FeatureNet, feature_net, shape_text, stacked_net
from jaxgan.evaluation.on_device import DEVICE_METRICS, SampleProgram, batch_latents, sample_key
from jaxgan.evaluation.memorisation import NearestReference, holdout_dataset, nearest_reference
from jaxgan.evaluation.reference import preparation, reference_statistics
from jaxgan.evaluation.scores import METRICS, check_sizes, compute_metrics


@dataclasses.dataclass
class Evaluator:
    """Evaluates generators of one config, with the reference statistics computed once. `net` and
    `extractor` are None for vectors (only --metrics=nearest, in the data's units); after each call,
    `figures` holds the images a metric draws ('nearest': samples beside their nearest training examples).

    Metrics within on_device.DEVICE_METRICS (fid, kid, pr, dc) take the device path where `on_device`
    is true (the default): one program per generator (`on_device.SampleProgram`, compiled on the first
    call and reused) generates, embeds and accumulates every batch without returning to the host. A set
    with is, nearest, classes or stacked, or on_device=False, takes the host path: each batch of samples
    to the host as uint8, through the `extractor`, the sums in float64 on the host. Both give the same
    samples (the same latents and batches), so the same scores up to float32 rounding."""

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
    on_device: bool = True
    programs: dict = dataclasses.field(default_factory=dict)  # id(gan) -> (gan, its SampleProgram)

    def __call__(self, gan, state, *, seed: int = 0, ema: bool = True) -> dict:
        start = time.perf_counter()
        params = state.ema['G'] if ema else state.params['G']
        mesh_size = self.extractor.mesh.size if self.extractor is not None else 1
        batch = max(self.config.batch_size, mesh_size)
        # nearest uses the first `keep` samples: alone, it needs no more
        num = self.num_samples if set(self.metrics) - {'nearest'} else min(self.num_samples, self.keep)
        self.figures = {}
        model_state = state.model_state['G']
        if self.uses_device_path(gan):
            path, extra = 'device', {}
            results = compute_metrics(self.metrics, self.reference,
                                      self.program(gan, num, batch)(params, model_state, seed), self.net)
        else:
            path = 'host'
            results, extra = self._host_path(_sample_batches(gan, params, model_state, self.config, num, batch, seed))
        protocol = dict(self.protocol, samples=num, generator='EMA' if ema else 'trained params',
                        step=int(parallel.to_host(state.step)), path=path,
                        seconds=round(time.perf_counter() - start, 2))
        return {'metrics': results, 'protocol': protocol, **extra}

    def _host_path(self, batches: Iterator[np.ndarray]) -> tuple[dict, dict]:
        """(the metrics, the extra sections of the result) of samples brought to the host batch by batch."""
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
        if self.nearest is not None:
            samples = np.concatenate(kept)
            features = fake['features'][:len(samples)] if fake['features'] is not None else None
            metrics, extra['nearest'], shown = self.nearest.compare(samples, features)
            results.update(metrics)
            if samples.ndim == 4:
                self.figures['nearest'] = self.nearest.grid(samples, shown)
        return results, extra

    def uses_device_path(self, gan) -> bool:
        """Whether a call takes the device path (see the class docstring)."""
        return (self.on_device and self.extractor is not None and gan.spec.kind == 'image'
                and set(self.metrics) <= DEVICE_METRICS)

    def program(self, gan, num: int, batch: int) -> SampleProgram:
        """This generator's device program, built on first use and kept (its compilation with it)."""
        held = self.programs.get(id(gan))
        if held is None or held[0] is not gan:
            held = self.programs[id(gan)] = (gan, SampleProgram(
                gan, self.net, self.extractor.mesh, num=num, batch=batch, keep=self.extractor.keep,
                bn=self.config.sample_bn))
        return held[1]


def _keeping(batches: Iterator[np.ndarray], kept: list, keep: int) -> Iterator[np.ndarray]:
    """The batches, passed on; the first `keep` examples also appended to `kept`."""
    n = 0
    for batch in batches:
        if n < keep:
            kept.append(batch[:keep - n])
            n += len(kept[-1])
        yield batch


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
    reference_data, reference_name, reference_config = dataset, f'config.dataset={config.dataset}', config
    if reference:
        try:
            reference_config = data.dataset_config(config, reference)
            reference_data = data.load(reference_config)
            reference_name = f'--reference={reference}'
        except UserError as e:
            raise UserError(f'--reference={reference}: {e}') from None
        if reference_data.spec.shape != dataset.spec.shape:
            raise UserError(f'--reference={reference} gives images of {shape_text(reference_data.spec.shape)}; the '
                            f'training data {config.dataset} are of {shape_text(dataset.spec.shape)}')
    count = min(reference_size, reference_data.spec.num_examples)
    check_sizes(metrics, num_samples=num_samples, reference_size=count, keep=keep,
                reference=f'{reference_name} has {count} example{"s" * (count != 1)}')
    if 'stacked' in metrics and dataset.spec.shape[-1] != 3:
        raise UserError(f'--metrics=stacked counts the modes of 3-channel stacked digits '
                        f'(config.dataset=stacked:DATASET); config.dataset={config.dataset} gives '
                        f'{shape_text(dataset.spec.shape)} images')
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
                                          cache_dir=cache_dir, prepared=preparation(reference_config))
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


def _vector_evaluator(config: ml_collections.ConfigDict, metrics: tuple[str, ...], dataset: data.Dataset, *,
                      num_samples: int, reference_size: int, keep: int, holdout: str) -> Evaluator:
    """Vectors: no feature network, only nearest, in the data's own units (tables: --metrics=table)."""
    if dataset.spec.kind == 'table':
        raise UserError(f'--metrics={",".join(metrics)}: config.dataset={config.dataset} is a table: use --metrics=table '
                        '(fidelity, associations, efficacy with --target, privacy)')
    others = [m for m in metrics if m != 'nearest']
    if others:
        raise UserError(f'--metrics={others[0]} needs images; config.dataset={config.dataset} gives vectors of '
                        f'{shape_text(dataset.spec.shape)}: use --metrics=nearest (toy_2d reports its own mode '
                        'coverage)')
    near = nearest_reference(config, dataset, holdout, None, reference_size=reference_size)
    protocol = dict(near.protocol, features='none (vectors: distances in the data\'s units)',
                    nearest_samples=f'the first {min(keep, num_samples)} samples')
    return Evaluator(config, tuple(metrics), None, None, {}, protocol, num_samples, keep, near)


def _sample_batches(gan, params, model_state, config, num: int, batch: int, seed: int) -> Iterator[np.ndarray]:
    """Generated examples in the data's units; a conditional G draws its classes uniformly."""
    fn = sampling.jitted_generate(gan, config.sample_bn)
    key = sample_key(seed)
    for start in range(0, num, batch):
        z, y = batch_latents(gan, key, start, batch)
        yield gan.spec.to_data_units(parallel.to_host(fn(params, model_state, z, y)))[:num - start]


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
