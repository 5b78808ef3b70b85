"""StyleGAN2 (Karras et al. 2020) on FFHQ, as stylegan2-ada-pytorch's train.py --cfg=stylegan2 trains it.

    python -m experiments.stylegan2_ffhq --workdir=runs/stylegan2_ffhq --config.dataset=folder:PATH
    python -m experiments.stylegan2_ffhq --config.model.resolution=256 ...   # any power of two from 8

FFHQ (NVlabs/ffhq-dataset, 70,000 aligned faces at 1024x1024) is prepared by hand: its PNGs in a folder
(`folder:PATH`; `data/ffhq` by default), mirrored as the paper's FFHQ runs (`config.data.flip`).
`config.model.resolution` is `config.image_size` under the issue's name: the two are one value.

The recipe is `stylegan2_config`: the networks of models.stylegan2 at the official config's sizes
(z and w 512, 8 mapping layers at learning-rate multiplier 0.01, channel_base 32768 capped at 512,
minibatch-stddev groups of 4, conv_clamp 256, the 4 highest resolutions in bfloat16 where the official
code uses float16), the non-saturating loss, lazy R1 (gamma 10 every 16 D steps), path-length
regularisation (weight 2 every 4 G steps on half the batch), style mixing 0.9, Adam (lr 0.002, betas
(0, 0.99), eps 1e-8), batch 32, the EMA of G with a half-life of 10 thousand images, and 25,000 thousand
images in all (train.py, cfg_specs).

One departure, for one jitted step: the lazy penalties are added to the player's loss on their steps
(weighed by their interval) instead of running as the separate optimizer steps of the official
training_loop.py. The official code scales each lazily regularised player's lr and betas by
mb_ratio = k / (k + 1) because it takes k + 1 Adam updates per k batches; here there are k, so the
unscaled lr and betas give the same movement per k batches (lr * k, beta ** k).
"""

from __future__ import annotations

import ml_collections

from jaxgan import cli, config as config_lib
from jaxgan.models import stylegan2


def stylegan2_config(cfg: str, resolution: int, dataset: str) -> ml_collections.ConfigDict:
    """The base config set as stylegan2-ada-pytorch's train.py --cfg=cfg sets it (models.stylegan2.config:
    stylegan2, paper256, paper512, paper1024, cifar) at `resolution`, on `dataset`."""
    spec = stylegan2.config(cfg, resolution)
    c = config_lib.base_config()
    c.dataset = dataset
    c.image_size = resolution
    with c.unlocked():
        c.model.resolution = c.get_ref('image_size')  # the name for it; one value
    c.data.crop = 0
    c.data.upsample = False  # the official code trains at the data's resolution: smaller images are refused
    c.model.name = 'stylegan2'
    c.model.z_dim = spec['z_dim']
    s = c.stylegan2
    s.w_dim, s.mapping_layers = spec['w_dim'], spec['mapping_layers']
    s.channel_base, s.channel_max = spec['channel_base'], spec['channel_max']
    s.mbstd_group, s.conv_clamp, s.num_fp16_res = spec['mbstd_group_size'], float(spec['conv_clamp']), spec['num_fp16_res']
    s.d_architecture = spec['d_architecture']
    s.style_mixing, s.pl_weight, s.pl_every = spec['style_mixing_prob'], spec['pl_weight'], spec['g_reg_interval']
    c.compute_dtype = 'bfloat16'
    c.loss = 'non_saturating'
    c.penalties.r1 = float(spec['r1_gamma'])
    c.penalties.r1_every = spec['d_reg_interval']
    c.batch_size = spec['batch_size']
    c.num_steps = spec['total_kimg'] * 1000 // spec['batch_size']
    for opt in (c.g_optimizer, c.d_optimizer):
        # Not scaled by training_loop.py's mb_ratio = interval / (interval + 1): the official code takes
        # k main steps and one regularisation step per k batches, each at lr * mb_ratio (k + 1 Adam updates
        # of about lr * k / (k + 1): lr * k in all); the penalties here ride on the main step, so k updates
        # at the unscaled lr give the same lr * k, and beta ** k per k batches as there.
        opt.learning_rate = spec['lr']
        opt.b1, opt.b2 = spec['betas']
        opt.eps = spec['eps']
    c.ema.half_life_kimg = float(spec['ema_kimg'])
    c.ema.rampup = float(spec['ema_rampup'] or 0.0)
    c.log_every = 100
    c.sample_every = 2000
    c.checkpoint_every = 2000
    c.steps_per_dispatch = 1
    return c


def get_config():
    c = stylegan2_config('stylegan2', 1024, 'folder:data/ffhq')
    c.data.flip = True  # the paper's FFHQ runs: --mirror=1
    return c


if __name__ == '__main__':
    cli.run_experiment('stylegan2_ffhq', get_config)
