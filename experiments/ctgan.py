"""CTGAN (Xu et al. 2019): synthetic rows of a table with continuous and discrete columns.

    python -m experiments.ctgan --workdir=runs/diabetes                       # table:diabetes, 300 epochs
    python -m experiments.ctgan --workdir=runs/cancer --config.dataset=table:breast_cancer
    python -m experiments.ctgan --workdir=runs/mine --config.dataset=csv:patients.csv \\
        --config.table.categorical=smoker,region --config.table.holdout=0.2
    python -m jaxgan.sample --workdir=runs/diabetes --num=1000 --out=synthetic.csv
    python -m jaxgan.evaluate --workdir=runs/diabetes --metrics=table --target=progression

The defaults are the `ctgan` package's CTGAN (synthesizers/ctgan.py): z of 128, residual G and dropout
D of widths (256, 256), packs of 10, WGAN-GP (lambda 10; 5 critic updates here, see below), Adam 2e-4 with betas (0.5, 0.9) and weight
decay 1e-6 for both networks, batch 500, 300 epochs, Gumbel-softmax temperature 0.2. An epoch is
max(training rows // batch, 1) steps, as the package counts it (`steps_per_epoch`); config.table.epochs
sets config.num_steps from it before training (0: config.num_steps as given), raised to at least
config.table.min_steps (MIN_STEPS, 3,000 here; 0: the package's count): below 1,000 rows an epoch is one step,
and 300 steps left the columns of the embedded tables nearly independent (see MIN_STEPS). A private run is
never raised, and a resumed run keeps the minimum it started with (`resumed_defaults`). A fifth of the rows
(config.table.holdout, chosen with the seed) are kept apart for evaluation.

Columns CTGAN has no kind for are handled so that the synthetic table neither copies nor loses them
(jaxgan.data.table_columns): identifiers (a distinct value in every row, such as patient_id) get fresh
values in their format, never a real one (config.table.on_identifier=drop leaves them out, =refuse
stops); dates are modelled as numbers and written in their format; a constant column is kept; each
continuous column keeps its decimals. `--metrics=table` counts real identifiers and near copies of
training rows (identifier_leaks, near_copies, leaked_rows).

Two departures from the package keep the columns' dependences (docs/tables.md, 'Keeping the
correlations'): five critic updates per G update (config.n_critic = 5, WGAN-GP's; the package's
discriminator_steps is 1) and mixtures fitted to convergence (config.table.mixture_iterations = 1000;
rdt's 100 leave a unimodal column as several overlapping modes). With the package's settings the rows
of a 2,000-row table whose two columns correlate at 0.80 came out at 0.44 (seed 0); with these, at
0.54 to 0.62 (seeds 0-2): better, and still short of the real 0.80. A third closes most of the rest: G's
correlation loss (config.table.correlation = CORRELATION, 50; jaxgan.families.tables.CorrelationLoss), the
squared gaps between the real and the synthetic batch's Pearson correlations of the numerical columns and those
of their ranks' smooth stand-in; over 5 seeds, from where 3,000 steps (config.table.min_steps) had left it, the
largest Pearson gap fell from 0.07 to 0.03 on that table and from 0.30 to 0.04, 0.14 to 0.05, 0.24 to 0.13
and 0.47 to 0.23 on the others of docs/tables.md, column shapes within 0.004 but on the non-linear table
(0.012 lower), and a few exact copies of training rows there (1 to 3 of 1,600 in 3 of 5 seeds).
--config.table.correlation=0 trains without it. --config.n_critic=1 --config.table.mixture_iterations=100
--config.ema.decay=0 --config.table.min_steps=0 --config.table.correlation=0 is the package's recipe.

Differential privacy (docs/privacy.md): --config.privacy.epsilon=3 --config.privacy.delta=1e-5 trains D by
DP-SGD with noise calibrated to the planned steps, on a schema declared and never read from the rows
(config.privacy.bounds: the numerical columns' public ranges; .categories: the discrete columns' category
sets; .missing: the columns that may have missing cells); a private run's batch is at most half the training
rows (`private_batch`), and it has defaults of its own (`PRIVATE_DEFAULTS`: packs of 1, one critic update, 20
epochs, the numerical columns' released bin frequencies matched, no correlation loss), each kept where the
command line sets it.

One addition to the package's recipe: rows are sampled from an exponential moving average of G's
weights (jaxgan's default, config.ema.decay = 0.999; the package samples the last G).
At 300 steps (a table of a few hundred rows at batch 500, before config.table.min_steps) the last G of
WGAN-GP is a noisy iterate: on both embedded tables the average lifted fidelity from 0.75 to 0.87 and 0.72
to 0.87 in every one of 10 seeds (benchmarks/tabular_ctgan.py, README). The decay is the EMA's warm-up,
(1 + t) / (10 + t) (jaxgan.core.step.ema_update): at most 0.971 over 300 steps, 0.997 over 3,000; 0.999
takes over after step 8,990. --config.ema.decay=0 --config.table.min_steps=0 --config.table.correlation=0 trains
with the package's defaults alone.
"""

