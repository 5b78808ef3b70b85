"""R3GAN against StyleGAN2 and DCGAN with DiffAugment on a 2-core CPU, each given the same seconds of training.

    python benchmarks/r3gan_compare.py [--budget=150] [--seeds=3] [--rounds=2] [--tasks=stacked,hundred]
        [--recipes=r3gan,stylegan2,dcgan_diffaugment] [--classifier=DIR] [--out=benchmarks/results/r3gan_compare.json]

Two tasks, both at 32x32 and scored by one digits classifier (`python -m jaxgan.metrics.classifier
--dataset=digits --image_size=32`, trained first unless --classifier names an existing one):

    stacked   `stacked:digits` (three digits as the channels of one image, 1,000 modes): the modes of
              1,000 and the KL of the mode histogram to uniform, of 10,000 samples of the EMA generator
              (`jaxgan.evaluate --metrics=stacked`, the latents of experiments.stacked_mnist's count)
    hundred   100 of the embedded digits (`digits:train`, `data.limit=100`, 10 per class chosen with the
              seed), the small-data section's table (benchmarks/small_data.py): the Frechet distance and
              KID in the classifier's features of 2,000 samples against `digits:test` (360 images no
              network saw), and the classes covered (of 10)

Three recipes, each its experiment's config with only the data, the size and the length changed:

    r3gan               experiments.r3gan_digits (the RpGAN loss with R1 and R2, the cosine schedules run
                        to their end over this run's steps (its anneal.kimg of 0), models.r3gan at 64 maps and 8 groups per stage,
                        one stage more for 32x32)
    stylegan2           experiments.stylegan2_digits (lazy R1, path length, style mixing, 64 maps)
    dcgan_diffaugment   experiments.stacked_mnist's recipe (DCGAN's G at width 16, SNGAN's D at width 32,
                        hinge loss, EMA 0.999, batch 64) with DiffAugment (color, translation, cutout; Zhao
                        et al. 2020), given to experiments.dcgan_celeba field by field (stacked_mnist
                        takes only data with 1,000 labels)

Same wall-clock budget: first each recipe's train step is timed (`python -m jaxgan.bench`, synthetic
batches of the stacked task, the recipes interleaved in --rounds rounds, the fastest kept; the hundred
task runs the same networks at the same size, but for the channels of the first and last layers), then
each run trains for budget / (seconds per step) steps, rounded to the recipe's dispatch; the step count,
not a clock, ends the run, so that other load on the machine during training does not change what a
recipe gets.
Compilation, start-up and the scoring are outside the budget. Mirroring is off for every recipe
(`data.flip`): a mirrored digit is not a digit. Each run is a fresh process; every run's figures are
written to --out as soon as it ends.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import processes  # benchmarks/processes.py

REPO = processes.REPO
SAMPLE_SEED = 0x5ac  # experiments.stacked_mnist.SAMPLE_SEED: the latents of its count

# Per task: the data fields every recipe shares.
TASKS = {
    'stacked': {'dataset': 'stacked:digits', 'image_size': 32, 'data.upsample': True, 'data.flip': False,
                'data.crop': 0, 'data.channels': 0},
    'hundred': {'dataset': 'digits:train', 'data.limit': 100, 'image_size': 32, 'data.upsample': True,
                'data.flip': False, 'data.crop': 0, 'data.channels': 1},
}
# R3GAN at 32x32: r3gan_digits' stages (64 maps, 8 groups, 1 block) at 4, 8, 16 and 32 pixels
R3GAN_32 = {'r3gan.widths': '(64,64,64,64)', 'r3gan.cardinalities': '(8,8,8,8)', 'r3gan.blocks': '(1,1,1,1)'}
RECIPES = {
    'r3gan': ('r3gan_digits', R3GAN_32),
    'stylegan2': ('stylegan2_digits', {}),
    # experiments.stacked_mnist's recipe, through dcgan_celeba (stacked_mnist refuses data without 1,000 labels)
    'dcgan_diffaugment': ('dcgan_celeba', {'batch_size': 64, 'model.z_dim': 100, 'model.g_width': 16,
                                           'model.d_width': 32, 'model.d_norm': 'none', 'model.spectral_norm': True,
                                           'loss': 'hinge', 'ema.decay': 0.999, 'steps_per_dispatch': 25,
                                           'augment.kind': 'diffaugment'}),
}
BENCH_STEPS = 20


def batch_of(recipe: str) -> tuple[int, int]:
    """(batch size, steps per dispatch) of a recipe's config."""
    import experiments
    experiment, changes = RECIPES[recipe]
    c = experiments.load(experiment).get_config()
    return changes.get('batch_size', c.batch_size), changes.get('steps_per_dispatch', c.steps_per_dispatch)


