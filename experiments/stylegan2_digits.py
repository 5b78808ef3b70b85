"""StyleGAN2 (Karras et al. 2020) small enough for a CPU, on the embedded digits at 16x16: every part of
the recipe of experiments.stylegan2_ffhq at an eighth of the widths.

    python -m experiments.stylegan2_digits --workdir=runs/stylegan2_digits
    python -m jaxgan.latent --workdir=runs/stylegan2_digits --op=mixing --out=mixing.png
    python -m jaxgan.latent --workdir=runs/stylegan2_digits --op=truncation --out=truncation.png

The networks are models.stylegan2's (mapping, modulated convolutions with demodulation, noise inputs,
skip generator, residual D with minibatch stddev, equalised learning rate, the [1, 3, 3, 1] filter) and
the training is stylegan2_config's (lazy R1 every 16 steps, path-length regularisation every 4, style
mixing 0.9, Adam lr 0.0025 and betas (0, 0.99), the EMA by half-life with ramp-up); what
differs is the size, for two CPU cores: z and w of 64, 2 mapping layers (the official cifar config's),
channel_base 1024 capped at 64 (64 feature maps at 4, 8 and 16 pixels), batch 32, R1 gamma 1, an EMA
half-life of 10 thousand images capped by the ramp-up at 5% of the images seen so far (train.py's 'auto'
config at batch 32; the full half-life is reached only after 200 thousand images, so the 96 thousand of
this run are ramped throughout), float32, 3,000 steps, no mirrored copies (a mirrored digit is not a
digit; the paper mirrors faces). The digits (8x8, scikit-learn's) are upscaled to 16x16, the smallest
size with three resolutions; the README ("StyleGAN2") gives its speed on a 2-core CPU.
"""

from __future__ import annotations

from experiments.stylegan2_ffhq import stylegan2_config
from jaxgan import cli


def get_config():
    c = stylegan2_config('paper256', 16, 'digits')
    c.model.z_dim = 64
    s = c.stylegan2
    s.w_dim, s.mapping_layers = 64, 2
    s.channel_base, s.channel_max = 1024, 64
    s.mbstd_group = 4
    c.data.upsample = True  # the 8x8 digits, resized up to 16x16 (the docstring says why)
    c.data.flip = False  # a mirrored digit is not a digit
    c.compute_dtype = 'float32'
    c.batch_size = 32
    c.penalties.r1 = 1.0
    c.ema.half_life_kimg, c.ema.rampup = 10.0, 0.05
    c.num_steps = 3000
    c.log_every = 100
    c.sample_every = 500
    c.checkpoint_every = 500
    return c


if __name__ == '__main__':
    cli.run_experiment('stylegan2_digits', get_config)
