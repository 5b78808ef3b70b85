"""Mode collapse on stacked digits: DCGAN against minibatch discrimination, PacGAN2 and 4, R1, two G updates,
width 32, and SNGAN's D (spectral normalisation, hinge loss) at widths 16 and 32, with G at 16 or 32.

    python benchmarks/stacked_digits.py [--seeds=3] [--first_seed=0] [--steps=400] [--counts_at=3000,6000]
        [--eval_samples=26000] [--configs=dcgan,pacgan2] [--classifier=DIR]
        [--datasets=stacked:digits,folder:DATA/stacked_nearest32] [--own_classifiers=DIR]
        [--out=benchmarks/results/stacked_digits.json]

Each run is a fresh process, `python -m experiments.stacked_mnist --config.dataset=stacked:digits` at
32x32 with one config of CONFIGS, a seed and a fixed step budget, timed from start to exit (start-up,
compilation, training, the mode count). All runs share one digits classifier (trained first, or
--classifier=DIR) and a compilation cache, so the seeds of a config compile once. Prints the mean and
standard deviation over seeds of the modes (of 1,000) and the KL of the mode histogram to uniform,
beside the published figures on stacked MNIST (PacGAN, Lin et al. 2018, table 3; VEEGAN, Srivastava et
al. 2017, table 2; 26,000 samples) and the training data's own modes under the same classifier.
--datasets runs every config on each of several data, for the same digits brought another way (the
renderings of benchmarks/renderings.py, through `folder:` or `npy:`): stacked images brought as files are
counted by a classifier trained on their own channels (experiments.stacked_mnist's rule), trained by the
first run on those data and shared by the rest (kept across invocations in --own_classifiers); so is
`stacked:` data of another source than the digits (stacked:tfds:mnist: a classifier of its own digits,
experiments.stacked_mnist's rule); `stacked:digits` uses --classifier's.
--counts_at also counts each run's modes at those earlier steps, from checkpoints kept for them, with
the same classifier, sample count and latents (`jaxgan.evaluate --metrics=stacked`; not in the seconds).
"""

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

import processes  # benchmarks/processes.py
from experiments.stacked_mnist import SAMPLE_SEED, get_config
from jaxgan.metrics import modes

REPO = processes.REPO
# Every run: DCGAN as the paper has it (BatchNorm in D, the non-saturating loss, both networks at width 16) on
# stacked_mnist's data, sizes and optimisers, whatever stacked_mnist's default D, its width and loss; each
# config adds its fields to these.
COMMON = {'dataset': 'stacked:digits', 'model.g_width': 16, 'model.d_width': 16, 'model.pack': 1,
          'model.d_norm': 'batch', 'model.spectral_norm': False, 'loss': 'non_saturating', 'augment.kind': 'none',
          'log_every': 100,
          'sample_every': 100_000, 'checkpoint_every': 100_000}
# R1 (Mescheder et al. 2018) needs a D that treats examples independently: LayerNorm in place of BatchNorm.
R1 = {'model.d_norm': 'layer', 'penalties.r1': 1.0}
# SNGAN's recipe for D (Miyato et al. 2018): spectral normalisation of every layer in place of BatchNorm,
# with the hinge loss
SN_HINGE = {'model.d_norm': 'none', 'model.spectral_norm': True, 'loss': 'hinge'}
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
    'sn_hinge': SN_HINGE,
    # the same with D twice as wide (G's width unchanged): the D that has to see the digits' frequencies
    'sn_hinge_d32': {**SN_HINGE, 'model.d_width': 32},
    # and G as wide as that D: the generator's capacity against a D that finds a rendering's sharp edges
    'sn_hinge_w32': {**SN_HINGE, 'model.g_width': 32, 'model.d_width': 32},
    # the default with DiffAugment (color, translation, cutout; Zhao et al. 2020): a D that sees every real
    # and fake image shifted cannot lean on where a rendering puts its edges
    'sn_hinge_d32_diffaugment': {**SN_HINGE, 'model.d_width': 32, 'augment.kind': 'diffaugment'},
}
PUBLISHED = {'DCGAN': (99.0, 3.40), 'PacDCGAN2': (1000.0, 0.06)}  # (modes, KL): PacGAN table 3


