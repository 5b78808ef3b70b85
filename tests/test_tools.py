"""The command-line tools on runs of every family: what each tool does with a model it does not serve,
inspect's filters of any convolutional network, StyleGAN2's truncation, the classifier's on_corrupt,
the translation experiments on one's own data, and the console's wording."""

import json
import logging
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jaxgan import data, inspect, sampling, train
from jaxgan.core import parallel
from jaxgan.core.state import create_state
from jaxgan.data.spec import DataSpec
from jaxgan.errors import UserError
from jaxgan.family import build, check_output
from tests.conftest import run_cli, tiny_config
from tests.test_translation import CYCLEGAN


def _state(model, config):
    return create_state(model.game, config.seed, parallel.replicated(parallel.make_mesh()))


def _cyclegan():
    config = tiny_config(**CYCLEGAN)
    return config, build(config, DataSpec('image', (16, 16, 3), 10, 'demo:digits_colour'))


def _stylegan2():
    from tests.test_stylegan2_game import stylegan2_config
    config = stylegan2_config()
    return config, build(config, DataSpec('image', (8, 8, 1), 10, 'digits'))


# --- sample and latent on a run they do not serve -----------------------------------------------------

def test_the_tool_of_each_family_is_named_by_the_family_interface():
    _, cyclegan = _cyclegan()
    with pytest.raises(UserError, match=r"^jaxgan.latent: this run's model makes translations, not samples: use "
                                        r"python -m jaxgan.translate$"):
        check_output(cyclegan, 'samples', 'jaxgan.latent')
    table_config = tiny_config(dataset='table:diabetes', model__name='ctgan', batch_size=80)
    table = build(table_config, data.load(table_config).spec)
    with pytest.raises(UserError, match=r"makes rows, not samples: use python -m jaxgan.sample --out=ROWS.csv$"):
        check_output(table, 'samples', 'jaxgan.latent')
    _, stylegan2 = _stylegan2()
    check_output(stylegan2, 'samples', 'jaxgan.sample')  # a GAN: no error


@pytest.fixture(scope='module')
def cyclegan_run(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp('cyclegan'))
    train.train(tiny_config(num_steps=1, checkpoint_every=1, **CYCLEGAN), workdir)
    return workdir


@pytest.mark.parametrize('tool, args', [('jaxgan.sample', ['--out=x.png']), ('jaxgan.sample', ['--out=x.csv']),
                                        ('jaxgan.latent', ['--out=x.png'])])
def test_sample_and_latent_on_a_translation_run_point_to_translate(cyclegan_run, tmp_path, python_env, tool, args):
    """They crashed with AttributeError: 'Translation' object has no attribute 'latents' (or
    'g_conditioned'), exit 1."""
    result = run_cli(['-m', tool, f'--workdir={cyclegan_run}', *args], python_env, tmp_path)
    errors = [line for line in result.stderr.splitlines() if line.startswith('error:')]
    assert result.returncode == 2 and len(errors) == 1, result.stderr[-3000:]
    assert 'Traceback' not in result.stderr
    assert errors[0] == (f"error: {tool}: this run's model makes translations, not "
                         f"{'rows' if args == ['--out=x.csv'] else 'samples'}: use python -m jaxgan.translate")
    assert os.listdir(tmp_path) == []


# --- inspect --filters on every convolutional network --------------------------------------------------

def test_filters_of_cyclegan_are_every_networks_image_side_convolutions():
    config, model = _cyclegan()
    state = _state(model, config)
    assert inspect.views(model) == [('D_a', 'first'), ('D_b', 'first'), ('G_ab', 'first'), ('G_ab', 'last'),
                                    ('G_ba', 'first'), ('G_ba', 'last')]
    image, notes = inspect.filters_figure(model, state, state)
    assert notes[0] == "D_a's first layer: Conv_0 (Conv 4x4, 3 -> 4 channels)"
    assert notes[3] == "G_ab's last layer: Conv_5 (Conv 7x7, 4 -> 3 channels)"
    # The picture is the params' own kernels: G_ab's last, flipped, a filter per input map.
    kernel = np.asarray(state.params['G_ab']['Conv_5']['kernel'])
    layer = inspect.last_layer(inspect.network_layers(model, state, 'G_ab'))
    np.testing.assert_array_equal(layer.kernel, kernel)
    assert layer.keys == ('Conv_5', 'kernel')
    assert image.shape[0] > 6 * inspect.TILE  # six rows


