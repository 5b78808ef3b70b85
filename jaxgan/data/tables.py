"""Tables for CTGAN (Xu et al. 2019, "Modeling Tabular Data using Conditional GAN", NeurIPS): sources,
column kinds, the mode-specific normalisation and the training-by-sampling batches.

    csv:PATH            a CSV file with a header line (pandas.read_csv)
    parquet:PATH        a Parquet file (pandas.read_parquet)
    xlsx:PATH[:SHEET]   an Excel workbook's sheet (pandas.read_excel with openpyxl); SHEET may be left
                        out where the workbook has one
    table:diabetes      scikit-learn's diabetes study in raw units: age, sex, bmi, bp, s1..s6 and the
                        target as 'progression' (442 rows)
    table:breast_cancer scikit-learn's Wisconsin breast cancer: 30 measurements and 'diagnosis',
                        'malignant' or 'benign' (569 rows)

`load` reads the table, works out each column's kind (`infer_kinds`: continuous, integer, categorical,
boolean, datetime, identifier or constant; config.table.categorical and the like override it), keeps config.table.holdout of the rows
apart (`split`), fits a `TableTransform` on the rest and encodes them. The fitted transform is plain
numbers, saved with the run as JSON in the DataSpec (spec.table), so a checkpoint alone turns the
generator's rows back into the input's schema (`TableTransform.inverse`).

The transform is the `ctgan` package's DataTransformer (`data_transformer.py`) with rdt's
ClusterBasedNormalizer for numbers:
  - a continuous or integer column is fitted with sklearn's BayesianGaussianMixture of min(max_modes,
    rows) components (ctgan's max_clusters=min(len(data), 10)), a Dirichlet-process prior of weight
    concentration 0.001, n_init 1 (rdt's), at most config.table.mixture_iterations iterations (rdt's 100)
    and random_state the seed; the modes of weight above 0.005
    are kept (rdt's weight_threshold). A value x becomes [alpha, one-hot mode k]: k is drawn from the mixture's
    posterior over the kept modes, each probability raised by 1e-6 and renormalised (rdt), and
    alpha = (x - mean_k) / (4 std_k) (rdt's STD_MULTIPLIER) clipped to [-0.99, 0.99] (rdt). The
    inverse is alpha * 4 std_k + mean_k with alpha clipped to [-1, 1] and k the argmax of the mode
    block (rdt's reverse transform), rounded for integers and clipped to the observed range (rdt's
    learn_rounding_scheme and enforce_min_max_values; ctgan's own inverse does neither).
  - a categorical or boolean column is a one-hot block over its categories, sorted by their text
    (rdt's OneHotEncoder orders them by first appearance; a sorted order does not depend on the rows'
    order). The inverse takes the argmax, so activated outputs (softmax probabilities) invert too.
  - missing values are kept, where ctgan fills them with the mean (rdt's FloatFormatter): a numerical
    column with missing values has a two-way block more (present, missing), and its missing rows are
    encoded with alpha 0 and a mode drawn by the mixture's weights; a discrete column has a missing
    category (None, JSON null), which inverts to NaN or None.
  - beyond ctgan: a datetime column is a number (days, or seconds, since 1970) encoded as a continuous
    one and written back in its input format; a continuous column is rounded to the decimals of its
    input (71.9 stays 71.9); a constant column has no block and is written as its value; an identifier
    (a key, distinct in every row) has no block and is written as fresh keys in its format, never a
    real one (table_identifiers), or left out or refused by config.table.on_identifier.
Spans (`Span`) list the blocks in output order with their activation: tanh for an alpha, softmax for a
one-hot block, as ctgan's SpanInfo. The condition vector holds the categories of the discrete columns
(`CondSpan`), not the modes or the missing blocks of numbers (ctgan conditions on discrete columns only).

Training-by-sampling (ctgan's `data_sampler.py`, DataSampler with log_frequency=True): each example of
a batch draws a discrete column uniformly, one of its categories with probability proportional to
log(1 + its count in the training rows), and a training row uniformly among those of that category; its
condition is the one-hot of that category. The draws of stream position p are a counter-based hash
(splitmix64) of (seed, p), so a batch is a pure function of the seed and its positions, the same on
any number of processes and after a resume. Sampling (`TableTransform.sample_conditions`) draws the
category by its plain frequency instead: ctgan's sample_original_condvec, which picks a random column of
a random training row.

Bad input is a `UserError` that names the file, the line or row and the column. The code lies in
table_sources (reading, checks, the split, writing rows), table_columns (column kinds) and table_transform (the
transform); this module holds training-by-sampling and `load`, and keeps their public names.
"""

