"""Progressive growing of GANs (Karras et al. 2018) on CelebA-HQ, as the authors' code trains it.

    python -m experiments.progan_celebahq --workdir=runs/progan_celebahq
    python -m experiments.progan_celebahq --config.model.resolution=256 ...   # any power of two from 8

CelebA-HQ (30,000 faces at 1024x1024, made from CelebA by the paper's appendix C) is prepared by hand for
TFDS (`tfds:celeb_a_hq/1024`, its manual download in config.data.tfds_manual_dir), or given as a folder of
images (`--config.dataset=folder:PATH`). `config.model.resolution` is `config.image_size` under the
issue's name: the two are one value.

The recipe is `progan_config`, from models.progan.config (tkarras/progressive_growing_of_gans: config.py's
CelebA-HQ preset-v2-8gpus with fp32, networks.py's G_paper and D_paper, train.py's TrainingSchedule, loss.py's
D_wgangp_acgan and G_wgan_acgan): the networks at fmap_base 8192 capped at 512 feature maps, z of 512,
pixelwise feature normalisation, minibatch stddev in groups of 4, equalised learning rate; WGAN-GP
(lambda 10) with the drift term (epsilon 0.001); Adam (betas (0, 0.99), eps 1e-8) at the learning rate of
the resolution being trained (0.001, then 0.0015 at 128, 0.002 at 256, 0.003 from 512 pixels:
G_lrate_dict), its moments reset whenever a fade-in starts or ends (reset_opt_for_new_lod); one D step per
G step; the EMA of G at 0.999 per step (G_smoothing); mirrored images (mirror_augment); the growing
schedule from 4x4: 600 thousand images at each resolution, then 600 thousand fading the next one in, and
12,000 thousand images in all.

Departures: the minibatch is the official one at the final resolution (32 from 64 pixels up) at every
stage, where the official code trains the small stages on larger ones (512 at 4x4, 256, 128, then 32),
since the step is one program of fixed shapes; the EMA has jaxgan's warm-up over its first steps
(min(0.999, (1 + t) / (10 + t))); the schedule's lod moves at every step rather than every
minibatch_repeats = 4 steps.
"""

from __future__ import annotations

import ml_collections

from jaxgan import cli, config as config_lib
from jaxgan.models import progan


def progan_config(resolution: int, dataset: str) -> ml_collections.ConfigDict:
    """The base config set as the official CelebA-HQ run (models.progan.config) at `resolution`, on
    `dataset`, with the departures the module docstring lists."""
    spec = progan.config(resolution)
    c = config_lib.base_config()
    c.dataset = dataset
    c.image_size = resolution
    with c.unlocked():
        c.model.resolution = c.get_ref('image_size')  # the name for it; one value
    c.data.crop = 0
    c.data.upsample = False  # the official code trains at the data's resolution: smaller images are refused
    c.data.flip = spec['mirror_augment']
    c.model.name = 'progan'
    c.model.z_dim = spec['latent_size']
    p = c.progan
    p.fmap_base, p.fmap_max = spec['fmap_base'], spec['fmap_max']
    p.mbstd_group, p.fused_scale = spec['mbstd_group_size'], spec['fused_scale']
    p.initial_resolution = spec['lod_initial_resolution']
    p.training_kimg, p.transition_kimg = float(spec['lod_training_kimg']), float(spec['lod_transition_kimg'])
    c.loss = 'wasserstein'
    c.penalties.gradient_penalty = spec['wgan_lambda']
    c.penalties.drift = spec['wgan_epsilon']
    c.n_critic = spec['D_repeats']
    c.batch_size = spec['minibatch'][resolution]
    c.num_steps = spec['total_kimg'] * 1000 // c.batch_size
    for opt, lr in ((c.g_optimizer, spec['G_lrate_base']), (c.d_optimizer, spec['D_lrate_base'])):
        opt.learning_rate = lr
        opt.b1, opt.b2, opt.eps = spec['beta1'], spec['beta2'], spec['epsilon']
    p.learning_rates = tuple(sorted(spec['G_lrate_dict'].items()))  # the official D_lrate_dict is the same
    p.reset_optimizer = spec['reset_opt_for_new_lod']
    c.ema.decay = spec['G_smoothing']
    c.compute_dtype = 'float32'
    c.log_every = 100
    c.sample_every = 2000
    c.checkpoint_every = 2000
    c.steps_per_dispatch = 1
    return c


def get_config():
    return progan_config(1024, 'tfds:celeb_a_hq/1024')


if __name__ == '__main__':
    cli.run_experiment('progan_celebahq', get_config)
