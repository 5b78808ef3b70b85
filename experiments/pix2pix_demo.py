"""pix2pix (Isola et al. 2017) on a download-free paired task: digit outlines to digits.

    python -m experiments.pix2pix_demo --workdir=runs/pix2pix_demo
    python -m experiments.pix2pix_demo --workdir=runs/l1_only --config.g_objective.adversarial=0  # L1 alone

`demo:edges2digits` (jaxgan.data.demos): A is the outline of one of scikit-learn's 8x8 digits upscaled to
32x32, B the digit itself, so every input has one right answer and the result can be scored pixel by
pixel. G is pix2pix's U-Net (5 downsamplings at 32 px), D its 70x70 PatchGAN on (A, B) pairs, the loss
the paper's: the adversarial term plus 100 times the L1 distance to B; Adam (2e-4, betas 0.5, 0.999),
constant for half the run, then decayed linearly to 0. After training, the test split's outlines are
translated and scored (config.eval.metrics; `evaluation.TranslationEvaluator`) against their digits:
`aligned`, L1 (grey levels), PSNR, SSIM and the sharpness (variance of the Laplacian) of the translations
against that of the truth; `accuracy`, the share of translations a digits classifier reads as the digit
of their outline; `fid` and `kid`, the translations against the test digits in that classifier's
features. They go to <workdir>/translation_scores.json and the log; `--config.eval.every=N` scores them
during training too (TensorBoard, <workdir>/eval/history.jsonl). The classifier is
`--config.eval.features=classifier:DIR`, or where that is '' one trained on `digits:train` (the test
digits kept out, `--config.classifier_steps`) into <workdir>/classifier before the GAN. <workdir>/samples/ hold input | translation |
target grids. With
`--config.g_objective.adversarial=0` the same U-Net learns from the L1 term alone (D still trains, unread),
the paper's comparison: L1 alone gives blurrier outputs.

One's own pairs: `--config.dataset=paired:DIR` trains on DIR/train (pix2pix's layout, A|B side by side;
or DIR/A and DIR/B) and, unless --config.eval_dataset names another set, scores on DIR/test: a test
split is needed (or --config.eval_dataset=paired:DIR:val, or --config.eval.metrics='' to train unscored;
without one the run stops before training, saying so). Of the metrics only `aligned` is kept there:
accuracy, fid and kid read the demo's digits (fid and kid stay with --config.eval.features=inception).
"""

from __future__ import annotations

from jaxgan import cli, config as config_lib
from experiments import _translation
from experiments._translation import make_evaluator, score, with_features  # noqa: F401 (their old home)


def get_config():
    c = config_lib.base_config()
    c.dataset = 'demo:edges2digits'
    c.image_size = 32
    c.batch_size = 16
    c.num_steps = 3000
    c.model.name = 'pix2pix'
    c.model.g_width = 32  # the paper's 64 at 256 px; halved for a CPU demo at 32 px
    c.model.d_width = 32
    c.loss = 'non_saturating'  # the paper's vanilla GAN objective
    for opt in (c.g_optimizer, c.d_optimizer):
        opt.schedule = 'hold_then_linear'
    c.ema.decay = 0.0  # the paper keeps no average: translations use the trained params
    c.log_every = 250
    c.sample_every = 1000
    c.checkpoint_every = 1000
    c.eval_dataset = 'demo:edges2digits:test'
    c.eval.metrics = 'aligned,accuracy,fid,kid'
    c.eval.features = ''  # a digits classifier, trained into <workdir>/classifier (see `with_features`)
    with c.unlocked():
        c.classifier_steps = 2000  # its training steps (batch 128), as jaxgan.metrics.classifier's default
    return c


def run(config, workdir: str) -> list[dict]:
    """Trains, then scores the test split (on one's own data, its test split: experiments._translation)."""
    return _translation.run(config, workdir, get_config())


if __name__ == '__main__':
    cli.run_experiment('pix2pix_demo', get_config, run)
