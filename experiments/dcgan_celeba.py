"""DCGAN (Radford et al. 2015) on CelebA at 64x64: the paper's set-up.

    python -m experiments.dcgan_celeba --workdir=runs/dcgan_celeba
    python -m experiments.dcgan_celeba --config.dataset=folder:/data/img_align_celeba
    python -m experiments.dcgan_celeba --config.dataset=digits --config.image_size=32 --config.data.crop=0   # no download

z of size 100, batch 128, Adam (2e-4, b1 0.5), the non-saturating loss; CelebA's 178x218 faces centre
cropped to 108x108 and resized to 64x64.
"""

from jaxgan import cli, config as config_lib


def get_config():
    c = config_lib.base_config()
    c.dataset = 'tfds:celeb_a'
    c.image_size = 64
    c.batch_size = 128
    c.num_steps = 20_000  # about 16 epochs of CelebA's 162,770 training images
    c.data.crop = 108
    c.model.z_dim = 100
    c.loss = 'non_saturating'
    return c


if __name__ == '__main__':
    cli.run_experiment('dcgan_celeba', get_config)