def test_filters_of_stylegan2_are_its_fromrgb_and_torgb_weights():
    """StyleGAN2's layers are its own modules (modulated convolutions), not Flax's Conv: found by their
    4-D weights, drawn as stored (before the styles scale them)."""
    config, model = _stylegan2()
    state = _state(model, config)
    image, notes = inspect.filters_figure(model, state, state)
    assert notes == ["D's first layer: b8/fromrgb (Conv2dLayer 1x1, 1 -> 8 channels)",
                     "G's last layer: synthesis/b8/torgb (ToRGBLayer 1x1, 8 -> 1 channels)"]
    last = inspect.last_layer(inspect.network_layers(model, state, 'G'))
    np.testing.assert_array_equal(last.kernel, np.asarray(state.params['G']['synthesis']['b8']['torgb']['kernel']))
    before, after = inspect.halves(image)
    np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize('lod, resolution, maps', [(2.0, 4, 8), (1.0, 8, 8), (0.5, 16, 4)])
def test_filters_of_a_growing_progan_are_those_of_its_stage(lod, resolution, maps):
    """The newest toRGB at a fade-in (lod 0.5: 16x16 fading in over the 8x8 one), not the one faded out;
    step 0's kernels are taken at the same layer, though step 0 is at another stage."""
    from tests.test_progan_game import progan_config
    config = progan_config()
    model = build(config, data.load(config).spec)
    start = _state(model, config)
    lods = lambda s: jax.tree.map(lambda x: jnp.full_like(x, lod), s)
    trained = start.replace(model_state={name: {**ms, 'progress': lods(ms['progress'])}
                                         for name, ms in start.model_state.items()})
    _, notes = inspect.filters_figure(model, start, trained)
    assert notes == [f"D's first layer: net/fromrgb{resolution} (Conv2d 1x1, 1 -> {maps} channels)",
                     f"G's last layer: net/torgb{resolution} (Conv2d 1x1, {maps} -> 1 channels)"]


# --- sample --truncation: the architecture's own ------------------------------------------------------

def test_sample_truncates_stylegan2s_w_towards_w_avg_and_others_z():
    config, model = _stylegan2()
    state = _state(model, config)
    # A w_avg away from 0, as training tracks it.
    w_avg = jax.tree.map(lambda x: x + 0.5, state.model_state['G'])
    average = w_avg['stats']['mapping']['w_avg']
    z0 = model.latents(jax.random.key(3), 4)
    z, psi = sampling.latents(model, 3, 4, 0.5)
    np.testing.assert_array_equal(z, z0)  # z itself untouched
    assert psi == 0.5 and sampling.has_mapping(model)
    params = state.ema['G']
    images = sampling.sample(model, params, w_avg, z, bn=config.sample_bn, batch_size=4, psi=psi)
    variables = {'params': params, **w_avg}
    ws = model.generator.apply(variables, z, method='map')
    truncated = model.generator.apply(variables, z, method='map', truncation_psi=0.5)
    np.testing.assert_allclose(truncated, average + 0.5 * (ws - average), rtol=1e-5, atol=1e-6)
    expected = model.spec.to_data_units(np.asarray(model.generator.apply(variables, truncated, method='synthesize')))
    np.testing.assert_array_equal(images, expected)
    zero = sampling.sample(model, params, w_avg, z, bn=config.sample_bn, batch_size=4, psi=0.0)
    assert (zero == zero[:1]).all()  # psi 0: every sample is the average w's image
    sampling.check_truncation(model, 0.0)  # any finite psi for w (0: the average)
    # DCGAN: BigGAN's resampling of z, psi 1 for w.
    dcgan = build(tiny_config(), DataSpec('image', (16, 16, 1), 10, 'digits'))
    z, psi = sampling.latents(dcgan, 3, 64, 0.5)
    assert psi == 1.0 and float(jnp.abs(z).max()) <= 0.5
    with pytest.raises(UserError, match='must be positive'):
        sampling.check_truncation(dcgan, 0.0)


# --- the classifier trainer's on_corrupt --------------------------------------------------------------

def _labelled_folder(root, corrupt: bool = True):
    rng = np.random.default_rng(0)
    for label in ('a', 'b'):
        os.makedirs(root / label)
        for i in range(6):
            Image.fromarray(rng.integers(0, 255, (8, 8, 3), np.uint8)).save(root / label / f'{i}.png')
    if corrupt:
        (root / 'b' / 'bad.png').write_bytes(b'\x89PNG\r\n\x1a\n truncated')
    return f'folder:{root}'


