"""Image-to-image translation games (jaxgan.families.translation) in the step machinery."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import train
from jaxgan.families.translation import heatmap_image
from jaxgan.core import parallel
from jaxgan.core.terms import pool_query
from jaxgan.errors import UserError
from tests.conftest import tiny_config


def official_pool(pool: list, size: int, images, u, slot):
    """pytorch-CycleGAN-and-pix2pix's ImagePool.query, with its random draws given."""
    out = []
    for image, u_i, slot_i in zip(images, u, slot):
        if len(pool) < size:
            pool.append(image)
            out.append(image)
        elif u_i > 0.5:
            out.append(pool[slot_i])
            pool[slot_i] = image
        else:
            out.append(image)
    return out


def test_the_image_history_answers_as_the_reference_code():
    rng = np.random.default_rng(0)
    size, state, pool = 4, {'images': jnp.zeros((4, 2)), 'count': jnp.zeros((), jnp.int32)}, []
    for _ in range(5):  # batches of 3: the pool fills in the second, then swaps
        images, u, slot = rng.normal(size=(3, 2)), rng.uniform(size=3), rng.integers(0, size, 3)
        out, state = pool_query(state, jnp.asarray(images, jnp.float32), jnp.asarray(u), jnp.asarray(slot))
        expected = official_pool(pool, size, list(images), u, slot)
        np.testing.assert_allclose(out, np.stack(expected), rtol=1e-6)
        np.testing.assert_allclose(state['images'][:len(pool)], np.stack(pool), rtol=1e-6)
    assert int(state['count']) == size


CYCLEGAN = dict(model__name='cyclegan', dataset='demo:digits_colour', image_size=16, batch_size=8,
                translation__g_blocks=1, translation__pool=6, translation__patch=16, model__g_width=4, model__d_width=4,
                ema__decay=0.0)


@pytest.mark.slow  # three compilations; `make test-slow` (the history is checked against the reference above)
def test_cyclegan_resumes_exactly_with_its_image_history(tmp_path):
    straight = train.train(tiny_config(num_steps=2, checkpoint_every=1, **CYCLEGAN), str(tmp_path / 'a')).state
    train.train(tiny_config(num_steps=1, checkpoint_every=1, **CYCLEGAN), str(tmp_path / 'b'))
    resumed = train.train(tiny_config(num_steps=2, checkpoint_every=1, **CYCLEGAN), str(tmp_path / 'b')).state
    assert int(straight.terms['pool_a']['count']) == 6  # 2 steps of 8 images, 6 kept
    for x, y in zip(jax.tree.leaves(parallel.to_host(straight)), jax.tree.leaves(parallel.to_host(resumed))):
        assert np.array_equal(x, y)


@pytest.mark.parametrize('overrides, message', [
    (dict(model__name='pix2pix'), 'pix2pix translates between two domains: config.dataset=digits holds single'),
    (dict(model__name='pix2pix', dataset='demo:digits_colour'), 'pix2pix learns from aligned pairs'),
    (dict(dataset='demo:edges2digits'), 'holds image pairs or two domains: train them with config.model.name=pix2pix'),
])
def test_translation_refuses_data_it_cannot_train_on(tmp_path, overrides, message):
    with pytest.raises(UserError, match=message):
        train.train(tiny_config(**overrides), str(tmp_path))


# ------------------------------------------------------------------------------------------ evaluation

@pytest.fixture(scope='module')
def digits_classifier(tmp_path_factory):
    """A digits classifier at 16 px, briefly trained (its accuracy matters less than being one)."""
    from jaxgan.metrics import classifier
    directory = str(tmp_path_factory.mktemp('classifier'))
    classifier.save(classifier.train_classifier('digits:train', 16, steps=60, channels=1), directory)
    return directory


