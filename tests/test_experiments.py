"""Every experiment end to end with a tiny config on CPU (TFDS datasets through mock data)."""

import importlib
import json
import os
import re

import numpy as np
import pytest

tfds = pytest.importorskip('tensorflow_datasets')

from jaxgan import train  # noqa: E402
from tests.conftest import REPO  # noqa: E402

SMALL_IMAGES = {'batch_size': 16, 'num_steps': 2, 'log_every': 1, 'sample_every': 2, 'checkpoint_every': 2,
                'num_samples': 16, 'async_checkpoints': False, 'steps_per_dispatch': 1}
EXPERIMENTS = {
    'dcgan_celeba': {'image_size': 16, 'model.g_width': 8, 'model.d_width': 8, 'model.z_dim': 8},
    'gan_mnist': {'model.g_hidden': (32, 32), 'model.d_hidden': (16, 16), 'image_size': 16},
    'gmmn_mnist': {'model.g_hidden': (16, 16)},
    'wgan_gp_cifar10': {'model.g_width': 8, 'model.d_width': 8, 'n_critic': 2, 'model.z_dim': 8, 'image_size': 16},
    'sngan_cifar10': {'model.g_width': 8, 'model.d_width': 8, 'n_critic': 2, 'model.z_dim': 8, 'image_size': 16},
    'cgan_mnist': {'model.g_width': 8, 'model.d_width': 8, 'model.z_dim': 8, 'num_samples': 20},
    'cgan_cifar10': {'model.g_width': 8, 'model.d_width': 8, 'n_critic': 1, 'model.z_dim': 8, 'num_samples': 20,
                     'image_size': 16},
    'infogan_mnist': {'model.g_width': 8, 'model.d_width': 8, 'model.z_dim': 8},
    'ssgan_mnist': {'model.g_hidden': (16,), 'model.d_hidden': (16, 16), 'semi_supervised.num_labels': 10,
                    'semi_supervised.batch_size': 8, 'image_size': 16},
    'toy_1d': {'model.g_hidden': (8,), 'model.d_hidden': (8,), 'num_steps': 4, 'steps_per_dispatch': 2},
    'toy_2d': {'model.g_hidden': (16,), 'model.d_hidden': (16,), 'num_steps': 4, 'steps_per_dispatch': 2,
               'eval_samples': 200},
    'pix2pix_demo': {'model.g_width': 4, 'model.d_width': 4, 'batch_size': 8, 'num_samples': 6,
                     'classifier_steps': 2},
    'cyclegan_demo': {'model.g_width': 4, 'model.d_width': 4, 'batch_size': 8, 'num_samples': 6,
                      'translation.g_blocks': 1, 'translation.pool': 4, 'classifier_steps': 2},
    'stacked_mnist': {'model.g_width': 8, 'model.d_width': 8, 'model.z_dim': 8, 'image_size': 16,
                      'eval_samples': 64, 'mode_classifier_steps': 2},
    'ctgan': {'model.g_hidden': (16,), 'model.d_hidden': (16,), 'model.z_dim': 8, 'batch_size': 80,
              'table.epochs': 0, 'num_samples': 20},
    'pix2pix_facades': {'dataset': 'demo:edges2digits', 'eval_dataset': 'demo:edges2digits:test', 'image_size': 32,
                        'model.g_width': 4, 'model.d_width': 4, 'batch_size': 8, 'num_samples': 6},
    'cyclegan_horse2zebra': {'image_size': 32, 'model.g_width': 4, 'model.d_width': 4, 'batch_size': 8, 'num_samples': 6,
                             'translation.g_blocks': 1, 'translation.pool': 4, 'translation.patch': 16},
    'stylegan2_digits': {'image_size': 8, 'model.z_dim': 8, 'stylegan2.w_dim': 8, 'stylegan2.mapping_layers': 1,
                         'stylegan2.channel_base': 64, 'stylegan2.channel_max': 8},
    'stylegan2_ffhq': {'dataset': 'digits', 'model.resolution': 8, 'model.z_dim': 8, 'stylegan2.w_dim': 8,
                       'stylegan2.mapping_layers': 1, 'stylegan2.channel_base': 64, 'stylegan2.channel_max': 8},
    'stylegan2_celebahq': {'model.resolution': 8, 'model.z_dim': 8, 'stylegan2.w_dim': 8,
                           'stylegan2.mapping_layers': 1, 'stylegan2.channel_base': 64, 'stylegan2.channel_max': 8},
    'progan_digits': {'image_size': 8, 'model.z_dim': 8, 'progan.fmap_base': 32, 'progan.fmap_max': 8,
                      'progan.training_kimg': 0.016, 'progan.transition_kimg': 0.016},
    'progan_celebahq': {'model.resolution': 8, 'model.z_dim': 8, 'progan.fmap_base': 32, 'progan.fmap_max': 8},
    # R3GAN: two stages of 8 maps (8x8 images), every schedule of the recipe on (config.anneal)
    **{name: {**{'image_size': 8, 'model.z_dim': 8, 'r3gan.widths': (8, 8), 'r3gan.cardinalities': (2, 2), 'r3gan.blocks': (1, 1), 'r3gan.g_embedding': 8, 'r3gan.d_embedding': 8, 'r3gan.bf16_stages': 0, 'compute_dtype': 'float32'}, **extra} for name, extra in (
        ('r3gan_digits', {}), ('r3gan_cifar10', {}), ('r3gan_ffhq64', {'dataset': 'digits'}),
        ('r3gan_ffhq256', {'dataset': 'digits'}), ('r3gan_imagenet32', {}), ('r3gan_imagenet64', {}))},
    'ugatit_selfie2anime': {'dataset': 'demo:digits_colour', 'image_size': 16, 'model.g_width': 4, 'model.d_width': 4,
                            'batch_size': 8, 'num_samples': 6, 'translation.g_blocks': 1, 'translation.d_layers': 3},
}


