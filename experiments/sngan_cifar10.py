"""SN-GAN (Miyato et al. 2018) on CIFAR-10: hinge loss, spectral normalisation, the ResNet models.

    python -m experiments.sngan_cifar10 --workdir=runs/sngan_cifar10

The paper's CIFAR-10 ResNet set-up: hinge loss, spectral normalisation on every layer of D, 5 D updates
per G update, Adam (2e-4, b1 0, b2 0.9) decayed linearly to 0, batch 64, 50,000 generator steps; G
has 256 channels and BatchNorm, D 128 channels. Data: `tfds:cifar10`, 32x32x3.
"""

from jaxgan import cli, config as config_lib


def get_config():
    c = config_lib.base_config()
    c.dataset = 'tfds:cifar10'
    c.image_size = 32
    c.batch_size = 64
    c.num_steps = 50_000
    c.n_critic = 5
    c.loss = 'hinge'
    c.model.name = 'resnet'
    c.model.z_dim = 128
    c.model.g_width = 256
    c.model.d_width = 128
    c.model.spectral_norm = True
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
    cli.run_experiment('sngan_cifar10', get_config)
