"""Differentially private tables against their peers: jaxgan's private CTGAN against smartnoise-synth's
DPCTGAN and PATECTGAN, on the same training rows, budget and public schema (docs/privacy.md, 'Measured').

    python benchmarks/dp_tables.py --peer_python=ENV/bin/python                  # epsilon 1, 3, 10; seeds 0-4
    python benchmarks/dp_tables.py --systems=jaxgan --epsilons=3 --seeds=1 \\
        --jaxgan_fields=model.pack=1,n_critic=1,table.epochs=100 --out=/tmp/tune.json   # a setting tried

ENV is an environment of its own with `pip install smartnoise-synth` (PyTorch and Opacus; not a
dependency of jaxgan): benchmarks/dp_peer.py runs there on jaxgan's training split (holdout 0.2 with the
seed) written as CSV, given the same public schema jaxgan has (table_privacy.PUBLIC_SCHEMA's ranges of the
numerical columns, the categories of the discrete ones), so neither spends budget on bounds. Systems:
`jaxgan` (experiments.ctgan's config with privacy, --jaxgan_fields on top), `public` (experiments.ctgan's
non-private default: the ceiling), `dpctgan` and `patectgan` (the library's defaults), and synthcity's
`synthcity_dpgan`, `synthcity_pategan` and `synthcity_adsgan` (benchmarks/synthcity_peer.py, run by
--synthcity_python, an environment with `pip install synthcity`; ADS-GAN has no privacy budget: it runs once
per seed, epsilon none, with `dp` false in its row, as `public`). Every system samples
as many rows as the training rows; each sample is scored by jaxgan.metrics.table.report (column shapes,
column pair trends, efficacy on the target against the same holdout) and
jaxgan.metrics.privacy_attacks.report (GAN-Leaks' membership advantage) against the same rows. Seconds per
epoch: jaxgan's steady training rate (the monitor's steps_per_s, compilation apart), and beside it its
whole fit (loading, encoding, compilation, training) over its epochs; the peer's whole fit over the epochs
it trained (DPCTGAN stops at the first epoch that finds its budget spent; PATECTGAN trains until its
accountant reaches epsilon, epochs aside).
Writes --out (JSON): a row per epsilon, seed and system, and means and standard deviations over seeds.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import processes  # noqa: E402  (benchmarks/processes.py)

flags.DEFINE_string('dataset', 'table:diabetes', 'An embedded table with public bounds (table_privacy.PUBLIC_SCHEMA: table:diabetes).')
flags.DEFINE_string('target', 'progression', 'The efficacy target.')
flags.DEFINE_list('epsilons', ['1', '3', '10'], 'Budgets (delta --delta).')
flags.DEFINE_float('delta', 1e-5, 'The budget\'s delta.')
flags.DEFINE_list('systems', ['jaxgan', 'dpctgan', 'patectgan', 'public'], 'Systems.')
flags.DEFINE_integer('seeds', 5, 'Seeds 0 .. seeds - 1.')
flags.DEFINE_integer('first_seed', 0, 'The first seed.')
flags.DEFINE_string('peer_python', '', 'The Python of an environment with smartnoise-synth.')
flags.DEFINE_string('synthcity_python', '', 'The Python of an environment with synthcity (the synthcity_* systems).')
flags.DEFINE_string('peer_args', '', 'Comma-separated key=value arguments for the synthcity plugins, on top of the '
                    'library\'s defaults (a departure, recorded in the row: e.g. n_iter=300).')
flags.DEFINE_string('jaxgan_fields', '', 'Comma-separated key=value config fields for jaxgan and public (settings tried).')
flags.DEFINE_integer('peer_timeout', 1800, 'Seconds a peer fit may take.')
flags.DEFINE_string('out', 'benchmarks/results/dp_tables.json', 'The results file (rows already there are kept).')

SYNTHCITY = 'synthcity_'  # the prefix of the systems benchmarks/synthcity_peer.py runs
NOT_PRIVATE = ('public', 'synthcity_adsgan')  # no budget: one run per seed, epsilon none
FIELDS = ('column_shapes', 'column_pair_trends', 'efficacy_ratio', 'mia_advantage', 'mia_calibrated_advantage',
          'dcr_ratio', 'seconds_per_epoch', 'fit_seconds_per_epoch', 'fit_seconds', 'noise_multiplier', 'epochs',
          'epsilon_spent')


def _jaxgan(dataset: str, rows: int, seed: int, epsilon: float | None, delta: float, workdir: str, fields: dict):
    """(synthetic rows, fit seconds, epochs, noise multiplier) of experiments.ctgan's default, private where
    epsilon is given."""
    from experiments import ctgan
    from jaxgan import train
    config = ctgan.get_config()
    config.dataset, config.seed = dataset, seed
    if epsilon is not None:
        config.privacy.epsilon, config.privacy.delta = epsilon, delta
    config.update_from_flattened_dict(fields)
    config.log_every = config.checkpoint_every = config.sample_every = 10 ** 6
    start = time.perf_counter()
    config = ctgan.with_epochs(config, kept=fields)
    config.log_every = max(config.num_steps // 4, 1)  # the monitor's steps_per_s: steady state, compilation apart
    trained = train.train(config, workdir)
    seconds = time.perf_counter() - start
    with open(os.path.join(workdir, 'metrics.jsonl')) as lines:
        rates = [r['steps_per_s'] for r in map(json.loads, lines) if r.get('steps_per_s')]
    steps_per_epoch = max(rows // config.batch_size, 1)  # CTGAN's epoch, whatever config.table.min_steps adds
    gan = trained.gan
    synthetic = gan.sample(trained.state.ema['G'], trained.state.model_state['G'], rows, seed=seed,
                           batch_size=config.batch_size, bn=config.sample_bn)
    sigma = gan.privacy.sigma if gan.privacy is not None else None
    steady = steps_per_epoch / statistics.fmean(rates) if rates else None
    return synthetic, seconds, config.table.epochs, sigma, steady


def _schema(dataset: str) -> tuple[list[str], str]:
    """(the discrete columns, 'COLUMN=LOW:HIGH;...' of the numerical ones): the public schema jaxgan's private
    run declares (table_privacy.PUBLIC_SCHEMA), given to the peers too."""
    from jaxgan import privacy
    from jaxgan.data import table_privacy
    public = table_privacy.PUBLIC_SCHEMA.get(dataset, {})
    if 'bounds' not in public:
        with_bounds = [name for name, schema in table_privacy.PUBLIC_SCHEMA.items() if 'bounds' in schema]
        raise app.UsageError(f'--dataset={dataset}: no public bounds of its numerical columns (tables with them: '
                             f'{", ".join(with_bounds)}); the peers need declared ranges')
    return list(privacy.parse_categories(public.get('categories', ''))), public['bounds']


def _peer(system: str, train_rows, discrete: list[str], bounds: str, seed: int, epsilon: float, delta: float,
          workdir: str):
    import pandas as pd
    path, out = os.path.join(workdir, 'train.csv'), os.path.join(workdir, 'synthetic.csv')
    train_rows.to_csv(path, index=False)
    synthcity = system.startswith(SYNTHCITY)
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'synthcity_peer.py' if synthcity else 'dp_peer.py')
    python = flags.FLAGS.synthcity_python if synthcity else flags.FLAGS.peer_python
    budget = [] if epsilon is None else [f'--epsilon={epsilon}', f'--delta={delta}']
    done = subprocess.run([python, script, f'--system={system.removeprefix(SYNTHCITY)}', f'--train={path}',
                           f'--categorical={",".join(discrete)}', f'--bounds={bounds}', f'--seed={seed}',
                           *budget, *([f'--plugin_args={flags.FLAGS.peer_args}'] if synthcity and flags.FLAGS.peer_args else []),
                           f'--out={out}'],
                          capture_output=True, text=True, timeout=flags.FLAGS.peer_timeout)
    if done.returncode:
        raise RuntimeError(f'{system} failed: {done.stderr[-2000:]}')
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return pd.read_csv(out), result


def main(argv) -> None:
    del argv
    f = flags.FLAGS
    from jaxgan.data import tables
    from jaxgan.metrics import privacy_attacks, table as table_metrics
    rows = []
    if os.path.exists(f.out):
        with open(f.out) as existing:
            rows = json.load(existing)['runs']
    fields = processes.config_fields(f.jaxgan_fields)
    for seed in range(f.first_seed, f.first_seed + f.seeds):
        train_rows, holdout = tables.split(tables.read_table(f.dataset), 0.2, seed)
        kinds = tables.infer_kinds(train_rows, {})
        discrete, bounds = _schema(f.dataset)
        for system in f.systems:
            for eps_text in (['none'] if system in NOT_PRIVATE else f.epsilons):
                epsilon = None if system in NOT_PRIVATE else float(eps_text)
                with tempfile.TemporaryDirectory() as workdir:
                    extra = {}
                    if system in ('jaxgan', 'public'):
                        mine = fields  # `public` with the same fields: the setting without privacy
                        synthetic, seconds, epochs, sigma, steady = _jaxgan(f.dataset, len(train_rows), seed,
                                                                            epsilon, f.delta, workdir, mine)
                        extra = {'fit_seconds': seconds, 'epochs': epochs, 'seconds_per_epoch': steady,
                                 'fit_seconds_per_epoch': seconds / epochs, 'noise_multiplier': sigma}
                    else:
                        synthetic, extra = _peer(system, train_rows, discrete, bounds, seed, epsilon, f.delta, workdir)
                        extra.pop('system', None)  # the peer's own name for it (dpgan): the row keeps this one's
                quality = table_metrics.report(train_rows, synthetic, holdout, kinds, target=f.target, seed=seed)
                attack = privacy_attacks.report(train_rows, synthetic, holdout, kinds, seed=seed)
                row = {'dataset': f.dataset, 'epsilon': epsilon, 'delta': f.delta if epsilon else None, 'seed': seed,
                       'system': system, 'dp': system not in NOT_PRIVATE, 'jaxgan_fields': f.jaxgan_fields if system in ('jaxgan', 'public') else '',
                       'peer_args': f.peer_args if system.startswith(SYNTHCITY) else '', **extra,
                       **{k: quality['summary'].get(k) for k in ('column_shapes', 'column_pair_trends',
                                                                  'efficacy_ratio', 'fidelity')},
                       **{k: attack['summary'][k] for k in ('mia_advantage', 'mia_auc', 'mia_calibrated_advantage',
                                                            'dcr_ratio', 'exact_copies')}}
                print(json.dumps(row), flush=True)
                rows.append(row)
                _write(f.out, rows)


def _write(path: str, rows: list[dict]) -> None:
    processes.write_results(path, {'means': processes.seed_means(rows, ('system', 'jaxgan_fields', 'peer_args', 'epsilon'), FIELDS),
                                   'runs': rows})


if __name__ == '__main__':
    app.run(main)
