"""Evaluation end to end on the embedded digits, with a classifier as the feature network."""

import dataclasses
import json
import os
import re

import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import data, evaluation, train
from jaxgan.core import parallel
from jaxgan.checkpoint import Checkpoints, load_run
from jaxgan.errors import UserError
from jaxgan.metrics import classifier
from tests.conftest import run_cli, tiny_config


@pytest.fixture(scope='module')
def digits_classifier(tmp_path_factory):
    out = tmp_path_factory.mktemp('classifier')
    trained = classifier.train_classifier('digits', 16, steps=300)
    classifier.save(trained, str(out))
    return str(out), trained


def test_classifier_learns_the_digits(digits_classifier):
    directory, trained = digits_classifier
    assert trained.meta['held_out_accuracy'] > 0.9
    again = classifier.load(directory)
    images = np.random.default_rng(0).integers(0, 256, (8, 16, 16, 1), np.uint8)
    np.testing.assert_allclose(classifier.features_and_logits(again, images)[1],
                               classifier.features_and_logits(trained, images)[1], rtol=1e-6)


def test_evaluate_a_run_with_its_protocol(tmp_path, digits_classifier, python_env):
    directory, _ = digits_classifier
    train.train(tiny_config(num_steps=2), str(tmp_path))
    config, gan, state = load_run(str(tmp_path))
    evaluator = evaluation.make_evaluator(config, ('fid', 'kid', 'is', 'pr', 'dc', 'classes'), num_samples=400,
                                        features=f'classifier:{directory}', reference_size=1000, keep=400)
    result = evaluator(gan, state)
    m, p = result['metrics'], result['protocol']
    assert m['fid'] > 0 and np.isfinite(m['kid']) and m['is'] >= 1.0
    assert 0 <= m['precision'] <= 1 and 0 <= m['coverage'] <= 1 and 1 <= m['classes'] <= 10
    assert p['reference_size'] == 1000 and p['samples'] == 400 and p['step'] == 2 and 'classifier' in p['features']
    # The real data against themselves: FID near 0, all classes.
    real = evaluator.extractor(evaluation.reference_batches(__import__('jaxgan').data.load(config), 1000, 250, 1))
    mu, sigma = real['moments'].mean_cov()
    from jaxgan.metrics import stats
    assert stats.frechet_distance(mu, sigma, evaluator.reference['mu'], evaluator.reference['sigma']) < 0.1 * m['fid']

    cli = run_cli(['-m', 'jaxgan.evaluate', f'--workdir={tmp_path}', '--metrics=fid,classes', '--num_samples=200',
                   f'--features=classifier:{directory}', '--reference_size=500', '--keep=200'], python_env, tmp_path)
    assert cli.returncode == 0, cli.stderr[-3000:]
    written = json.load(open(tmp_path / 'eval' / 'step_00000002.json'))
    assert set(written) == {'metrics', 'protocol'} and 'fid' in written['metrics']


def test_periodic_evaluation_keeps_the_best_checkpoint(tmp_path, digits_classifier):
    directory, _ = digits_classifier
    config = tiny_config(num_steps=4, eval__every=2, eval__metrics='fid', eval__num_samples=200,
                         eval__features=f'classifier:{directory}', eval__reference_size=500, eval__keep=200)
    train.train(config, str(tmp_path))
    history = [json.loads(line) for line in open(tmp_path / 'eval' / 'history.jsonl')]
    assert [h['protocol']['step'] for h in history] == [2, 4]
    best = json.load(open(tmp_path / 'best' / 'best.json'))
    assert best['fid'] == min(h['metrics']['fid'] for h in history)
    assert Checkpoints(str(tmp_path), subdir='best', read_only=True).all_steps() == [best['step']]


def test_periodic_evaluation_of_an_ensemble_evaluates_each_member(tmp_path, digits_classifier):
    from jaxgan import ensemble
    directory, _ = digits_classifier
    config = tiny_config(num_steps=2, eval__every=2, eval__metrics='fid', eval__num_samples=200, ensemble__size=2,
                         eval__features=f'classifier:{directory}', eval__reference_size=500, eval__keep=200)
    train.train(config, str(tmp_path))
    history = [json.loads(line) for line in open(tmp_path / 'eval' / 'history.jsonl')]
    assert [(h['protocol']['step'], h['member']) for h in history] == [(2, 0), (2, 1)]
    assert history[0]['metrics']['fid'] != history[1]['metrics']['fid']  # two GANs, two scores
    best = json.load(open(tmp_path / 'best' / 'best.json'))
    winner = min(history, key=lambda h: h['metrics']['fid'])
    assert (best['member'], best['fid']) == (winner['member'], winner['metrics']['fid'])
    assert ensemble.best_member(str(tmp_path)) == winner['member']