from __future__ import annotations

import dataclasses
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import ClassVar, Sequence

import ml_collections
import numpy as np
from absl import logging
import pandas as pd

from jaxgan import privacy
from jaxgan.data import base, table_privacy
from jaxgan.data.spec import DataSpec
from jaxgan.data.table_columns import (COLUMN_KINDS, DISCRETE, MADE, NUMERICAL, OVERRIDES, column_names, infer_kinds,
                                      is_identifier)
from jaxgan.data.table_sources import (KINDS, MIN_ROWS, ROW_SUFFIXES, TABLES, canonical, counted, is_table, read_table,
                                       source_file, split, write_rows)
from jaxgan.data.table_transform import (CondSpan, ColumnInfo, Span, TableTransform, _CategoryTable, _MASK64,
                                         mode_probabilities)
from jaxgan.errors import UserError

__all__ = ['COLUMN_KINDS', 'DISCRETE', 'IDENTIFIER_POLICIES', 'KINDS', 'MADE', 'MIN_ROWS', 'NUMERICAL', 'ROW_SUFFIXES',
           'TABLES', 'ColumnInfo', 'CondSpan', 'Span', 'TableDataset', 'TableTransform', 'canonical', 'counted',
           'identifier_policy', 'infer_kinds', 'is_identifier', 'is_table', 'load', 'mode_probabilities',
           'read_table', 'source_file', 'split', 'uniforms', 'write_rows']

IDENTIFIER_POLICIES = ('generate', 'drop', 'refuse')  # config.table.on_identifier

SAMPLER_STREAM = 0x7b5  # keeps the seed's uses apart: training-by-sampling's draws


