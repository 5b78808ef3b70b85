"""toy_2d on its default config over several seeds: mode coverage and wall time.

    python benchmarks/toy_2d_seeds.py [--seeds=5] [--processes] [--mixtures=ring8,grid25] [--out=benchmarks/results/toy_2d_seeds.json] [--config.FIELD=VALUE ...]

By default the seeds of a mixture train as one ensemble, in one process:
`python -m experiments.toy_2d --config.dataset=toy:NAME --config.ensemble.size=SEEDS` (member i has
seed i), timed from start to exit (start-up, compilation, training, evaluation); each seed's row carries
that whole process's time. With --processes, each seed is a process of its own, `--config.seed=S`, timed
the same way. Prints a table of the mean and standard deviation over seeds, for each mixture of
--mixtures (default ring8 and grid25; any toy:ringK or toy:gridN name, e.g. --mixtures=ring32,grid100),
beside the published figures where there are some (PacGAN, table 1), and the wall time of all the seeds
of a mixture. Further
`--config.FIELD=VALUE` arguments go to every run, to measure another config the same way.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from jaxgan.data import toy

PUBLISHED = {  # (modes, high-quality %) from PacGAN (Lin et al. 2018), table 1
    'ring8': {'PacGAN4': (7.8, 95.9), 'VEEGAN': (8, 52.9), 'GAN': (6.3, None)},
    'grid25': {'PacGAN4': (24.8, 93.6), 'VEEGAN': (24.6, 40.0), 'GAN': (17.3, None)},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--seeds', type=int, default=5)
    parser.add_argument('--processes', action='store_true', help='a process per seed, not one ensemble')
    parser.add_argument('--mixtures', default='ring8,grid25', help='comma-separated toy mixtures: ringK, gridN')
    parser.add_argument('--out', default=os.path.join(os.path.dirname(__file__), 'results', 'toy_2d_seeds.json'))
    args, overrides = parser.parse_known_args()
    if any(not a.startswith('--config.') for a in overrides):
        parser.error(f'unknown arguments {overrides}: only --config.FIELD=VALUE passes on to the runs')
    mixtures = [m.strip().removeprefix('toy:') for m in args.mixtures.split(',') if m.strip()]
    bad = [m for m in mixtures if not toy.is_mixture(m) or m == 'gauss1d']
    if bad or not mixtures:
        parser.error(f'--mixtures={args.mixtures}: {", ".join(bad) or "none"} not 2-d toy mixtures ({toy.FORMS})')
    runs, wall = [], {}
    for name in mixtures:
        groups = [[seed] for seed in range(args.seeds)] if args.processes else [list(range(args.seeds))]
        wall[name] = 0.0
        for seeds in groups:
            with tempfile.TemporaryDirectory() as workdir:
                which = [f'--config.seed={seeds[0]}'] if len(seeds) == 1 else [f'--config.ensemble.size={len(seeds)}']
                start = time.perf_counter()
                subprocess.run([sys.executable, '-m', 'experiments.toy_2d', f'--workdir={workdir}',
                                f'--config.dataset=toy:{name}', *which, *overrides], check=True, capture_output=True)
                seconds = time.perf_counter() - start
                results = json.load(open(os.path.join(workdir, 'mode_coverage.json')))
            wall[name] += seconds
            for seed, result in zip(seeds, results if isinstance(results, list) else [results]):
                result.update(seed=seed, seconds=seconds, ensemble=len(seeds) > 1, overrides=overrides)
                runs.append(result)
                print(json.dumps(result), flush=True)
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, 'w') as f:  # after each mixture: a long run stopped keeps what it finished
            json.dump(runs, f, indent=1)
    print(f'\n{"mixture":8} {"modes":>14} {"high quality %":>16} {"reverse KL":>14} {"seconds":>12}')
    for name in mixtures:
        r = [x for x in runs if x['dataset'] == f'toy:{name}']
        col = lambda k, scale=1.0: np.array([x[k] for x in r], float) * scale
        fmt = lambda a, p: f'{a.mean():.{p}f} +- {a.std():.{p}f}'
        print(f'{name:8} {fmt(col("modes"), 1):>14} {fmt(col("high_quality", 100), 1):>16} '
              f'{fmt(col("reverse_kl"), 3):>14} {fmt(col("seconds"), 0):>12}')
        print(f'{"":8} all {args.seeds} seeds: {wall[name]:.0f} s of wall time '
              f'({"a process per seed" if args.processes else "one ensemble"})')
        if name in PUBLISHED:
            print(f'{"":8} published: ' + ', '.join(f'{k} {m}/{r[0]["num_modes"]}' + (f' at {hq}%' if hq else '')
                                                    for k, (m, hq) in PUBLISHED[name].items()))


if __name__ == '__main__':
    main()
