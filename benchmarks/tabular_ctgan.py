"""jaxgan's CTGAN against the `ctgan` package on the embedded tables, side by side.

    pip install ctgan            # the peer (it brings PyTorch); not a dependency of jaxgan or its tests
    python benchmarks/tabular_ctgan.py                                   # both tables, seeds 0-2, 300 epochs
    python benchmarks/tabular_ctgan.py --seeds=10 --short_epochs=30      # the README's figures
    python benchmarks/tabular_ctgan.py --tables=diabetes --seeds=1 --epochs=30 --out=/tmp/quick.json

For each table (table:diabetes, target progression; table:breast_cancer, target diagnosis) and seed,
the systems train on the same training rows (jaxgan's split: config.table.holdout = 0.2 with the
seed), with the same hyperparameters (the package's defaults, which experiments.ctgan mirrors: batch
500, 300 epochs, pac 10, widths 256) and the same discrete columns (those jaxgan's type inference finds):
jaxgan (experiments.ctgan, which samples an EMA of G, at the package's epochs: no config.table.min_steps),
jaxgan_no_ema (the package's recipe alone: one critic update, 100 mixture iterations, the last G sampled)
and ctgan (the package). Each then samples as many rows as the training rows, and
every sample is scored by jaxgan.metrics.table.report against the same training and holdout rows.
Seconds per epoch are the whole fit (jaxgan: data loading, transform fitting, compilation and
training; the package: the same, without compilation) divided by the epochs, on the same machine, one
after the other. With --short_epochs=S each system also fits S epochs, untimed otherwise: the
difference of the two fits' seconds over (epochs - S) is the marginal seconds per epoch, and what is
left of the full fit the start-up (`start_seconds`: loading, transform fitting, compilation). The short fit runs second, in the same
process; jaxgan compiles its step afresh there (a new game is a new jitted function: JAX_LOG_COMPILES
shows the step's compilation in both fits), so it is not favoured by the first.
Writes --out (JSON): a row per table, seed and system, and the means over seeds.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import processes  # noqa: E402  (benchmarks/processes.py)

flags.DEFINE_list('tables', ['diabetes', 'breast_cancer'], 'Embedded tables (table:NAME).')
flags.DEFINE_integer('seeds', 3, 'Seeds 0 .. seeds - 1.')
flags.DEFINE_integer('epochs', 300, 'Epochs for every system.')
flags.DEFINE_string('out', 'benchmarks/results/tabular_ctgan.json', 'The results file.')
flags.DEFINE_list('systems', ['jaxgan', 'jaxgan_no_ema', 'ctgan'], 'Which systems to run: jaxgan (experiments.ctgan), '
                  'jaxgan_no_ema (the package\'s recipe alone: JAXGAN), ctgan (the '
                  'package).')
flags.DEFINE_integer('short_epochs', 0, 'Also fit this many epochs to split the time into start-up and '
                     'marginal seconds per epoch; 0: do not.')

TARGETS = {'diabetes': 'progression', 'breast_cancer': 'diagnosis'}
SUMMARY = ('fidelity', 'association_difference', 'efficacy_ratio', 'dcr_ratio', 'exact_copies')
TIMES = ('seconds_per_epoch', 'seconds_per_epoch_marginal', 'start_seconds')


# jaxgan's systems: experiments.ctgan's config with these fields changed. Both train the package's epochs (no
# minimum of steps: an epoch is the same steps on both sides) without G's correlation loss (the README's figures
# were taken before it); jaxgan_no_ema is the package's recipe alone (one critic update, rdt's 100 mixture
# iterations, no average of G).
PACKAGE_EPOCHS = {'table.min_steps': 0, 'table.correlation': 0.0}
JAXGAN = {'jaxgan': PACKAGE_EPOCHS, 'jaxgan_no_ema': {**PACKAGE_EPOCHS, 'ema.decay': 0.0, 'n_critic': 1,
                                                      'table.mixture_iterations': 100}}


def _jaxgan(table: str, seed: int, epochs: int, workdir: str, fields: dict):
    """(synthetic rows, seconds) of jaxgan's CTGAN, experiments.ctgan's config updated with `fields`."""
    from experiments import ctgan
    from jaxgan import train
    config = ctgan.get_config()
    config.update_from_flattened_dict(fields)
    config.dataset, config.seed, config.table.epochs = f'table:{table}', seed, epochs
    config.log_every = config.checkpoint_every = config.sample_every = 10 ** 6
    start = time.perf_counter()
    trained = train.train(ctgan.with_epochs(config), workdir)
    seconds = time.perf_counter() - start
    state, gan = trained.state, trained.gan
    rows = gan.sample(state.ema['G'], state.model_state['G'], len(trained.dataset.train), seed=seed,
                      batch_size=config.batch_size, bn=config.sample_bn)
    return rows, seconds


def _peer(train_rows, discrete: list[str], seed: int, epochs: int):
    """(synthetic rows, seconds) of the ctgan package with its defaults."""
    import torch
    from ctgan import CTGAN
    torch.manual_seed(seed)
    model = CTGAN(epochs=epochs, batch_size=500, pac=10)
    model.set_random_state(seed)
    start = time.perf_counter()
    model.fit(train_rows, discrete_columns=discrete)
    seconds = time.perf_counter() - start
    return model.sample(len(train_rows)), seconds


def _fit(system: str, table: str, train_rows, discrete: list[str], seed: int, epochs: int):
    with tempfile.TemporaryDirectory() as workdir:
        if system in JAXGAN:
            return _jaxgan(table, seed, epochs, workdir, JAXGAN[system])
        return _peer(train_rows, discrete, seed, epochs)


def main(argv) -> None:
    del argv
    f = flags.FLAGS
    from jaxgan.data import tables
    from jaxgan.metrics import table as table_metrics
    rows = []
    for name in f.tables:
        for seed in range(f.seeds):
            train_rows, holdout = tables.split(tables.read_table(f'table:{name}'), 0.2, seed)
            kinds = tables.infer_kinds(train_rows, {})
            discrete = [c for c, k in kinds.items() if k in ('categorical', 'boolean')]
            for system in f.systems:
                fit = lambda epochs: _fit(system, name, train_rows, discrete, seed, epochs)
                synthetic, seconds = fit(f.epochs)
                report = table_metrics.report(train_rows, synthetic, holdout, kinds, target=TARGETS[name], seed=seed)
                row = {'table': name, 'seed': seed, 'system': system, 'epochs': f.epochs,
                       'seconds_per_epoch': seconds / f.epochs, **report['summary']}
                if 0 < f.short_epochs < f.epochs:
                    _, short = fit(f.short_epochs)
                    marginal = (seconds - short) / (f.epochs - f.short_epochs)
                    row.update(short_epochs=f.short_epochs, seconds_per_epoch_marginal=marginal,
                               start_seconds=seconds - marginal * f.epochs)
                print(json.dumps(row), flush=True)
                rows.append(row)
                _write(f.out, rows, f.epochs)


def _write(path: str, rows: list[dict], epochs: int) -> None:
    means = []
    for name in sorted({r['table'] for r in rows}):
        for system in sorted({r['system'] for r in rows}):
            mine = [r for r in rows if r['table'] == name and r['system'] == system]
            if mine:
                fields = (*SUMMARY, *TIMES)
                means.append({'table': name, 'system': system, 'seeds': len(mine),
                              **{k: statistics.fmean(r[k] for r in mine if r.get(k) is not None) for k in fields
                                 if any(r.get(k) is not None for r in mine)},
                              **{f'{k}_std': statistics.pstdev([r[k] for r in mine]) for k in fields
                                 if all(r.get(k) is not None for r in mine)}})
    processes.write_results(path, {'epochs': epochs, 'means': means, 'runs': rows})


if __name__ == '__main__':
    app.run(main)
