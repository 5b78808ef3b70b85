"""The memorisation check (jaxgan.metrics.nearest, --metrics=nearest) and truncated latents (--truncation)."""

import numpy as np
import pytest

from jaxgan.metrics import nearest


def _brute_force(queries, references, k):
    q = queries.reshape(len(queries), -1).astype(np.float64)
    r = references.reshape(len(references), -1).astype(np.float64)
    d = np.sqrt(((q[:, None] - r[None]) ** 2).sum(-1))
    order = np.argsort(d, axis=1, kind='stable')[:, :k]  # ties: the lower index first
    return np.take_along_axis(d, order, 1), order


@pytest.mark.parametrize('kind', ['pixels', 'features'])
def test_nearest_is_exact_against_brute_force(kind):
    rng = np.random.default_rng(0)
    if kind == 'pixels':  # uint8 images, with duplicates among the references (ties)
        references = rng.integers(0, 256, (300, 6, 6, 1), np.uint8)
        references[200:220] = references[:20]
        queries = np.concatenate([rng.integers(0, 256, (50, 6, 6, 1), np.uint8), references[:10]])
    else:  # features far from the origin, where a plain float32 |a|^2 + |b|^2 - 2ab loses digits
        references = (1000 + rng.standard_normal((300, 12))).astype(np.float32)
        queries = (1000 + rng.standard_normal((57, 12))).astype(np.float32)
    d, i = nearest.nearest(queries, references, 3, block=64, query_block=16)  # blocks that do not divide
    want_d, want_i = _brute_force(queries, references, 3)
    np.testing.assert_array_equal(i, want_i)
    np.testing.assert_allclose(d, want_d, rtol=1e-12, atol=1e-9)
    if kind == 'pixels':
        assert (d[-10:, 0] == 0).all() and (i[-10:, 0] == np.arange(10)).all()


def test_distinct_examples_counts_an_example_and_its_mirror_once():
    # views 0..3 are examples 0..3, views 4..7 their mirrors
    d = np.array([[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]])
    i = np.array([[5, 1, 4, 0, 2, 3]])
    out_d, out_i = nearest.distinct_examples(d, i, 4, 3)
    np.testing.assert_array_equal(out_i, [[5, 4, 2]])
    np.testing.assert_array_equal(out_d, [[0.0, 2.0, 4.0]])
    with pytest.raises(ValueError, match='fewer than k=3'):
        nearest.distinct_examples(d[:, :3], np.array([[1, 5, 0]]), 4, 3)


def test_memorisation_score_of_copies_fresh_draws_and_far_samples():
    rng = np.random.default_rng(1)
    train, holdout = rng.standard_normal((500, 4)), rng.standard_normal((400, 4))
    fresh = rng.standard_normal((2000, 4))
    holdout_d = nearest.nearest(holdout, train, 1)[0][:, 0]
    copies = train[rng.integers(0, 500, 300)]
    score, threshold = nearest.memorisation_score(nearest.nearest(copies, train, 1)[0][:, 0], holdout_d)
    assert score == 1.0 and threshold == pytest.approx(np.percentile(holdout_d, 5)) and threshold > 0
    assert nearest.memorisation_score(nearest.nearest(train[:300] + 100, train, 1)[0][:, 0], holdout_d)[0] == 0.0
    score = nearest.memorisation_score(nearest.nearest(fresh, train, 1)[0][:, 0], holdout_d)[0]
    assert 0.02 < score < 0.09  # the data's own distribution: about the 5% the threshold lets through
    stats = nearest.distribution(holdout_d)
    assert stats['p0'] <= stats['p5'] <= stats['p50'] <= stats['p100'] and stats['p5'] == pytest.approx(threshold)


def _latent_layout(latent, z_dim=64, categorical=0, continuous=0):
    import types
    from jaxgan.families.gan import draw_latents
    gan = types.SimpleNamespace(z_dim=z_dim, latent=latent, categorical_code=categorical,
                                continuous_codes=continuous, mapping=False)  # a GAN's fields: no mapping network
    gan.latents = lambda key, n: draw_latents(key, (n,), z_dim, latent, categorical, continuous)
    return gan


