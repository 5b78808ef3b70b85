"""Progressive growing of GANs (Karras et al. 2018) small enough for a CPU, on the embedded digits at
16x16: the recipe of experiments.progan_celebahq (`progan_config`) with the sizes and the schedule cut
down for two CPU cores.

    python -m experiments.progan_digits --workdir=runs/progan_digits

What differs from the CelebA-HQ run: 16x16 images (scikit-learn's 8x8 digits resized up: three stages,
4, 8 and 16 pixels), fmap_base 256 capped at 64 feature maps, z of 64, batch 32, and a schedule of 16
thousand images per stage and 16 thousand per fade-in, so that the 3,000 steps (96 thousand images) train
4x4 for 16, fade 8x8 in over 16, train it for 16, fade 16x16 in over 16 and train it for the last 32.
The sample grids written during training show the stage reached (coarse blocks early on).
"""

from __future__ import annotations

from experiments.progan_celebahq import progan_config
from jaxgan import cli


def get_config():
    c = progan_config(16, 'digits')
    c.data.upsample = True  # the 8x8 digits, resized up to 16x16
    c.data.flip = False  # digits are not mirror-symmetric
    c.model.z_dim = 64
    c.progan.fmap_base, c.progan.fmap_max = 256, 64
    c.progan.training_kimg, c.progan.transition_kimg = 16.0, 16.0
    c.batch_size = 32
    c.num_steps = 3000
    c.log_every = 100
    c.sample_every = 500
    c.checkpoint_every = 500
    return c


if __name__ == '__main__':
    cli.run_experiment('progan_digits', get_config)
