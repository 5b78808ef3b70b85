"""2-D mixtures of the mode-collapse literature, or any points of your own.

    python -m experiments.toy_2d --workdir=runs/ring8                              # 8 Gaussians on a ring
    python -m experiments.toy_2d --workdir=runs/grid25 --config.dataset=toy:grid25  # 5x5 grid
    python -m experiments.toy_2d --workdir=runs/mine --config.dataset=npy:points.npy

`toy:ring8` is 8 Gaussians of sigma 0.01 on the unit circle, `toy:grid25` 25 of sigma 0.05 at
{-4, -2, 0, 2, 4}^2 (VEEGAN's and PacGAN's settings); `toy:ringK` and `toy:gridN` are larger rings and
grids of the same families (`toy:ring32`, `toy:grid100`: see jaxgan.data.toy). `npy:PATH` takes any [N, D] float array in its
own units: it is standardised for training and samples come back in those units.

The default config gives G a 256-way categorical code beside z and D a Q head that must recover it from
G's samples (InfoGAN's mutual-information term; MGAN's classifier of a mixture of generators): G splits
into components, each mapped compactly, so that few samples fall between separated modes. The term's
weight starts at 0.1 and is annealed to 0.001 over the run (config.anneal): early, it parts G into
components; late, it no longer pays them to stay apart, so several can share a mode and sit on it.
Measured on ring8, grid25 and grid100 (docs/toy.md): the same recipe holds on all three, where the
earlier default (64 components, weight 1 throughout) found a fifth of grid100's modes.
`--config.infogan.categorical=0 --config.anneal.to=` trains the plain GAN (its weight no longer moves).

After training, for the mixtures: modes captured, the fraction of high-quality samples (within 3 sigma
of a mode) and the reverse KL of the mode histogram, over 2,500 samples of the EMA generator, in
<workdir>/mode_coverage.json and the log (the reverse KL is null where no sample is of high quality);
for an ensemble (--config.ensemble.size=N: N seeds in one program), a list of one such result per member.
Data that are not 2-d points are refused before training. Every sample_every steps, <workdir>/samples/scatter_<step>.png
plots samples over the data.
"""

from __future__ import annotations

import json
import os

import jax
import numpy as np
from absl import logging

from jaxgan import cli, config as config_lib, data, ensemble, files, plots, sampling, train
from jaxgan.data import toy
from jaxgan.errors import UserError
from jaxgan.metrics.modes import mode_coverage


def get_config():
    c = config_lib.base_config()
    c.dataset = 'toy:ring8'
    c.num_steps = 24_000
    c.batch_size = 256
    c.model.name = 'mlp'
    c.model.z_dim = 16
    c.model.g_hidden = (128, 128, 128)
    c.model.d_hidden = (128, 128, 128)
    c.loss = 'non_saturating'
    c.penalties.r1 = 0.001
    c.penalties.r1_every = 16  # lazy R1 (StyleGAN2's k): a fifth off the step's time
    c.infogan.categorical = 256  # G's components, told apart by D's Q head: see the module docstring
    c.infogan.weight = 0.1  # the mutual-information term's weight at the start, annealed to 0.001 by the end
    c.anneal.to = 'infogan.weight=0.001'  # over the whole run (anneal.kimg 0), by R3GAN's cosine schedule
    for opt in (c.g_optimizer, c.d_optimizer):
        opt.learning_rate = 1e-3
        opt.b1, opt.b2 = 0.0, 0.99
        opt.schedule = 'linear'
    c.ema.decay = 0.995  # the learning rate decays to 0: a shorter average than usual keeps the modes sharp
    c.steps_per_dispatch = 50  # small models: many steps per dispatch keep the host out of the way
    c.log_every = 1000
    c.sample_every = 4000
    c.checkpoint_every = 4000
    with c.unlocked():
        c.eval_samples = 2500
    return c


def generate(gan, state, config, num: int, seed: int) -> np.ndarray:
    """num samples of the EMA generator, in the data's units."""
    z = gan.latents(jax.random.fold_in(jax.random.key(config.seed), seed), num)
    return sampling.sample(gan, state.ema['G'], state.model_state['G'], z, bn=config.sample_bn, batch_size=num)


def check_points(spec: data.DataSpec, dataset: str) -> None:
    """toy_2d plots and scores points in the plane: anything else is refused before training."""
    if spec.kind != 'vector' or spec.shape != (2,):
        what = f'{spec.shape[0]}-d points' if spec.kind == 'vector' else f'images of {spec.shape}'
        raise UserError(f'toy_2d trains on 2-d points and plots them; config.dataset={dataset} holds {what} '
                        '(toy_1d takes 1-d points; other experiments, images)')


def run(config, workdir: str) -> dict | list | None:
    dataset = data.load(config)
    check_points(dataset.spec, config.dataset)
    points = np.asarray(dataset.source.array)[:5000]

    def scatter(gan, state, step, prefix=''):
        if jax.process_index() == 0:
            plots.scatter_2d(os.path.join(workdir, 'samples', f'scatter_{prefix}{step:08d}.png'), data=points,
                             samples=generate(gan, state, config, 2000, step), title=f'{config.dataset}, step {step}')

    trained = train.train(config, workdir, callbacks=[scatter])
    gan, state = trained.gan, trained.state
    name = config.dataset.removeprefix('toy:')
    if not config.dataset.startswith('toy:') or not toy.is_mixture(name):
        return None
    mixture = toy.mixture(name)
    results = []
    for member in range(ensemble.size(config)):
        one = state if ensemble.size(config) == 1 else ensemble.member_state(state, member)
        result = mode_coverage(generate(gan, one, config, config.eval_samples, 0xe5), mixture.centers, mixture.sigma)
        result.update(dataset=config.dataset, samples=config.eval_samples, step=ensemble.step_of(one))
        if ensemble.size(config) > 1:
            result.update(member=member, seed=config.seed + member)
        logging.info('mode coverage: %s', json.dumps(result))
        results.append(result)
    out = results[0] if ensemble.size(config) == 1 else results
    if jax.process_index() == 0:
        files.atomic_write(os.path.join(workdir, 'mode_coverage.json'), json.dumps(out, indent=2, allow_nan=False))
    return out


if __name__ == '__main__':
    cli.run_experiment('toy_2d', get_config, run)