class _Mapping:
    """A stand-in translation model whose a2b generator is `fn` on uint8 images."""

    def __init__(self, fn, shape=(16, 16, 3)):
        from jaxgan.data.spec import DataSpec
        self.spec, self.fn = DataSpec('image', shape, 1, 'test'), fn

    def translate(self, params, model_state, x, direction='a2b'):
        assert direction == 'a2b'
        return jnp.asarray(self.fn((x + 1.0) * 127.5), jnp.float32) / 127.5 - 1.0


def _colour(x):  # demos.colour on device, grey given as 3 equal channels
    from jaxgan.data import demos
    grey = x.mean(-1, keepdims=True) / 255.0
    return jnp.round(demos.GROUND + (demos.INK - demos.GROUND) * grey)


def test_translation_evaluator_scores_the_true_map_against_a_wrong_one(digits_classifier):
    from types import SimpleNamespace
    from jaxgan import evaluation
    config = tiny_config(**CYCLEGAN)
    evaluator = evaluation.make_translation_evaluator(config, ('aligned', 'accuracy', 'fid', 'kid'),
                                                      'demo:digits_colour:test', features=f'classifier:{digits_classifier}')
    state = SimpleNamespace(ema={}, params={}, model_state={}, step=np.int32(5))
    true = evaluator(_Mapping(_colour), state)
    wrong = evaluator(_Mapping(lambda x: _colour(jnp.flip(x, axis=1))), state)  # the digit upside down
    t, w = true['metrics'], wrong['metrics']
    assert t['l1'] < 1.0 and t['ssim'] > 0.99 and w['l1'] > 10 * t['l1']
    assert abs(t['accuracy'] - t['accuracy_truth']) <= 0.01 and t['accuracy_truth'] == w['accuracy_truth']
    assert w['accuracy'] < t['accuracy'] - 0.2
    assert t['fid'] < 0.01 * w['fid'] and t['kid'] < w['kid']
    assert true['protocol']['step'] == 5 and true['protocol']['inputs'] == true['protocol']['targets'] == 360
    assert 'luma' in true['protocol']['features']  # a grey classifier reads the coloured targets by their luma


@pytest.mark.parametrize('metrics, dataset, features, message', [
    (('aligned',), 'demo:digits_colour', '', 'holds no true translations'),
    (('accuracy',), 'demo:digits_colour:test', 'inception', 'needs config.eval.features=classifier:DIR'),
    (('fid',), 'demo:digits_colour:test', '', 'need a feature network'),
    (('psnr',), 'demo:digits_colour:test', '', "unknown metric 'psnr' for a translation model"),
    (('aligned',), '', '', 'needs a test split: config.eval_dataset'),
    (('aligned',), 'digits:test', '', 'is not translation data'),
])
def test_translation_evaluator_refuses_what_it_cannot_score(metrics, dataset, features, message):
    from jaxgan import evaluation
    with pytest.raises(UserError, match=message):
        evaluation.make_translation_evaluator(tiny_config(**CYCLEGAN), metrics, dataset, features=features)


@pytest.fixture(scope='module')
def cyclegan_run(tmp_path_factory):
    """A tiny CycleGAN trained 2 steps, its test split scored (aligned) after each, checkpointed at 2."""
    workdir = str(tmp_path_factory.mktemp('cyclegan'))
    config = tiny_config(num_steps=2, eval__every=1, eval__metrics='aligned', eval_dataset='demo:digits_colour:test',
                         **CYCLEGAN)
    return workdir, train.train(config, workdir)


