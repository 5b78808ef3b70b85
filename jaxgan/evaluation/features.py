"""Feature networks (the FID Inception, a jaxgan classifier, a classifier of single digits read per
channel) and the Extractor that runs one over batches on every device."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Callable, Iterator

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.core import parallel
from jaxgan.errors import UserError
from jaxgan.metrics import stats


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
            raise UserError(f'the feature network takes {shape_text(self.input_shape)} images and {data} gives '
                            f'{shape_text(shape)} ({self.name}); train a classifier at that size: python -m '
                            f'jaxgan.metrics.classifier --image_size={shape[0]} ...')


def shape_text(shape: tuple[int, ...]) -> str:
    """A shape as error messages write it: 16x16x3."""
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
                          f'jaxgan classifier of {meta["num_classes"]} classes on {shape_text(trained.input_shape)} '
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
                        f'channel; {net.name} takes {shape_text(base)} images')
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
