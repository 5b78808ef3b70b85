"""R3GAN's ImageNet-64 preset: ImageNet 64x64 (TFDS imagenet_resized), class-conditional; published FID 2.09.

    python -m experiments.r3gan_imagenet64 --workdir=runs/r3gan_imagenet64

The official command (README.md of brownvc/R3GAN):
    python train.py --data=imagenet-64x64.zip --gpus=64 --batch=4096 --mirror=1 --aug=1 --cond=1 --preset=ImageNet-64
Every constant is experiments._r3gan.r3gan_config's (the preset's networks, schedules, batch size and
decay_nimg from train.py and the README); that module's docstring says what differs from the official
run and why.
"""

from __future__ import annotations

from experiments._r3gan import r3gan_config
from jaxgan import cli


def get_config():
    return r3gan_config('ImageNet-64', 'tfds:imagenet_resized/64x64', conditional=True)


if __name__ == '__main__':
    cli.run_experiment('r3gan_imagenet64', get_config)
