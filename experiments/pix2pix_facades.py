"""pix2pix (Isola et al. 2017) on CMP Facades at 256x256: the paper's facades set-up.

    python -m experiments.pix2pix_facades --workdir=runs/facades     # downloads the data once (about 30 MB)
    python -m experiments.pix2pix_facades --workdir=runs/facades --config.dataset=paired:/data/facades --config.eval_dataset=paired:/data/facades:test

The data: pix2pix's facades set (Tylecek and Sara 2013; 400 training, 100 validation and 106 test
images, each 512x256 with a photo on the left, A, and its label map on the right, B), downloaded from
URL below into the cache folder (`$XDG_CACHE_HOME/jaxgan/pix2pix`, else `~/.cache/jaxgan/pix2pix`) and
extracted there the first time the default dataset is asked for, then read as `paired:<cache>/facades`
(the test split as `paired:<cache>/facades:test`). Offline, download facades.tar.gz by hand (from URL,
on a machine that is online), extract it and pass `--config.dataset=paired:DIR/facades` and
`--config.eval_dataset=paired:DIR/facades:test`; a download that fails stops the run with one line that
names URL and this alternative, and leaves nothing half-written. One's own pairs,
`--config.dataset=paired:DIR`, are scored on DIR/test (no facades are downloaded), unless
--config.eval_dataset names another set; without a test split the run stops before training, saying so.

The set-up is the paper's and that of pytorch-CycleGAN-and-pix2pix (`--model pix2pix --netG unet_256
--netD basic --norm batch --gan_mode vanilla --lambda_L1 100 --batch_size 1 --n_epochs 100
--n_epochs_decay 100`): the U-Net with 8 down-samplings, the 70x70 PatchGAN on (input, output) pairs,
batch norm, the non-saturating loss plus 100 L1, Adam at 2e-4 (betas 0.5, 0.999), 200 epochs of the 400
images at batch size 1 (80,000 steps), held for the first half and decayed linearly to 0, images resized
to 286 and randomly cropped back to 256 and flipped (`--config.data.jitter`). After training the test
split is translated and scored (L1, PSNR, SSIM and sharpness, `translation_scores.json`, as the demo).
The translation goes labels to photo, as the paper shows it: the files hold the photo on the left (A), so
the experiment sets `config.data.direction=b2a` (`--direction BtoA` in the official code);
`--config.data.direction=a2b` learns photo to labels.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request

from jaxgan import cli, config as config_lib
from jaxgan.data.pipeline import default_cache_dir
from jaxgan.errors import UserError
from experiments import _translation

URL = 'http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/facades.tar.gz'


def cache_folder() -> str:
    """Where the download and its extracted folder `facades` go."""
    return os.path.join(default_cache_dir(), 'pix2pix')


def get_config():
    c = config_lib.base_config()
    folder = os.path.join(cache_folder(), 'facades')
    c.dataset = f'paired:{folder}'  # downloaded on first use (see `fetch`)
    c.eval_dataset = f'paired:{folder}:test'
    c.image_size = 256
    c.batch_size = 1
    c.num_steps = 80_000  # 200 epochs of 400 images
    c.data.jitter = True  # --load_size 286 --crop_size 256, flips
    c.data.direction = 'b2a'  # --direction BtoA: labels (the right half) to photo
    c.model.name = 'pix2pix'
    c.model.g_width = 64  # --ngf 64
    c.model.d_width = 64  # --ndf 64
    c.translation.patch = 70  # --netD basic
    c.translation.l1 = 100.0  # --lambda_L1 100
    c.loss = 'non_saturating'  # --gan_mode vanilla
    for opt in (c.g_optimizer, c.d_optimizer):
        opt.schedule = 'hold_then_linear'  # --n_epochs 100 --n_epochs_decay 100
    c.ema.decay = 0.0
    c.eval.metrics = 'aligned'  # L1, PSNR, SSIM, sharpness on the test split; add fid,kid where Inception is at hand
    c.log_every = 1000
    c.sample_every = 4000  # every 10 epochs
    c.checkpoint_every = 4000
    return c


def fetch(folder: str | None = None, url: str = URL) -> str:
    """<folder>/facades, downloaded from `url` and extracted into `folder` (the cache folder by default)
    unless it is there; a one-line UserError naming the URL and the manual alternative where it cannot
    be. The archive is written whole or not at all, and extracted beside before it is renamed into place."""
    folder = folder or cache_folder()
    target = os.path.join(folder, 'facades')
    if os.path.isdir(target):
        return target
    archive = os.path.join(folder, 'facades.tar.gz')
    if not os.path.exists(archive):
        manual = (f'download it by hand where you can, extract it and pass --config.dataset=paired:DIR/facades '
                  f'--config.eval_dataset=paired:DIR/facades:test')
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                os.makedirs(folder, exist_ok=True)
                partial = f'{archive}.{os.getpid()}.part'
                try:
                    with open(partial, 'wb') as f:
                        shutil.copyfileobj(response, f)
                    os.replace(partial, archive)
                finally:
                    if os.path.exists(partial):
                        os.remove(partial)
        except (OSError, urllib.error.URLError) as e:
            reason = getattr(e, 'reason', None) or e
            raise UserError(f'cannot download the facades data from {url} ({reason}); {manual}') from None
    staging = tempfile.mkdtemp(prefix='.facades-', dir=folder)
    try:
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(staging, filter='data')
        except (tarfile.TarError, OSError) as e:
            raise UserError(f'cannot extract {archive} ({type(e).__name__}: {e}); delete it to download it again') from None
        if not os.path.isdir(os.path.join(staging, 'facades')):
            raise UserError(f'{archive} holds no facades folder ({", ".join(sorted(os.listdir(staging))) or "nothing"}); '
                            'delete it to download it again')
        os.replace(os.path.join(staging, 'facades'), target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def run(config, workdir: str) -> list[dict]:
    """Downloads the facades where the run reads them, trains, then scores the test split: facades' own,
    or with --config.dataset=paired:DIR (and no --config.eval_dataset) DIR's (experiments._translation)."""
    followed = _translation.follow_dataset(config, get_config())
    default = f'paired:{os.path.join(cache_folder(), "facades")}'
    if any(d == default or d.startswith(f'{default}:') for d in (followed.dataset, followed.eval_dataset)):
        fetch()  # the default data, downloaded on first use
    return _translation.run(config, workdir, get_config())


if __name__ == '__main__':
    cli.run_experiment('pix2pix_facades', get_config, run)
