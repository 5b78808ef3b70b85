"""A class-conditional GAN on MNIST: sample any digit on demand.

    python -m experiments.cgan_mnist --workdir=runs/cgan_mnist
    python -m jaxgan.sample --workdir=runs/cgan_mnist --label=3 --num=500 --out=threes.npy

DCGAN at 32x32 (MNIST's 28x28 resized) with conditional BatchNorm in G (a scale and bias per class) and
a projection discriminator with spectral normalisation (Miyato & Koyama 2018; on the digits, the same
model without spectral normalisation collapsed within 500 steps, its D winning outright). `--config.conditioning.g=concat` feeds the one-hot
label beside z instead; `--config.conditioning.d=acgan` trains an auxiliary classifier head instead of
the projection. Sample grids have a column per class. Data: `tfds:mnist` (labels from TFDS); any
labelled data works: `folder:PATH` with a sub-folder per class, or `npy:x.npy` with `x.labels.npy`.
"""

from jaxgan import cli, config as config_lib


def get_config():
    c = config_lib.base_config()
    c.dataset = 'tfds:mnist'
    c.image_size = 32
    c.batch_size = 100
    c.num_steps = 20_000
    c.model.z_dim = 64
    c.model.g_width = 32
    c.model.d_width = 32
    c.conditioning.g = 'cbn'
    c.conditioning.d = 'projection'
    c.model.spectral_norm = True  # the projection discriminator's own recipe; without it D won outright
    c.num_samples = 100  # 10 of each class
    c.log_every = 500
    c.sample_every = 2000
    c.checkpoint_every = 5000
    return c


if __name__ == '__main__':
    cli.run_experiment('cgan_mnist', get_config)