def test_unknown_metric_and_missing_classifier(tmp_path):
    from jaxgan.errors import UserError
    with pytest.raises(UserError, match="unknown metric 'fidd'"):
        evaluation.make_evaluator(tiny_config(), ('fidd',), num_samples=10)
    with pytest.raises(UserError, match='no classifier in'):
        evaluation.make_evaluator(tiny_config(), ('fid',), num_samples=10, features=f'classifier:{tmp_path}')


def one_error_line(result) -> str:
    """The single `error: ...` line of a command that failed on bad input (exit 2, no traceback)."""
    errors = [line for line in result.stderr.splitlines() if line.startswith('error:')]
    assert result.returncode == 2 and len(errors) == 1 and 'Traceback' not in result.stderr, result.stderr[-3000:]
    return errors[0]


def test_reference_statistics_are_keyed_by_content_not_path(tmp_path):
    rng = np.random.default_rng(0)
    first, second = (rng.integers(0, 256, (40, 8, 8, 1), np.uint8) for _ in range(2))
    net = evaluation.FeatureNet('row means', 'row means v1', lambda x: (x.astype(jnp.float32).mean(axis=(2, 3)),
                                                                      x.astype(jnp.float32).mean(axis=(1, 2))), 1)
    calls = []

    class Counting(evaluation.Extractor):
        def __call__(self, batches):
            calls.append(1)
            return super().__call__(batches)

    extractor = Counting(net, parallel.make_mesh(), keep=40)
    cache = str(tmp_path / 'cache')

    def statistics(path):
        dataset = data.load(tiny_config(dataset=f'npy:{path}', image_size=8, data__cache_dir=cache))
        return evaluation.reference_statistics(dataset, extractor, num=40, seed=0, cache_dir=cache)

    (tmp_path / 'a').mkdir()
    (tmp_path / 'b').mkdir()
    np.save(tmp_path / 'a' / 'imgs.npy', first)
    before = statistics(tmp_path / 'a' / 'imgs.npy')
    np.save(tmp_path / 'a' / 'imgs.npy', second)  # the same path, other images
    changed = statistics(tmp_path / 'a' / 'imgs.npy')
    assert len(calls) == 2 and not np.allclose(before['mu'], changed['mu'])
    np.testing.assert_allclose(changed['mu'], second.astype(np.float64).mean(axis=(0, 2, 3)), rtol=1e-6)
    np.save(tmp_path / 'b' / 'imgs.npy', first)  # the first images at another path: read from the cache
    moved = statistics(tmp_path / 'b' / 'imgs.npy')
    assert len(calls) == 2 and np.array_equal(moved['mu'], before['mu'])
    assert moved['examples_sha256'] == before['examples_sha256'] != changed['examples_sha256']
    assert len(os.listdir(tmp_path / 'cache' / 'reference_stats')) == 2
    # Another network, or other weights, on the same data: computed anew.
    other = Counting(dataclasses.replace(net, identity='row means v2'), parallel.make_mesh(), keep=40)
    evaluation.reference_statistics(data.load(tiny_config(dataset=f'npy:{tmp_path}/b/imgs.npy', image_size=8)),
                                  other, num=40, seed=0, cache_dir=cache)
    assert len(calls) == 3
    assert evaluation.weights_sha256({'w': np.zeros(3)}) != evaluation.weights_sha256({'w': np.ones(3)})