def earlier_counts(workdir: str, steps: list[int], classifier: str, eval_samples: int, env: dict) -> list[dict]:
    """The modes and KL of a finished run's checkpoints at `steps`, counted as the experiment counts its last
    step (`jaxgan.evaluate --metrics=stacked`, the same classifier, sample count and latents)."""
    counts = []
    for step in steps:
        subprocess.run([sys.executable, '-m', 'jaxgan.evaluate', f'--workdir={workdir}', f'--step={step}',
                        '--metrics=stacked', f'--features=classifier:{classifier}', f'--num_samples={eval_samples}',
                        f'--seed={SAMPLE_SEED}'], check=True, capture_output=True, env=env, cwd=REPO)
        with open(os.path.join(workdir, 'eval', f'step_{step:08d}.json')) as f:
            m = json.load(f)['metrics']
        counts.append({'step': step, 'modes': m['stacked_modes'], 'kl_to_uniform': m['stacked_kl_to_uniform'],
                       'channel_kl': modes.channel_kls(m)})
    return counts


def classifier_path(root: str, dataset: str) -> str:
    """Where the classifier of stacked images brought as files (`dataset`) is kept under `root`."""
    return os.path.join(root, 'classifiers', dataset.replace(':', '_').replace(os.sep, '_'))


def own_classifier(root: str, dataset: str) -> str:
    """The kept classifier of `dataset` (`classifier_path`), or '' where none is kept yet: the run trains one
    on the data's own channels (experiments.stacked_mnist)."""
    path = classifier_path(root, dataset)
    return path if os.path.exists(os.path.join(path, 'classifier.json')) else ''


def counting_classifier(dataset: str, shared: str, root: str) -> str:
    """The mode_classifier of runs on `dataset`: the shared digits classifier for `stacked:digits` alone (it
    reads the grey digits only); for any other data, its own kept one (`own_classifier`), or '' where the run
    trains it (on a `stacked:` source's digits, or on files' own channels)."""
    return shared if dataset == 'stacked:digits' else own_classifier(root, dataset)


def write(args, classifier_seconds: float, runs: list) -> None:
    processes.write_results(args.out, {
        'steps': args.steps, 'common': COMMON, 'datasets': args.datasets.split(','),
        'seeds': list(range(args.first_seed, args.first_seed + args.seeds)), 'eval_samples': args.eval_samples,
        'classifier_seconds': round(classifier_seconds, 1), 'runs': runs})