def test_classifier_takes_on_corrupt_as_training_does(tmp_path, python_env):
    from jaxgan.metrics import classifier
    dataset = _labelled_folder(tmp_path / 'images')
    with pytest.raises(UserError, match='bad.png'):
        classifier.train_classifier(dataset, 8, steps=1, batch_size=4)
    trained = classifier.train_classifier(dataset, 8, steps=1, batch_size=4, on_corrupt='skip')
    assert trained.meta['skipped'] == 1 and trained.meta['held_out_size'] == 2  # 12 readable images, 10% held out
    with pytest.raises(UserError, match=r"--on_corrupt='drop' is not one of error, skip"):
        classifier.train_classifier(dataset, 8, steps=1, on_corrupt='drop')
    out = tmp_path / 'classifier'
    result = run_cli(['-m', 'jaxgan.metrics.classifier', f'--dataset={dataset}', '--image_size=8', '--steps=1',
                      f'--out={out}', '--on_corrupt=skip'], python_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.load(open(out / 'classifier.json'))['skipped'] == 1
    result = run_cli(['-m', 'jaxgan.metrics.classifier', '--help'], python_env, tmp_path)
    assert '--on_corrupt {error,skip}' in result.stdout


# --- messages ---------------------------------------------------------------------------------------

def test_missing_inception_weights_name_the_training_field_too(tmp_path, monkeypatch):
    from jaxgan.metrics import inception

    def offline(*args, **kwargs):
        raise OSError('network unreachable')

    monkeypatch.setattr(inception.urllib.request, 'urlretrieve', offline)
    with pytest.raises(UserError, match=r'--config.eval.inception_weights \(training\)$'):
        inception.load_weights('', cache_dir=str(tmp_path))


def test_member_best_logs_the_member_it_chose(tmp_path, caplog):
    from jaxgan import ensemble
    os.makedirs(tmp_path / 'eval')
    for member, fid in ((0, 30.0), (1, 12.3), (2, 25.0)):
        (tmp_path / 'eval' / f'step_00000020_member_{member}.json').write_text(
            json.dumps({'member': member, 'metrics': {'fid': fid}, 'protocol': {'step': 20}}))
    with caplog.at_level(logging.INFO):
        assert ensemble.best_member(str(tmp_path)) == 1
    assert 'member 1 (best fid 12.3 at step 20)' in caplog.text


def test_the_console_shows_adas_augment_p_and_counts_in_the_singular():
    from jaxgan import writers
    line = writers.progress_line(10, 100, {'d_loss': 1.0, 'g_loss': 2.0, 'augment_p': 0.125})
    assert line == 'step 10/100 | d_loss 1 g_loss 2 augment_p 0.125'
    assert 'augment_p' in writers.members_lines([{'d_loss': 1.0, 'augment_p': 0.5}], [])
    assert (writers.counted(1, 'translation'), writers.counted(2, 'translation')) == ('1 translation', '2 translations')


def test_translate_writes_one_translation_in_the_singular(cyclegan_run, tmp_path, capsys):
    from jaxgan import translate
    os.makedirs(tmp_path / 'in')
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / 'in' / 'one.png')
    translate.run(cyclegan_run, str(tmp_path / 'in'), str(tmp_path / 'out'))
    assert capsys.readouterr().err.startswith('wrote 1 translation (a2b, cyclegan of step 1')


# --- the translation experiments on one's own data ----------------------------------------------------

def _pairs(root, splits=('train',), size=16):
    rng = np.random.default_rng(0)
    for split in splits:
        os.makedirs(root / split)
        for i in range(8):
            Image.fromarray(rng.integers(0, 255, (size, 2 * size, 3), np.uint8)).save(root / split / f'{i}.png')
    return root