# --- training-by-sampling ---------------------------------------------------------------------------


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's output function (Steele et al. 2014) on uint64s, elementwise."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def uniforms(seed: int, positions: np.ndarray, count: int) -> np.ndarray:
    """[len(positions), count] uniforms in [0, 1): draw j of position p is a hash of (seed, p, j)
    (splitmix64's stream from a key of the seed, at counter p * count + j)."""
    golden = np.uint64(0x9E3779B97F4A7C15)
    key = _splitmix64(np.array([(seed ^ SAMPLER_STREAM) & _MASK64], np.uint64))
    counters = np.asarray(positions).astype(np.uint64)[:, None] * np.uint64(count) + np.arange(count, dtype=np.uint64)
    z = _splitmix64(key + (counters + np.uint64(1)) * golden)
    return (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


@dataclasses.dataclass(frozen=True)
class _RowSampler:
    """Training-by-sampling's tables: the categories' log-frequencies, and the training rows sorted by
    category, a column after another (`order[starts[c]:starts[c] + counts[c]]` hold category c)."""

    categories: _CategoryTable
    order: np.ndarray
    starts: np.ndarray  # [cond_dim]
    counts: np.ndarray  # [cond_dim]

    @classmethod
    def of(cls, spans: Sequence[CondSpan], rows: np.ndarray) -> '_RowSampler':
        n = len(rows)
        orders, starts, counts = [], [], []
        for j, span in enumerate(spans):
            codes = rows[:, span.start:span.start + span.size].argmax(1)
            count = np.bincount(codes, minlength=span.size)
            orders.append(np.argsort(codes, kind='stable'))
            starts.append(j * n + np.concatenate([[0], np.cumsum(count)[:-1]]))
            counts.append(count)
        table = _CategoryTable.of(spans, [np.log1p(c) for c in counts])  # ctgan's log_frequency=True
        return cls(table, np.concatenate(orders), np.concatenate(starts), np.concatenate(counts))

    def draw(self, seed: int, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row index, condition-vector index) for each stream position."""
        u = uniforms(seed, positions, 3)
        columns = np.minimum((u[:, 0] * len(self.categories.sizes)).astype(np.int64), len(self.categories.sizes) - 1)
        cond = self.categories.draw(columns, u[:, 1])
        count = self.counts[cond]
        return self.order[self.starts[cond] + np.minimum((u[:, 2] * count).astype(np.int64), count - 1)], cond


@dataclasses.dataclass(frozen=True, eq=False)
class TableDataset:
    """A table's training rows, raw (`train`, in the input's schema) and encoded (`rows`), its holdout
    rows and the fitted transform. A `base.DataSource` of layout TABLE: the `pipeline.Batcher` reads
    its batches with `batch`."""

    spec: DataSpec
    transform: TableTransform
    train: pd.DataFrame
    holdout: pd.DataFrame
    rows: np.ndarray  # float32 [n_train, dim]
    private_batch: int = 0  # > 0: a private run's global batch, drawn as jaxgan.data.table_privacy says
    private_secret: int = 0  # a private run's secret randomness (jaxgan.privacy.new_secret)
    labels: ClassVar[None] = None  # batches hold conditions, not classes
    layout: ClassVar[str] = base.TABLE

    @property
    def description(self) -> str:
        return self.spec.source

    @property
    def sizes(self) -> tuple[int]:
        """One index stream, of the training rows."""
        return (len(self.rows),)

    @functools.cached_property
    def _sampler(self) -> _RowSampler | None:
        return _RowSampler.of(self.transform.cond_spans, self.rows) if self.transform.cond_spans else None

    def read(self, indices: Sequence[np.ndarray], pool: ThreadPoolExecutor | None = None) -> dict[str, np.ndarray]:
        """{'x': the training rows `indices[0]`, 'c': no conditions (zeros)}."""
        del pool  # the rows are in memory
        rows = self.rows[np.asarray(indices[0])]
        return {'x': rows, 'c': np.zeros((len(rows), self.transform.cond_dim), np.float32)}

    def batch(self, indices: list[np.ndarray], positions: np.ndarray, seed: int,
              pool: ThreadPoolExecutor | None = None) -> dict[str, np.ndarray]:
        """{'x': float32 [b, dim] training rows, 'c': float32 [b, cond_dim] their conditions}, drawn by
        training-by-sampling from (seed, each position); without discrete columns, the rows
        `indices[0]` of the ordinary seeded stream and conditions of size 0."""
        del pool  # the rows are in memory
        if self.private_batch:
            return table_privacy.batch(self.transform, self.rows, self.private_batch, positions, seed,
                                       self.private_secret)
        b = len(positions)
        c = np.zeros((b, self.transform.cond_dim), np.float32)
        if self._sampler is None:
            return {'x': self.rows[np.asarray(indices[0])], 'c': c}
        rows, cond = self._sampler.draw(seed, np.asarray(positions))
        c[np.arange(b), cond] = 1
        return {'x': self.rows[rows], 'c': c}


def _overrides(table: ml_collections.ConfigDict) -> dict[str, list[str]]:
    """config.table.<kind> (comma-separated column names) as kind -> names."""
    return {kind: list(column_names(table.get(kind, ''))) for kind in OVERRIDES}


def identifier_policy(kinds: dict[str, str], policy: str, name: str) -> dict[str, str]:
    """The kinds after config.table.on_identifier: 'generate' keeps the identifier columns (fresh keys in
    the synthetic rows), 'drop' leaves them out of the model and its rows, 'refuse' is a UserError that
    names them and the options. Each choice is logged with the columns."""
    keys = [column for column, kind in kinds.items() if kind == 'identifier']
    if policy not in IDENTIFIER_POLICIES:
        raise UserError(f'config.table.on_identifier={policy!r} must be one of {", ".join(IDENTIFIER_POLICIES)}')
    if not keys:
        return kinds
    listed = ', '.join(map(repr, keys))
    noun = 'column' if len(keys) == 1 else 'columns'
    if policy == 'refuse':
        raise UserError(f'{name}: {noun} {listed} look{"s" if len(keys) == 1 else ""} like identifiers (a distinct '
                        'value in every row), which a generator would copy into the synthetic rows: set '
                        'config.table.on_identifier=generate (fresh values in their format) or drop (leave them out), '
                        'or declare them config.table.categorical or .integer')
    if policy == 'drop':
        logging.info('identifier %s %s (a distinct value in every row) dropped: config.table.on_identifier=drop',
                     noun, listed)
        return {column: kind for column, kind in kinds.items() if kind != 'identifier'}
    logging.info('identifier %s %s (a distinct value in every row): synthetic rows get fresh values in their format, '
                 'never a real one (config.table.on_identifier=drop leaves them out)', noun, listed)
    return kinds


def drop_columns(df: pd.DataFrame, names: str, name: str) -> pd.DataFrame:
    """df without the columns config.table.drop names (comma-separated); one line for a name it lacks."""
    dropped = list(column_names(names))
    unknown = [n for n in dropped if n not in df.columns]
    if unknown:
        raise UserError(f'config.table.drop: {name} has no column {unknown[0]!r} (its columns: {", ".join(df.columns)})')
    if len(dropped) == len(df.columns):
        raise UserError(f'config.table.drop: leaves no column of {name}')
    if dropped:
        logging.info('columns %s left out (config.table.drop)', ', '.join(map(repr, dropped)))
    return df.drop(columns=dropped)


def _split(df: pd.DataFrame, holdout: float, seed: int, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`split`, with one line where too few training rows are left."""
    train, kept = split(df, holdout, seed)
    if len(train) < MIN_ROWS:
        raise UserError(f'{name}: {counted(len(train), "training row")} after holding out {len(kept)} '
                        f'(config.table.holdout={holdout}); a GAN needs at least {MIN_ROWS}')
    return train, kept


