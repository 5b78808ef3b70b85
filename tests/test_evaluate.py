"""Evaluation end to end on the embedded digits, with a classifier as the feature network."""

import json

import numpy as np
import pytest

from jaxgan import evaluation, train
from jaxgan.checkpoint import Checkpoints, load_run
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
    real = evaluator.extractor(evaluation._reference_batches(__import__('jaxgan').data.load(config), 1000, 250, 1))
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


def test_unknown_metric_and_missing_classifier(tmp_path):
    from jaxgan.errors import UserError
    with pytest.raises(UserError, match="unknown metric 'fidd'"):
        evaluation.make_evaluator(tiny_config(), ('fidd',), num_samples=10)
    with pytest.raises(UserError, match='no classifier in'):
        evaluation.make_evaluator(tiny_config(), ('fid',), num_samples=10, features=f'classifier:{tmp_path}')
