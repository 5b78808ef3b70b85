"""Rebalancing a rare class with a class-conditional GAN, measured on the embedded digits.

    python benchmarks/rebalance_digits.py [--rare=3] [--keep=10] [--gan_steps=6000] [--seeds=3]

The training split (digits:train, 1,437 images, 16x16) loses all but `keep` examples of class `rare`.
A class-conditional GAN trains on that (experiments.cgan_mnist's config with MLPs of two 256-unit
layers, the one-hot label beside z and beside D's input, which train in a minute on a CPU); `jaxgan.sample`'s function then
writes enough synthetic examples of the rare class to bring it to the mean class size. A classifier
(jaxgan.metrics.classifier) trains on (a) the imbalanced data, (b) the imbalanced data plus the
synthetic examples, (c) the full training split, and each is scored on digits:test (360 images):
recall of the rare class and accuracy overall, mean and spread over `seeds` classifier seeds.
"""

import argparse
import json
import os
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

from experiments import cgan_mnist
from jaxgan import config as config_lib, data, sampling, train
from jaxgan.checkpoint import load_run
from jaxgan.metrics import classifier


def load(dataset: str, size: int):
    c = config_lib.base_config()
    c.dataset, c.image_size = dataset, size
    d = data.load(c)
    return d.examples(np.arange(d.spec.num_examples)), d.source.labels


def save(directory: str, name: str, images: np.ndarray, labels: np.ndarray) -> str:
    path = os.path.join(directory, f'{name}.npy')
    np.save(path, images)
    np.save(os.path.join(directory, f'{name}.labels.npy'), labels)
    return f'npy:{path}'


def score(dataset: str, test_x, test_y, rare: int, seed: int, steps: int) -> dict:
    trained = classifier.train_classifier(dataset, 16, steps=steps, seed=seed)
    predicted = classifier.predict(trained, test_x)
    return {'rare_recall': float(np.mean(predicted[test_y == rare] == rare)),
            'accuracy': float(np.mean(predicted == test_y))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--rare', type=int, default=3)
    parser.add_argument('--keep', type=int, default=10)
    parser.add_argument('--gan_steps', type=int, default=6000)
    parser.add_argument('--classifier_steps', type=int, default=600)
    parser.add_argument('--seeds', type=int, default=3)
    parser.add_argument('--out', default=os.path.join(os.path.dirname(__file__), 'results', 'rebalance_digits.json'))
    args = parser.parse_args()
    train_x, train_y = load('digits:train', 16)
    test_x, test_y = load('digits:test', 16)
    rare_idx = np.flatnonzero(train_y == args.rare)
    drop = rare_idx[args.keep:]
    keep = np.setdiff1d(np.arange(len(train_y)), drop)
    imb_x, imb_y = train_x[keep], train_y[keep]
    missing = int(round(np.mean(np.bincount(imb_y)))) - args.keep
    with tempfile.TemporaryDirectory() as tmp:
        imbalanced = save(tmp, 'imbalanced', imb_x, imb_y)
        config = cgan_mnist.get_config()
        config.dataset, config.image_size, config.num_steps = imbalanced, 16, args.gan_steps
        config.model.name, config.model.g_hidden, config.model.d_hidden = 'mlp', (256, 256), (256, 256)
        config.model.g_norm = config.model.d_norm = ''
        config.conditioning.g, config.conditioning.d = 'concat', 'concat'
        config.batch_size, config.steps_per_dispatch, config.log_every = 64, 20, 1000
        config.sample_every = config.checkpoint_every = args.gan_steps
        start = time.perf_counter()
        train.train(config, os.path.join(tmp, 'gan'))
        gan_seconds = time.perf_counter() - start
        _, gan, state = load_run(os.path.join(tmp, 'gan'))
        z = gan.latents(jax.random.key(123), missing)
        synthetic = sampling.sample(gan, state.ema['G'], state.model_state['G'], z, jnp.full((missing,), args.rare, jnp.int32),
                                  bn=config.sample_bn, batch_size=config.batch_size)
        rebalanced = save(tmp, 'rebalanced', np.concatenate([imb_x, synthetic]),
                          np.concatenate([imb_y, np.full(missing, args.rare, imb_y.dtype)]))
        full = save(tmp, 'full', train_x, train_y)
        results = {name: [score(ds, test_x, test_y, args.rare, seed, args.classifier_steps) for seed in range(args.seeds)]
                   for name, ds in (('imbalanced', imbalanced), ('rebalanced with cGAN samples', rebalanced),
                                    ('full training split', full))}
    summary = {'rare_class': args.rare, 'rare_examples_kept': args.keep, 'synthetic_examples': missing,
               'gan_steps': args.gan_steps, 'gan_seconds': round(gan_seconds, 1), 'seeds': args.seeds, 'results': results}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(summary, f, indent=1)
    print(f'class {args.rare}: {args.keep} real examples kept, {missing} synthetic added; cGAN {args.gan_steps} steps '
          f'in {gan_seconds:.0f} s')
    print(f'{"training data":32} {"rare-class recall":>20} {"accuracy":>16}')
    for name, rows in results.items():
        r, a = np.array([x['rare_recall'] for x in rows]), np.array([x['accuracy'] for x in rows])
        print(f'{name:32} {100 * r.mean():9.1f} +- {100 * r.std():4.1f} % {100 * a.mean():7.1f} +- {100 * a.std():3.1f} %')


if __name__ == '__main__':
    main()
