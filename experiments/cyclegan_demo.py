"""CycleGAN (Zhu et al. 2017) on a download-free unpaired task with a known true mapping: grey digits to
blue-on-yellow digits and back.

    python -m experiments.cyclegan_demo --workdir=runs/cyclegan_demo
    python -m experiments.cyclegan_demo --workdir=runs/no_cycle --config.translation.cycle=0  # no cycle loss

`demo:digits_colour` (jaxgan.data.demos): domain A holds half of scikit-learn's training digits in grey,
domain B the other half coloured by a fixed map (jaxgan.data.demos.colour), so no image of A has its
translation in B: the pairing must be learned from the two distributions. On the test split A and B
are aligned by the true map, so the translations can be scored against the truth: L1, PSNR and SSIM of
G_ab(a) against colour(a); the accuracy, the share of G_ab(a) that a digits classifier reads, through
the inverse map `uncolour`, as a's digit; FID and KID of the translations against the test split's B in
that classifier's features (on their luma); in <workdir>/translation_scores.json and the log (the
classifier as in pix2pix_demo: config.eval.features, or one trained on `digits:train` into the workdir).
The networks and losses are CycleGAN's (ResNet generators, 6 blocks below 256 px; 70x70 PatchGANs;
least-squares losses; cycle lambda 10, identity 0.5 lambda; a history of 50 generated images for each
D), at a quarter of the paper's widths for a CPU demo at 32 px (about 0.3 s a step on two CPU cores:
2,000 steps in 10 to 15 minutes). `--config.translation.cycle=0` drops the cycle (and identity) losses:
the paper's ablation, where the translation need not keep the digit. Measured: README, "Scoring
translations".

One's own domains: `--config.dataset=unpaired:DIR` (DIR/trainA, DIR/trainB) is scored on DIR/testA and
DIR/testB unless --config.eval_dataset names another set; unpaired test images hold no true
translations, so score them with --config.eval.metrics=fid,kid --config.eval.features=inception, or
train unscored with --config.eval.metrics=''.
"""

from __future__ import annotations

from jaxgan import cli, config as config_lib
from experiments import _translation


def get_config():
    c = config_lib.base_config()
    c.dataset = 'demo:digits_colour'
    c.image_size = 32
    c.batch_size = 8
    c.num_steps = 2000
    c.model.name = 'cyclegan'
    c.model.g_width = 16  # the paper's 64 at 256 px; a quarter for a CPU demo at 32 px
    c.model.d_width = 16
    c.loss = 'least_squares'  # the paper's
    for opt in (c.g_optimizer, c.d_optimizer):
        opt.schedule = 'hold_then_linear'
    c.ema.decay = 0.0
    c.log_every = 250
    c.sample_every = 1000
    c.checkpoint_every = 1000
    c.eval_dataset = 'demo:digits_colour:test'
    c.eval.metrics = 'aligned,accuracy,fid,kid'
    c.eval.features = ''  # a digits classifier, trained into <workdir>/classifier (pix2pix_demo.with_features)
    with c.unlocked():
        c.classifier_steps = 2000
    return c


def run(config, workdir: str) -> list[dict]:
    """Trains, then scores the test split (on one's own data, its test split: experiments._translation)."""
    return _translation.run(config, workdir, get_config())


if __name__ == '__main__':
    cli.run_experiment('cyclegan_demo', get_config, run)