def test_reference_statistics_of_a_config_are_keyed_by_its_fingerprint_reading_one_batch(tmp_path):
    """With the config's preparation, a cached reference is found by the source's fingerprint and one batch's
    sha256: the rest of the examples are not read (50,000 decoded images on every evaluator made)."""
    rng = np.random.default_rng(1)
    first, second = (rng.integers(0, 256, (40, 8, 8, 1), np.uint8) for _ in range(2))
    net = evaluation.FeatureNet('row means', 'row means v1', lambda x: (x.astype(jnp.float32).mean(axis=(2, 3)),
                                                                      x.astype(jnp.float32).mean(axis=(1, 2))), 1)
    extractor = evaluation.Extractor(net, parallel.make_mesh(), keep=40)
    cache = str(tmp_path / 'cache')
    read = []

    class Counted:  # the dataset, counting the examples read
        def __init__(self, dataset):
            self.spec, self._dataset = dataset.spec, dataset

        def examples(self, indices):
            read.extend(indices)
            return self._dataset.examples(indices)

    def statistics(path, **overrides):
        config = tiny_config(dataset=f'npy:{path}', image_size=8, data__cache_dir=cache, **overrides)
        return evaluation.reference_statistics(Counted(data.load(config)), extractor, num=40, seed=0, cache_dir=cache, batch=10,
                                               prepared=evaluation.preparation(config))

    for name, images in (('a', first), ('b', first), ('c', second)):
        (tmp_path / name).mkdir()
        np.save(tmp_path / name / 'imgs.npy', images)
    before = statistics(tmp_path / 'a' / 'imgs.npy')
    assert len(read) == 10 + 40  # the key's first batch, then every example once
    whole = data.load(tiny_config(dataset=f'npy:{tmp_path}/a/imgs.npy', image_size=8))
    assert before['examples_sha256'] == evaluation.examples_sha256(evaluation.reference_batches(whole, 40, 10, 0))
    read.clear()
    moved = statistics(tmp_path / 'b' / 'imgs.npy')  # the same file elsewhere: the cache, one batch read
    assert len(read) == 10 and np.array_equal(moved['mu'], before['mu'])
    assert moved['examples_sha256'] == before['examples_sha256']
    changed = statistics(tmp_path / 'c' / 'imgs.npy')
    np.testing.assert_allclose(changed['mu'], second.astype(np.float64).mean(axis=(0, 2, 3)), rtol=1e-6)
    statistics(tmp_path / 'a' / 'imgs.npy', data__on_corrupt='skip')  # another preparation: computed anew
    assert len(os.listdir(tmp_path / 'cache' / 'reference_stats')) == 3
    assert evaluation.preparation(tiny_config(dataset='stacked:digits'))['kind'] == 'stacked:digits'
    assert evaluation.preparation(tiny_config(dataset=f'npy:{tmp_path}/a.npy'))['kind'] == 'npy'


def test_stacked_metric_on_a_stacked_run(tmp_path, digits_classifier):
    """VEEGAN's protocol: a classifier of single digits reads each channel of stacked digits."""
    directory, _ = digits_classifier
    train.train(tiny_config(dataset='stacked:digits', num_steps=2, data__cache_dir=str(tmp_path / 'cache')),
                str(tmp_path / 'run'))
    config, gan, state = load_run(str(tmp_path / 'run'))
    evaluator = evaluation.make_evaluator(config, ('fid', 'kid', 'stacked', 'classes'), num_samples=200,
                                        features=f'classifier:{directory}', reference_size=300, keep=200)
    m = evaluator(gan, state)['metrics']
    assert m['stacked_total'] == 1000 and 1 <= m['stacked_modes'] <= 200 and m['stacked_samples'] == 200
    assert m['classes_total'] == 1000 and m['fid'] > 0 and np.isfinite(m['kid'])
    # Real stacked digits through the same network: its modes are mostly the data's labels.
    dataset = data.load(config)
    _, log_p = evaluator.net.apply(jnp.asarray(dataset.examples(np.arange(300))))
    assert np.mean(np.argmax(log_p, axis=1) == dataset.source.labels[:300]) > 0.6
    assert 'each of the 3 channels' in evaluator.protocol['features']


def test_a_feature_network_that_does_not_fit_the_data_is_refused(tmp_path, digits_classifier):
    directory, _ = digits_classifier  # 16x16x1
    for name, size, channels in (('c12', 12, 1), ('rgb', 16, 3)):
        classifier.save(classifier.train_classifier('digits', size, steps=1, channels=channels), str(tmp_path / name))
    cache = str(tmp_path / 'cache')
    cases = [
        (tiny_config(data__cache_dir=cache), ('fid',), 'c12',
         r'^the feature network takes 12x12x1 images and config.dataset=digits gives 16x16x1 \('),
        (tiny_config(dataset='stacked:digits', data__cache_dir=cache), ('stacked',), 'c12',
         r'^the feature network takes 12x12x3 images and config.dataset=stacked:digits gives 16x16x3'),
        (tiny_config(dataset='stacked:digits', data__cache_dir=cache), ('stacked',), 'rgb',
         r'^--metrics=stacked needs a classifier of single grey images \(1 channel\)'),
        (tiny_config(data__cache_dir=cache), ('stacked',), None,
         r'^--metrics=stacked counts the modes of 3-channel stacked digits'),
        (tiny_config(data__cache_dir=cache), ('classes',), 'inception', r'^--metrics=classes needs --features=classifier'),
    ]
    for config, metrics, net, message in cases:
        features = 'inception' if net == 'inception' else f'classifier:{tmp_path / net if net else directory}'
        with pytest.raises(UserError, match=message):
            evaluation.make_evaluator(config, metrics, num_samples=20, features=features, reference_size=20, keep=20)
    assert not os.path.exists(cache)  # refused before any statistics were computed


