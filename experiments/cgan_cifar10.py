"""A class-conditional SN-GAN on CIFAR-10 (Miyato & Koyama 2018): conditional BatchNorm in the ResNet
generator, a projection discriminator with spectral normalisation, the hinge loss.

    python -m experiments.cgan_cifar10 --workdir=runs/cgan_cifar10
    python -m jaxgan.sample --workdir=runs/cgan_cifar10 --label=7 --num=64 --out=horses.png
"""

from experiments import sngan_cifar10
from jaxgan import cli


def get_config():
    c = sngan_cifar10.get_config()
    c.conditioning.g = 'cbn'
    c.conditioning.d = 'projection'
    c.num_samples = 100
    return c


if __name__ == '__main__':
    cli.run_experiment('cgan_cifar10', get_config)