def seconds_per_step(recipe: str, task: str, env: dict, scratch: str) -> float:
    """The recipe's train step on the task's shapes, synthetic batches (`jaxgan.bench`), seconds per step."""
    experiment, changes = RECIPES[recipe]
    batch, dispatch = batch_of(recipe)
    out = os.path.join(scratch, f'bench_{recipe}_{task}.json')
    fields = {k: v for k, v in {**TASKS[task], **changes}.items()
              if k not in ('data.limit', 'batch_size', 'steps_per_dispatch')}
    steps = max(BENCH_STEPS // dispatch, 1) * dispatch
    flags = [f'--config.{k}={v}' for k, v in fields.items() if k != 'data.limit']
    subprocess.run([sys.executable, '-m', 'jaxgan.bench', f'--experiment={experiment}', f'--batch_sizes={batch}',
                    f'--steps_per_dispatch={dispatch}', f'--steps={steps}', '--warmup=1', f'--out={out}', *flags],
                   check=True, capture_output=True, env=env, cwd=REPO)
    with open(out) as f:
        return 1.0 / json.load(f)['results'][0]['steps_per_s']


def run_fields(recipe: str, task: str, steps: int, seed: int) -> dict:
    """The config fields of one run: the task's data, the recipe's changes, the length and the seed."""
    dispatch = batch_of(recipe)[1]
    fields = {**TASKS[task], **RECIPES[recipe][1], 'seed': seed, 'num_steps': steps,
              'log_every': dispatch * max(100 // dispatch, 1), 'sample_every': 10 ** 7, 'checkpoint_every': steps}
    return fields


def score(task: str, workdir: str, classifier: str, env: dict) -> dict:
    """The task's figures of the run's last checkpoint (`jaxgan.evaluate`)."""
    flags = [f'--features=classifier:{classifier}']
    if task == 'stacked':
        flags += ['--metrics=stacked', '--num_samples=10000', f'--seed={SAMPLE_SEED}']
    else:
        flags += ['--metrics=fid,kid,classes', '--num_samples=2000', '--reference=digits:test', '--reference_size=360',
                  '--keep=360']
    subprocess.run([sys.executable, '-m', 'jaxgan.evaluate', f'--workdir={workdir}', *flags], check=True,
                   capture_output=True, env=env, cwd=REPO)
    evals = sorted(os.listdir(os.path.join(workdir, 'eval')))
    with open(os.path.join(workdir, 'eval', evals[-1])) as f:
        m = json.load(f)['metrics']
    if task == 'stacked':
        return {'modes': m['stacked_modes'], 'kl_to_uniform': m['stacked_kl_to_uniform']}
    return {'fd': m['fid'], 'kid': m['kid'], 'classes': m['classes']}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument('--budget', type=float, default=150.0, help='seconds of training per run')
    p.add_argument('--seeds', type=int, default=3)
    p.add_argument('--rounds', type=int, default=2, help='interleaved rounds of timing; the fastest is kept')
    p.add_argument('--tasks', default=','.join(TASKS))
    p.add_argument('--recipes', default=','.join(RECIPES))
    p.add_argument('--classifier', default='', help='a digits classifier at 32px, trained there first if the '
                   'directory does not exist; default: one trained for this run only')
    p.add_argument('--out', default=os.path.join(REPO, 'benchmarks', 'results', 'r3gan_compare.json'))
    args = p.parse_args()
    tasks, recipes = args.tasks.split(','), args.recipes.split(',')
    for name, known in ((tasks, TASKS), (recipes, RECIPES)):
        if set(name) - set(known):
            p.error(f'unknown {sorted(set(name) - set(known))}: choose from {",".join(known)}')
    env = processes.environment()
    with tempfile.TemporaryDirectory() as scratch:
        env.setdefault('JAX_COMPILATION_CACHE_DIR', os.path.join(scratch, 'xla'))
        classifier = args.classifier or os.path.join(scratch, 'classifier')
        if not os.path.exists(classifier):  # trained once, kept where --classifier names it
            subprocess.run([sys.executable, '-m', 'jaxgan.metrics.classifier', '--dataset=digits', '--image_size=32',
                            '--steps=2000', f'--out={classifier}'], check=True, capture_output=True, env=env, cwd=REPO)
        timing = {}
        for _ in range(args.rounds):  # interleaved rounds: a load that comes and goes falls on every recipe alike
            for recipe in recipes:
                t = seconds_per_step(recipe, 'stacked', env, scratch)
                timing[recipe] = min(timing.get(recipe, t), t)
                print(f'{recipe}: {t:.3f} s/step', flush=True)
        results = {'budget_s': args.budget, 'date': time.strftime('%Y-%m-%d'), 'cores': os.cpu_count(),
                   'seconds_per_step': {r: round(s, 4) for r, s in timing.items()}, 'runs': []}
        for seed in range(args.seeds):  # seed by seed: a stopped benchmark has every recipe of the seeds it ran
            for task in tasks:
                for recipe in recipes:
                    experiment, dispatch = RECIPES[recipe][0], batch_of(recipe)[1]
                    steps = max(int(args.budget / timing[recipe] / dispatch), 1) * dispatch
                    workdir = os.path.join(scratch, f'{task}_{recipe}_{seed}')
                    fields = run_fields(recipe, task, steps, seed)
                    start = time.perf_counter()
                    done = subprocess.run([sys.executable, '-m', f'experiments.{experiment}', f'--workdir={workdir}',
                                           *(f'--config.{k}={v}' for k, v in fields.items())],
                                          capture_output=True, text=True, env=env, cwd=REPO)
                    seconds = time.perf_counter() - start
                    if done.returncode:
                        sys.exit(f'{task} {recipe} seed {seed} failed:\n{done.stderr[-3000:]}')
                    row = {'task': task, 'recipe': recipe, 'seed': seed, 'steps': steps,
                           'process_seconds': round(seconds, 1), **score(task, workdir, classifier, env)}
                    results['runs'].append(row)
                    print(json.dumps(row), flush=True)
                    processes.write_results(args.out, results)  # after every run: a stopped benchmark keeps it
    summary(results)


def summary(results: dict) -> None:
    """Mean +- standard deviation over seeds, per task and recipe."""
    fmt = lambda a, d: f'{np.mean(a):.{d}f} +- {np.std(a):.{d}f}'
    for task, columns in (('stacked', ('modes', 'kl_to_uniform')), ('hundred', ('fd', 'kid', 'classes'))):
        rows = [r for r in results['runs'] if r['task'] == task]
        if not rows:
            continue
        print(f'\n{task}: {results["budget_s"]:.0f} s of training per run')
        print(f'{"recipe":20} {"steps":>6} ' + ' '.join(f'{c:>18}' for c in columns))
        for recipe in dict.fromkeys(r['recipe'] for r in rows):
            mine = [r for r in rows if r['recipe'] == recipe]
            print(f'{recipe:20} {mine[0]["steps"]:>6} ' + ' '.join(f'{fmt([r[c] for r in mine], 3):>18}' for c in columns))


if __name__ == '__main__':
    main()
