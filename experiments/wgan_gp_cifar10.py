"""WGAN-GP (Gulrajani et al. 2017) on CIFAR-10: the ResNet critic and generator of the paper.

    python -m experiments.wgan_gp_cifar10 --workdir=runs/wgan_gp_cifar10

The Wasserstein loss with a gradient penalty of weight 10, 5 critic updates per generator update, Adam
(2e-4, b1 0, b2 0.9) with the learning rate decayed linearly to 0, batch 64, 100,000 generator steps;
128 channels in G and D, no normalisation in the critic. Data: `tfds:cifar10`, 32x32x3.
"""

from jaxgan import cli, config as config_lib


def get_config():
    c = config_lib.base_config()
    c.dataset = 'tfds:cifar10'
    c.image_size = 32
    c.batch_size = 64
    c.num_steps = 100_000
    c.n_critic = 5
    c.loss = 'wasserstein'
    c.penalties.gradient_penalty = 10.0
    c.model.name = 'resnet'
    c.model.z_dim = 128
    c.model.g_width = 128
    c.model.d_width = 128
    c.model.d_norm = 'none'
    for opt in (c.g_optimizer, c.d_optimizer):
        opt.learning_rate = 2e-4
        opt.b1, opt.b2 = 0.0, 0.9
        opt.schedule = 'linear'
    c.ema.decay = 0.9999
    c.log_every = 500
    c.sample_every = 5000
    c.checkpoint_every = 5000
    return c


if __name__ == '__main__':
    cli.run_experiment('wgan_gp_cifar10', get_config)