def test_r3gan_experiments_are_the_official_presets_and_validate():
    """Each preset's batch (the README's command), its schedules' ends and length (train.py), conditioning."""
    from jaxgan import anneal, config as config_lib
    official = {'cifar10': (512, True, 0.05, 0.005, 0.55, 5000.0, 2e4), 'ffhq64': (256, False, 2.0, 0.2, 0.3, 500.0, 2e4),
                'ffhq256': (256, False, 150.0, 15.0, 0.3, 500.0, 2e4),
                'imagenet32': (4096, True, 0.5, 0.05, 0.5, 5e4, 2e5), 'imagenet64': (4096, True, 1.0, 0.1, 0.4, 5e4, 2e5)}
    for name, (batch, cond, gamma, gamma_end, p, ema_kimg, kimg) in official.items():
        c = importlib.import_module(f'experiments.r3gan_{name}').get_config()
        config_lib.validate(c, num_devices=8)
        ranges = anneal.schedules(c)
        assert (c.batch_size, c.conditioning.d == 'projection', c.anneal.kimg, c.loss) == (batch, cond, kimg, 'rpgan')
        assert ranges == {'g_optimizer.learning_rate': (2e-4, 5e-5), 'd_optimizer.learning_rate': (2e-4, 5e-5),
                          'g_optimizer.b2': (0.9, 0.99), 'd_optimizer.b2': (0.9, 0.99), 'penalties.r1': (gamma, gamma_end),
                          'penalties.r2': (gamma, gamma_end), 'augment.p': (0.0, p),
                          'ema.half_life_kimg': (0.0, ema_kimg)}
        assert c.g_optimizer.b1 == c.d_optimizer.b1 == 0.0 and c.data.flip and c.augment.kind == 'fixed'
        # train.py's augment_kwargs: colour at 0.5 p, cutout at p of half the side
        assert (c.augment.pipeline, c.augment.multipliers, c.augment.cutout, c.augment.cutout_size) == (
            'bgc', 'c=0.5', 1.0, 0.5)


def test_every_experiment_module_is_covered():
    names = {f[:-3] for f in os.listdir(os.path.join(REPO, 'experiments')) if not f.startswith('_')}
    assert names == set(EXPERIMENTS)


# Run by `make test-slow` only, to keep CI's suite near its 10 minutes: their parts (MLP and maxout,
# the GMMN's n_critic = 0, projection D and conditional BatchNorm, GP with n_critic 2, spectral norm; the
# translation games, CycleGAN with periodic scoring, the demos' scoring through pix2pix_demo, the facades
# download, U-GAT-IT in tests/test_translation.py; StyleGAN2 in stylegan2_digits and
# tests/test_stylegan2_game.py; ProGAN in progan_digits and tests/test_progan_game.py; CTGAN end to end in tests/test_tabular.py) have fast tests of their own.
SLOW = ('gan_mnist', 'gmmn_mnist', 'cgan_mnist', 'cgan_cifar10', 'wgan_gp_cifar10', 'sngan_cifar10', 'pix2pix_facades',
        'cyclegan_demo', 'cyclegan_horse2zebra', 'ugatit_selfie2anime', 'stylegan2_ffhq', 'stylegan2_celebahq',
        'progan_celebahq', 'ctgan', 'r3gan_cifar10', 'r3gan_ffhq64', 'r3gan_ffhq256', 'r3gan_imagenet32',
        'r3gan_imagenet64', 'r3gan_digits')  # r3gan_digits: 171 s on a loaded 2-core machine


