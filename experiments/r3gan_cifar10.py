"""R3GAN's CIFAR10 preset: CIFAR-10 (50,000 32x32 images, 10 classes), class-conditional; published FID 1.96.

    python -m experiments.r3gan_cifar10 --workdir=runs/r3gan_cifar10

The official command (README.md of brownvc/R3GAN):
    python train.py --data=cifar10.zip --gpus=8 --batch=512 --mirror=1 --aug=1 --cond=1 --preset=CIFAR10
Every constant is experiments._r3gan.r3gan_config's (the preset's networks, schedules, batch size and
decay_nimg from train.py and the README); that module's docstring says what differs from the official
run and why.
"""

from __future__ import annotations

from experiments._r3gan import r3gan_config
from jaxgan import cli


def get_config():
    return r3gan_config('CIFAR10', 'tfds:cifar10', conditional=True)


if __name__ == '__main__':
    cli.run_experiment('r3gan_cifar10', get_config)
