"""StyleGAN2 (Karras et al. 2020) on CelebA-HQ at 256x256, with stylegan2-ada-pytorch's paper256 config.

    python -m experiments.stylegan2_celebahq --workdir=runs/stylegan2_celebahq
    python -m experiments.stylegan2_celebahq --config.model.resolution=512 ...

CelebA-HQ (Karras et al. 2018: 30,000 faces up to 1024x1024) is prepared by hand for TFDS
(`tfds:celeb_a_hq/256`, its manual download in config.data.tfds_manual_dir), or given as a folder of
images (`--config.dataset=folder:PATH`). paper256 (train.py, cfg_specs): half the feature maps of
stylegan2 (channel_base 16384), batch 64, minibatch-stddev groups of 8, lr 0.0025, R1 gamma 1, an EMA
half-life of 20 thousand images; the rest as experiments.stylegan2_ffhq (`stylegan2_config`) says.
"""

from __future__ import annotations

from experiments.stylegan2_ffhq import stylegan2_config
from jaxgan import cli


def get_config():
    return stylegan2_config('paper256', 256, 'tfds:celeb_a_hq/256')


if __name__ == '__main__':
    cli.run_experiment('stylegan2_celebahq', get_config)
