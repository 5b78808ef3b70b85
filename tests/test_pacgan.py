"""PacGAN's packing (Lin et al. 2018): grouping, D's input, penalties per pack, and the refusals."""

import json
import os
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import config as config_lib, data, train
from jaxgan.families import gan as gan_lib
from jaxgan.core import packing, penalties
from jaxgan.errors import UserError
from tests.conftest import REPO, run_cli, tiny_config


@pytest.mark.parametrize('shape', [(6, 4, 4, 3), (6, 5)])
def test_a_pack_is_its_examples_concatenated_along_the_last_axis(shape):
    x = jax.random.normal(jax.random.key(0), shape)
    for m in (1, 2, 3):
        packed = packing.pack(x, m)
        assert packed.shape == (6 // m, *shape[1:-1], m * shape[-1])
        for j in range(6 // m):
            np.testing.assert_array_equal(packed[j], jnp.concatenate([x[j * m + k] for k in range(m)], axis=-1))
    with pytest.raises(ValueError, match='does not split into packs of 4'):
        packing.pack(x, 4)


def _gan(**overrides):
    config = tiny_config(**overrides)
    return config, gan_lib.build_gan(config, data.load(config).spec)


def test_discriminator_takes_m_times_the_channels_and_judges_packs():
    for m in (1, 2, 4):
        config, gan = _gan(model__pack=m)
        params, model_state = gan.game.init(jax.random.key(0))
        first = params['D']['Conv_0']['kernel']
        assert first.shape[2] == m * 1  # digits are grey
        x = jax.random.uniform(jax.random.key(1), (8, 16, 16, 1), minval=-1.0, maxval=1.0)
        out, _ = gan.discriminate(params['D'], model_state['D'], x, train=False)
        assert out['logits'].shape == (8 // m,)
        manual = jnp.stack([jnp.concatenate(list(x[j * m:(j + 1) * m]), axis=-1) for j in range(8 // m)])
        expected = gan.discriminator.apply({'params': params['D'], **model_state['D']}, manual, None, train=False)
        np.testing.assert_allclose(out['logits'], expected['logits'], rtol=1e-5, atol=1e-6)


def test_vector_discriminator_packs_features():
    _, gan = _gan(dataset='toy:ring8', model__name='mlp', model__g_hidden=(8,), model__d_hidden=(8,), model__pack=4)
    params, _ = gan.game.init(jax.random.key(0))
    assert params['D']['Dense_0']['kernel'].shape == (8, 8)  # 4 points of 2 features


def test_input_gradient_penalties_take_the_gradient_of_the_packed_input():
    # D(pack) = <w, pack>: the gradient with respect to each pack is w, whatever the pack holds.
    m, b = 2, 6
    w = jax.random.normal(jax.random.key(0), (m * 3,))
    d_fn = lambda x: packing.pack(x, m) @ w
    real = jax.random.normal(jax.random.key(1), (b, 3))
    fake = jax.random.normal(jax.random.key(2), (b, 3))
    norm2 = float(jnp.sum(w * w))
    np.testing.assert_allclose(penalties.r1_penalty(d_fn=d_fn, real=real, pack=m), norm2, rtol=1e-5)
    gp = penalties.gradient_penalty(d_fn=d_fn, real=real, fake=fake, epsilon=jnp.full((b,), 0.3), pack=m)
    np.testing.assert_allclose(gp, (np.sqrt(norm2) - 1.0) ** 2, rtol=1e-4)
    dragan = penalties.dragan_penalty(d_fn=d_fn, real=real, std=jnp.ones(()), uniform=jnp.zeros((b, 3)),
                                      alpha=jnp.zeros((b,)), pack=m)
    np.testing.assert_allclose(dragan, (np.sqrt(norm2) - 1.0) ** 2, rtol=1e-4)


@pytest.mark.parametrize('overrides, message', [
    ({'model__pack': 0}, r'^config.model.pack=0 must be a positive integer$'),
    ({'model__pack': 3}, r'^config.model.pack=3: config.batch_size=16 does not split into packs of 3 on each of '
                         r'the 8 devices \(make it a multiple of 24\)$'),
    ({'model__pack': 4}, r'^config.model.pack=4: config.batch_size=16 does not split into packs of 4 on each '),
])
def test_pack_sizes_that_do_not_fit_are_refused(overrides, message):
    with pytest.raises(UserError, match=message):
        config_lib.validate(tiny_config(**overrides), num_devices=8)
    config_lib.validate(tiny_config(model__pack=2), num_devices=8)


@pytest.mark.parametrize('overrides, what', [
    ({'conditioning__d': 'acgan'}, 'config.conditioning.d=acgan'),
    ({'conditioning__d': 'projection', 'conditioning__g': 'concat'}, 'config.conditioning.d=projection'),
    ({'infogan__categorical': 4}, r'InfoGAN \(config.infogan\)'),
])
def test_per_example_heads_are_refused_with_packs(overrides, what):
    with pytest.raises(UserError, match=f'^config.model.pack=2: D judges packs of 2 examples, but {what} reads D '
                                        r'per example \(labels or class heads\); use pack=1 with them$'):
        _gan(model__pack=2, **overrides)


def test_penalties_with_packs_still_need_packs_that_d_keeps_apart():
    with pytest.raises(UserError, match='^config.penalties.r1 needs a discriminator that treats examples '
                                        'independently, but model dcgan normalises D with BatchNorm'):
        _gan(model__pack=2, penalties__r1=1.0)


def test_packed_gan_with_r1_trains(tmp_path):
    config = tiny_config(model__pack=2, model__d_norm='layer', penalties__r1=1.0, num_steps=2, log_every=1)
    trained = train.train(config, str(tmp_path))
    assert int(trained.state.step) == 2
    assert trained.state.params['D']['Conv_0']['kernel'].shape[2] == 2


def test_cli_refuses_a_pack_that_does_not_divide_the_batch(tmp_path, python_env):
    result = run_cli(['-m', 'experiments.stacked_mnist', f'--workdir={tmp_path}/run', '--config.batch_size=64',
                      '--config.model.pack=3'], python_env, REPO)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        'error: config.model.pack=3: config.batch_size=64 does not split into packs of 3 on each of the 8 '
        'devices (make it a multiple of 24)')
    assert not (tmp_path / 'run').exists()


def test_stacked_mnist_refuses_data_that_are_not_stacked(tmp_path):
    from experiments import stacked_mnist
    config = stacked_mnist.get_config()
    config.dataset = 'digits'
    with pytest.raises(UserError, match=r'^stacked_mnist counts the 1,000 modes of stacked digits; config.dataset='
                                        r'digits is not stacked:DATASET \(stacked:digits, stacked:tfds:mnist\), '
                                        r'folder:DIR \(sub-folders 000 to 999\) or npy:PATH'):
        stacked_mnist.run(config, str(tmp_path / 'run'))
    assert not (tmp_path / 'run').exists()


def _stacked_folder(root, names):
    from PIL import Image
    for i, name in enumerate(names):
        os.makedirs(root / name, exist_ok=True)
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(root / name / f'{i}.png')


def test_stacked_mnist_reads_a_folder_of_stacked_images_by_their_3_digit_labels(tmp_path):
    from experiments import stacked_mnist
    _stacked_folder(tmp_path / 'd', ['012', '907', '907'])
    config = stacked_mnist.get_config()
    config.dataset, config.image_size = f'folder:{tmp_path}/d', 8
    dataset = stacked_mnist.check_own_data(config)
    modes_of = stacked_mnist.mode_labels(dataset.source, 'd')
    assert modes_of.tolist() == [12, 907, 907]  # the sub-folders' names, not their indices
    planes, digits = stacked_mnist.channel_digits(dataset.examples(np.arange(3)), modes_of)
    assert planes.shape == (9, 8, 8, 1) and digits.tolist() == [0, 1, 2, 9, 0, 7, 9, 0, 7]
    np.save(tmp_path / 'x.npy', np.zeros((2, 8, 8, 3), np.uint8))
    np.save(tmp_path / 'x.labels.npy', np.array([5, 999]))
    config.dataset = f'npy:{tmp_path}/x.npy'
    assert stacked_mnist.mode_labels(stacked_mnist.check_own_data(config).source, 'x').tolist() == [5, 999]


def test_stacked_mnist_counts_the_datas_own_modes_over_the_whole_folder_not_its_first_labels(tmp_path):
    """A folder lists its examples label by label: the data's own figures draw their examples from all of it."""
    from PIL import Image
    from experiments import stacked_mnist
    for label, value in (('000', 0), ('111', 255)):
        os.makedirs(tmp_path / 'd' / label)
        for i in range(10):
            Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(tmp_path / 'd' / label / f'{i}.png')
    config = stacked_mnist.get_config()
    config.dataset, config.image_size, config.eval_samples = f'folder:{tmp_path}/d', 8, 10
    net = types.SimpleNamespace(apply=lambda x: (None, jnp.stack([-x.mean((1, 2, 3)), x.mean((1, 2, 3))], axis=1)))
    read = stacked_mnist.data_mode_labels(net, config)
    assert len(read) == 10 and set(read.tolist()) == {0, 1}  # the first 10 are all '000'


@pytest.mark.parametrize('names, labels, match', [
    (['1', '22'], None, r"sub-folder '1' is not a 3-digit label"),
    (None, [3, 1000], r'label 1000 is not a 3-digit label'),
    (None, None, r'has no labels to count modes by'),
])
def test_stacked_mnist_refuses_files_it_cannot_count(tmp_path, names, labels, match):
    from experiments import stacked_mnist
    config = stacked_mnist.get_config()
    config.image_size = 8
    if names:
        _stacked_folder(tmp_path / 'd', names)
        config.dataset = f'folder:{tmp_path}/d'
    else:
        np.save(tmp_path / 'x.npy', np.zeros((2, 8, 8, 3), np.uint8))
        if labels:
            np.save(tmp_path / 'x.labels.npy', np.array(labels))
        config.dataset = f'npy:{tmp_path}/x.npy'
    with pytest.raises(UserError, match=match):
        stacked_mnist.run(config, str(tmp_path / 'run'))
    assert not (tmp_path / 'run').exists()


def test_stacked_mnist_refuses_grey_files(tmp_path):
    from experiments import stacked_mnist
    np.save(tmp_path / 'x.npy', np.zeros((2, 8, 8), np.uint8))
    np.save(tmp_path / 'x.labels.npy', np.array([1, 2]))
    config = stacked_mnist.get_config()
    config.dataset, config.image_size = f'npy:{tmp_path}/x.npy', 8
    with pytest.raises(UserError, match=r'gives 8x8x1 examples; stacked_mnist counts 3-channel images'):
        stacked_mnist.run(config, str(tmp_path / 'run'))


def test_toy_1d_refuses_packs_it_cannot_plot(tmp_path):
    from experiments import toy_1d
    config = toy_1d.get_config()
    config.model.pack = 2
    with pytest.raises(UserError, match=r'^toy_1d plots D\(x\) of single points; config.model.pack=2 makes D judge'):
        toy_1d.run(config, str(tmp_path / 'run'))
    assert not (tmp_path / 'run').exists()


def test_bench_counts_a_packed_discriminator_per_example():
    from experiments import dcgan_celeba
    from jaxgan import bench
    from jaxgan.core.state import init_state
    spec = data.DataSpec('image', (64, 64, 3), 1, 'synthetic')
    flops = {}
    for m in (1, 3):
        config = dcgan_celeba.get_config()
        config.model.pack = m
        gan = gan_lib.build_gan(config, spec)
        flops[m] = bench.forward_flops(gan, jax.eval_shape(lambda: init_state(gan.game, 0)))[1]
    # A pack of 3 costs D's first layer (4x4 convolution, 64 channels, 32x32 outputs) 3 times, the rest once.
    first_layer = 2 * 32 * 32 * 64 * (4 * 4 * 3)
    np.testing.assert_allclose(flops[3], (flops[1] + 2 * first_layer) / 3, rtol=1e-6)


@pytest.mark.slow
def test_the_benchmarks_earlier_count_at_the_last_step_is_the_experiments_own(tmp_path, python_env, monkeypatch):
    """benchmarks/stacked_digits.py --counts_at counts a checkpoint as stacked_mnist counts its last step:
    at that last step the two give the same modes and KL, which other latents would not."""
    from experiments import stacked_mnist
    monkeypatch.syspath_prepend(os.path.join(REPO, 'benchmarks'))
    import stacked_digits
    config = stacked_mnist.get_config()
    config.update_from_flattened_dict({'image_size': 16, 'model.g_width': 8, 'model.d_width': 8, 'model.z_dim': 8,
                                       'num_steps': 4, 'steps_per_dispatch': 2, 'checkpoint_every': 2,
                                       'keep_checkpoints': 2, 'eval_samples': 256, 'mode_classifier_steps': 20})
    workdir = str(tmp_path / 'run')
    own = stacked_mnist.run(config, workdir)
    classifier = os.path.join(workdir, 'classifier')
    first, last = stacked_digits.earlier_counts(workdir, [2, 4], classifier, 256, python_env)
    assert first['step'] == 2 and 1 <= first['modes'] <= 256
    assert last == {'step': 4, 'modes': own['modes'], 'kl_to_uniform': own['kl_to_uniform'],
                    'channel_kl': own['channel_kl']}
    result = run_cli(['-m', 'jaxgan.evaluate', f'--workdir={workdir}', '--step=4', '--metrics=stacked',
                      f'--features=classifier:{classifier}', '--num_samples=256', '--seed=0'], python_env, REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1])['stacked_kl_to_uniform'] != own['kl_to_uniform']


def test_the_benchmarks_configs_keep_their_widths_and_augmentation_whatever_the_experiments_default(monkeypatch):
    """benchmarks/stacked_digits.py pins both networks at width 16 (the README's tables' widths), so a change of
    stacked_mnist's default D (32 since sn_hinge_d32) moves only the configs that name a width."""
    from experiments import stacked_mnist
    monkeypatch.syspath_prepend(os.path.join(REPO, 'benchmarks'))
    import stacked_digits
    assert stacked_mnist.get_config().model.d_width == 32 and stacked_mnist.get_config().model.g_width == 16
    runs = {name: {**stacked_digits.COMMON, **fields} for name, fields in stacked_digits.CONFIGS.items()}
    widths = {name: (run['model.g_width'], run['model.d_width']) for name, run in runs.items()}
    named = {'dcgan_g32': (32, 16), 'dcgan_w32': (32, 32), 'sn_hinge_d32': (16, 32), 'sn_hinge_w32': (32, 32),
             'sn_hinge_d32_diffaugment': (16, 32)}
    assert {n: w for n, w in widths.items() if w != (16, 16)} == named
    # and augmentation: only the config that names it augments, whatever the experiment's default (DiffAugment)
    assert stacked_mnist.get_config().augment.kind == 'diffaugment'
    assert {n for n, run in runs.items() if run['augment.kind'] != 'none'} == {'sn_hinge_d32_diffaugment'}


def test_the_benchmark_counts_only_stacked_digits_with_the_shared_digits_classifier(monkeypatch, tmp_path):
    """The shared classifier reads the grey digits: stacked MNIST (or files) get one of their own, kept once trained."""
    monkeypatch.syspath_prepend(os.path.join(REPO, 'benchmarks'))
    import stacked_digits
    root = str(tmp_path)
    assert stacked_digits.counting_classifier('stacked:digits', 'SHARED', root) == 'SHARED'
    for dataset in ('stacked:tfds:mnist', 'folder:renderings/nearest32'):
        assert stacked_digits.counting_classifier(dataset, 'SHARED', root) == ''  # the run trains its own
        kept = stacked_digits.classifier_path(root, dataset)
        os.makedirs(kept)
        open(os.path.join(kept, 'classifier.json'), 'w').close()
        assert stacked_digits.counting_classifier(dataset, 'SHARED', root) == kept
