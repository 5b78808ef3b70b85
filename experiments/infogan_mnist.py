"""InfoGAN (Chen et al. 2016) on MNIST: a categorical code and two continuous codes, learned unsupervised.

    python -m experiments.infogan_mnist --workdir=runs/infogan_mnist

z (62) is joined by a 10-way categorical code and two continuous codes in U[-1, 1]; a Q head on D's body
predicts them from generated images, and the lower bound on their mutual information with G's output
is added to both losses (weight 1). After training, <workdir>/codes_categorical.png has a row per random z
and a column per categorical value, codes_continuous_1.png and codes_continuous_2.png a row per
categorical value and columns sweeping one continuous code from -2 to 2 with the rest held (the paper's
figure 2: digit class, rotation, width). The categorical code's accuracy as a digit classifier, under the
best one-to-one matching of codes to classes on `eval_dataset`, goes to <workdir>/infogan_accuracy.json
(the paper reports about 5% error on MNIST).
"""

from __future__ import annotations

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from scipy.optimize import linear_sum_assignment

from jaxgan import cli, config as config_lib, evaluation, files, latent, sampling, train


def get_config():
    c = config_lib.base_config()
    c.dataset = 'tfds:mnist'
    c.image_size = 32
    c.batch_size = 64
    c.num_steps = 20_000
    c.model.z_dim = 62
    c.model.g_width = 64
    c.model.d_width = 64
    c.infogan.categorical = 10
    c.infogan.continuous = 2
    c.g_optimizer.learning_rate = 1e-3  # the paper's G learning rate; D's stays 2e-4
    c.log_every = 500
    c.sample_every = 2000
    c.checkpoint_every = 5000
    c.eval_dataset = 'tfds:mnist:test'  # checked before training starts
    return c


def code_accuracy(gan, state, config) -> dict:
    """Accuracy of the categorical code as a classifier of eval_dataset, best code-to-class matching."""
    codes, labels = evaluation.d_head_predictions(gan, state, config, 'q_categorical')
    k = gan.categorical_code
    counts = np.zeros((k, int(labels.max()) + 1))
    np.add.at(counts, (codes, labels), 1)
    rows, cols = linear_sum_assignment(-counts)
    accuracy = counts[rows, cols].sum() / len(labels)
    return {'accuracy': float(accuracy), 'error': float(1 - accuracy), 'examples': int(len(labels)),
            'dataset': config.eval_dataset, 'matching': {int(r): int(c) for r, c in zip(rows, cols)}}


def code_sweeps(gan, state, config, workdir: str) -> None:
    k, rows = gan.categorical_code, 10
    base = gan.latents(jax.random.key(config.seed + 1), rows)
    z = jnp.concatenate([latent.with_codes(gan, base[r], categorical=c)[None] for r in range(rows) for c in range(k)])
    sampling.save_png(os.path.join(workdir, 'codes_categorical.png'),
                    sampling.make_grid(latent.render(gan, state, config, z), k))
    values = np.linspace(-2.0, 2.0, 10)
    for i in range(gan.continuous_codes):
        z = jnp.concatenate([latent.with_codes(gan, base[0], categorical=c, continuous={i: float(v)})[None]
                             for c in range(k) for v in values])
        sampling.save_png(os.path.join(workdir, f'codes_continuous_{i + 1}.png'),
                        sampling.make_grid(latent.render(gan, state, config, z), len(values)))


def run(config, workdir: str) -> dict:
    trained = train.train(config, workdir)
    gan, state = trained.gan, trained.state
    code_sweeps(gan, state, config, workdir)
    result = code_accuracy(gan, state, config)
    logging.info('InfoGAN categorical code as a classifier: %s', json.dumps(result))
    files.atomic_write(os.path.join(workdir, 'infogan_accuracy.json'), json.dumps(result, indent=2))
    return result


if __name__ == '__main__':
    cli.run_experiment('infogan_mnist', get_config, run)