def test_truncation_resamples_normal_z_beyond_the_threshold_and_keeps_the_codes():
    import jax
    from jaxgan import sampling
    gan = _latent_layout('normal', z_dim=64, categorical=10, continuous=2)
    latents = gan.latents(jax.random.key(0), 4000)
    psi = 0.5
    out = np.asarray(sampling.truncate(gan, jax.random.key(1), latents, psi))
    latents = np.asarray(latents)
    z, z_out = latents[:, :64], out[:, :64]
    assert np.abs(z_out).max() <= psi
    within = np.abs(z) <= psi
    np.testing.assert_array_equal(z_out[within], z[within])  # entries within the threshold are kept as drawn
    np.testing.assert_array_equal(out[:, 64:], latents[:, 64:])  # InfoGAN's codes untouched
    # The resampled entries are N(0, 1) truncated to [-psi, psi], as the kept ones: the same distribution
    # (two-sample Kolmogorov-Smirnov distance between the kept and the resampled entries).
    kept, resampled = np.sort(z[within]), np.sort(z_out[~within])
    grid = np.linspace(-psi, psi, 201)
    ks = np.max(np.abs(np.searchsorted(kept, grid) / len(kept) - np.searchsorted(resampled, grid) / len(resampled)))
    assert ks < 0.02, ks
    assert np.abs(z).max() > 3 * psi  # the test drew entries that needed resampling


def test_truncation_of_uniform_latents_scales_and_bad_thresholds_are_refused():
    import jax
    from jaxgan import sampling
    from jaxgan.errors import UserError
    gan = _latent_layout('uniform', z_dim=8, continuous=2)
    latents = gan.latents(jax.random.key(0), 100)
    out = np.asarray(sampling.truncate(gan, jax.random.key(1), latents, 0.25))
    np.testing.assert_allclose(out[:, :8], 0.25 * np.asarray(latents)[:, :8], rtol=1e-6)
    np.testing.assert_array_equal(out[:, 8:], np.asarray(latents)[:, 8:])
    for psi, gan in ((0.0, _latent_layout('normal')), (-1.0, _latent_layout('normal')), (1.5, _latent_layout('uniform'))):
        with pytest.raises(UserError, match=f'--truncation={psi}'):
            sampling.truncate(gan, jax.random.key(1), latents, psi)


@pytest.fixture(scope='module')
def small_classifier(tmp_path_factory):
    """A digits classifier as the feature network: barely trained, its features only need to exist."""
    from jaxgan.metrics import classifier
    out = tmp_path_factory.mktemp('classifier')
    classifier.save(classifier.train_classifier('digits', 16, steps=10), str(out))
    return str(out)


