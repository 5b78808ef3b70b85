"""A small classifier trained by jaxgan on a labelled dataset: a feature network for data where
Inception's features mean little (digits, MNIST), for "classifier FID", class coverage and the
stacked-MNIST mode count.

    python -m jaxgan.metrics.classifier --dataset=tfds:mnist --image_size=28 --out=classifiers/mnist
    python -m jaxgan.metrics.classifier --dataset=digits --image_size=32 --out=classifiers/digits

Writes <out>/classifier.npz (params) and <out>/classifier.json (dataset, image size, channels, classes,
held-out accuracy). --on_corrupt is training's config.data.on_corrupt, with its default: `error` stops at
an image that cannot be decoded, naming the file; `skip` leaves such images out (each logged once; their
number in classifier.json, `skipped`), where training uses the next readable image instead: here an
image stands beside its label, which the next image's would not match. The network: three 3x3 convolutions (32, 64 and 128 channels, the last two with
stride 2), ReLU, global average pooling, a 128-unit ReLU layer (the features) and the class logits.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgan import files
from jaxgan.errors import UserError
from jaxgan.models.convolution import Conv

ON_CORRUPT = ('error', 'skip')  # config.data.on_corrupt's choices, the first its default


class Classifier(nn.Module):
    num_classes: int

    @nn.compact
    def __call__(self, images_uint8: jax.Array, *, train: bool = False) -> tuple[jax.Array, jax.Array]:
        """(features [B, 128], logits [B, num_classes])."""
        x = images_uint8.astype(jnp.float32) / 127.5 - 1.0
        for features, stride in ((32, 1), (64, 2), (128, 2)):
            x = nn.relu(Conv(features, (3, 3), (stride, stride))(x))
        features = nn.relu(nn.Dense(128)(jnp.mean(x, axis=(1, 2))))
        features = nn.Dropout(0.3, deterministic=not train)(features)
        return features, nn.Dense(self.num_classes)(features)


@dataclasses.dataclass(frozen=True)
class TrainedClassifier:
    variables: dict
    meta: dict  # dataset, image_size, channels, num_classes, accuracy

    @property
    def module(self) -> Classifier:
        return Classifier(self.meta['num_classes'])

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of the images it was trained on: global pooling would take any size, but read
        images of another size or channel count its outputs mean nothing."""
        return (self.meta['image_size'], self.meta['image_size'], self.meta['channels'])