from __future__ import annotations

import json
import os
from typing import Iterable

import jax
from absl import flags, logging
from ml_collections import config_flags

from jaxgan import cli, config as config_lib, privacy, train
from jaxgan.data import tables
from jaxgan.families import tables as tables_family


# The least generator steps a run trains (config.table.min_steps), where CTGAN's count makes fewer. Below 1,000
# rows an epoch is one step at batch 500 (the package's `steps_per_epoch`, which does nothing else for small tables),
# so 300 epochs of the embedded tables were 300 steps and their columns came out nearly independent. Seed 0,
# largest Pearson gap at 300 / 1,000 / 2,000 / 3,000 / 5,000 steps: diabetes 0.83 / 0.44 / 0.34 / 0.22 / 0.21,
# breast_cancer 1.04 / 0.90 / 0.54 / 0.43; no copies, and diabetes' DCR ratio 1.70 / 1.16 / 1.06 / 1.01 / 0.98
# (below 1 at 5,000: rows nearer the training rows than unseen ones). Batch 100 for as many steps was no
# substitute (0.67 at 999). Seeds 0-2 at 3,000: 0.21 and 0.50 where 300 steps gave 0.73 and 1.03 (docs/tables.md).
# The dependence tables' 1,600 rows (900 steps at 300 epochs) are raised too: linear 0.23 -> 0.08 (seeds 0-2),
# their rows nearer the training rows (docs/tables.md: category_shift: one exact copy in 1,600, 2 of 3 seeds).
MIN_STEPS = 3000
# The weight of G's correlation loss (config.table.correlation; jaxgan.families.tables.CorrelationLoss): the squared
# gaps between the batch's real and synthetic Pearson correlations of the numerical columns, and those of their
# mixture CDF scores (Spearman's smooth stand-in), averaged over pairs. Five critic updates and 3,000 steps left the
# synthetic correlations weaker than the real ones (largest Pearson gap, 5 seeds: monotone 0.30, diabetes 0.24,
# breast_cancer 0.47). Seed 0 at weights 10 / 50 / 250: monotone 0.06 / 0.03 / 0.03 with column shapes 0.953 /
# 0.950 / 0.914 (0.959 without); at 250 shapes fell on diabetes and category_shift too, and at 1,000 on
# breast_cancer (0.846): 50 is the largest weight tried that kept them within about 0.01 (docs/tables.md,
# 'G's correlation loss'). Not in a private run (it reads the real rows: PRIVATE_DEFAULTS).
CORRELATION = 50.0


def get_config():
    c = config_lib.base_config()
    c.dataset = 'table:diabetes'
    c.model.name = 'ctgan'
    c.model.z_dim = 128  # embedding_dim
    c.model.g_hidden = (256, 256)  # generator_dim
    c.model.d_hidden = (256, 256)  # discriminator_dim
    c.model.dropout = 0.5
    c.model.pack = 10  # pac
    c.loss = 'wasserstein'
    # Five critic updates per G update (WGAN-GP's n_critic, Gulrajani et al. 2017); the package has 1
    # (discriminator_steps), a critic too weak to see the columns' dependences: see the docstring.
    c.n_critic = 5
    c.penalties.gradient_penalty = 10.0
    c.batch_size = 500
    c.table.epochs = 300
    c.table.min_steps = MIN_STEPS
    c.table.correlation = CORRELATION
    for opt in (c.g_optimizer, c.d_optimizer):
        opt.learning_rate, opt.b1, opt.b2, opt.weight_decay = 2e-4, 0.5, 0.9, 1e-6
    # c.ema.decay stays the base's 0.999: G's average, which the package does not keep (see above)
    c.log_every = 50
    c.sample_every = 100
    c.checkpoint_every = 100
    c.num_samples = 100  # rows in each samples/step_N.csv
    return c


# A private run's defaults, where the command line does not set the field (docs/privacy.md, 'Defaults'): DP-SGD's
# noise multiplier grows with the planned critic updates and its noise per averaged gradient shrinks with the
# units per batch, so a private run takes few, large updates: smartnoise-synth's DPCTGAN recipe of one
# discriminator step and no packing (`opendp/smartnoise-sdk`, synth/snsynth/pytorch/nn/dpctgan.py,
# DPCTGAN.__init__: discriminator_steps=1, pac=1; it also stops at the first epoch that finds its budget
# spent), and 20 epochs where CTGAN trains 300: on table:diabetes at epsilon 3 (seed 0) column shapes 0.18 at
# CTGAN's settings, 0.22 at pack 1 and one critic update, then 0.29, 0.44, 0.53, 0.56, 0.56 at 100, 50, 30, 20
# and 10 epochs; 1 epoch scores as 20: the noisy updates do not yet improve on G's start (docs/privacy.md).
# The same run trained without privacy for those 40 steps scores 0.53: the critic's noise is not what holds the
# columns' shapes back, its few updates are; so the generator also matches the numerical columns' released bin
# frequencies (table.marginals 1, which releases them with the category counts: at epsilon 10 column shapes
# 0.57 -> 0.76, at epsilon 1 0.54 -> 0.65 with privacy.frequency_share 0.3; docs/privacy.md, 'Defaults').
# G's correlation loss reads the real rows, which DP-SGD does not cover: off (table.correlation 0).
PRIVATE_DEFAULTS = {'model.pack': 1, 'n_critic': 1, 'table.epochs': 20, 'table.marginals': 1.0,
                    'table.correlation': 0.0}


