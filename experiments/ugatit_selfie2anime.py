"""U-GAT-IT (Kim et al. 2020) on selfie2anime: the paper's set-up, selfies to anime faces and back.

    python -m experiments.ugatit_selfie2anime --workdir=runs/selfie2anime --config.dataset=unpaired:/data/selfie2anime
    python -m experiments.ugatit_selfie2anime --workdir=runs/selfie2anime_light --config.translation.light=true
    python -m experiments.ugatit_selfie2anime --workdir=runs/ugatit_digits --config.dataset=demo:digits_colour --config.image_size=32 --config.batch_size=8 --config.model.g_width=8 --config.model.d_width=8 --config.num_steps=2000 --config.log_every=100 --config.sample_every=500 --config.checkpoint_every=500   # no download: a tiny run on a CPU

The data are downloaded by hand: the selfie2anime set (3,400 selfies and 3,400 anime faces to train on,
100 of each to test, 256x256) is linked from the README of the authors' repository (taki0112/UGATIT)
and comes in CycleGAN's unpaired layout; unpack it so that DIR/trainA (selfies), DIR/trainB (anime
faces), DIR/testA and DIR/testB exist, and pass --config.dataset=unpaired:DIR (the default reads
./selfie2anime). Any unpaired:DIR, tfds:cycle_gan/NAME or demo:NAME works the same way; the third line
above trains a small U-GAT-IT on the download-free grey/coloured digits in minutes on a CPU (the image size,
widths and batch make it small; the discriminators take 5 and 3 layers at 32 px, see translation.d_layers).

The set-up is the paper's and that of main.py and UGATIT.py in znxlwm/UGATIT-pytorch (the authors' PyTorch
code; taki0112/UGATIT is their TensorFlow code): the full generator (light off: `--config.translation.light`
is U-GAT-IT-light, for GPUs of less memory), 64 channels (`--ch 64`), 4 residual blocks (`--n_res 4`), the
global (7 layers) and local (5 layers) discriminators with spectral norm; least-squares adversarial losses
on the PatchGAN and CAM logits of all four (adv_weight 1), cycle 10, identity 10 (translation.identity
= 1.0 of cycle's 10), CAM 1000; Adam at 1e-4 with betas 0.5 and 0.999 and weight decay 1e-4 (PyTorch's,
added to the gradient), for both players; 1,000,000 iterations of batch size 1 (`--iteration 1000000
--batch_size 1`), the learning rate held for the first half and decayed linearly to 0 over the second
(`--decay_flag True`); after each G update AdaLIN's and ILN's rho clipped to [0, 1] (the RhoClipper);
images resized to 286 and randomly cropped to 256 and flipped (`transforms.Resize((img_size + 30,
img_size + 30))`, `RandomCrop`, `RandomHorizontalFlip`: `--config.data.jitter`'s 286/256). No EMA (the
paper keeps none). `samples/` holds input | translation | reconstruction grids;
`python -m jaxgan.translate --workdir=... --input=FOLDER --out=FOLDER` translates your own images.
"""

from __future__ import annotations

import os

from jaxgan import cli, config as config_lib, train
from jaxgan.data import translation as translation_data
from jaxgan.errors import UserError

DATASET = 'unpaired:selfie2anime'


def get_config():
    c = config_lib.base_config()
    c.dataset = DATASET
    c.image_size = 256  # --img_size 256
    c.batch_size = 1  # --batch_size 1
    c.num_steps = 1_000_000  # --iteration 1000000
    c.data.jitter = True  # Resize(img_size + 30), RandomCrop(img_size), RandomHorizontalFlip
    c.model.name = 'ugatit'
    c.model.g_width = 64  # --ch 64
    c.model.d_width = 64
    c.loss = 'least_squares'  # MSELoss on D's PatchGAN and CAM logits
    c.translation.cycle = 10.0  # --cycle_weight 10
    c.translation.identity = 1.0  # --identity_weight 10: 1.0 of cycle's
    c.translation.cam = 1000.0  # --cam_weight 1000
    c.translation.light = False  # --light False
    for opt in (c.g_optimizer, c.d_optimizer):  # Adam(lr=1e-4, betas=(0.5, 0.999), weight_decay=1e-4)
        opt.learning_rate = 1e-4
        opt.b1, opt.b2 = 0.5, 0.999
        opt.weight_decay = 1e-4
        opt.schedule = 'hold_then_linear'  # --decay_flag True: linear to 0 over the second half
        opt.decay_start = 0.5
    c.ema.decay = 0.0
    c.log_every = 1000  # --print_freq 1000
    c.sample_every = 10_000
    c.checkpoint_every = 10_000
    c.num_samples = 24  # 8 rows of input | translation | reconstruction, each way
    return c


def check_data(config) -> None:
    """A one-line UserError saying where the data come from when the default folder is missing."""
    kind, _, arg = config.dataset.partition(':')
    if kind != 'unpaired':
        return
    path, split = translation_data.path_and_split(arg)
    if not os.path.isdir(path):
        raise UserError(f'config.dataset={config.dataset}: no folder {os.path.abspath(path)}; selfie2anime is '
                        'downloaded by hand (linked from the README of taki0112/UGATIT): unpack it so that DIR/trainA, '
                        'DIR/trainB, DIR/testA and DIR/testB exist and pass --config.dataset=unpaired:DIR')


def run(config, workdir: str):
    check_data(config)
    return train.train(config, workdir)


if __name__ == '__main__':
    cli.run_experiment('ugatit_selfie2anime', get_config, run)