def test_the_eval_set_follows_ones_own_dataset():
    from experiments import _translation, cyclegan_demo, pix2pix_demo, pix2pix_facades
    default = pix2pix_demo.get_config()
    config = pix2pix_demo.get_config()
    config.dataset = 'paired:/data/mine'
    followed = _translation.follow_dataset(config, default)
    assert (followed.eval_dataset, followed.eval.metrics) == ('paired:/data/mine:test', 'aligned')
    config.eval.features = 'inception'  # a feature network for these data: fid and kid stay
    assert _translation.follow_dataset(config, default).eval.metrics == 'aligned,fid,kid'
    config.eval_dataset = 'paired:/data/mine:val'  # named by the user: kept, with the metrics
    assert _translation.follow_dataset(config, default) is config
    assert _translation.follow_dataset(default, default) is default  # the demo's own
    config = pix2pix_demo.get_config()
    config.dataset = 'demo:edges2digits:train'  # the demo's data named in full
    assert _translation.follow_dataset(config, default) is config
    facades = pix2pix_facades.get_config()
    facades.dataset = 'paired:/data/mine:train'
    followed = _translation.follow_dataset(facades, pix2pix_facades.get_config())
    assert (followed.eval_dataset, followed.eval.metrics) == ('paired:/data/mine:test', 'aligned')
    cyclegan = cyclegan_demo.get_config()
    cyclegan.dataset = 'tfds:cycle_gan/horse2zebra'
    assert _translation.follow_dataset(cyclegan, cyclegan_demo.get_config()).eval_dataset == (
        'tfds:cycle_gan/horse2zebra:test')


def test_pix2pix_facades_on_ones_own_pairs_downloads_nothing(tmp_path, monkeypatch):
    from experiments import _translation, pix2pix_facades
    monkeypatch.setattr(pix2pix_facades, 'fetch', lambda: pytest.fail('fetched the facades'))
    ran = []
    monkeypatch.setattr(_translation, 'run', lambda config, workdir, default: ran.append(
        _translation.follow_dataset(config, default)))
    config = pix2pix_facades.get_config()
    config.dataset = f'paired:{tmp_path}'
    pix2pix_facades.run(config, str(tmp_path / 'run'))
    assert ran[0].eval_dataset == f'paired:{tmp_path}:test'


def _small(config, **fields):
    config.image_size, config.batch_size, config.num_steps, config.num_samples = 16, 8, 2, 6
    config.model.g_width = config.model.d_width = 4
    config.translation.patch = 16  # a PatchGAN that leaves a logit at 16 px
    config.log_every = config.sample_every = config.checkpoint_every = 2
    config.data.workers = 1
    for name, value in fields.items():
        setattr(config, name, value)
    return config


def test_pix2pix_demo_without_a_test_split_says_so_before_training(tmp_path, python_env):
    from experiments import pix2pix_demo
    mine = _pairs(tmp_path / 'mine')
    config = _small(pix2pix_demo.get_config(), dataset=f'paired:{mine}')
    with pytest.raises(UserError) as error:
        pix2pix_demo.run(config, str(tmp_path / 'run'))
    message = str(error.value)
    assert message.startswith(f'the translations are scored on the test split of config.dataset=paired:{mine} '
                              f'after training, config.eval_dataset=paired:{mine}:test: ')
    assert message.endswith("name another with --config.eval_dataset, or train unscored with "
                            "--config.eval.metrics=''") and '\n' not in message
    assert not os.path.exists(tmp_path / 'run')
    result = run_cli(['-m', 'experiments.pix2pix_demo', '--help'], python_env, tmp_path)
    assert 'scores on DIR/test: a test split is needed' in ' '.join(result.stdout.split())


def test_pix2pix_demo_on_ones_own_pairs_scores_their_test_split(tmp_path, caplog):
    from experiments import pix2pix_demo
    mine = _pairs(tmp_path / 'mine', ('train', 'test'))
    config = _small(pix2pix_demo.get_config(), dataset=f'paired:{mine}')
    with caplog.at_level(logging.INFO):
        [scores] = pix2pix_demo.run(config, str(tmp_path / 'run'))
    assert scores['dataset'] == f'paired:{mine}:test' and 'l1' in scores and 'accuracy' not in scores
    assert not os.path.exists(tmp_path / 'run' / 'classifier')  # no digits classifier for these data
    # The scores are logged by the shared module, not by another experiment (CycleGAN's carried
    # pix2pix_demo.py).
    [record] = [r for r in caplog.records if r.getMessage().startswith('translation scores: ')]
    assert record.filename == '_translation.py'
    config = _small(pix2pix_demo.get_config(), dataset=f'paired:{_pairs(tmp_path / "bare")}')
    config.eval.metrics = ''
    assert pix2pix_demo.run(config, str(tmp_path / 'unscored')) == []
    assert os.listdir(tmp_path / 'unscored' / 'checkpoints')


def test_cyclegan_demo_scores_through_the_shared_module():
    import inspect as source
    from experiments import _translation, cyclegan_demo
    assert 'experiments.pix2pix_demo' not in source.getsource(cyclegan_demo)  # its log lines were that module's
    assert '_translation.run' in source.getsource(cyclegan_demo.run)
    assert _translation.score.__module__ == 'experiments._translation'