def private_defaults(config, kept: Iterable[str] = ()):
    """config with PRIVATE_DEFAULTS set, each field but those in `kept` (set by the user); config itself where
    the run is not private."""
    if not privacy.enabled(config):
        return config
    config = config.copy_and_resolve_references()
    changed = []
    for field, value in PRIVATE_DEFAULTS.items():
        if field in kept:
            continue
        *path, leaf = field.split('.')
        section = config
        for name in path:
            section = section[name]
        if section[leaf] != value:
            changed.append(f'{field}={value}')
            section[leaf] = value
    if changed:
        logging.info('privacy: the private defaults %s (fewer, larger DP-SGD updates; set a field to keep yours)',
                     ' '.join(changed))
    return config


def _fields_set() -> set[str]:
    """The config fields the command line sets (--config.FIELD=...); none outside the CLI."""
    try:
        return set(config_flags.get_override_values(flags.FLAGS['config']))
    except (KeyError, TypeError, AttributeError, flags.UnparsedFlagAccessError):
        return set()


def private_batch(config, rows: int):
    """A private run's batch: config.batch_size, or where that is over half the training rows (CTGAN's 500
    is more than a small table holds), the largest multiple of pack * devices up to half of them: a batch
    sampled from the rows, whose rate q = batch / rows the accountant amplifies by (docs/privacy.md)."""
    unit = config.model.pack * jax.device_count()
    if 2 * config.batch_size <= rows or rows // 2 < unit:
        return config.batch_size
    batch = rows // 2 // unit * unit
    logging.warning('privacy: config.batch_size=%d is over half the %d training rows: batches of %d rows (q = %.2f)',
                    config.batch_size, rows, batch, batch / rows)
    return batch


def with_epochs(config, kept: Iterable[str] = ()):
    """config with num_steps = table.epochs * max(training rows // batch_size, 1), where epochs > 0; a
    private run's defaults (`private_defaults`, but the fields in `kept`) and batch at most half the
    training rows (`private_batch`)."""
    private = privacy.enabled(config)
    config = private_defaults(config, kept)
    if not config.table.epochs and not private:
        return config
    rows = len(tables.split(tables.read_table(config.dataset), config.table.holdout, config.seed)[0])
    if not private:
        config = config.copy_and_resolve_references()
    if private:
        config.batch_size = private_batch(config, rows)
    if not config.table.epochs:
        return config
    # A private run is never raised: its plan (jaxgan.privacy.Plan, made from config.num_steps when the game is
    # built) calibrates the noise to these steps, and its own defaults chose few of them.
    minimum = 0 if private else config.table.min_steps
    steps, trained = tables_family.planned_steps(config.table.epochs, rows, config.batch_size, minimum)
    if trained > steps:
        logging.info('table: %d epochs of %d training rows at batch %d are %d steps; raised to '
                     'config.table.min_steps=%d', config.table.epochs, rows, config.batch_size, steps, trained)
    else:
        logging.info('table: %d epochs of %d training rows at batch %d: %d steps', config.table.epochs, rows,
                     config.batch_size, steps)
    config.num_steps = trained
    return config


# Fields whose default changed after runs were saved: a resumed run keeps the value it was trained with (the base
# config's, off, for a run saved before the field), unless the command line sets it.
RESUMED_FIELDS = ('table.min_steps', 'table.correlation')


def resumed_defaults(config, workdir: str, kept: Iterable[str] = ()):
    """config with each of RESUMED_FIELDS as the run its workdir's checkpoints were trained with (the base config's
    for a run saved before the field), but those the command line sets (in `kept`): a resumed run keeps its
    num_steps and its generator's loss when a default changes. config itself for a fresh workdir."""
    checkpoints, saved = os.path.join(workdir, 'checkpoints'), os.path.join(workdir, 'config.json')
    resuming = os.path.isdir(checkpoints) and any(name.isdigit() for name in os.listdir(checkpoints))
    if not resuming or not os.path.exists(saved):
        return config
    with open(saved) as f:
        before = config_lib.completed(json.load(f)['config'])
    changed = [f for f in RESUMED_FIELDS if f not in kept and _field(before, f) != _field(config, f)]
    if not changed:
        return config
    config = config.copy_and_resolve_references()
    for field in changed:
        section, leaf = field.split('.')
        config[section][leaf] = _field(before, field)
    return config


def _field(config, field: str):
    section, leaf = field.split('.')
    return config[section][leaf]


def run(config, workdir: str):
    kept = _fields_set()
    return train.train(with_epochs(resumed_defaults(config, workdir, kept), kept), workdir)


if __name__ == '__main__':
    cli.run_experiment('ctgan', get_config, run)
