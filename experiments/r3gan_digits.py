"""R3GAN (Huang et al. 2024) small enough for a 2-core CPU, on the embedded digits at 16x16: the recipe of
experiments._r3gan at CPU size.

    python -m experiments.r3gan_digits --workdir=runs/r3gan_digits

What it keeps of the official recipe (experiments._r3gan.r3gan_config, CIFAR10's preset): the RpGAN
loss with R1 and R2 at gamma / 2 on every step, Adam with betas (0, beta2) and eps 1e-8, the five cosine
schedules (lr 2e-4 -> 5e-5, beta2 0.9 -> 0.99, gamma 0.05 -> 0.005 as CIFAR10's, augmentation p 0 ->
0.3, the EMA half-life 0 -> the final one), the networks' design (models.r3gan: residual
grouped-convolution blocks, no normalisation, the [1, 2, 1] resampling). What differs, for two CPU
cores and a few minutes: three stages (4, 8, 16 pixels) of 64 feature maps with 8 groups and one block
each (the official: 2 blocks, 768 maps, 96 groups), batch 32, 2,000 steps (64 thousand images) over
which every schedule runs to its end (the official: 20 million; anneal.kimg 0: over the run, whatever its
length), an EMA half-life ending at 10 thousand images (stylegan2_digits' scale; CIFAR10's 5 million
would average over 80 times this run), no label (beside stylegan2_digits, unconditional), no mirrored copies (the official --mirror=1 is for faces and
objects: a mirrored digit is not a digit). The digits (8x8, scikit-learn's) are upscaled to 16x16.
"""

from __future__ import annotations

from experiments._r3gan import r3gan_config
from jaxgan import cli

STEPS, BATCH = 2000, 32


def get_config():
    c = r3gan_config('CIFAR10', 'digits', conditional=False, batch_size=BATCH,
                     schedule=dict(decay_kimg=STEPS * BATCH / 1000, ema_kimg=10.0, aug_p=0.3))
    c.image_size = 16
    s = c.r3gan
    s.widths, s.cardinalities, s.blocks = (64, 64, 64), (8, 8, 8), (1, 1, 1)
    s.g_embedding, s.d_embedding, s.bf16_stages = 64, 64, 0
    c.data.upsample = True  # the 8x8 digits, resized up to 16x16
    c.data.flip = False  # a mirrored digit is not a digit
    c.compute_dtype = 'float32'
    c.num_steps = STEPS
    c.anneal.kimg = 0.0  # every schedule over the whole run, whatever --config.num_steps (jaxgan.anneal)
    c.log_every = 100
    c.sample_every = 500
    c.checkpoint_every = 500
    return c


if __name__ == '__main__':
    cli.run_experiment('r3gan_digits', get_config)
