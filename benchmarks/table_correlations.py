"""Whether synthetic rows keep the pairwise dependences: jaxgan's CTGAN against the `ctgan` package's
CTGAN and TVAE, on the embedded tables and three tables of known strong dependences.

    python benchmarks/table_correlations.py --peer_python=ENV/bin/python          # seeds 0-2, every table
    python benchmarks/table_correlations.py --tables=linear --systems=jaxgan --seeds=1 --out=/tmp/q.json

ENV is an environment of its own with `pip install ctgan` (the peer is not a dependency of jaxgan; its
rdt needs pandas below 3): benchmarks/ctgan_peer.py runs there, on the same training rows written as
CSV. Tables: table:diabetes and table:breast_cancer (embedded), and benchmarks/dependence_tables.py's
linear, monotone and category_shift (--rows rows, drawn with seed 0). For each table and seed the systems
train on the same training rows (jaxgan's split: holdout 0.2 with the seed) with their defaults
(jaxgan: experiments.ctgan's config; ctgan: batch 500, pac 10; TVAE: batch 500), --epochs epochs, the
same discrete columns (those jaxgan's type inference finds), and sample as many rows as the training
rows. Every sample is scored by jaxgan.metrics.table.report against the same training rows (its
`quality`: SDMetrics' column shapes and column pair trends, the largest Pearson and Spearman gaps over
numeric pairs; its privacy: exact copies). Seconds per epoch are the whole fit over the epochs (jaxgan:
loading, transform fitting, compilation, training; the package: the same without compilation); num_steps
the generator steps trained (jaxgan's config.table.min_steps raises a small table's).
--sample_modes=draw,argmax samples each jaxgan training both ways (config.table.sample_modes), a row each.
Writes --out (JSON): a row per table, seed and system, and means and standard deviations over seeds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import processes  # noqa: E402  (benchmarks/processes.py)

flags.DEFINE_list('tables', ['linear', 'monotone', 'category_shift', 'diabetes', 'breast_cancer'], 'Tables.')
flags.DEFINE_list('systems', ['jaxgan', 'ctgan', 'tvae'], 'jaxgan (experiments.ctgan), ctgan and tvae (the package).')
flags.DEFINE_integer('seeds', 3, 'Seeds first_seed .. first_seed + seeds - 1.')
flags.DEFINE_integer('first_seed', 0, 'The first seed (more seeds of a table, run apart and merged).')
flags.DEFINE_integer('epochs', 300, 'Epochs for every system.')
flags.DEFINE_integer('rows', 2000, 'Rows of each dependence table.')
flags.DEFINE_string('peer_python', '', 'The Python of an environment with the ctgan package (for ctgan, tvae).')
flags.DEFINE_string('jaxgan_fields', '', 'Comma-separated key=value config fields for jaxgan (ablations).')
flags.DEFINE_list('sample_modes', ['draw'], 'jaxgan: each training sampled with each of these '
                  'config.table.sample_modes (draw, argmax), a row each.')
flags.DEFINE_string('out', 'benchmarks/results/table_correlations.json', 'The results file.')

EMBEDDED = {'diabetes': 'progression', 'breast_cancer': 'diagnosis'}
FIELDS = ('max_pearson_gap', 'max_spearman_gap', 'column_pair_trends', 'column_pair_trends_all', 'column_shapes',
          'fidelity', 'exact_copies', 'near_copies', 'dcr_ratio', 'efficacy_ratio', 'seconds_per_epoch', 'num_steps')


def _jaxgan(dataset: str, train_rows, seed: int, epochs: int, workdir: str, fields: dict, sample_modes: list[str]):
    """(a sample of as many rows as train_rows per entry of sample_modes, the fit's seconds, its steps)."""
    from experiments import ctgan
    from jaxgan import train
    config = ctgan.get_config()
    config.update_from_flattened_dict(fields)
    config.dataset, config.seed, config.table.epochs = dataset, seed, epochs
    config.log_every = config.checkpoint_every = config.sample_every = 10 ** 6
    start = time.perf_counter()
    config = ctgan.with_epochs(config)
    trained = train.train(config, workdir)
    seconds = time.perf_counter() - start
    state, gan = trained.state, trained.gan
    samples = {modes: gan.sample(state.ema['G'], state.model_state['G'], len(train_rows), seed=seed,
                                 batch_size=config.batch_size, bn=config.sample_bn, modes=modes)
               for modes in sample_modes}
    return samples, seconds, config.num_steps


def _peer(system: str, train_rows, discrete: list[str], seed: int, epochs: int, workdir: str):
    import pandas as pd
    path, out = os.path.join(workdir, 'train.csv'), os.path.join(workdir, 'synthetic.csv')
    train_rows.to_csv(path, index=False)
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'ctgan_peer.py')
    done = subprocess.run([flags.FLAGS.peer_python, script, f'--system={system}', f'--train={path}',
                           f'--discrete={",".join(discrete)}', f'--seed={seed}', f'--epochs={epochs}', f'--out={out}'],
                          check=True, capture_output=True, text=True)
    seconds = json.loads(done.stdout.strip().splitlines()[-1])['seconds']
    # The package's updates at batch 500: CTGAN's max(n // 500, 1) an epoch, TVAE's DataLoader keeps the last
    # partial batch (drop_last=False): ceil(n / 500)
    n = len(train_rows)
    return pd.read_csv(out), seconds, epochs * (max(n // 500, 1) if system == 'ctgan' else -(-n // 500))


def main(argv) -> None:
    del argv
    f = flags.FLAGS
    import dependence_tables
    from jaxgan.data import tables
    from jaxgan.metrics import table as table_metrics
    rows, data_dir = [], tempfile.mkdtemp()
    for name in f.tables:
        if name in EMBEDDED:
            dataset = f'table:{name}'
        else:
            dataset = f'csv:{os.path.join(data_dir, name + ".csv")}'
            dependence_tables.make(name, f.rows, 0).to_csv(dataset[4:], index=False)
        for seed in range(f.first_seed, f.first_seed + f.seeds):
            train_rows, holdout = tables.split(tables.read_table(dataset), 0.2, seed)
            kinds = tables.infer_kinds(train_rows, {})
            discrete = [c for c, k in kinds.items() if k in ('categorical', 'boolean')]
            for system in f.systems:
                with tempfile.TemporaryDirectory() as workdir:
                    if system == 'jaxgan':
                        samples, seconds, steps = _jaxgan(dataset, train_rows, seed, f.epochs, workdir,
                                                          processes.config_fields(f.jaxgan_fields), f.sample_modes)
                    else:
                        synthetic, seconds, steps = _peer(system, train_rows, discrete, seed, f.epochs, workdir)
                        samples = {'': synthetic}
                for modes, synthetic in samples.items():
                    report = table_metrics.report(train_rows, synthetic, holdout, kinds, target=EMBEDDED.get(name),
                                                  seed=seed)
                    row = {'table': name, 'seed': seed, 'system': system, 'epochs': f.epochs, 'num_steps': steps,
                           'jaxgan_fields': f.jaxgan_fields if system == 'jaxgan' else '',
                           **({'sample_modes': modes} if modes and modes != 'draw' else {}),
                           'seconds_per_epoch': seconds / f.epochs, **report['summary'],
                           'pearson_pairs': report['quality']['correlation_gaps']['pearson']['pairs']}
                    print(json.dumps({k: v for k, v in row.items() if k != 'pearson_pairs'}), flush=True)
                    rows.append(row)
                    _write(f.out, rows, f.epochs, f.rows)


def _write(path: str, rows: list[dict], epochs: int, table_rows: int) -> None:
    # A mean per table, system, jaxgan fields and epochs (files of several runs merged keep them apart)
    means = processes.seed_means(rows, ('table', 'system', 'jaxgan_fields', 'sample_modes', 'epochs'), FIELDS)
    processes.write_results(path, {'epochs': epochs, 'dependence_table_rows': table_rows, 'means': means,
                                   'runs': rows})


if __name__ == '__main__':
    app.run(main)
