"""Sampling from a generator: arrays in the data's units, PNG grids; `python -m jaxgan.sample`.

    python -m jaxgan.sample --workdir=DIR --num=64 --out=samples.png    # a grid
    python -m jaxgan.sample --workdir=DIR --num=10000 --out=samples.npy # the raw array
    python -m jaxgan.sample --workdir=DIR --label=3 --num=500 --out=threes.npy  # one class
    python -m jaxgan.sample --workdir=DIR --truncation=1.0 --out=truncated.png   # the truncation trick
    python -m jaxgan.sample --workdir=DIR --num=1000 --out=synthetic.csv    # a table's rows (CTGAN)
    python -m jaxgan.sample --workdir=DIR --num=100 --where=sex=2 --out=women.csv  # conditioned on a category

    python -m jaxgan.sample --from=ffhq.pkl --truncation=0.7 --out=grid.png  # an official network pickle

`--from=PATH.pkl` samples from an official network pickle (StyleGAN2-ADA's, stylegan3's StyleGAN2 or
R3GAN's; jaxgan.pretrained: read without running anything of it; its G_ema unless --noema) in place of a
run's --workdir.

`.npy` holds the samples in the data's own range and units (uint8 [N, H, W, C] images, or vectors in
the data's units); `.png` a grid of images. The EMA generator is used unless --noema.

--truncation=PSI, each architecture's own truncation trick: a generator with a mapping network
(StyleGAN2) truncates w towards its tracked average, w = w_avg + PSI (w - w_avg) (Karras et al. 2019,
2020; the official `G.mapping(z, c, truncation_psi=PSI)`: 1 none, 0 the average image); for the others,
normal latents have entries of z beyond +-PSI resampled until within (BigGAN's truncation trick, Brock et
al. 2019), uniform latents z scaled towards 0 by PSI in (0, 1]; InfoGAN's codes are never truncated
(`sampling.truncate`).

A translation run's generators translate images: `python -m jaxgan.translate` (this tool says so, exit 2).
For an ensemble, --member=best logs the member it chose and its score.

Tables (a CTGAN run): `.csv` (or `.parquet`, `.xlsx`) holds rows in the input's schema: its column names and
order, categories as in the input, integer columns as integers, values within each column's observed
range, missing values at about the observed rate. --where=COLUMN=VALUE conditions every row on one
category of a categorical or boolean column (the value as written in the input).

From Python, `jaxgan.load(workdir)` (jaxgan.api), which this tool calls: `.images(num, seed=...)` gives
what `.npy` holds, `.rows(num, where=(column, value))` a table's rows as a pandas DataFrame.
"""

from __future__ import annotations

import sys

from jaxgan import family
from jaxgan.sampling import make_grid, save_npy, save_png
from jaxgan.writers import counted


def _main(argv) -> None:
    from absl import flags
    from jaxgan import api
    from jaxgan.errors import UserError

    del argv
    f = flags.FLAGS
    out = f.out
    if f.num <= 0:
        raise UserError(f'--num={f.num} must be positive')
    if out.endswith(('.csv', '.parquet', '.xlsx')) or f.where:
        return _table(f)
    if not out.endswith(('.npy', '.png')):
        raise UserError(f'--out={out} must end in .npy or .png (.csv, .parquet or .xlsx for a table)')
    trained = api.load(_source(f), f.step, f.member)
    gan = trained.model
    if gan.output == 'rows':
        raise UserError(f'--out={out}: the model makes table rows: write .csv, .parquet or .xlsx')
    family.check_output(gan, 'samples', 'jaxgan.sample')  # a translation run: jaxgan.translate
    if out.endswith('.png') and gan.spec.kind != 'image':
        raise UserError(f'--out={out}: the model makes vectors, not images; write .npy')
    samples = trained.images(f.num, seed=f.seed, ema=f.ema, label=f.label, truncation=f.truncation)
    if out.endswith('.npy'):
        save_npy(out, samples)
    else:
        save_png(out, make_grid(samples))
    of = f'step {trained.step}' if f.workdir else trained.workdir
    print(f'wrote {counted(len(samples), "sample")} of {of} to {out}', file=sys.stderr)


def _source(f) -> str:
    """--workdir or --from, exactly one."""
    from jaxgan.errors import UserError
    workdir, pickle = f.workdir, getattr(f, 'from', None)  # 'from' is a keyword: no f.from
    if bool(workdir) == bool(pickle):
        raise UserError('give --workdir=DIR (a run) or --from=PATH.pkl (an official network pickle), one of them')
    if pickle and not pickle.endswith('.pkl'):
        raise UserError(f'--from={pickle}: a network pickle ends in .pkl')
    return workdir or pickle


