"""What the translation experiments share (pix2pix_demo, cyclegan_demo, pix2pix_facades): scoring the
test split after training, the digits classifier the demos score with, and the scoring following the
data where a run trains on its own.

Its own module, not an experiment's, so that the log lines of each experiment's scoring carry this
module's name rather than another experiment's (absl prefixes each line with the file that logged it).

Own data: an experiment run with `--config.dataset=paired:DIR` (or unpaired:DIR, tfds:cycle_gan/NAME)
and no `--config.eval_dataset` scores the translations on that data's test split, DIR's `test` folder
(`paired:DIR:test`; `unpaired:DIR:test` reads DIR/testA and DIR/testB), never on the experiment's own
test set; and of the experiment's default metrics it keeps those that do not need the demo: `accuracy`
reads translations through a demo's map to classes, and `fid` and `kid` are measured in a digits
classifier's features, so both go unless config.eval.features names a feature network. Data without a
test split: the run stops before training, in one line that says so and names the ways out (add a test
folder, name another split with --config.eval_dataset, or --config.eval.metrics='' to train unscored).
"""

from __future__ import annotations

import json
import os

import jax
import ml_collections
from absl import logging

from jaxgan import ensemble, evaluation, files, train
from jaxgan.data.sources import parse_tfds
from jaxgan.data.translation import canonical, path_and_split
from jaxgan.errors import UserError
from jaxgan.metrics import classifier

Config = ml_collections.ConfigDict


def metrics_of(config: Config) -> tuple[str, ...]:
    return tuple(m.strip() for m in config.eval.metrics.split(',') if m.strip())


def test_split(dataset: str) -> str:
    """The test split of translation data: 'paired:DIR' or 'paired:DIR:train' -> 'paired:DIR:test' (and
    unpaired:, demo:, tfds:cycle_gan/NAME alike)."""
    kind, _, arg = dataset.partition(':')
    if kind == 'tfds':
        return f'tfds:{parse_tfds(arg)[0]}:test'
    return f'{kind}:{path_and_split(arg)[0]}:test'


def follow_dataset(config: Config, default: Config) -> Config:
    """`config` with the scoring following config.dataset where that is not the experiment's (`default`,
    its get_config()) and config.eval_dataset is left as the experiment's (module docstring)."""
    if config.eval_dataset != default.eval_dataset or canonical(config.dataset) == canonical(default.dataset):
        return config
    test = test_split(config.dataset)
    if canonical(test) == canonical(default.eval_dataset):  # the experiment's own data, another split
        return config
    config = config.copy_and_resolve_references()
    config.eval_dataset = test
    logging.info('scoring on the test split of config.dataset: config.eval_dataset=%s', test)
    metrics = metrics_of(config)
    if config.eval.metrics == default.eval.metrics:
        needs_demo = {'accuracy'} | (set() if config.eval.features else {'fid', 'kid'})
        kept = tuple(m for m in metrics if m not in needs_demo)
        if kept != metrics:
            logging.info('scoring %s of the experiment\'s metrics %s: accuracy reads a demo\'s digits, and fid and '
                         'kid need a feature network for these data (config.eval.features)',
                         ','.join(kept) or 'none', ','.join(metrics))
            config.eval.metrics = ','.join(kept)
    return config


def with_features(config: Config, workdir: str) -> Config:
    """The config, with config.eval.features a digits classifier where it is '' and the metrics need one:
    trained on `digits:train` (the demos' test digits kept out) into <workdir>/classifier, once."""
    metrics = set(metrics_of(config))
    if config.eval.features or not metrics & {'accuracy', 'fid', 'kid'}:
        return config
    config = config.copy_and_resolve_references()
    directory = classifier.trained_in(workdir, 'digits:train', config.image_size, steps=config.classifier_steps,
                                      seed=config.seed, channels=1, what='scoring the translations')
    config.eval.features = f'classifier:{directory}'
    return config


def make_evaluator(config: Config, followed: bool = False) -> evaluation.TranslationEvaluator:
    """The test split's evaluator (config.eval_dataset, config.eval.metrics), checked before training.
    followed: config.eval_dataset is the test split of the user's own data (`follow_dataset`), whose
    absence the error explains."""
    try:
        return evaluation.make_translation_evaluator(config, metrics_of(config), config.eval_dataset,
                                                     features=config.eval.features,
                                                     inception_weights=config.eval.inception_weights,
                                                     keep=config.eval.keep)
    except UserError as e:
        if not followed:
            raise
        raise UserError(f'the translations are scored on the test split of config.dataset={config.dataset} after '
                        f'training, config.eval_dataset={config.eval_dataset}: {e}. Add that split, name another '
                        f'with --config.eval_dataset, or train unscored with --config.eval.metrics=\'\'') from None


def score(config: Config, workdir: str, trained, evaluator: evaluation.TranslationEvaluator) -> list[dict]:
    """The test split's scores of each GAN of the run, written to <workdir>/translation_scores.json."""
    results = []
    for member in range(ensemble.size(config)):
        one = trained.state if ensemble.size(config) == 1 else ensemble.member_state(trained.state, member)
        result = evaluator(trained.gan, one)
        scores = dict(result['metrics'], dataset=config.eval_dataset, step=ensemble.step_of(one),
                      seed=config.seed + member, protocol=result['protocol'])
        logging.info('translation scores: %s', json.dumps(result['metrics']))
        results.append(scores)
    out = results[0] if len(results) == 1 else results
    if jax.process_index() == 0:
        files.atomic_write(os.path.join(workdir, 'translation_scores.json'), json.dumps(out, indent=2))
    return results


def run(config: Config, workdir: str, default: Config) -> list[dict]:
    """Trains, then scores the test split (module docstring); with config.eval.metrics '', trains only."""
    followed = follow_dataset(config, default)
    own_test = followed.eval_dataset != config.eval_dataset
    config = followed
    if not metrics_of(config):
        logging.info('config.eval.metrics is empty: the translations are not scored')
        if not config.eval.every:  # nothing reads the test split: not checked before training either
            config = config.copy_and_resolve_references()
            config.eval_dataset = ''
        train.train(config, workdir)
        return []
    config = with_features(config, workdir)
    evaluator = make_evaluator(config, followed=own_test)
    return score(config, workdir, train.train(config, workdir), evaluator)