def test_sample_counts_a_metric_cannot_use(tmp_path, python_env):
    evaluation.check_sizes(('fid', 'kid', 'is', 'pr', 'dc'), num_samples=10, reference_size=6, keep=6)
    for metrics, sizes, message in [
        (('fid',), (1, 100, 100), 'num_samples=1: fid needs at least 2 generated samples'),
        (('fid',), (100, 1, 100), 'reference_size=1: fid needs at least 2 reference examples'),
        (('is',), (9, 100, 100), 'num_samples=9: is needs at least 10 generated samples'),
        (('pr',), (100, 100, 3), 'keep=3: pr uses the first `keep` features of each side and needs at least 4'),
        (('dc',), (100, 5, 100), 'reference_size=5: dc needs at least 6 reference examples'),
    ]:
        with pytest.raises(UserError, match=re.escape(message)):
            evaluation.check_sizes(metrics, num_samples=sizes[0], reference_size=sizes[1], keep=sizes[2])
    np.save(tmp_path / 'one.npy', np.zeros((1, 8, 8), np.uint8))
    with pytest.raises(UserError, match=re.escape(f'config.dataset=npy:{tmp_path}/one.npy has 1 example: fid needs')):
        evaluation.make_evaluator(tiny_config(dataset=f'npy:{tmp_path}/one.npy'), ('fid',), num_samples=10)

    train.train(tiny_config(num_steps=2), str(tmp_path / 'run'))
    env = dict(python_env, XDG_CACHE_HOME=str(tmp_path / 'cache'))
    for flags, message in [(['--num_samples=0'], 'error: num_samples=0: fid needs at least 2 generated samples'),
                           (['--num_samples=1', '--reference_size=1'], 'error: num_samples=1: fid needs at least 2')]:
        result = run_cli(['-m', 'jaxgan.evaluate', f'--workdir={tmp_path}/run', *flags], env, tmp_path)
        assert one_error_line(result).startswith(message)
    assert not (tmp_path / 'run' / 'eval').exists() and not (tmp_path / 'cache').exists()


def test_classifier_command_refuses_to_overwrite_or_to_train_nothing(tmp_path, digits_classifier, python_env):
    existing = tmp_path / 'taken'
    existing.write_text('keep me')
    directory, _ = digits_classifier
    before = {name: open(os.path.join(directory, name), 'rb').read() for name in os.listdir(directory)}
    base = ['-m', 'jaxgan.metrics.classifier', '--dataset=digits', '--image_size=8']
    for args, message in [([f'--out={existing}'], f'error: --out={existing} is a file;'),
                          ([f'--out={directory}'], f'error: --out={directory} already holds a classifier'),
                          ([f'--out={tmp_path}/new', '--steps=0'], 'error: --steps=0: a classifier needs at least one')]:
        assert one_error_line(run_cli([*base, *args], python_env, tmp_path)).startswith(message)
    assert existing.read_text() == 'keep me' and not (tmp_path / 'new').exists()
    assert {name: open(os.path.join(directory, name), 'rb').read() for name in os.listdir(directory)} == before


def test_the_reference_statistics_can_come_from_other_data(tmp_path, digits_classifier):
    from jaxgan.errors import UserError
    directory, _ = digits_classifier
    config = tiny_config(dataset='digits:train', data__limit=100)
    kwargs = dict(num_samples=200, features=f'classifier:{directory}', reference_size=300, keep=200)
    own = evaluation.make_evaluator(config, ('fid',), **kwargs)
    test = evaluation.make_evaluator(config, ('fid',), reference='digits:test', **kwargs)
    assert own.protocol['reference'].startswith('digits:train') and own.protocol['reference_size'] == 100
    assert test.protocol['reference'].startswith('digits:test') and test.protocol['reference_size'] == 300
    with pytest.raises(UserError, match=r'--reference=toy:ring8 gives images of|--reference=toy:ring8'):
        evaluation.make_evaluator(config, ('fid',), reference='toy:ring8', **kwargs)