def parse_where(where: str) -> tuple[str, str] | None:
    """--where=COLUMN=VALUE as (column, value); None for ''."""
    from jaxgan.errors import UserError
    if not where:
        return None
    column, sep, value = where.partition('=')
    if not sep or not column:
        raise UserError(f'--where={where!r}: write COLUMN=VALUE, e.g. --where=sex=2')
    return column, value


def _table(f) -> None:
    """A table run's synthetic rows to --out (.csv, .parquet or .xlsx), in the input's schema."""
    from jaxgan import api
    from jaxgan.data import tables
    from jaxgan.errors import UserError
    out = f.out
    if not out.endswith(('.csv', '.parquet', '.xlsx')):
        raise UserError(f'--where conditions a table\'s rows: --out={out} must end in .csv, .parquet or .xlsx')
    if f.truncation is not None or f.label is not None:
        raise UserError('--truncation and --label are for image and vector GANs; a table conditions with --where')
    where = parse_where(f.where)
    trained = api.load(_source(f), f.step, f.member)
    gan = trained.model
    if gan.output == 'translations':
        family.check_output(gan, 'rows', 'jaxgan.sample')
    if gan.output != 'rows':
        raise UserError(f'--out={out}: {f.workdir} holds a model of {gan.spec.kind}s, not table rows: '
                        'write .npy or .png')
    rows = trained.rows(f.num, seed=f.seed, where=where, ema=f.ema, modes=f.modes)  # where's value parsed as in the input
    tables.write_rows(rows, out)  # atomically, by the suffix
    print(f'wrote {counted(len(rows), "row")} of step {trained.step} to {out}', file=sys.stderr)
    write_privacy(gan, trained.step, out)


def write_privacy(gan, step: int, out: str) -> str | None:
    """A private run's (epsilon, delta) beside the rows, in OUT.privacy.json (jaxgan.privacy.metadata); for
    a run without privacy, a sidecar left there by an earlier private output is removed, lest it speak for
    these rows. Returns the sidecar's path, or None."""
    import json
    import os
    from jaxgan import files, privacy
    sidecar = out + '.privacy.json'
    record = getattr(gan, 'privacy_record', lambda step: None)(step)
    if record is None:
        if os.path.exists(sidecar):
            os.remove(sidecar)
        return None
    files.atomic_write(sidecar, json.dumps(privacy.metadata(record, step), indent=2))
    print(f'(epsilon {record["epsilon_spent"]:.3g}, delta {record["delta"]:g})-differentially private: see {sidecar}',
          file=sys.stderr)
    return sidecar


def main() -> None:
    from absl import flags
    from jaxgan import cli
    flags.DEFINE_string('workdir', None, 'The training run\'s workdir (or --from).')
    flags.DEFINE_string('from', None, 'An official network pickle (StyleGAN2-ADA\'s or R3GAN\'s .pkl) in place of --workdir.')
    flags.DEFINE_integer('num', 64, 'How many samples.')
    flags.DEFINE_string('out', 'samples.png', 'Output file: .npy (raw array, data units) or .png (grid); for a '
                        'table, .csv, .parquet or .xlsx (rows in the input\'s schema).')
    flags.DEFINE_integer('step', None, 'Checkpoint step; the latest by default.')
    flags.DEFINE_integer('seed', 0, 'Seed of the latents.')
    flags.DEFINE_bool('ema', True, 'Use the EMA generator (--noema: the trained params).')
    flags.DEFINE_integer('label', None, 'Class of every sample (class-conditional generators); by default '
                         'the classes in turn.')
    flags.DEFINE_float('truncation', None, 'The truncation trick, the architecture\'s own. StyleGAN2 (a mapping '
                       'network): w = w_avg + PSI (w - w_avg), 1 none, 0 the average w. Others, PSI > 0: normal '
                       'latents have z entries beyond +-PSI resampled until within (BigGAN\'s variant, not a '
                       'scaling towards the mean); uniform latents have z scaled towards 0 by PSI in (0, 1]; '
                       'InfoGAN\'s codes are kept. Default: none.')
    flags.DEFINE_string('where', '', 'Tables: COLUMN=VALUE, every row conditioned on that category of a categorical '
                        'or boolean column (the value as written in the input).')
    flags.DEFINE_enum('modes', None, ['draw', 'argmax'], 'Tables: how a numerical column\'s mode is picked, draw '
                      '(from the generator\'s probabilities, as the ctgan package samples) or argmax (its most '
                      'probable mode); default: the run\'s config.table.sample_modes.')
    cli.define_member_flag()
    cli.run_main(_main)


if __name__ == '__main__':
    main()