@pytest.mark.parametrize('name', [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
                                  for n in sorted(EXPERIMENTS)])
def test_experiment_runs_end_to_end(name, tmp_path, monkeypatch):
    from jaxgan.data import sources
    monkeypatch.setattr(sources, 'unreachable_hosts', lambda urls: [])  # mock_data downloads nothing
    module = importlib.import_module(f'experiments.{name}')
    config = module.get_config()
    for dotted, value in {**SMALL_IMAGES, **EXPERIMENTS[name]}.items():
        *path, last = dotted.split('.')
        node = config
        for part in path:
            node = node[part]
        node[last] = value
    with tfds.testing.mock_data(num_examples=64):
        getattr(module, 'run', train.train)(config, str(tmp_path))
    assert os.listdir(tmp_path / 'checkpoints')
    samples = os.listdir(tmp_path / 'samples')
    if name == 'toy_1d':
        assert 'density_00000004.png' in samples
    elif name in ('pix2pix_demo', 'cyclegan_demo', 'pix2pix_facades'):  # scored on the test split against the truth
        scores = json.load(open(tmp_path / 'translation_scores.json'))
        assert scores['dataset'].endswith(':test') and 0 < scores['l1'] < 255 and -1 <= scores['ssim'] <= 1
        if name != 'pix2pix_facades':  # the demos: the classifier's reading, and the distances in its features
            assert 0 <= scores['accuracy'] <= 1 and scores['fid'] >= 0 and 'kid' in scores
            assert os.path.exists(tmp_path / 'classifier' / 'classifier.npz')
    elif name == 'infogan_mnist':
        assert {'codes_categorical.png', 'codes_continuous_1.png', 'codes_continuous_2.png'} <= set(os.listdir(tmp_path))
        result = json.load(open(tmp_path / 'infogan_accuracy.json'))
        assert 0 <= result['accuracy'] <= 1 and result['examples'] == 64
    elif name == 'ssgan_mnist':
        result = json.load(open(tmp_path / 'ssgan_error.json'))
        assert 0 <= result['error'] <= 1 and result['num_labels'] == 10
    elif name == 'toy_2d':
        assert 'scatter_00000004.png' in samples
        result = json.load(open(tmp_path / 'mode_coverage.json'))
        assert result['num_modes'] == 8 and result['samples'] == 200
    elif name == 'stacked_mnist':
        result = json.load(open(tmp_path / 'stacked_modes.json'))
        assert result['num_modes'] == 1000 and result['samples'] == 64 and 1 <= result['modes'] <= 64
        assert result['data_examples'] == 64 and 0 <= result['classifier_held_out_accuracy'] <= 1
        assert len(result['channel_kl']) == len(result['data_channel_kl']) == 3
        assert all(0 <= kl <= np.log(10) + 1e-9 for kl in result['channel_kl'] + result['data_channel_kl'])
        assert os.path.exists(tmp_path / 'classifier' / 'classifier.npz')
    if name == 'ctgan':  # a table's samples are rows
        assert samples == ['step_00000002.csv']
    elif name not in ('toy_1d', 'toy_2d'):
        assert 'step_00000002.png' in samples


@pytest.mark.parametrize('dataset, what', [('npy', '3-d points'), ('digits', 'images of (16, 16, 1)'),
                                           ('toy:gauss1d', '1-d points')])
def test_toy_2d_refuses_data_it_cannot_plot(tmp_path, dataset, what):
    from experiments import toy_2d
    from jaxgan.errors import UserError
    if dataset == 'npy':
        np.save(tmp_path / 'points.npy', np.random.default_rng(0).normal(size=(100, 3)).astype(np.float32))
        dataset = f'npy:{tmp_path}/points.npy'
    config = toy_2d.get_config()
    config.dataset, config.image_size, config.num_steps, config.steps_per_dispatch = dataset, 16, 2, 1
    with pytest.raises(UserError, match=f'^toy_2d trains on 2-d points and plots them; config.dataset={dataset} '
                                        f'holds {re.escape(what)} '):
        toy_2d.run(config, str(tmp_path / 'run'))
    assert not (tmp_path / 'run').exists()


