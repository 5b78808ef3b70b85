"""Training on a hundred images: DCGAN on 100 embedded digits with and without augmentation.

    python benchmarks/small_data.py [--seeds=3] [--steps=3000] [--ensemble] [--out=benchmarks/results/small_data.json]

DCGAN at 32x32 on `digits:train` with `--config.data.limit=100` (10 per class, chosen with the seed), each
setting trained for the same number of steps under seeds 0 to `--seeds` - 1, one after another (or, with
--ensemble, as one ensemble: on a CPU the vmapped convolutions are slower than one GAN at a time):
no augmentation; DiffAugment (color, translation, cutout); ADA; DiffAugment with LeCam. The full
1,437-image training set without augmentation is the reference. Each member is scored against
`digits:test` (360 images the classifier and the GANs never saw) in the feature space of jaxgan's digits
classifier (trained here on `digits:train`, or --classifier=DIR): FID, KID, classes covered (of 10), and
the memorisation score (the fraction of samples closer to a training image than the 5th percentile of
the test images are; about 0.05 for a generator that does not copy). Prints the mean and standard
deviation over seeds and writes every member's figures to --out.
"""

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

SETTINGS = {  # name: config overrides, beside the common ones
    'none': {},
    'diffaugment': {'augment.kind': 'diffaugment'},
    'ada': {'augment.kind': 'ada'},
    'diffaugment+lecam': {'augment.kind': 'diffaugment', 'penalties.lecam': 0.3},
    'full data (reference)': {'data.limit': 0},
}


def config_for(overrides: dict, args, seed: int = 0):
    from experiments import dcgan_celeba
    c = dcgan_celeba.get_config()
    c.dataset, c.image_size, c.data.crop, c.data.channels = 'digits:train', 32, 0, 0
    c.data.limit = 100
    c.batch_size, c.num_steps = args.batch_size, args.steps
    c.model.g_width = c.model.d_width = args.width
    c.seed = seed
    c.ensemble.size = args.seeds if args.ensemble else 1
    c.log_every, c.checkpoint_every, c.sample_every = 500, args.steps, args.steps
    c.steps_per_dispatch = 10
    c.data.workers = 2
    for field, value in overrides.items():
        node = c
        *parents, last = field.split('.')
        for part in parents:
            node = node[part]
        node[last] = value
    return c


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--seeds', type=int, default=3)
    parser.add_argument('--ensemble', action='store_true', help='the seeds of a setting as one ensemble')
    parser.add_argument('--steps', type=int, default=3000)
    parser.add_argument('--batch_size', type=int, default=64)
    parser.add_argument('--width', type=int, default=32)
    parser.add_argument('--samples', type=int, default=2000)
    parser.add_argument('--classifier', default='', help='a digits classifier at 32x32; default: trained here')
    parser.add_argument('--classifier_steps', type=int, default=2000, help='training steps of that classifier')
    parser.add_argument('--only', default='', help='comma-separated settings to run (default: all)')
    parser.add_argument('--out', default=os.path.join(os.path.dirname(__file__), 'results', 'small_data.json'))
    args = parser.parse_args()

    from jaxgan import ensemble, evaluation, train
    from jaxgan.metrics import classifier

    with tempfile.TemporaryDirectory() as tmp:
        directory = args.classifier
        if not directory:
            directory = os.path.join(tmp, 'classifier')
            classifier.save(classifier.train_classifier('digits:train', 32, steps=args.classifier_steps), directory)
        rows = []
        names = [n for n in SETTINGS if not args.only or n in args.only.split(',')]
        runs = [(name, None) for name in names] if args.ensemble else [(n, s) for n in names for s in range(args.seeds)]
        for name, seed in runs:
            config = config_for(SETTINGS[name], args, seed or 0)
            workdir = os.path.join(tmp, f'{name.replace(" ", "_")}_{seed}')
            start = time.perf_counter()
            trained = train.train(config, workdir)
            seconds = time.perf_counter() - start
            for member in range(ensemble.size(config)):
                member_config = ensemble.member_config(config, member) if ensemble.size(config) > 1 else config
                evaluator = evaluation.make_evaluator(
                    member_config, ('fid', 'kid', 'classes', 'nearest'), num_samples=args.samples,
                    features=f'classifier:{directory}', reference='digits:test', holdout='digits:test',
                    reference_size=360, keep=360)
                one = ensemble.member_state(trained.state, member) if ensemble.size(config) > 1 else trained.state
                result = evaluator(trained.gan, one)
                m = result['metrics']
                row = {'setting': name, 'seed': member_config.seed, 'fid': m['fid'], 'kid': m['kid'],
                       'classes': m['classes'], 'memorisation': m['nearest_memorisation'],
                       'train_seconds': round(seconds, 1), 'steps': args.steps, 'ensemble': args.ensemble,
                       'overrides': SETTINGS[name]}
                rows.append(row)
                print(json.dumps(row), flush=True)
                _write(args.out, _meta(args), rows)  # after every run: a stopped benchmark keeps what it finished
    print(f'\n{"setting":24} {"FID":>14} {"KID":>14} {"classes":>10} {"memorisation":>14} {"train s":>8}')
    for name in names:
        r = [x for x in rows if x['setting'] == name]
        col = lambda k, scale=1.0: np.array([x[k] for x in r], float) * scale
        fmt = lambda a, p: f'{a.mean():.{p}f} +- {a.std():.{p}f}'
        print(f'{name:24} {fmt(col("fid"), 2):>14} {fmt(col("kid"), 2):>14} {fmt(col("classes"), 1):>10} '
              f'{fmt(col("memorisation"), 3):>14} {r[0]["train_seconds"] if args.ensemble else col("train_seconds").sum():>8.0f}')


def _meta(args) -> dict:
    import jax
    return {'jax': jax.__version__, 'device': str(jax.devices()[0].device_kind), 'seeds': args.seeds,
            'steps': args.steps, 'batch_size': args.batch_size, 'width': args.width, 'samples': args.samples,
            'date': time.strftime('%Y-%m-%d'), 'ensemble': args.ensemble}


def _write(path: str, meta: dict, rows: list) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        json.dump({'meta': meta, 'runs': rows}, f, indent=1)


if __name__ == '__main__':
    main()
