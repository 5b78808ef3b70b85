"""Modes of a stacked run's samples as generated and re-blocked to the rendering's grid: does the count read a
generator that lost modes, or digits that the counting classifier misreads?

    python benchmarks/reblocked_modes.py --workdir=W --classifier=DIR --data=DATA/stacked_nearest32.npy \
        --block=4 --samples=26000 --out=benchmarks/results/stacked_reblocked.json

The `nearest32` rendering (benchmarks/renderings.py) upscales 8x8 digits by nearest neighbour: every image is
4x4 blocks of one value on a fixed grid, and the classifier that counts a run's modes is trained on those
crisp blocks. DiffAugment shifts every image D sees by up to 1/8 of its side, so D cannot tell a block edge off
the grid from one on it, and nothing asks G to keep its blocks crisp or aligned. Re-blocking each sample
(the mean of each block, repeated over the block: the rendering's own map from 8x8 to 32x32) puts it back on
the grid. It is a function of each image alone, so it cannot add distinct images, and it leaves the data
as they are (checked on --data, whose labels also give the classifier's accuracy per channel): a count that
rises on re-blocked samples was reading the samples' blocks, not their digits.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jaxgan  # noqa: E402
from jaxgan import files  # noqa: E402
from jaxgan.metrics import classifier as classifier_lib, modes  # noqa: E402

SAMPLE_SEED = 1452  # experiments.stacked_mnist's


def reblock(images: np.ndarray, block: int) -> np.ndarray:
    """uint8 [N, H, W, C]: each block x block square replaced by its mean (rounded)."""
    n, h, w, c = images.shape
    means = images.astype(np.float32).reshape(n, h // block, block, w // block, block, c).mean((2, 4))
    return np.repeat(np.repeat(np.round(means), block, 1), block, 2).astype(np.uint8)


def channel_digits(net, images: np.ndarray) -> np.ndarray:
    """[N, C]: the classifier's digit of each channel (it reads one grey channel in the data's uint8 units)."""
    return np.stack([classifier_lib.predict(net, images[..., c:c + 1]) for c in range(images.shape[-1])], 1)


def count(digits: np.ndarray) -> dict:
    """Modes of 10^C and KL to uniform, as experiments.stacked_mnist reports them."""
    c = digits.shape[1]
    report = modes.stacked_modes(digits @ (10 ** np.arange(c - 1, -1, -1)), 10 ** c, channels=c)
    return {'modes': report['stacked_modes'], 'kl_to_uniform': report['stacked_kl_to_uniform'],
            'channel_kl': modes.channel_kls(report)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--workdir', required=True, help='a stacked_mnist run (its last checkpoint is sampled)')
    p.add_argument('--classifier', required=True, help='the classifier directory that counted the run')
    p.add_argument('--data', required=True, help='the rendering as npy (FILE.npy with FILE.labels.npy)')
    p.add_argument('--block', type=int, default=4, help='the rendering\'s block side (nearest32: 32 / 8)')
    p.add_argument('--samples', type=int, default=26_000)
    p.add_argument('--out', default='')
    args = p.parse_args()
    net = classifier_lib.load(args.classifier)
    data = np.load(args.data)[:5000]
    labels = np.load(args.data[:-len('.npy')] + '.labels.npy')[:5000]
    channels = data.shape[-1]
    truth = np.stack([labels // 10 ** (channels - 1 - c) % 10 for c in range(channels)], 1)
    run = jaxgan.load(args.workdir)
    samples = run.images(args.samples, seed=SAMPLE_SEED)
    result = {
        'workdir': os.path.basename(os.path.normpath(args.workdir)), 'step': int(run.step), 'block': args.block,
        'samples': args.samples,
        'data_unchanged_by_reblocking': bool(np.array_equal(reblock(data, args.block), data)),
        'classifier_accuracy_per_channel': [float(a) for a in (channel_digits(net, data) == truth).mean(0)],
        'as_generated': count(channel_digits(net, samples)),
        'reblocked': count(channel_digits(net, reblock(samples, args.block))),
    }
    print(json.dumps(result, indent=1))
    if args.out:
        files.atomic_write(args.out, json.dumps(result, indent=1))


if __name__ == '__main__':
    main()