def main() -> None:
    parser = processes.parser(CONFIGS, steps=400, out='stacked_digits.json')
    parser.add_argument('--eval_samples', type=int, default=26_000)
    parser.add_argument('--counts_at', default='', help='earlier steps, comma-separated, at which each run\'s modes '
                        'are counted too, from its checkpoints')
    parser.add_argument('--own_classifiers', default='', help='a directory keeping the classifiers of data brought '
                        'as files across invocations (default: this invocation\'s scratch)')
    parser.add_argument('--datasets', default='stacked:digits', help='comma-separated data every config runs on: '
                        'stacked:SOURCE, or stacked images as folder:DIR or npy:FILE.npy with their labels')
    args = parser.parse_args()
    names = processes.chosen(parser, args, CONFIGS)
    dispatch = get_config().steps_per_dispatch  # checkpoints are written between dispatches
    try:
        counts_at = sorted({int(s) for s in args.counts_at.split(',') if s})
    except ValueError:
        parser.error(f'--counts_at={args.counts_at}: not a comma-separated list of steps')
    if counts_at and (args.steps % dispatch or any(not 0 < s < args.steps or s % dispatch for s in counts_at)):
        parser.error(f'--counts_at={args.counts_at}: each step must lie between 0 and --steps={args.steps}, and '
                     f'they and --steps must be multiples of the {dispatch} steps per dispatch')
    every = math.gcd(args.steps, *counts_at)  # checkpoints at every step counted, all kept to the end
    saving = {'checkpoint_every': every, 'keep_checkpoints': args.steps // every} if counts_at else {}
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
            for dataset in args.datasets.split(','):
                for name in names:
                    workdir = os.path.join(scratch, f'{name}_{args.datasets.split(",").index(dataset)}_{seed}')
                    fields = {**COMMON, **saving, **CONFIGS[name], 'dataset': dataset, 'seed': seed,
                              'num_steps': args.steps, 'eval_samples': args.eval_samples,
                              'mode_classifier': counting_classifier(dataset, classifier,
                                                                     args.own_classifiers or scratch)}
                    start = time.perf_counter()
                    done = subprocess.run([sys.executable, '-m', 'experiments.stacked_mnist', f'--workdir={workdir}',
                                           *(f'--config.{k}={v}' for k, v in fields.items())],
                                          capture_output=True, text=True, env=env, cwd=REPO)
                    seconds = time.perf_counter() - start
                    if done.returncode:
                        sys.exit(f'{name} on {dataset} seed {seed} failed:\n{done.stderr[-3000:]}')
                    if not fields['mode_classifier']:  # the run trained its data's own: kept for their later runs
                        shutil.copytree(os.path.join(workdir, 'classifier'), classifier_path(args.own_classifiers
                                                                                             or scratch, dataset),
                                        dirs_exist_ok=True)  # over an incomplete copy a stopped run left
                    with open(os.path.join(workdir, 'stacked_modes.json')) as f:
                        result = json.load(f)
                    result.pop('protocol')
                    result.update(config=name, dataset=dataset, fields=dict(CONFIGS[name]), seed=seed,
                                  seconds=round(seconds, 1))
                    if counts_at:
                        counter = fields['mode_classifier'] or os.path.join(workdir, 'classifier')
                        result['earlier'] = earlier_counts(workdir, counts_at, counter, args.eval_samples, env)
                    runs.append(result)
                    print(json.dumps(result), flush=True)
                    write(args, classifier_seconds, runs)  # after every run: a stopped benchmark keeps what it ran
    fmt = lambda a, p: f'{np.mean(a):.{p}f} +- {np.std(a):.{p}f}'
    for dataset in args.datasets.split(','):
        print(f'\n{dataset}\n{"config":12} {"step":>6} {"modes of 1000":>16} {"KL to uniform":>16} {"seconds":>10}')
        for name in names:
            r = [x for x in runs if x['config'] == name and x['dataset'] == dataset]
            for i, step in enumerate(counts_at):
                at = [x['earlier'][i] for x in r]
                print(f'{name:12} {step:>6} {fmt([x["modes"] for x in at], 1):>16} '
                      f'{fmt([x["kl_to_uniform"] for x in at], 3):>16}')
            print(f'{name:12} {args.steps:>6} {fmt([x["modes"] for x in r], 1):>16} '
                  f'{fmt([x["kl_to_uniform"] for x in r], 3):>16} {fmt([x["seconds"] for x in r], 0):>10}')
    for dataset in args.datasets.split(','):
        first = next(x for x in runs if x['dataset'] == dataset)
        print(f'{dataset}: training data under its classifier: {first["data_modes"]} modes, KL '
              f'{first["data_kl_to_uniform"]:.3f} ({first["data_examples"]} examples)')
    print('published (stacked MNIST, 26,000 samples): ' + ', '.join(f'{k} {m:.0f} modes, KL {kl}'
                                                                  for k, (m, kl) in PUBLISHED.items()))


if __name__ == '__main__':
    main()
