"""FID of 50,000 generated samples, timed along the path of `python -m jaxgan.evaluate --metrics=fid`.

    python benchmarks/fid_speed.py [--num_samples=50000] [--inception_weights=FILE] [--out=FILE]

What is timed is `jaxgan.evaluation.Evaluator`, the object `jaxgan.evaluate` and periodic evaluation
call: draw the latents, run the generator, turn its output into uint8 images, resize them to 299x299
and run the FID Inception on every device, accumulate the 2048-d features' mean and covariance in
float64, and take the Frechet distance to the cached reference statistics. The generator is
experiments.dcgan_celeba's G at 64x64, freshly initialised (its values do not change the work). The
reference statistics (the embedded digits at 64x64 RGB) are computed and cached before the timing, as a
user's are after the first evaluation of a dataset.

Inception weights: `--inception_weights` if given, else random weights of the network's shapes (written
to a temporary .npz): the work, and so the time, does not depend on the values, and the reference
weights cannot be downloaded on an offline machine. The evaluator runs twice: the first call includes
compiling the generator and the network at these batch shapes, the second is warm. Prints a JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # jaxgan and experiments


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--num_samples', type=int, default=50_000)
    parser.add_argument('--inception_weights', default='', help='a jaxgan .npz or pytorch-fid .pth; default random')
    parser.add_argument('--batch_size', type=int, default=0, help='sampling batch; 0: the experiment\'s (128)')
    parser.add_argument('--out', default='', help='write the result as JSON here')
    args = parser.parse_args()

    import jax
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
            x = jax.numpy.zeros((1, 75, 75, 3), jax.numpy.uint8)
            inception.save_npz(jax.jit(inception.FIDInceptionV3().init)(jax.random.key(0), x), weights)
        mesh = parallel.make_mesh()
        start = time.perf_counter()
        evaluator = make_evaluator(config, ('fid',), num_samples=args.num_samples, inception_weights=weights,
                                   reference_size=50_000, mesh=mesh)
        reference_s = time.perf_counter() - start
        spec = data.load(config).spec
        gan = ensemble.member_gan(config, spec)
        state = ensemble.fresh_state(gan, config, parallel.replicated(mesh))
        calls = []
        for _ in range(2):
            start = time.perf_counter()
            result = evaluator(gan, state)
            calls.append(time.perf_counter() - start)
    row = {
        'num_samples': args.num_samples, 'sampling_batch': config.batch_size, 'image_size': config.image_size,
        'weights': 'given' if args.inception_weights else 'random',
        'first_call_s': round(calls[0], 2), 'warm_call_s': round(calls[1], 2),
        'reference_statistics_s': round(reference_s, 2), 'reference_size': result['protocol']['reference_size'],
        'fid': result['metrics']['fid'], 'device': str(jax.devices()[0].device_kind),
        'devices': jax.device_count(), 'jax': jax.__version__, 'date': time.strftime('%Y-%m-%d'),
    }
    print(json.dumps(row), flush=True)
    if args.out:
        files.atomic_write(args.out, json.dumps(row, indent=1))


if __name__ == '__main__':
    main()