def test_translation_models_are_scored_during_training_and_after(cyclegan_run, python_env):
    import json
    import os
    import pathlib
    from tests.conftest import run_cli
    tmp_path = pathlib.Path(cyclegan_run[0])
    rows = [json.loads(line) for line in open(tmp_path / 'eval' / 'history.jsonl')]
    assert [r['protocol']['step'] for r in rows] == [1, 2]
    assert all({'l1', 'psnr', 'ssim', 'sharpness'} <= r['metrics'].keys() for r in rows)
    assert rows[0]['metrics']['l1'] != rows[1]['metrics']['l1']
    assert not os.path.exists(tmp_path / 'best' / 'best.json')  # no FID asked, no best checkpoint
    done = run_cli(['-m', 'jaxgan.evaluate', f'--workdir={tmp_path}', '--metrics=aligned', '--direction=b2a'],
                   python_env, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.load(open(tmp_path / 'eval' / 'step_00000002.json'))
    assert result['protocol']['direction'] == 'b2a' and result['protocol']['inputs'] == 360
    assert result['metrics']['l1'] != rows[1]['metrics']['l1']  # the other generator, against the grey digits


def test_heatmap_images_run_from_blue_at_the_minimum_to_red_at_the_maximum():
    heatmap = jnp.zeros((1, 4, 4)).at[0, 1, 2].set(5.0)
    image = np.asarray(heatmap_image(heatmap, (1, 4, 4, 3)))
    assert image.shape == (1, 4, 4, 3) and image.min() >= -1 and image.max() <= 1
    np.testing.assert_allclose(image[0, 1, 2], [0.0, -1.0, -1.0], atol=1e-6)  # jet's dark red: (0.5, 0, 0)
    np.testing.assert_allclose(image[0, 3, 0], [-1.0, -1.0, 0.0], atol=1e-6)  # jet's dark blue: (0, 0, 0.5)
    grey = np.asarray(heatmap_image(heatmap, (1, 8, 8, 1)))
    assert grey.shape == (1, 8, 8, 1) and grey.min() == -1  # resized bilinearly: the hot pixel spreads
    assert grey[0, 2:4, 4:6].min() > grey[0, :, :2].max()


# ------------------------------------------------------------------------------------------------ U-GAT-IT

UGATIT = dict(model__name='ugatit', dataset='demo:digits_colour', image_size=16, batch_size=8, translation__g_blocks=1,
              translation__identity=1.0, model__g_width=4, model__d_width=4, ema__decay=0.0, loss='least_squares')


def _game(config, size=16, channels=3):
    from jaxgan.data.spec import DataSpec
    from jaxgan.families.translation import build_translation
    return build_translation(config, DataSpec('image', (size, size, channels), 10, 'test'))


def _bce(logits, label):
    """PyTorch's BCEWithLogitsLoss, mean reduction."""
    x = np.asarray(logits, np.float64)
    return np.mean(np.logaddexp(0.0, x) - label * x)


def _mse(x, target):
    """PyTorch's MSELoss against a constant, mean reduction."""
    return np.mean((np.asarray(x, np.float64) - target) ** 2)


def _l1(x, y):
    return np.mean(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)))


