"""The semi-supervised GAN of Salimans et al. (2016) on MNIST: few labels, many unlabelled images.

    python -m experiments.ssgan_mnist --workdir=runs/ssgan_mnist --config.semi_supervised.num_labels=100

D has K = 10 class outputs; its real-versus-fake logit is their log-sum-exp (the K+1-th, "fake", class
held at logit 0). D is trained on the labelled examples (cross-entropy; `num_labels`, balanced over the
classes) and on unlabelled real and generated ones; G by feature matching on D's last hidden layer. The
models are the paper's MNIST ones: D an MLP of 1000-500-250-250-250 units with Gaussian noise on its
input and hidden layers, G an MLP of 500-500 units with BatchNorm. After training, D's test error on
`eval_dataset` goes to <workdir>/ssgan_error.json (the paper: 0.93% with 100 labels, 16.8% with 20).
"""

from __future__ import annotations

import json
import os

import numpy as np
from absl import logging

from jaxgan import cli, config as config_lib, evaluation, files, train


def get_config():
    c = config_lib.base_config()
    c.dataset = 'tfds:mnist'
    c.image_size = 28
    c.batch_size = 100
    c.num_steps = 30_000
    c.model.name = 'mlp'
    c.model.z_dim = 100
    c.model.latent = 'uniform'
    c.model.g_hidden = (500, 500)
    c.model.g_norm = 'batch'
    c.model.d_hidden = (1000, 500, 250, 250, 250)
    c.model.d_noise = 0.3
    c.semi_supervised.num_labels = 100
    c.semi_supervised.batch_size = 100
    c.g_objective.adversarial = 0.0
    c.g_objective.feature_matching = 1.0
    for opt in (c.g_optimizer, c.d_optimizer):
        opt.learning_rate = 1e-3
        opt.schedule = 'linear'
    c.log_every = 500
    c.sample_every = 5000
    c.checkpoint_every = 5000
    c.eval_dataset = 'tfds:mnist:test'  # checked before training starts
    return c


def test_error(gan, state, config) -> dict:
    predictions, labels = evaluation.d_head_predictions(gan, state, config, 'class_logits')
    wrong = int(np.sum(predictions != labels))
    return {'error': wrong / len(labels), 'wrong': wrong, 'examples': int(len(labels)),
            'num_labels': config.semi_supervised.num_labels, 'dataset': config.eval_dataset}


def run(config, workdir: str) -> dict:
    trained = train.train(config, workdir)
    gan, state = trained.gan, trained.state
    result = test_error(gan, state, config)
    logging.info('semi-supervised GAN: %s', json.dumps(result))
    files.atomic_write(os.path.join(workdir, 'ssgan_error.json'), json.dumps(result, indent=2))
    return result


if __name__ == '__main__':
    cli.run_experiment('ssgan_mnist', get_config, run)