def load(config: ml_collections.ConfigDict) -> TableDataset:
    """Reads config.dataset, holds out config.table.holdout of its rows (chosen with config.seed), fits
    the transform on the rest (config.table.max_modes modes at most per number; the identifiers' formats
    on all the rows, so that no fresh key is a holdout key either) and encodes them. Identifier columns
    follow config.table.on_identifier (`identifier_policy`); dates and constants are logged."""
    name = canonical(config.dataset)
    t = config.table
    df = drop_columns(read_table(name), t.get('drop', ''), name)
    if privacy.enabled(config):
        schema = table_privacy.Schema.of(config, name, list(df.columns))
        kinds = schema.kinds(list(df.columns))
        table_privacy.check_rows(df, schema, kinds)  # the holdout's rows too
        return _load_private(config, name, schema, kinds, *_split(df, t.holdout, config.seed, name))
    kinds = identifier_policy(infer_kinds(df, _overrides(t)), t.get('on_identifier', 'generate'), name)
    for kind in ('datetime', 'constant'):
        found = [column for column, k in kinds.items() if k == kind]
        if found:
            logging.info('%s %s: %s', kind, 'column' if len(found) == 1 else 'columns', ', '.join(map(repr, found)))
    if all(kind in MADE for kind in kinds.values()):
        raise UserError(f'{name}: every column is constant or an identifier ({", ".join(kinds)}): there is nothing '
                        'for a generator to learn')
    train, holdout = _split(df, t.holdout, config.seed, name)
    transform = TableTransform.fit(train, kinds, seed=config.seed, max_modes=t.max_modes, keys=df,
                                   iterations=t.get('mixture_iterations', 100))
    rows = transform.transform(train, seed=config.seed)
    spec = DataSpec('table', (transform.dim,), len(train), name, table=transform.to_json())
    return TableDataset(spec, transform, train, holdout, rows)


def _load_private(config: ml_collections.ConfigDict, name: str, schema: table_privacy.Schema, kinds: dict[str, str],
                  train: pd.DataFrame, holdout: pd.DataFrame) -> TableDataset:
    """`load`'s private path (jaxgan.data.table_privacy): the declared schema, noisy counts for the
    categories (their noise calibrated by jaxgan.privacy), the rows of each critic update sampled uniformly."""
    discrete = sum(kind in DISCRETE for kind in kinds.values())
    plan = privacy.Plan.of(config, rows=len(train),
                           histograms=privacy.histograms(config, discrete, len(kinds) - discrete))
    if not config.privacy.secret:  # set by jaxgan.train for each run; drawn here for a run built apart (a test)
        config.privacy.secret = privacy.new_secret()
    schema = table_privacy.estimate_bounds(train, schema, kinds, noise_std=plan.bounds_std, seed=config.seed,
                                           secret=config.privacy.secret)
    if plan.estimated:
        plan = plan.with_estimate(schema.bounds)
        logging.info('privacy: bounds estimated under DP (noise std %.3g on each bin count): %s', plan.bounds_std,
                     privacy.format_bounds(plan.record(0)['estimated_bounds']))
    transform = table_privacy.fit(train, schema, kinds, count_std=plan.count_std, uniform=plan.count_noise is None,
                                  seed=config.seed, secret=config.privacy.secret, modes=config.table.max_modes,
                                  bins=plan.histograms > discrete)
    logging.info('privacy: (%g, %g)-DP with respect to replacing one of %d training rows; noise multiplier %.4g '
                 '(clip norm %g, %d of %d rows per critic update); counts of %d columns: %s', plan.epsilon, plan.delta,
                 plan.rows, plan.sigma, plan.clip_norm, plan.batch, plan.rows, plan.histograms,
                 f'noise std {plan.count_std:.3g}' if plan.count_noise else 'not released (uniform conditions)')
    rows = transform.transform(train, seed=config.seed)
    spec = DataSpec('table', (transform.dim,), len(train), name, table=transform.to_json())
    return TableDataset(spec, transform, train, holdout, rows, private_batch=config.batch_size,
                        private_secret=config.privacy.secret)
