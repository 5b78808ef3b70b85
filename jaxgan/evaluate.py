"""The evaluation command line: `python -m jaxgan.evaluate`; the metrics live in `jaxgan.evaluation`.

    python -m jaxgan.evaluate --workdir=DIR --metrics=fid,kid,is,pr --num_samples=50000
    python -m jaxgan.evaluate --workdir=DIR --metrics=fid,classes --features=classifier:classifiers/mnist
    python -m jaxgan.evaluate --workdir=DIR --metrics=nearest --holdout=digits:test --features=classifier:DIR
    python -m jaxgan.evaluate --workdir=DIR --metrics=table --target=progression     # a table (CTGAN) run
    python -m jaxgan.evaluate --workdir=DIR --metrics=privacy                         # its membership attacks

Writes <workdir>/eval/step_<step>.json: the numbers and the protocol (see jaxgan/evaluation/); for
an ensemble's member (--member=I), eval/step_<step>_member_<I>.json, which --member=best then reads.
--metrics=nearest also writes, for images, eval/step_<step>[_member_<I>]_nearest.png: a row per sample,
the sample, then its 3 nearest training examples in pixels, then in the features.

--metrics=table (a table run; jaxgan.metrics.table): synthetic rows, as many as the training rows
unless --num_samples says otherwise, against the run's training rows and its holdout rows
(config.table.holdout): per-column fidelity (Kolmogorov-Smirnov statistic, total-variation distance),
the difference of the pairwise associations (Pearson, Cramer's V, correlation ratio), machine-learning
efficacy for --target (train on synthetic rows, test on the holdout, against train on real rows), and
privacy (distance to the closest training row, against the holdout's; the share of exact copies), and
SDMetrics' quality report (jaxgan.metrics.table_quality: column shapes, column pair trends) with the
largest Pearson and Spearman gaps over the numeric pairs.
Writes eval/step_<step>.json and eval/step_<step>_table.png (marginals and association matrices).

--metrics=privacy (a table run with a holdout; jaxgan.metrics.privacy_attacks, docs/privacy_report.md):
membership-inference attacks (GAN-Leaks' full black-box and calibrated distance attacks) on training rows
against as many holdout rows, their advantage and AUC with bootstrap spreads and the advantage chance
reaches, and the distances to closest record. Alone it writes eval/step_<step>_privacy.json;
--metrics=table,privacy puts both reports in eval/step_<step>.json.

A translation run (pix2pix, CycleGAN, U-GAT-IT; `evaluation.TranslationEvaluator`) is scored on a test
split, --dataset or its config.eval_dataset, translating with --direction's generator, with --metrics of
aligned (L1, PSNR, SSIM, sharpness against true translations: pairs, a demo's test split), accuracy (a
demo's: a digits classifier reads each translation through the demo's inverse map), fid and kid (the
translations against the split's target domain), the features --features, or the run's
config.eval.features where --features is not given:

    python -m jaxgan.evaluate --workdir=runs/cyclegan_demo --metrics=aligned,accuracy,fid,kid --direction=b2a
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import sys

from jaxgan import files, sampling
from jaxgan.errors import UserError
from jaxgan.evaluation import METRICS, TRANSLATION_METRICS


def _main(argv) -> None:
    from absl import flags
    from jaxgan.checkpoint import load_run
    del argv
    f = flags.FLAGS
    metrics = tuple(m.strip() for m in f.metrics.split(',') if m.strip())
    if 'table' in metrics or 'privacy' in metrics:
        return _table(f, metrics)
    config, gan, state = load_run(f.workdir, f.step, member=f.member)
    if gan.output == 'translations':
        if f.direction not in gan.directions:
            raise UserError(f'--direction={f.direction}: a {config.model.name} model translates '
                            f'{" and ".join(gan.directions)}')
        features = f.features if flags_present('features') else config.eval.features
        evaluator = gan.evaluator(config, metrics, dataset=f.dataset, direction=f.direction, features=features,
                                  inception_weights=f.inception_weights, keep=f.keep)
    else:
        evaluator = gan.evaluator(config, metrics, num_samples=f.num_samples, features=f.features,
                                  inception_weights=f.inception_weights, reference_size=f.reference_size,
                                  keep=f.keep, holdout=f.holdout, reference=f.reference)
    result = evaluator(gan, state, seed=f.seed, ema=f.ema)
    member = config.ensemble.get('member')
    name = f'step_{result["protocol"]["step"]:08d}'
    if member is not None:  # an ensemble's member: its own file, which --member=best reads
        result['member'] = member
        name += f'_member_{member}'
    out = os.path.join(f.workdir, 'eval', f'{name}.json')
    for figure, image in evaluator.figures.items():
        path = os.path.join(f.workdir, 'eval', f'{name}_{figure}.png')
        sampling.save_png(path, image)
        print(f'wrote {path}', file=sys.stderr)
    files.atomic_write(out, json.dumps(result, indent=2))
    print(json.dumps(result['metrics']))
    print(f'wrote {out}', file=sys.stderr)


def _table(f, metrics: tuple[str, ...]) -> None:
    """--metrics=table and/or privacy: the report of jaxgan.metrics.table, and the membership attacks of
    jaxgan.metrics.privacy_attacks, on the run's synthetic, training and holdout rows."""
    from jaxgan.checkpoint import load_run
    from jaxgan.data import tables
    from jaxgan.metrics import privacy_attacks, table
    if not set(metrics) <= {'table', 'privacy'} or len(set(metrics)) != len(metrics):
        raise UserError(f'--metrics={f.metrics}: table and privacy are measured on their own (the others are for '
                        'images and vectors)')
    name_ = ','.join(metrics)
    config, gan, state = load_run(f.workdir, f.step, member=f.member)
    if gan.spec.kind != 'table':
        raise UserError(f'--metrics={name_}: {f.workdir} holds a model of {gan.spec.kind}s, not a table')
    if not config.table.holdout:
        raise UserError(f'--metrics={name_}: the run kept no holdout rows (config.table.holdout=0), the rows it never '
                        'trained on that efficacy, privacy and the membership attack compare against: train again '
                        'with --config.table.holdout=0.2')
    train_rows, holdout = tables.split(tables.read_table(config.dataset), config.table.holdout, config.seed)
    if 'privacy' in metrics:
        _same_split(config.dataset, gan.spec, len(train_rows))
        privacy_attacks.check_rows(len(train_rows), len(holdout))
    kinds = {column.name: column.kind for column in gan.transform.columns}
    if f.target and f.target not in kinds:
        close = difflib.get_close_matches(f.target, list(kinds), n=3)
        raise UserError(f'--target={f.target} is not a column of {config.dataset}'
                        + (f' (did you mean {", ".join(close)}?)' if close else f'; its columns: {", ".join(kinds)}'))
    num = f.num_samples if flags_present('num_samples') else len(train_rows)
    params = state.ema['G'] if f.ema else state.params['G']
    modes = f.modes or gan.sample_modes
    synthetic = gan.sample(params, state.model_state['G'], num, seed=f.seed, batch_size=config.batch_size,
                           bn=config.sample_bn, modes=modes)
    step = int(state.step)
    member = config.ensemble.get('member')
    name = (f'step_{step:08d}' + (f'_member_{member}' if member is not None else '')
            + (f'_modes_{modes}' if modes != gan.sample_modes else ''))  # the run's own sampling keeps the plain name
    result: dict = {'metrics': {}}
    written = []
    if 'table' in metrics:
        report = table.report(train_rows, synthetic, holdout, kinds, target=f.target or None, seed=f.seed)
        figure = os.path.join(f.workdir, 'eval', f'{name}_table.png')
        table.figure(train_rows, synthetic, kinds, figure)
        result['metrics'].update(report['summary'])
        result['table'] = report
        written.append(figure)
    if 'privacy' in metrics:
        private = privacy_attacks.report(train_rows, synthetic, holdout, kinds, seed=f.seed)
        result['metrics'].update(private['summary'])
        result['privacy'] = private
    result['protocol'] = {'step': step, 'synthetic_rows': num, 'training_rows': len(train_rows),
                          'holdout_rows': len(holdout), 'seed': f.seed, 'ema': f.ema, 'dataset': config.dataset,
                          'sample_modes': modes}
    # --metrics=privacy alone has a file of its own, so that it leaves the quality report in place.
    out = os.path.join(f.workdir, 'eval', f'{name}.json' if 'table' in metrics else f'{name}_privacy.json')
    files.atomic_write(out, json.dumps(result, indent=2))
    print(json.dumps(result['metrics']))
    print(f'wrote {" and ".join([out, *written])}', file=sys.stderr)