def _facades_archive(path, names=('train/1.jpg', 'train/2.jpg', 'test/3.jpg', 'val/4.jpg'), top='facades'):
    """A facades.tar.gz of the real layout (facades/SPLIT/N.jpg, photo | labels side by side), tiny."""
    import io
    import tarfile
    from PIL import Image
    rng = np.random.default_rng(0)
    with tarfile.open(path, 'w:gz') as tar:
        for name in names:
            data = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, (16, 32, 3), dtype=np.uint8)).save(data, format='JPEG')
            info = tarfile.TarInfo(f'{top}/{name}')
            info.size = len(data.getvalue())
            tar.addfile(info, io.BytesIO(data.getvalue()))


def test_pix2pix_facades_downloads_once_into_the_cache_and_reads_it(tmp_path, monkeypatch):
    import urllib.request
    from experiments import pix2pix_facades
    from jaxgan import data
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))
    _facades_archive(tmp_path / 'served.tar.gz')
    asked = []

    def urlopen(url, timeout=None):
        asked.append(url)
        return open(tmp_path / 'served.tar.gz', 'rb')

    monkeypatch.setattr(urllib.request, 'urlopen', urlopen)
    config = pix2pix_facades.get_config()
    folder = str(tmp_path / 'cache' / 'jaxgan' / 'pix2pix' / 'facades')
    assert (config.dataset, config.eval_dataset) == (f'paired:{folder}', f'paired:{folder}:test')
    assert pix2pix_facades.fetch() == folder and asked == [pix2pix_facades.URL]
    assert pix2pix_facades.fetch() == folder and len(asked) == 1  # once
    assert sorted(os.listdir(os.path.dirname(folder))) == ['facades', 'facades.tar.gz']  # nothing else left
    config.image_size = 16
    pairs = data.load(config)
    assert pairs.paired and pairs.sizes == (2,) and pairs.spec.shape == (16, 16, 3)


def test_pix2pix_facades_offline_is_one_line_naming_the_url_and_the_folder_option(tmp_path, monkeypatch):
    import urllib.error
    import urllib.request
    from experiments import pix2pix_facades
    from jaxgan.errors import UserError

    def offline(url, timeout=None):
        raise urllib.error.URLError(OSError(-3, 'Temporary failure in name resolution'))

    monkeypatch.setattr(urllib.request, 'urlopen', offline)
    with pytest.raises(UserError) as error:
        pix2pix_facades.fetch(str(tmp_path / 'cache'))
    message = str(error.value)
    assert message.startswith(f'cannot download the facades data from {pix2pix_facades.URL} (') and '\n' not in message
    assert message.endswith('download it by hand where you can, extract it and pass --config.dataset=paired:DIR/facades '
                            '--config.eval_dataset=paired:DIR/facades:test')
    assert not (tmp_path / 'cache').exists()  # nothing written
    (tmp_path / 'cache').mkdir()
    _facades_archive(tmp_path / 'cache' / 'facades.tar.gz', top='maps')  # another archive
    with pytest.raises(UserError, match='holds no facades folder .*; delete it to download it again'):
        pix2pix_facades.fetch(str(tmp_path / 'cache'))
    assert sorted(os.listdir(tmp_path / 'cache')) == ['facades.tar.gz']


def test_ugatit_selfie2anime_without_its_folder_says_where_the_data_come_from(tmp_path, monkeypatch):
    from experiments import ugatit_selfie2anime
    from jaxgan.errors import UserError
    monkeypatch.chdir(tmp_path)
    config = ugatit_selfie2anime.get_config()
    with pytest.raises(UserError, match=r'^config.dataset=unpaired:selfie2anime: no folder .*selfie2anime; selfie2anime '
                                        r'is downloaded by hand \(linked from the README of taki0112/UGATIT\)'):
        ugatit_selfie2anime.run(config, str(tmp_path / 'run'))
    assert os.listdir(tmp_path) == []


def test_the_launcher_runs_the_translation_experiments():
    import experiments
    assert {'pix2pix_facades', 'cyclegan_horse2zebra', 'ugatit_selfie2anime'} <= set(experiments.NAMES)
    for name in ('pix2pix_facades', 'ugatit_selfie2anime'):  # their own run(), which jaxgan.main calls
        assert callable(experiments.load(name).run)