@pytest.mark.parametrize('light', [pytest.param(True, marks=pytest.mark.slow), False])  # light: `make test-slow`
def test_ugatit_terms_are_the_official_losses(light):
    """Each term of U-GAT-IT's game against train() of UGATIT.py (znxlwm/UGATIT-pytorch), with the
    official weights, on the networks applied one by one to a constructed batch."""
    from jaxgan.core.game import Nets, View
    game = _game(tiny_config(**{**UGATIT, 'translation__light': light, 'translation__d_layers': 3})).game
    params, model_state = game.init(jax.random.key(0))  # op by op: the ops' programs are shared with other tests
    rng = np.random.default_rng(0)
    real = {k: jnp.asarray(rng.uniform(-1, 1, (2, 16, 16, 3)), jnp.float32) for k in 'ab'}
    nets = Nets(game, params, model_state, None, train=False)
    view = View(game, nets, real, game.generate(nets, real, {}), {}, jnp.zeros((), jnp.int32), params, {})
    got = {t.name: float(t(view)) for t in game.terms}

    def net(name, x):
        return game.networks[name].module.apply({'params': params[name], **model_state[name]}, x, train=False)

    a, b = real['a'], real['b']
    A2B, B2A = net('G_ab', a), net('G_ba', b)  # fake_A2B, fake_A2B_cam_logit; fake_B2A, ...
    A2B2A, B2A2B = net('G_ba', A2B['image']), net('G_ab', B2A['image'])
    A2A, B2B = net('G_ba', a), net('G_ab', b)
    expected = {}
    for side, x, fake, recon, ident, into in (('a', a, B2A, A2B2A, A2A, 'ba'), ('b', b, A2B, B2A2B, B2B, 'ab')):
        d_real, d_fake = net(f'D_{side}', x), net(f'D_{side}', fake['image'])
        expected[f'd_{side}_adversarial'] = sum(  # D_ad_loss_GA + D_ad_cam_loss_GA + D_ad_loss_LA + D_ad_cam_loss_LA
            _mse(d_real[s][k], 1.0) + _mse(d_fake[s][k], 0.0) for s in ('global', 'local') for k in ('logits', 'cam_logits'))
        expected[f'g_{into}_adversarial'] = sum(  # G_ad_loss_GA + G_ad_cam_loss_GA + G_ad_loss_LA + G_ad_cam_loss_LA
            _mse(d_fake[s][k], 1.0) for s in ('global', 'local') for k in ('logits', 'cam_logits'))
        expected[f'cycle_{side}'] = 10.0 * _l1(recon['image'], x)  # cycle_weight * G_recon_loss_A
        expected[f'identity_{side}'] = 10.0 * _l1(ident['image'], x)  # identity_weight * G_identity_loss_A
        # cam_weight * G_cam_loss_A: BCE(fake_B2A_cam_logit, 1) + BCE(fake_A2A_cam_logit, 0)
        expected[f'cam_{into}'] = 1000.0 * (_bce(fake['cam_logits'], 1.0) + _bce(ident['cam_logits'], 0.0))
    assert got.keys() == expected.keys()
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=2e-5, err_msg=name)


@pytest.mark.parametrize('kind', ['pix2pix', 'cyclegan'])
def test_least_squares_terms_are_the_official_mse(kind):
    """pytorch-CycleGAN-and-pix2pix's lsgan GANLoss is MSELoss: D's 0.5 (MSE(D(x), 1) + MSE(D(G(a)), 0)),
    G's MSE(D(G(a)), 1); core.losses' least squares halves each, so the games weigh it twice."""
    from tests.test_terms import view
    model = _game(tiny_config(model__name=kind, loss='least_squares', image_size=32, translation__patch=16))
    r, f = jnp.array([[0.3, 1.5], [-0.2, 0.9]]), jnp.array([[0.1, -0.7], [2.0, 0.4]])
    logits = {q: (lambda v, x=(r if 'real' in q else f): {'logits': x}) for q in
              ('d_real', 'd_fake', 'd_a_real', 'd_a_fake_pooled', 'd_b_real', 'd_b_fake_pooled', 'd_a_fake', 'd_b_fake')}
    v = view(logits)
    d = [t for t in model.game.critic.terms if 'adversarial' in t.name]
    g = [t for t in model.game.generator.terms if 'adversarial' in t.name]
    assert len(d) == len(g) == (1 if kind == 'pix2pix' else 2)
    for t in d:
        np.testing.assert_allclose(float(t(v)), 0.5 * (_mse(r, 1.0) + _mse(f, 0.0)), rtol=1e-6)
    for t in g:
        np.testing.assert_allclose(float(t(v)), _mse(f, 1.0), rtol=1e-6)