def _same_split(dataset: str, spec, training_rows: int) -> None:
    """A UserError unless the table is the one the run trained on: the holdout is drawn again from it by
    the seed, and only the same rows make its non-members rows the model never saw."""
    from jaxgan.data.pipeline import table_fingerprint
    from jaxgan.data.spec import changed_source
    now = dataclasses.replace(spec, fingerprint=table_fingerprint(dataset))
    changed = changed_source({'fingerprint': spec.fingerprint}, now)
    if changed is None and training_rows != spec.num_examples:
        changed = f'{dataset} gives {training_rows} training rows where the run had {spec.num_examples}'
    if changed:
        raise UserError(f'--metrics=privacy: {changed}: its holdout rows may have been trained on, so no '
                        'membership can be measured')


def flags_present(name: str) -> bool:
    from absl import flags
    return flags.FLAGS[name].present


def main() -> None:
    from absl import flags
    from jaxgan import cli
    flags.DEFINE_string('workdir', None, 'The training run\'s workdir.', required=True)
    flags.DEFINE_string('metrics', 'fid', f'Comma-separated: {", ".join(METRICS)}; or table and/or privacy, alone, for a table run. nearest: memorisation, each '
                        'sample\'s nearest training examples in pixels and features against --holdout\'s, with '
                        'the fraction of samples nearer than 5% of held-out examples are (about 0.05: no copying; '
                        '1: copies).')
    flags.DEFINE_integer('num_samples', 50_000, 'Generated samples (table: as many as the training rows unless given).')
    flags.DEFINE_string('target', '', 'table: the column that machine-learning efficacy predicts; \'\': no efficacy.')
    flags.DEFINE_string('features', 'inception', 'inception, or classifier:DIR (python -m jaxgan.metrics.classifier).')
    flags.DEFINE_string('inception_weights', '', 'A .npz or pytorch-fid .pth file; default: cached or downloaded.')
    flags.DEFINE_integer('reference_size', 50_000, 'Real examples for the reference statistics (at most all).')
    flags.DEFINE_integer('keep', 10_000, 'Features per side kept for KID, precision/recall, density/coverage.')
    flags.DEFINE_string('reference', '', 'The data of the reference statistics (fid, kid, pr, dc), e.g. digits:test; '
                        'default: the training data as configured (its data.limit subset and data.flip copies '
                        'included).')
    flags.DEFINE_string('holdout', '', 'nearest: held-out data to compare the samples\' distances to the training '
                        'data with (a dataset string, e.g. digits:test); default: the run\'s config.eval_dataset.')
    flags.DEFINE_string('dataset', '', f'A translation run: the test split to score ({", ".join(TRANSLATION_METRICS)}); '
                        'default: the run\'s config.eval_dataset.')
    flags.DEFINE_enum('direction', 'a2b', ['a2b', 'b2a'], 'A translation run: the generator scored (b2a: CycleGAN, '
                      'U-GAT-IT).')
    flags.DEFINE_integer('step', None, 'Checkpoint step; the latest by default.')
    flags.DEFINE_integer('seed', 0, 'Seed of the latents.')
    flags.DEFINE_bool('ema', True, 'Evaluate the EMA generator (--noema: the trained params).')
    flags.DEFINE_enum('modes', None, ['draw', 'argmax'], 'table: how the sampled rows pick a numerical column\'s '
                      'mode (jaxgan.sample --modes); default: the run\'s config.table.sample_modes. Another than the '
                      'run\'s writes eval/step_N_modes_M.json.')
    cli.define_member_flag()
    cli.run_main(_main)


if __name__ == '__main__':
    main()
