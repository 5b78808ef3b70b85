"""R3GAN's ImageNet-32 preset: ImageNet 32x32 (TFDS imagenet_resized, 1,000 classes), class-conditional; published FID 1.27.

    python -m experiments.r3gan_imagenet32 --workdir=runs/r3gan_imagenet32

The official command (README.md of brownvc/R3GAN):
    python train.py --data=imagenet-32x32.zip --gpus=32 --batch=4096 --mirror=1 --aug=1 --cond=1 --preset=ImageNet-32
Every constant is experiments._r3gan.r3gan_config's (the preset's networks, schedules, batch size and
decay_nimg from train.py and the README); that module's docstring says what differs from the official
run and why.
"""

from __future__ import annotations

from experiments._r3gan import r3gan_config
from jaxgan import cli


def get_config():
    return r3gan_config('ImageNet-32', 'tfds:imagenet_resized/32x32', conditional=True)


if __name__ == '__main__':
    cli.run_experiment('r3gan_imagenet32', get_config)