def test_ugatit_generator_updates_keep_rho_in_0_1():
    """The official RhoClipper after each G step, as the last transform of G's optimizer: AdaLIN's and
    ILN's rho projected onto [0, 1], every other parameter left as the optimizer moved it."""
    import optax
    model = _game(tiny_config(**UGATIT, g_optimizer__learning_rate=0.1))
    tx = model.game.generator.optimizer
    one = lambda: {'adalin_0_0': {'rho': jnp.array([0.99, 0.5, 0.01])}, 'ILN_0': {'rho': jnp.array([0.0, 0.0])},
                   'conv': {'kernel': jnp.array([1.0, -1.0])}}
    params = {'G_ab': one(), 'G_ba': one()}
    grads = jax.tree.map(jnp.ones_like, params)
    for g in grads.values():
        g['adalin_0_0']['rho'] = jnp.array([-1.0, 1.0, 1.0])
        g['ILN_0']['rho'] = jnp.array([1.0, -1.0])
        g['conv']['kernel'] = jnp.array([-1.0, 1.0])
    updates, _ = tx.update(grads, tx.init(params), params)
    new = optax.apply_updates(params, updates)
    for g in new.values():  # Adam's first step moves each by lr = 0.1 against the gradient's sign
        np.testing.assert_allclose(g['adalin_0_0']['rho'], [1.0, 0.4, 0.0], atol=1e-6)
        np.testing.assert_allclose(g['ILN_0']['rho'], [0.0, 0.1], atol=1e-6)
        np.testing.assert_allclose(g['conv']['kernel'], [1.1, -1.1], atol=1e-6)  # not clipped


def test_ugatit_selfie2anime_is_the_papers_set_up():
    from experiments import ugatit_selfie2anime
    config = ugatit_selfie2anime.get_config()
    model = _game(config, size=256)
    terms = {t.name: t for t in model.game.terms}
    weights = {name: t.weight for name, t in terms.items()}
    assert weights == {'d_a_adversarial': 1.0, 'd_b_adversarial': 1.0, 'g_ba_adversarial': 1.0, 'g_ab_adversarial': 1.0,
                       'cycle_a': 10.0, 'cycle_b': 10.0, 'identity_a': 10.0, 'identity_b': 10.0, 'cam_ab': 1000.0,
                       'cam_ba': 1000.0}
    for name in ('d_a_adversarial', 'g_ab_adversarial'):  # four MSE losses each (core.losses' halved, twice)
        assert [p.weight for p in terms[name].parts] == [2.0] * 4
    g, d = model.game.networks['G_ab'].module, model.game.networks['D_a'].module
    assert (g.num_blocks, g.width, g.light, d.width, d.global_layers, d.local_layers) == (4, 64, False, 64, 7, 5)
    assert config.image_size == 256 and config.batch_size == 1 and config.num_steps == 1_000_000
    # Adam(lr=1e-4, betas=(0.5, 0.999), weight_decay=1e-4), as torch's: the decay is added to the gradient,
    # so a zero gradient still moves a parameter of 1 by about -lr on the first step.
    for player in (model.game.generator, model.game.critic):
        params = {n: {'rho': jnp.ones(1), 'kernel': jnp.ones(1)} for n in player.networks}
        updates, _ = player.optimizer.update(jax.tree.map(jnp.zeros_like, params), player.optimizer.init(params), params)
        np.testing.assert_allclose(jax.tree.leaves(updates), -1e-4, rtol=1e-3)


def test_ugatit_discriminators_fit_small_images():
    from jaxgan.families.translation import ugatit_d_layers
    assert [ugatit_d_layers(s) for s in (256, 96, 64, 32, 16)] == [(7, 5), (7, 5), (6, 4), (5, 3), (4, 3)]
    assert ugatit_d_layers(32, 4) == (4, 3)
    with pytest.raises(UserError, match='translation.d_layers=2 must be 0'):
        _game(tiny_config(**UGATIT, translation__d_layers=2))


@pytest.fixture(scope='module')
def ugatit_run(tmp_path_factory):  # slow tests only: its compilation is the longest of the suite's
    """A tiny U-GAT-IT (the full generator, 16 px, D of 3 layers) trained one step and checkpointed."""
    workdir = str(tmp_path_factory.mktemp('ugatit'))
    config = tiny_config(num_steps=1, checkpoint_every=1, sample_every=1, log_every=1, translation__d_layers=3, **UGATIT)
    return workdir, train.train(config, workdir)