def test_the_extractor_compiles_once_for_any_batch_sizes_and_keeps_every_example_in_order():
    traced = []

    def apply(x):
        traced.append(x.shape)
        flat = x.reshape(x.shape[0], -1).astype(jnp.float32)
        return flat[:, :3] * 2.0, flat[:, 3:5]

    net = evaluation.FeatureNet('test', 'test', apply, num_classes=2)
    extract = evaluation.Extractor(net, parallel.make_mesh(), keep=100)
    images = np.random.default_rng(0).integers(0, 256, (40, 2, 2, 3), np.uint8)
    flat = images.reshape(40, -1).astype(np.float32)
    first = extract(iter([images[:10], images[10:13]]))  # the reference's batches, a short last one
    second = extract(iter([images[13:20], images[20:22], images[22:40]]))  # another size: the samples'
    assert extract.chunk == 16 and len(traced) == 1, traced  # 10 rounded up to the 8 simulated devices
    np.testing.assert_array_equal(first['features'], flat[:13, :3] * 2)
    np.testing.assert_array_equal(second['logits'], flat[13:, 3:5])
    mu, _ = second['moments'].mean_cov()
    np.testing.assert_allclose(mu, (flat[13:, :3] * 2).mean(axis=0), rtol=1e-6)
    np.testing.assert_array_equal(extract.all_features(iter([images[:1]])), flat[:1, :3] * 2)
    whole = extract(iter([images[:0], images]))  # an empty batch, then one of two and a half chunks
    np.testing.assert_array_equal(whole['logits'], flat[:, 3:5])
    assert len(traced) == 1

    given = evaluation.Extractor(net, parallel.make_mesh(), keep=5, chunk=20)  # rounded up to 24
    out = given(iter([images[:3], images[3:40]]))
    assert given.chunk == 24 and len(traced) == 2 and traced[-1][0] == 24
    np.testing.assert_array_equal(out['features'], flat[:5, :3] * 2)  # the first `keep`
    np.testing.assert_array_equal(out['logits'], flat[:, 3:5])


def test_the_device_path_scores_as_the_host_path_compiles_once_and_on_any_number_of_devices(tmp_path):
    """FID and KID of a tiny generator through on_device.SampleProgram (one program: generate, round to
    uint8, embed, accumulate on the devices) against the host path's, on 8 simulated devices and on 1.
    Batch 12 on 8 devices (split unevenly), 100 samples (a short last batch), keep 50 (within a batch)."""
    import jax
    from jaxgan import ensemble
    w = np.random.default_rng(0).normal(size=(16 * 16, 12)).astype(np.float32) / 16

    def apply(x):  # a tiny feature net whose features sit away from 0, as the Inception's
        f = jnp.tanh(x.reshape(x.shape[0], -1).astype(jnp.float32) / 255 @ w) + 2.0
        return f, f[:, :4]

    net = evaluation.FeatureNet('tiny', 'tiny v1', apply, 4)
    config = tiny_config(batch_size=12, data__cache_dir=str(tmp_path))
    assert config.sample_bn == 'batch'  # the samples' batches must be the host path's
    dataset = data.load(config)
    gan = ensemble.member_gan(config, dataset.spec)

    def evaluator(mesh):
        extractor = evaluation.Extractor(net, mesh, keep=50, chunk=12)
        reference = evaluation.reference_statistics(dataset, extractor, num=300, seed=0, cache_dir=str(tmp_path))
        return evaluation.Evaluator(config, ('fid', 'kid'), net, extractor, reference, {}, num_samples=100, keep=50)

    mesh = parallel.make_mesh()
    state = ensemble.fresh_state(gan, config, parallel.replicated(mesh))
    on_device = evaluator(mesh)
    first = on_device(gan, state)
    assert first['protocol']['path'] == 'device'
    on_host = dataclasses.replace(on_device, on_device=False)
    host = on_host(gan, state)
    assert host['protocol']['path'] == 'host' and host['metrics']['fid'] > 0.1
    np.testing.assert_allclose(first['metrics']['fid'], host['metrics']['fid'], rtol=1e-6)
    np.testing.assert_allclose(first['metrics']['kid'], host['metrics']['kid'], rtol=1e-6)
    other = on_device(gan, state, seed=1)  # other samples, the same program
    assert other['metrics']['fid'] != first['metrics']['fid']
    assert on_device.program(gan, 100, 12).compilations() == 1
    one = parallel.make_mesh(jax.devices()[:1])
    alone = evaluator(one)(gan, ensemble.fresh_state(gan, config, parallel.replicated(one)))
    np.testing.assert_allclose(alone['metrics']['fid'], first['metrics']['fid'], rtol=1e-6)
    np.testing.assert_allclose(alone['metrics']['kid'], first['metrics']['kid'], rtol=1e-6)
    # is needs every sample's logits: the host path
    assert not dataclasses.replace(on_device, metrics=('fid', 'is')).uses_device_path(gan)
