"""Mode collapse on stacked digits: DCGAN against minibatch discrimination, PacGAN2 and 4, R1, two G updates, width 32.

    python benchmarks/stacked_digits.py [--seeds=3] [--first_seed=0] [--steps=400] [--eval_samples=26000]
        [--configs=dcgan,pacgan2] [--classifier=DIR] [--out=benchmarks/results/stacked_digits.json]

Each run is a fresh process, `python -m experiments.stacked_mnist --config.dataset=stacked:digits` at
32x32 with one config of CONFIGS, a seed and a fixed step budget, timed from start to exit (start-up,
compilation, training, the mode count). All runs share one digits classifier (trained first, or
--classifier=DIR) and a compilation cache, so the seeds of a config compile once. Prints the mean and
standard deviation over seeds of the modes (of 1,000) and the KL of the mode histogram to uniform,
beside the published figures on stacked MNIST (PacGAN, Lin et al. 2018, table 3; VEEGAN, Srivastava et
al. 2017, table 2; 26,000 samples) and the training data's own modes under the same classifier.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import processes  # benchmarks/processes.py

REPO = processes.REPO
# Every run: stacked_mnist's DCGAN without its packing; each config adds its fields to these.
COMMON = {'dataset': 'stacked:digits', 'model.pack': 1, 'log_every': 100, 'sample_every': 100_000,
          'checkpoint_every': 100_000}
# R1 (Mescheder et al. 2018) needs a D that treats examples independently: LayerNorm in place of BatchNorm.
R1 = {'model.d_norm': 'layer', 'penalties.r1': 1.0}
CONFIGS = {
    'dcgan': {},
    'pacgan2': {'model.pack': 2},
    'pacgan4': {'model.pack': 4},
    'minibatch': {'model.minibatch_discrimination': 100},
    'r1': R1,
    'pacgan2_r1': {'model.pack': 2, **R1},
    # G updated twice per step, as carpedm20's DCGAN-tensorflow that PacGAN's stacked-MNIST code runs
    'dcgan_g2': {'n_gen': 2},
    'pacgan2_g2': {'model.pack': 2, 'n_gen': 2},
    'pacgan4_g2': {'model.pack': 4, 'n_gen': 2},
    # wider networks, towards the papers' DCGAN (width 64): G alone, and both
    'dcgan_g32': {'model.g_width': 32},
    'dcgan_w32': {'model.g_width': 32, 'model.d_width': 32},
}
PUBLISHED = {'DCGAN': (99.0, 3.40), 'PacDCGAN2': (1000.0, 0.06)}  # (modes, KL): PacGAN table 3


def write(args, classifier_seconds: float, runs: list) -> None:
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump({'steps': args.steps, 'seeds': list(range(args.first_seed, args.first_seed + args.seeds)),
                   'eval_samples': args.eval_samples,
                   'classifier_seconds': round(classifier_seconds, 1), 'runs': runs}, f, indent=1)


def main() -> None:
    parser = processes.parser(CONFIGS, steps=400, out='stacked_digits.json')
    parser.add_argument('--eval_samples', type=int, default=26_000)
    args = parser.parse_args()
    names = processes.chosen(parser, args, CONFIGS)
    env = processes.environment()
    with tempfile.TemporaryDirectory() as scratch:
        env.setdefault('JAX_COMPILATION_CACHE_DIR', os.path.join(scratch, 'xla'))
        classifier = args.classifier
        start = time.perf_counter()
        if not classifier:
            classifier = os.path.join(scratch, 'classifier')
            subprocess.run([sys.executable, '-m', 'jaxgan.metrics.classifier', '--dataset=digits', '--image_size=32',
                            '--steps=2000', f'--out={classifier}'], check=True, capture_output=True, env=env)
        classifier_seconds = time.perf_counter() - start
        runs = []
        for seed in range(args.first_seed, args.first_seed + args.seeds):  # seed by seed: a stopped run has every config
            for name in names:
                workdir = os.path.join(scratch, f'{name}_{seed}')
                fields = {**COMMON, **CONFIGS[name], 'seed': seed, 'num_steps': args.steps,
                          'eval_samples': args.eval_samples, 'mode_classifier': classifier}
                start = time.perf_counter()
                done = subprocess.run([sys.executable, '-m', 'experiments.stacked_mnist', f'--workdir={workdir}',
                                       *(f'--config.{k}={v}' for k, v in fields.items())],
                                      capture_output=True, text=True, env=env, cwd=REPO)
                seconds = time.perf_counter() - start
                if done.returncode:
                    sys.exit(f'{name} seed {seed} failed:\n{done.stderr[-3000:]}')
                with open(os.path.join(workdir, 'stacked_modes.json')) as f:
                    result = json.load(f)
                result.pop('protocol')
                result.update(config=name, fields={k: v for k, v in CONFIGS[name].items()}, seed=seed,
                              seconds=round(seconds, 1))
                runs.append(result)
                print(json.dumps(result), flush=True)
                write(args, classifier_seconds, runs)  # after every run: a stopped benchmark keeps what it ran
    print(f'\n{"config":12} {"modes of 1000":>16} {"KL to uniform":>16} {"seconds":>10}')
    for name in names:
        r = [x for x in runs if x['config'] == name]
        col = lambda k: np.array([x[k] for x in r], float)
        fmt = lambda a, p: f'{a.mean():.{p}f} +- {a.std():.{p}f}'
        print(f'{name:12} {fmt(col("modes"), 1):>16} {fmt(col("kl_to_uniform"), 3):>16} {fmt(col("seconds"), 0):>10}')
    print(f'training data under the same classifier: {runs[0]["data_modes"]} modes, KL '
          f'{runs[0]["data_kl_to_uniform"]:.3f} ({runs[0]["data_examples"]} examples)')
    print('published (stacked MNIST, 26,000 samples): ' + ', '.join(f'{k} {m:.0f} modes, KL {kl}'
                                                                  for k, (m, kl) in PUBLISHED.items()))


if __name__ == '__main__':
    main()