@pytest.mark.slow  # 40 s of compilation; `make test-slow` (the terms are checked above, the grid's heatmap below)
def test_ugatit_trains_with_finite_losses_and_rho_in_range(ugatit_run):
    import json
    import os
    workdir, trained = ugatit_run
    rows = [json.loads(line) for line in open(os.path.join(workdir, 'metrics.jsonl'))]
    assert [r['step'] for r in rows] == [1]
    names = {t.name for t in trained.gan.game.terms} | {'d_loss', 'g_loss'}
    for row in rows:
        assert names <= row.keys() and all(np.isfinite(row[n]) for n in names), row
    state = parallel.to_host(trained.state)
    assert int(state.step) == 1
    rhos = [np.asarray(x) for path, x in jax.tree_util.tree_leaves_with_path(state.params)
            if getattr(path[-1], 'key', None) == 'rho']
    assert len(rhos) == 2 * (2 + 2)  # per generator: one block's two AdaLINs, two ILNs
    assert all(((r >= 0) & (r <= 1)).all() for r in rhos)
    from PIL import Image
    grid = np.asarray(Image.open(os.path.join(workdir, 'samples', 'step_00000001.png')))
    assert grid.shape[1] == 4 * (16 + 2) + 2  # input | heatmap | translation | reconstruction, padded


# ------------------------------------------------------------------------- python -m jaxgan.translate

