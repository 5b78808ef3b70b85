"""A 1-D Gaussian, as in the figures of Goodfellow et al. (2014): watch D and G reach equilibrium.

    python -m experiments.toy_1d --workdir=runs/toy_1d

The data are N(4, 0.5^2); z is uniform, as in the paper's figure 1. Every sample_every steps,
<workdir>/samples/density_<step>.png plots the data's density (black, dotted), G's density (green, a
histogram of 20,000 samples) and D's output D(x) (blue, dashed) over the line. As training goes on, G's
density moves onto the data's and D(x) flattens towards 1/2, the equilibrium where D cannot tell them
apart. The last plot's figures (the distance of D from 1/2, G's mean and spread) are in the log.
"""

from __future__ import annotations

import functools
import os

import jax
import numpy as np
from absl import logging

from jaxgan import cli, config as config_lib, plots, sampling, train
from jaxgan.data import toy
from jaxgan.errors import UserError


def get_config():
    c = config_lib.base_config()
    c.dataset = 'toy:gauss1d'
    c.num_steps = 3000
    c.batch_size = 256
    c.model.name = 'mlp'
    c.model.z_dim = 1
    c.model.latent = 'uniform'
    c.model.g_hidden = (32, 32)
    c.model.d_hidden = (32, 32)
    c.loss = 'minimax'
    for opt in (c.g_optimizer, c.d_optimizer):
        opt.learning_rate = 2e-4
    c.ema.decay = 0.0  # plot G as trained, as the paper's figures do
    c.steps_per_dispatch = 25
    c.log_every = 500
    c.sample_every = 100
    c.checkpoint_every = 1000
    return c


def run(config, workdir: str) -> None:
    if config.model.pack != 1:  # D(x) is plotted point by point; a packed D judges m points at once
        raise UserError(f'toy_1d plots D(x) of single points; config.model.pack={config.model.pack} makes D judge '
                        'packs (use pack=1)')
    mixture = toy.MIXTURES['gauss1d']
    mu, sigma = float(mixture.centers[0, 0]), mixture.sigma
    grid = np.linspace(mu - 6 * sigma, mu + 6 * sigma, 400, dtype=np.float32)
    pdf = np.exp(-0.5 * ((grid - mu) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))

    @functools.lru_cache(maxsize=1)
    def d_fn(gan):  # D(x) on the grid, compiled once for the run's GAN
        spec = gan.spec
        grid_model = (grid[:, None] - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)
        return jax.jit(lambda p, s: jax.nn.sigmoid(gan.discriminate(p, s, grid_model, train=False)[0]['logits']))

    def plot(gan, state, step, prefix=''):
        z = gan.latents(jax.random.fold_in(jax.random.key(config.seed), step), 20_000)
        samples = sampling.sample(gan, state.params['G'], state.model_state['G'], z, bn=config.sample_bn, batch_size=20_000)
        d_out = np.asarray(d_fn(gan)(state.params['D'], state.model_state['D']))
        if jax.process_index() == 0:
            plots.density_1d(os.path.join(workdir, 'samples', f'density_{prefix}{step:08d}.png'), grid=grid,
                             data_pdf=pdf, samples=samples[:, 0], d_output=d_out, step=step)
        support = pdf > pdf.max() * 0.05  # where the data are
        logging.info('step %d%s: max |D(x) - 1/2| where the data are %.3f; G mean %.3f std %.3f '
                     '(data %.3f, %.3f)', step, prefix and f' ({prefix.rstrip("_")})',
                     np.abs(d_out[support] - 0.5).max(), samples.mean(), samples.std(), mu, sigma)

    train.train(config, workdir, callbacks=[plot])


if __name__ == '__main__':
    cli.run_experiment('toy_1d', get_config, run)
