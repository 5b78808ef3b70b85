"""The translation demos, measured: pix2pix against L1 alone, CycleGAN with and without the cycle loss.

    python benchmarks/translation_demos.py [--seeds=3] [--steps=1000] [--configs=pix2pix,l1_only,...]
        [--workdirs=DIR] [--classifier=DIR] [--out=benchmarks/results/translation_demos.json]

Each run is a fresh process of `experiments.pix2pix_demo` or `experiments.cyclegan_demo` with one config
of CONFIGS, a seed and a fixed step budget (the learning rate held for half of it, then decayed to 0, as
in the demos), timed from start to exit. The experiment scores the test split after training
(`translation_scores.json`): L1, PSNR, SSIM and sharpness against the true translations, the class
accuracy of the translations under a digits classifier (trained first on `digits:train`, or
--classifier=DIR), and FID and KID of the translations against the target domain in that classifier's
features. Time per step is the mean of the logged steps/s past the first log row (which holds the
compilation): measure it on an otherwise idle machine.

The paper's comparisons: pix2pix's U-Net trained with the adversarial term and 100 L1 against the same
U-Net on L1 alone (Isola et al. 2017, section 4.2: L1 alone is blurry); CycleGAN with its cycle loss
against the adversarial (and identity) losses alone (Zhu et al. 2017, section 5.1.4: without the cycle
the translation need not keep its input's content). --workdirs keeps the runs: run again with the same
directory and finished runs are only scored again.
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
COMMON = {'log_every': 100, 'sample_every': 100_000, 'checkpoint_every': 100_000}
CONFIGS = {  # name: (experiment, fields)
    'pix2pix': ('pix2pix_demo', {}),
    'l1_only': ('pix2pix_demo', {'g_objective.adversarial': 0.0}),
    'cyclegan': ('cyclegan_demo', {}),
    'no_cycle': ('cyclegan_demo', {'translation.cycle': 0.0}),
}
SHOWN = ('l1', 'psnr', 'ssim', 'sharpness', 'accuracy', 'fid', 'kid', 'ms_per_step')


def ms_per_step(workdir: str) -> float:
    """Milliseconds per step: the mean logged steps/s of metrics.jsonl past its first row."""
    with open(os.path.join(workdir, 'metrics.jsonl')) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    rates = [r['steps_per_s'] for r in rows[1:] if r.get('steps_per_s')]
    return round(1000.0 / float(np.mean(rates)), 1) if rates else float('nan')


def main() -> None:
    parser = processes.parser(CONFIGS, steps=1000, out='translation_demos.json')
    parser.add_argument('--workdirs', default='', help='keep the runs here (default: a temporary folder)')
    args = parser.parse_args()
    names = processes.chosen(parser, args, CONFIGS)
    env = processes.environment()
    with tempfile.TemporaryDirectory() as scratch:
        root = args.workdirs or scratch
        os.makedirs(root, exist_ok=True)
        env.setdefault('JAX_COMPILATION_CACHE_DIR', os.path.join(root, 'xla'))
        classifier = args.classifier or os.path.join(root, 'classifier')
        if not os.path.exists(os.path.join(classifier, 'classifier.json')):
            subprocess.run([sys.executable, '-m', 'jaxgan.metrics.classifier', '--dataset=digits:train', '--image_size=32',
                            '--steps=2000', f'--out={classifier}'], check=True, capture_output=True, env=env)
        runs = []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for name in names:
                experiment, fields = CONFIGS[name]
                workdir = os.path.join(root, f'{name}_{seed}')
                flags = {**COMMON, **fields, 'seed': seed, 'num_steps': args.steps,
                         'eval.features': f'classifier:{classifier}'}
                start = time.perf_counter()
                done = subprocess.run([sys.executable, '-m', f'experiments.{experiment}', f'--workdir={workdir}',
                                       *(f'--config.{k}={v}' for k, v in flags.items())],
                                      capture_output=True, text=True, env=env, cwd=REPO)
                seconds = time.perf_counter() - start
                if done.returncode:
                    sys.exit(f'{name} seed {seed} failed:\n{done.stderr[-3000:]}')
                with open(os.path.join(workdir, 'translation_scores.json')) as f:
                    result = json.load(f)
                result.update(config=name, experiment=experiment, fields=fields, seed=seed,
                              ms_per_step=ms_per_step(workdir), seconds=round(seconds, 1))
                runs.append(result)
                print(json.dumps(result), flush=True)
                os.makedirs(os.path.dirname(args.out), exist_ok=True)
                with open(args.out, 'w') as f:  # after every run: a stopped benchmark keeps what it ran
                    json.dump({'steps': args.steps, 'seeds': list(range(args.first_seed, args.first_seed + args.seeds)),
                               'runs': runs}, f, indent=1)
    print(f'\n{"config":10}' + ''.join(f'{k:>18}' for k in SHOWN))
    for name in names:
        r = [x for x in runs if x['config'] == name]
        cells = []
        for key in SHOWN:
            values = np.array([x[key] for x in r if x.get(key) is not None], float)
            cells.append(f'{values.mean():.3g} +- {values.std():.2g}' if len(values) else '-')
        print(f'{name:10}' + ''.join(f'{c:>18}' for c in cells))


if __name__ == '__main__':
    main()