def _write_images(folder, names_sizes):
    """Image files of random content: {relative name: (height, width, channels)}."""
    import os
    from PIL import Image
    rng = np.random.default_rng(1)
    for name, (h, w, c) in names_sizes.items():
        path = os.path.join(folder, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        pixels = rng.integers(0, 256, (h, w, c), dtype=np.uint8)
        Image.fromarray(pixels[..., 0] if c == 1 else pixels).save(path)


def test_translate_writes_each_image_translated_by_the_trained_generator(cyclegan_run, tmp_path):
    import os
    from PIL import Image
    from jaxgan import translate
    from jaxgan.checkpoint import load_run
    from jaxgan.data import sources, transforms
    workdir, _ = cyclegan_run
    inputs = tmp_path / 'in'
    _write_images(inputs, {'one.png': (20, 24, 3), 'two.jpg': (16, 16, 1), 'sub/three.bmp': (40, 30, 4)})
    (inputs / 'notes.txt').write_text('not an image')
    before = sorted(p.relative_to(inputs).as_posix() for p in inputs.rglob('*'))
    config, model, state = load_run(workdir)
    files = sources.image_files(str(inputs))
    # The training data's decoding, channels, centre crop and bicubic resize, then Translation.translate:
    # a2b with the EMA params, b2a with the trained ones.
    x = np.stack([transforms.preprocess_image(sources.decode_image(f, f), size=16, crop=0, channels=3) for f in files])
    both = jax.jit(lambda ema, params, s, x: (model.translate(ema, s, x, 'a2b'), model.translate(params, s, x, 'b2a')))
    expected = both(state.ema, state.params, state.model_state, model.spec.model_input(jnp.asarray(x)))
    for (direction, ema), translated in zip((('a2b', True), ('b2a', False)), expected):
        out = tmp_path / f'out_{direction}'
        written = translate.run(workdir, str(inputs), str(out), direction=direction, ema=ema, batch_size=2)
        names = sorted(p.relative_to(out).as_posix() for p in out.rglob('*') if p.is_file())
        assert names == ['one.png', 'sub/three.png', 'two.png'] and len(written) == 3
        for f, want in zip(files, model.spec.to_data_units(translated)):
            got = np.asarray(Image.open(os.path.join(out, os.path.splitext(os.path.relpath(f, inputs))[0] + '.png')))
            assert got.shape == (16, 16, 3) and got.dtype == np.uint8
            assert np.abs(got.astype(int) - want).max() <= 1, f  # one grey level: float rounding apart
    assert sorted(p.relative_to(inputs).as_posix() for p in inputs.rglob('*')) == before  # inputs untouched
    single = translate.run(workdir, str(inputs / 'one.png'), str(tmp_path / 'single'), batch_size=2)  # a file
    assert [os.path.basename(p) for p in single] == ['one.png']


def test_translate_refuses_bad_input_in_one_line_and_writes_nothing(cyclegan_run, tmp_path):
    import os
    from jaxgan import translate
    workdir, _ = cyclegan_run
    good, empty, corrupt, clash = (tmp_path / n for n in ('good', 'empty', 'corrupt', 'clash'))
    _write_images(good, {'x.png': (16, 16, 3)})
    empty.mkdir()
    (empty / 'readme.txt').write_text('no images here')
    _write_images(corrupt, {'a.png': (16, 16, 3)})
    (corrupt / 'b.png').write_bytes(b'\x89PNG\r\n\x1a\n truncated')
    _write_images(clash, {'x.png': (16, 16, 3), 'x.jpg': (16, 16, 3)})
    out = tmp_path / 'out'
    cases = [
        (tmp_path / 'nope', out, f'--input={tmp_path}/nope: no such file or folder'),
        (empty, out, f'--input={empty} holds no image files (jpg/jpeg/png/bmp/gif/webp)'),
        (corrupt, out, f'cannot decode image {corrupt}/b.png: '),
        (good, good, f'--out={good} is the input folder'),
        (good / 'x.png', good, f'--out={good}: the translation of {good}/x.png would overwrite the input'),
        (clash, out, f'{clash}/x.jpg and {clash}/x.png would both be translated to {out}/x.png'),
    ]
    for input_path, out_path, message in cases:
        with pytest.raises(UserError) as error:
            translate.run(workdir, str(input_path), str(out_path))
        assert str(error.value).startswith(message) and '\n' not in str(error.value), str(error.value)
        assert not out.exists() and sorted(os.listdir(good)) == ['x.png']


def test_translate_names_a_model_that_cannot_translate_that_way():
    from jaxgan.data.spec import DataSpec
    from jaxgan.families.gan import build_gan
    from jaxgan.translate import check_direction
    with pytest.raises(UserError, match=r'^runs/dcgan holds a dcgan model, which makes samples, not translations: use '
                                        r'python -m jaxgan.sample \(and jaxgan.latent\)$'):
        check_direction(build_gan(tiny_config(), DataSpec('image', (16, 16, 1), 10, 'digits')), 'a2b', 'runs/dcgan', 'dcgan')
    pix2pix = _game(tiny_config(model__name='pix2pix', image_size=32, translation__patch=16), size=32)
    check_direction(pix2pix, 'a2b', 'runs/p', 'pix2pix')
    with pytest.raises(UserError, match=r'^--direction=b2a: runs/p holds a pix2pix model, which translates a2b only$'):
        check_direction(pix2pix, 'b2a', 'runs/p', 'pix2pix')


def test_translate_command_line(cyclegan_run, tmp_path, python_env):
    from tests.conftest import run_cli
    workdir, _ = cyclegan_run
    _write_images(tmp_path / 'in', {'face.png': (32, 32, 3), 'cat.jpg': (24, 32, 3)})
    result = run_cli(['-m', 'jaxgan.translate', f'--workdir={workdir}', '--input=in', '--out=out', '--direction=b2a',
                      '--noema', '--batch_size=2'], python_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == ['cat.png', 'face.png']
    assert result.stderr.splitlines()[-1] == ('wrote 2 translations (b2a, cyclegan of step 2, trained params, 16x16) '
                                              'to out')
    result = run_cli(['-m', 'jaxgan.translate', f'--workdir={workdir}', '--input=in', '--out=in'], python_env, tmp_path)
    assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr[-3000:]
    assert [line for line in result.stderr.splitlines() if line.startswith('error:')] == [
        'error: --out=in is the input folder: the translations would mix with the inputs; give another folder']