@pytest.mark.slow
def test_nearest_command_on_an_ensemble_member_and_its_bad_inputs(tmp_path, small_classifier, python_env):
    import json
    import os
    from jaxgan import evaluation, train
    from jaxgan.checkpoint import load_run
    from jaxgan.errors import UserError
    from tests.conftest import run_cli, tiny_config
    workdir = tmp_path / 'run'
    train.train(tiny_config(num_steps=2, ensemble__size=2, dataset='digits:train', data__limit=100,
                            data__flip=True), str(workdir))
    features = f'--features=classifier:{small_classifier}'
    cli = run_cli(['-m', 'jaxgan.evaluate', f'--workdir={workdir}', '--member=1', '--metrics=nearest',
                   '--holdout=digits:test', '--num_samples=64', features], python_env, tmp_path)
    assert cli.returncode == 0, cli.stderr[-3000:]
    assert sorted(os.listdir(workdir / 'eval')) == ['step_00000002_member_1.json', 'step_00000002_member_1_nearest.png']
    result = json.load(open(workdir / 'eval' / 'step_00000002_member_1.json'))
    m, report = result['metrics'], result['nearest']
    assert result['member'] == 1 and m['nearest_memorisation'] == m['nearest_memorisation_features']
    assert result['protocol']['nearest_training'].startswith('digits:train: 100 examples and their mirrored copies')
    for space in ('pixels', 'features'):
        rows = report[space]['first_samples_neighbours']
        assert len(rows) == 16 and all(len(r) == 3 for r in rows)
        # three distinct examples of the 100, nearest first: an example and its mirror count once
        assert all(len({n['example'] for n in r}) == 3 and max(n['example'] for n in r) < 100 for r in rows)
        assert all(r[0]['distance'] <= r[1]['distance'] <= r[2]['distance'] for r in rows)
        assert report[space]['holdout']['p5'] == report[space]['threshold']
    from PIL import Image
    assert Image.open(workdir / 'eval' / 'step_00000002_member_1_nearest.png').size == (7 * 18 + 2, 16 * 18 + 2)

    config, _, _ = load_run(str(workdir), member='1')
    np.save(tmp_path / 'colour.npy', np.zeros((5, 16, 16, 3), np.uint8))
    for holdout, message in (('', 'pass --holdout=DATASET'),
                             ('digits:nope', '--holdout=digits:nope: digits:nope: the splits are'),
                             (f'npy:{tmp_path}/colour.npy', 'gives images of shape 16x16x3; the training data '
                              'digits:train are images of 16x16x1')):
        with pytest.raises(UserError, match=message):
            evaluation.make_evaluator(config, ('nearest',), num_samples=64, holdout=holdout,
                                      features=f'classifier:{small_classifier}')
    before = sorted(os.listdir(workdir / 'eval'))
    bad = run_cli(['-m', 'jaxgan.evaluate', f'--workdir={workdir}', '--member=0', '--metrics=nearest',
                   f'--holdout=npy:{tmp_path}/colour.npy', features], python_env, tmp_path)
    assert bad.returncode == 2 and 'gives images of shape 16x16x3' in bad.stderr.strip().splitlines()[-1]
    assert sorted(os.listdir(workdir / 'eval')) == before


def test_nearest_on_vectors_in_the_data_units(tmp_path):
    from jaxgan import evaluation, train
    from jaxgan.checkpoint import load_run
    from jaxgan.errors import UserError
    from tests.conftest import tiny_config
    rng = np.random.default_rng(0)
    train_data = (rng.standard_normal((300, 3)) * [1, 10, 100]).astype(np.float32)
    np.save(tmp_path / 'train.npy', train_data)
    np.save(tmp_path / 'held.npy', (rng.standard_normal((200, 3)) * [1, 10, 100]).astype(np.float32))
    np.save(tmp_path / 'other.npy', np.zeros((10, 4), np.float32))
    train.train(tiny_config(num_steps=2, dataset=f'npy:{tmp_path}/train.npy', model__name='mlp',
                            model__g_hidden=(16,), model__d_hidden=(16,)), str(tmp_path / 'run'))
    config, gan, state = load_run(str(tmp_path / 'run'))
    evaluator = evaluation.make_evaluator(config, ('nearest',), num_samples=100, holdout=f'npy:{tmp_path}/held.npy')
    result = evaluator(gan, state)
    assert set(result['nearest']) == {'data'} and not evaluator.figures
    assert result['metrics']['nearest_memorisation'] == result['metrics']['nearest_memorisation_data']
    # held-out distances in the data's own units, as a brute-force search finds them
    want = _brute_force(np.load(tmp_path / 'held.npy'), train_data, 1)[0][:, 0]
    assert result['nearest']['data']['holdout']['p50'] == pytest.approx(np.median(want), rel=1e-5)
    # the training data as samples: copies, score 1
    m, _, _ = evaluator.nearest.compare(train_data[:50], None)
    assert m['nearest_memorisation'] == 1.0
    with pytest.raises(UserError, match='--metrics=fid needs images'):
        evaluation.make_evaluator(config, ('nearest', 'fid'), num_samples=100, holdout=f'npy:{tmp_path}/held.npy')
    with pytest.raises(UserError, match='gives vectors of shape 4; the training data'):
        evaluation.make_evaluator(config, ('nearest',), num_samples=100, holdout=f'npy:{tmp_path}/other.npy')
