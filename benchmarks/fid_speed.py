"""FID of 50,000 generated samples, timed along the path of `python -m jaxgan.evaluate --metrics=fid`.

    python benchmarks/fid_speed.py [--num_samples=50000] [--paths=host,device] [--inception_weights=FILE] [--out=FILE]

What is timed is `jaxgan.evaluation`'s `make_evaluator` and `Evaluator`, what `jaxgan.evaluate` and
periodic evaluation call: draw the latents, run the generator, turn its output into uint8 images,
resize them to 299x299 and run the FID Inception on every device, accumulate the 2048-d features' mean
and covariance in float64, and take the Frechet distance to the reference statistics. Not timed:
loading a checkpoint and writing the result. The generator is experiments.dcgan_celeba's G at 64x64,
freshly initialised (its values do not change the work); the reference, the embedded digits at 64x64
RGB (1,797 images).

The two paths of the generator's side, side by side in one run (`--paths`): `host`, each batch of
samples to the host as uint8, back to the devices for the network, its features back to the host
(`Evaluator(on_device=False)`, what every release before the device path did); `device`, one program
that generates, embeds and accumulates every batch on the devices (`evaluation.SampleProgram`, what
`--metrics=fid` takes now). Figures, each printed as it is taken:
- `reference_s`: the reference statistics computed and cached (a dataset's first evaluation);
- `PATH_cold_s`: a new evaluator, the statistics read from the cache, and its first call, which compiles
  the generator and the network: a user's `jaxgan.evaluate` after the first, less loading the run;
- `PATH_warm_s`: the same evaluator called again, nothing left to compile (periodic evaluation in a run);
- `warm_ratio`: host_warm_s / device_warm_s, and each path's FID (the same samples: equal to ~1e-6).

A CPU's figures are a ratio between the paths on that CPU only: FID-50k's target (under 60 s) is a GPU
figure, taken on a GPU by `bash benchmarks/gpu_figures.sh OUTDIR fid50k`.

Inception weights: `--inception_weights` if given, else random weights of the network's shapes (written
to a temporary .npz): the work, and so the time, does not depend on the values, and the reference
weights cannot be downloaded on an offline machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # jaxgan and experiments


def random_weights(shapes: dict) -> dict:
    """He-normal kernels, BatchNorm at identity (scale and variance 1, mean and bias 0), drawn on the host:
    initialising the network with Flax would compile it, which is not what is timed."""
    import numpy as np
    rng = np.random.default_rng(0)
    out = {}
    for name, shape in shapes.items():
        last = name.rsplit('/', 1)[-1]
        if last == 'kernel':
            out[name] = (rng.standard_normal(shape) * np.sqrt(2 / np.prod(shape[:-1]))).astype(np.float32)
        else:
            out[name] = np.full(shape, 1.0 if last in ('scale', 'var') else 0.0, np.float32)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--num_samples', type=int, default=50_000)
    parser.add_argument('--inception_weights', default='', help='a jaxgan .npz or pytorch-fid .pth; default random')
    parser.add_argument('--batch_size', type=int, default=0, help='sampling batch; 0: the experiment\'s (128)')
    parser.add_argument('--reference_size', type=int, default=50_000, help='reference examples (at most 1,797)')
    parser.add_argument('--paths', default='host,device', help='the paths timed, in order: host, device')
    parser.add_argument('--out', default='', help='write the result as JSON here')
    args = parser.parse_args()
    paths = [p for p in args.paths.split(',') if p]
    if not paths or set(paths) - {'host', 'device'}:
        parser.error(f'--paths={args.paths}: choose from host, device')

    import jax
    import numpy as np
    from experiments import dcgan_celeba
    from jaxgan import data, ensemble, files
    from jaxgan.core import parallel
    from jaxgan.evaluation import make_evaluator
    from jaxgan.metrics import inception

    config = dcgan_celeba.get_config()
    config.dataset, config.data.crop, config.data.channels = 'digits', 0, 3  # offline, 1,797 images at 64x64
    if args.batch_size:
        config.batch_size = args.batch_size
    with tempfile.TemporaryDirectory() as tmp:
        config.data.cache_dir = os.path.join(tmp, 'cache')
        weights = args.inception_weights
        if not weights:
            weights = os.path.join(tmp, 'random_inception.npz')
            np.savez(weights, **random_weights(inception.variable_shapes()))
        mesh = parallel.make_mesh()
        spec = data.load(config).spec
        gan = ensemble.member_gan(config, spec)
        state = ensemble.fresh_state(gan, config, parallel.replicated(mesh))
        row = {'num_samples': args.num_samples, 'sampling_batch': config.batch_size,
               'image_size': config.image_size, 'weights': 'given' if args.inception_weights else 'random'}

        def timed(name, fn):
            start = time.perf_counter()
            out = fn()
            row[name] = round(time.perf_counter() - start, 2)
            print(f'{name}: {row[name]} s', flush=True)
            return out

        evaluator_args = dict(num_samples=args.num_samples, inception_weights=weights,
                              reference_size=args.reference_size, mesh=mesh)
        timed('reference_s', lambda: make_evaluator(config, ('fid',), **evaluator_args))

        def cold(path):  # a new evaluator's network is a new jitted function: its first call compiles it, and G
            evaluator = make_evaluator(config, ('fid',), **evaluator_args)
            evaluator.on_device = path == 'device'
            return evaluator, evaluator(gan, state)

        for path in paths:
            evaluator, _ = timed(f'{path}_cold_s', lambda: cold(path))
            result = timed(f'{path}_warm_s', lambda: evaluator(gan, state))
            assert result['protocol']['path'] == path, result['protocol']
            row[f'{path}_fid'] = result['metrics']['fid']
            if args.out:  # after each path: a run stopped by its time limit keeps what it measured
                files.atomic_write(args.out, json.dumps(row, indent=1))
    if len(paths) == 2:
        row['warm_ratio'] = round(row['host_warm_s'] / row['device_warm_s'], 3)
        row['fid_relative_difference'] = abs(row['host_fid'] - row['device_fid']) / abs(row['host_fid'])
    row.update({
        'reference_size': result['protocol']['reference_size'],
        'device': str(jax.devices()[0].device_kind), 'devices': jax.device_count(), 'cpu_cores': os.cpu_count(),
        'jax': jax.__version__,
        'date': time.strftime('%Y-%m-%d'),
    })
    print(json.dumps(row), flush=True)
    if args.out:
        files.atomic_write(args.out, json.dumps(row, indent=1))


if __name__ == '__main__':
    main()
