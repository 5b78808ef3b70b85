"""R3GAN's FFHQ-256 preset: FFHQ at 256x256; published FID 2.75.

    python -m experiments.r3gan_ffhq256 --workdir=runs/r3gan_ffhq256

The official command (README.md of brownvc/R3GAN):
    python train.py --data=ffhq-256x256.zip --gpus=8 --batch=256 --mirror=1 --aug=1 --preset=FFHQ-256
Every constant is experiments._r3gan.r3gan_config's (the preset's networks, schedules, batch size and
decay_nimg from train.py and the README); that module's docstring says what differs from the official
run and why.
"""

from __future__ import annotations

from experiments._r3gan import r3gan_config
from jaxgan import cli


def get_config():
    return r3gan_config('FFHQ-256', 'folder:data/ffhq', conditional=False)


if __name__ == '__main__':
    cli.run_experiment('r3gan_ffhq256', get_config)