def _split(n: int, held_out: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    cut = int(n * (1 - held_out))
    return order[:cut], order[cut:]


def train_classifier(dataset: str, image_size: int, *, steps: int = 2000, batch_size: int = 128,
                     seed: int = 0, channels: int = 0, on_corrupt: str = 'error') -> TrainedClassifier:
    """Trains on 90% of `dataset` (a jaxgan dataset string with labels); accuracy on the other 10%.
    on_corrupt: as config.data.on_corrupt, but 'skip' drops the unreadable images with their labels."""
    from jaxgan import config as config_lib, data
    if on_corrupt not in ON_CORRUPT:
        raise UserError(f'--on_corrupt={on_corrupt!r} is not one of {", ".join(ON_CORRUPT)}')
    if steps < 1:
        raise UserError(f'--steps={steps}: a classifier needs at least one training step')
    if image_size < 1:
        raise UserError(f'--image_size={image_size} must be positive')
    config = config_lib.base_config()
    config.dataset, config.image_size, config.data.channels = dataset, image_size, channels
    config.data.on_corrupt = on_corrupt
    loaded = data.load(config)
    labels = loaded.source.labels
    if labels is None:
        raise UserError(f'{dataset} has no labels to train a classifier on')
    images = loaded.examples(np.arange(len(labels)))
    readable = np.setdiff1d(np.arange(len(labels)), np.fromiter(loaded.skipped, int, len(loaded.skipped)))
    images, labels = images[readable], labels[readable]
    if len(labels) < 2:
        raise UserError(f'{dataset}: {len(labels)} readable labelled image(s); a classifier needs at least 2')
    train_idx, test_idx = _split(len(labels), 0.1, seed)
    num_classes = int(labels.max()) + 1
    model = Classifier(num_classes)
    key = jax.random.key(seed)
    variables = model.init(key, images[:2])
    tx = optax.adam(1e-3)
    opt_state = tx.init(variables['params'])

    @jax.jit
    def step(params, opt_state, x, y, key):
        def loss_fn(p):
            _, logits = model.apply({'params': p}, x, train=True, rngs={'dropout': key})
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        grads = jax.grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    params = variables['params']
    rng = np.random.default_rng(seed)
    for i in range(steps):
        batch = rng.choice(train_idx, batch_size)
        params, opt_state = step(params, opt_state, images[batch], labels[batch], jax.random.fold_in(key, i))
    trained = TrainedClassifier({'params': params}, {
        'dataset': dataset, 'image_size': image_size, 'channels': int(images.shape[-1]),
        'num_classes': num_classes, 'class_names': list(loaded.source.class_names), 'steps': steps,
        'skipped': len(loaded.skipped)})
    predictions = predict(trained, images[test_idx])
    trained.meta['held_out_accuracy'] = float(np.mean(predictions == labels[test_idx]))
    trained.meta['held_out_size'] = int(len(test_idx))
    return trained


def features_and_logits(trained: TrainedClassifier, images: np.ndarray, batch: int = 1000):
    apply = jax.jit(lambda x: trained.module.apply(trained.variables, x))
    outs = [apply(jnp.asarray(images[i:i + batch])) for i in range(0, len(images), batch)]
    return np.concatenate([np.asarray(f) for f, _ in outs]), np.concatenate([np.asarray(l) for _, l in outs])


def predict(trained: TrainedClassifier, images: np.ndarray) -> np.ndarray:
    return np.argmax(features_and_logits(trained, images)[1], axis=1)


def save(trained: TrainedClassifier, out: str) -> None:
    from jaxgan.metrics.inception import save_npz
    os.makedirs(out, exist_ok=True)
    save_npz(jax.device_get(trained.variables), os.path.join(out, 'classifier.npz'))
    files.atomic_write(os.path.join(out, 'classifier.json'), json.dumps(trained.meta, indent=2))


def check_out(out: str) -> None:
    """A one-line UserError unless `out` is a directory that can be written and holds no classifier."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise UserError(f'--out={out} is a file; the classifier is written into a directory (classifier.npz, '
                        'classifier.json): give a new directory')
    for name in ('classifier.npz', 'classifier.json'):
        if os.path.exists(os.path.join(out, name)):
            raise UserError(f'--out={out} already holds a classifier ({name}); give another directory, or '
                            'delete that one first')


def trained_in(workdir: str, dataset: str, image_size: int, *, steps: int, seed: int, channels: int = 0,
               what: str = 'evaluation', on_corrupt: str = 'error') -> str:
    """<workdir>/classifier: a classifier of `dataset` trained there the first time (by process 0, the
    others waiting) and reused after, by a resumed run or a second evaluation. Returns the directory."""
    from absl import logging
    directory = os.path.join(workdir, 'classifier')
    if not os.path.exists(os.path.join(directory, 'classifier.json')):
        logging.info('training a classifier of %s at %dpx for %s (%d steps)', dataset, image_size, what, steps)
        trained = train_classifier(dataset, image_size, steps=steps, seed=seed, channels=channels,
                                   on_corrupt=on_corrupt)
        if jax.process_index() == 0:
            save(trained, directory)
        if jax.process_count() > 1:
            from jax.experimental import multihost_utils
            multihost_utils.sync_global_devices(f'classifier in {workdir}')
    return directory


def load(directory: str) -> TrainedClassifier:
    from jaxgan.metrics.inception import _unflatten
    path = os.path.join(directory, 'classifier.npz')
    if not os.path.exists(path):
        raise UserError(f'no classifier in {directory} (train one with python -m jaxgan.metrics.classifier)')
    with np.load(path) as f:
        variables = _unflatten(dict(f))
    with open(os.path.join(directory, 'classifier.json'), encoding='utf-8') as f:
        return TrainedClassifier(variables, json.load(f))


def main() -> None:
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--dataset', required=True, help='a labelled jaxgan dataset: digits, tfds:mnist, ...')
    parser.add_argument('--image_size', type=int, required=True)
    parser.add_argument('--channels', type=int, default=0)
    parser.add_argument('--steps', type=int, default=2000)
    parser.add_argument('--out', required=True)
    parser.add_argument('--on_corrupt', choices=ON_CORRUPT, default='error',
                        help='an image that cannot be decoded: error (stop, naming the file; the default, as '
                             'training\'s config.data.on_corrupt) or skip (leave it out, with its label)')
    args = parser.parse_args()
    try:
        check_out(args.out)
        trained = train_classifier(args.dataset, args.image_size, steps=args.steps, channels=args.channels,
                                   on_corrupt=args.on_corrupt)
    except UserError as e:
        print(f'error: {e}', file=sys.stderr)
        raise SystemExit(2)
    save(trained, args.out)
    print(json.dumps(trained.meta))


if __name__ == '__main__':
    main()
