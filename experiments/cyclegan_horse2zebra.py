"""CycleGAN (Zhu et al. 2017) on horse2zebra at 256x256, from TensorFlow Datasets: the paper's set-up.

    python -m experiments.cyclegan_horse2zebra --workdir=runs/horse2zebra
    python -m experiments.cyclegan_horse2zebra --workdir=runs/horse2zebra --config.dataset=unpaired:/data/horse2zebra

`tfds:cycle_gan/horse2zebra` (downloaded and prepared by TFDS on first use, 111 MB): domain A holds
1,067 photos of horses, B 1,334 of zebras (splits trainA, trainB; testA and testB hold 120 and 140). The
set-up is the paper's and that of pytorch-CycleGAN-and-pix2pix (`--model cycle_gan --netG
resnet_9blocks --netD basic --norm instance --gan_mode lsgan --lambda_A 10 --lambda_B 10
--lambda_identity 0.5 --pool_size 50 --batch_size 1 --n_epochs 100 --n_epochs_decay 100`): ResNet
generators of 9 blocks, 70x70 PatchGANs, instance norm, least-squares losses, cycle 10, identity 0.5 of
it, a history of 50 generated images for each D, Adam at 2e-4 (betas 0.5, 0.999), 200 epochs at batch
size 1 (an epoch is max(|A|, |B|) = 1,334 steps, as the official unaligned dataset counts: 266,800
steps), held for the first half and decayed linearly to 0, images resized to 286 and randomly cropped
to 256 and flipped. `samples/` holds input | translation | reconstruction grids; translate your own
photos with `python -m jaxgan.translate --workdir=runs/horse2zebra --input=FOLDER --out=FOLDER`
(`--direction=b2a` for zebras to horses).
"""

from jaxgan import cli, config as config_lib


def get_config():
    c = config_lib.base_config()
    c.dataset = 'tfds:cycle_gan/horse2zebra'
    c.image_size = 256
    c.batch_size = 1
    c.num_steps = 266_800  # 200 epochs of max(1,067, 1,334) images
    c.data.jitter = True  # --load_size 286 --crop_size 256, flips
    c.model.name = 'cyclegan'
    c.model.g_width = 64  # --ngf 64
    c.model.d_width = 64  # --ndf 64
    c.loss = 'least_squares'  # --gan_mode lsgan
    c.translation.cycle = 10.0  # --lambda_A 10 --lambda_B 10
    c.translation.identity = 0.5  # --lambda_identity 0.5
    c.translation.pool = 50  # --pool_size 50
    for opt in (c.g_optimizer, c.d_optimizer):
        opt.schedule = 'hold_then_linear'  # --n_epochs 100 --n_epochs_decay 100
    c.ema.decay = 0.0
    c.log_every = 1000
    c.sample_every = 13_340  # every 10 epochs
    c.checkpoint_every = 13_340
    c.num_samples = 24
    return c


if __name__ == '__main__':
    cli.run_experiment('cyclegan_horse2zebra', get_config)
