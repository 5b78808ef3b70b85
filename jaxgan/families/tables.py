"""Synthetic tables: CTGAN (Xu et al. 2019, "Modeling Tabular Data using Conditional GAN", NeurIPS) as a game.

    build_table(config, spec) -> TableGAN        TableGAN.game is what the step machinery runs

The data (jaxgan.data.tables) are rows in CTGAN's encoding: per continuous column a scalar in
[-1, 1] and a one-hot mode of its Gaussian mixture, per discrete column a one-hot category; batches are
{'x': rows [b, D], 'c': condition vectors [b, C]} drawn by training-by-sampling (a discrete column, one of
its categories by log-frequency, a row that has it). The fitted transform rides in the DataSpec
(spec.table), so a checkpoint alone rebuilds the game and inverts samples to the input's schema.

The recipe, as the `ctgan` package's `synthesizers/ctgan.py` (CTGAN.fit) has it:
    G        [z | c] -> residual layers -> raw row; tanh on each scalar, Gumbel-softmax (tau 0.2, soft) on
             each one-hot block (`activate`); z ~ N(0, 1) of 128
    D        packs of 10 rows with their conditions, [x | c] (PacGAN), LeakyReLU and dropout 0.5
    D loss   WGAN: E D(G(z, c)) - E D(x, c)  +  10 * WGAN-GP, the interpolation weight drawn per pack
    G loss   -E D(G(z, c))  +  the conditional loss: cross-entropy of G's raw block of the conditioned
             column against the condition's category, summed over the batch's rows / batch size
    optim    Adam, learning rate 2e-4, betas (0.5, 0.9), L2 weight decay 1e-6 (torch's Adam
             weight_decay, added to the gradient), for both networks; batch 500; 1 D update per G update
jaxgan's additions, each a config field (experiments.ctgan sets them; docs/tables.md measures them): five D
updates per G update, mixtures fitted to convergence, at least config.table.min_steps steps, and G's
correlation loss (`CorrelationLoss`, config.table.correlation).
The package feeds D real rows sampled for a permutation of G's conditions, so that both sides carry the
same multiset of conditions; here both sides carry the very same conditions, row for row, which is that
multiset too (packs are groups of independent draws either way).

A private run (config.privacy.epsilon set; jaxgan.privacy, docs/privacy.md) trains D by DP-SGD, a pack
per privacy unit (jaxgan.core.private); its batches hold the generator's conditions drawn apart from the
rows, and D sees each real row with its own category of the condition's column (`own_condition`).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax
import ml_collections
import numpy as np
import pandas as pd

from jaxgan import family, files, optim, privacy
from jaxgan.checks import check, positive
from jaxgan.core import losses, packing, private, terms as T
from jaxgan.core.game import Game, Network, Player, View
from jaxgan.core.parallel import DATA
from jaxgan.core.state import RunState
from jaxgan.data import base as data_base
from jaxgan.data.spec import DataSpec
from jaxgan.data.table_transform import STD_MULTIPLIER
from jaxgan.data.tables import TableTransform
from jaxgan.errors import UserError
from jaxgan.models import tabular

Config = ml_collections.ConfigDict
KINDS = ('ctgan',)


def block_log_softmax(logits: jax.Array, blocks: np.ndarray, num_blocks: int) -> jax.Array:
    """log_softmax over each block of the last axis at once: blocks[i] is position i's block (in
    order). A few segment operations whatever the number of blocks, where a softmax per block would
    put a slice, a reduction and a concatenation per column into the step (and its compile time)."""
    flat = jnp.moveaxis(logits, -1, 0).reshape(logits.shape[-1], -1)  # [D, N]: segments along axis 0
    top = lax.stop_gradient(jax.ops.segment_max(flat, blocks, num_blocks, indices_are_sorted=True))
    shifted = flat - top[blocks]
    total = jax.ops.segment_sum(jnp.exp(shifted), blocks, num_blocks, indices_are_sorted=True)
    out = shifted - jnp.log(total)[blocks]
    return jnp.moveaxis(out.reshape(logits.shape[-1], *logits.shape[:-1]), 0, -1)


def _tiles(starts: list[int], sizes: list[int]) -> bool:
    """Whether blocks of these starts and sizes lie side by side from 0, in order."""
    return starts == [int(s) for s in np.cumsum([0, *sizes])[:-1]]


def _blocks(spans) -> tuple[np.ndarray, np.ndarray]:
    """Per position of the row: its span's index, and whether it is a tanh scalar. The spans tile the
    row in order, as TableTransform lays them out."""
    if not _tiles([s.start for s in spans], [s.size for s in spans]):
        raise ValueError(f'spans must tile the row in order from 0: {spans}')
    blocks = np.concatenate([np.full(s.size, i, np.int32) for i, s in enumerate(spans)])
    scalar = np.concatenate([np.full(s.size, s.activation == 'tanh') for s in spans])
    return blocks, scalar


SAMPLE_MODES = ('draw', 'argmax')  # config.table.sample_modes, `TableGAN.sample`'s modes


def mode_mask(transform: TableTransform) -> np.ndarray:
    """[D]: 0 on the numerical columns' mode blocks, 1 elsewhere. A mode is the encoding's (the value
    decodes from the mode and alpha together), a missing flag the data's: it stays drawn, lest a column
    missing in 5% of rows come out never missing."""
    mask, start = np.ones(transform.dim, np.float32), 0
    for info in transform.columns:
        if info.numerical:
            mask[start + 1:start + 1 + len(info.modes)] = 0
        start += info.width
    return mask


def activate(raw: jax.Array, gumbel: jax.Array, transform: TableTransform, tau: float) -> jax.Array:
    """CTGAN's `_apply_activate`: tanh on the scalar spans, softmax((logits + g) / tau) on the one-hot
    spans with Gumbel noise g (torch's gumbel_softmax, hard=False). Every span at once (a scalar is
    a block of its own, whose softmax is unused)."""
    blocks, scalar = _blocks(transform.spans)
    soft = jnp.exp(block_log_softmax((raw + gumbel) / tau, blocks, len(transform.spans)))
    return jnp.where(scalar, jnp.tanh(raw), soft)


@dataclasses.dataclass(frozen=True)
class ConditionalLoss(T.Term):
    """CTGAN's `_cond_loss`: for each row, the cross-entropy of G's raw logits over the conditioned
    column's categories against the condition's category; summed over rows and divided by the batch
    size. A row's condition is one category of one column, so for the other columns its target block is
    all zeros and their cross-entropy is 0: the package's mask."""

    spans: tuple[tuple[int, int, int], ...] = ()  # (start in the row, size, start in the condition)

    def __call__(self, view: View) -> jax.Array:
        raw, c = view.generated['raw'], view.real['c']
        # The raw row's discrete blocks gathered into the condition vector's places, each block's
        # log-softmax taken at once.
        ordered = sorted(self.spans, key=lambda s: s[2])
        width = sum(size for _, size, _ in ordered)
        if not _tiles([s[2] for s in ordered], [s[1] for s in ordered]) or width != c.shape[-1]:
            raise ValueError(f'the condition spans {self.spans} must tile the condition vector of {c.shape[-1]}')
        positions, blocks = np.zeros(width, np.int32), np.zeros(width, np.int32)
        for i, (start, size, cond_start) in enumerate(ordered):
            positions[cond_start:cond_start + size] = np.arange(start, start + size)
            blocks[cond_start:cond_start + size] = i
        log_p = block_log_softmax(raw[..., positions], blocks, len(self.spans))
        return self.weight * jnp.mean(-jnp.sum(c * log_p, axis=-1))


@dataclasses.dataclass(frozen=True)
class MarginalLoss(T.Term):
    """G's numerical columns' mode (bin) frequencies matched to the transform's: for each mode block, the
    KL divergence from its target frequencies to G's batch marginal (the mean over the batch of its
    softmax, the Gumbel-softmax sample's expected one-hot), averaged over the blocks. A private run's
    targets are the noisy bin counts it releases (jaxgan.data.table_privacy), which the noisy critic
    alone learns slowly; matching a released statistic is post-processing, as GEM trains a generator to
    answer noisy marginal queries (Liu, Vietri and Wu 2021, 'Iterative Methods for Private Synthetic
    Data'). Discrete columns are left to the conditional sampler, whose training conditions follow
    log-frequencies, not the counts."""

    blocks: tuple[int, ...] = ()  # each row position's span (as `_blocks`)
    targets: tuple[float, ...] = ()  # each row position's target frequency; 0 outside the matched blocks
    matched: int = 1  # the blocks with targets

    def __call__(self, view: View) -> jax.Array:
        raw = view.generated['raw']
        log_p = block_log_softmax(raw, np.asarray(self.blocks), max(self.blocks) + 1).reshape(-1, raw.shape[-1])
        log_q = jax.nn.logsumexp(log_p, axis=0) - np.log(log_p.shape[0])  # log of the batch's mean softmax, exact
        t = np.asarray(self.targets, np.float32)
        entropy = float(np.sum(np.where(t > 0, t * np.log(np.where(t > 0, t, 1.0)), 0.0)))
        return self.weight * (entropy - jnp.sum(t * log_q)) / self.matched


def marginal_targets(transform: TableTransform) -> tuple[np.ndarray, int]:
    """(each row position's target frequency, the blocks with one): the numerical columns' mode weights."""
    targets, start, matched = np.zeros(transform.dim), 0, 0
    for info in transform.columns:
        if info.numerical:
            w = np.asarray(info.weights, np.float64)
            targets[start + 1:start + 1 + len(w)] = w / w.sum()
            matched += 1
        start += info.width
    return targets, matched


@dataclasses.dataclass(frozen=True)
class CorrelationLoss(T.Term):
    """G's numerical columns' pairwise correlations matched to the real batch's, two kinds: the Pearson
    correlations of the values and those of their CDF scores under the column's fitted mixture (the
    rank correlation's smooth stand-in, as Spearman's is Pearson's of the ranks); the loss is the squared
    difference averaged over pairs and kinds, each correlation over the global batch (its moments averaged
    over devices). A column's value is decoded from the row as `TableTransform.inverse` decodes it, with
    G's soft mode in place of the drawn one: sum_k p_k (mean_k + 4 std_k alpha), standardised by the
    column's mixture; a row missing the column is weighted out of its pairs by its present flag (G's soft
    flag on its side, the gradient flowing through it too), and a pair held by under MIN_PAIR_SHARE of
    either batch's rows is left out of the loss.
    Matching second moments of the two batches is Deep CORAL's loss (Sun and Saenko 2016, 'Deep CORAL:
    Correlation Alignment for Deep Domain Adaptation') on correlations in place of covariances, so that
    a column's scale does not weigh its pairs; the Pearson kind alone leaves a skewed column's rank
    correlations short, the scores alone its Pearson ones (docs/tables.md). G and D see the same
    conditions row for row, so the two batches are drawn alike."""

    positions: tuple[int, ...] = ()  # the mode positions of the row
    columns: tuple[int, ...] = ()  # each mode position's numerical column
    offsets: tuple[float, ...] = ()  # each mode's standardised mean
    scales: tuple[float, ...] = ()  # each mode's 4 std, standardised
    alphas: tuple[int, ...] = ()  # each numerical column's alpha position
    present: tuple[int, ...] = ()  # each numerical column's present flag position; -1: never missing
    # Each column's mixture, standardised, for its CDF: component weights, means and standard deviations [J, K]
    # (a column of fewer components padded with weight 0)
    mixture: tuple[tuple[tuple[float, ...], ...], ...] = ()

    def values(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(each numerical column's standardised value [..., J], its weight: 1, or the present flag)."""
        cols, j = np.asarray(self.columns), len(self.alphas)
        alpha = x[..., np.asarray(self.alphas)]
        parts = x[..., np.asarray(self.positions)] * (np.asarray(self.offsets, np.float32)
                                                      + np.asarray(self.scales, np.float32) * alpha[..., cols])
        value = jnp.moveaxis(jax.ops.segment_sum(jnp.moveaxis(parts, -1, 0), cols, j), 0, -1)
        flags = np.asarray(self.present)
        weight = jnp.where(flags >= 0, x[..., np.maximum(flags, 0)], 1.0)
        return value, weight

    def scores(self, v: jax.Array) -> jax.Array:
        """Each standardised value's place in its column's distribution: the fitted mixture's CDF, in (0, 1).
        The Pearson correlation of these is the rank (Spearman) correlation's smooth stand-in."""
        weights, means, stds = (np.asarray(a, np.float32) for a in self.mixture)  # [J, K] each
        return jnp.sum(weights * jax.scipy.stats.norm.cdf((v[..., None] - means) / stds), axis=-1)

    def correlations(self, x: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """([J, J] the weighted Pearson correlations of the columns, [J, J] those of their scores, [J, J] whether
        a pair has rows enough to have one: MIN_PAIR_SHARE of the batch) over the global batch of rows x."""
        v, w = self.values(x.reshape(-1, x.shape[-1]))
        (pearson, pairs), (scores, _) = self.pearson(v, w), self.pearson(self.scores(v), w)
        return pearson, scores, pairs >= self.MIN_PAIR_SHARE

    MIN_PAIR_SHARE = 0.01  # a pair seen in fewer of the batch's rows (both values present) is left out

    @staticmethod
    def pearson(v: jax.Array, w: jax.Array) -> tuple[jax.Array, jax.Array]:
        """([J, J] the Pearson correlations of v's columns [n, J] over the global batch, each pair over its
        rows weighted by both columns' weights w [n, J]; [J, J] each pair's share of the rows). A pair of no
        rows has correlation 0, not NaN. The moments in full float32 (no TF32 or bfloat16 passes)."""
        n = v.shape[0]
        moment = lambda a, b: lax.pmean(jnp.matmul(a.T, b, precision=lax.Precision.HIGHEST) / n, DATA)
        pairs = moment(w, w)  # [i, j]: the share of rows holding both columns
        held = jnp.maximum(pairs, 1e-6)
        first = moment(w * v, w) / held  # [i, j]: column i's mean over the rows of pair (i, j)
        second = moment(w * v * v, w) / held
        cross = moment(w * v, w * v) / held - first * first.T
        var = jnp.maximum(second - first * first, 1e-6)
        return cross / jnp.sqrt(var * var.T), pairs

    def __call__(self, view: View) -> jax.Array:
        real_p, real_s, real_ok = jax.tree.map(lax.stop_gradient, self.correlations(view.real['x']))
        fake_p, fake_s, fake_ok = self.correlations(view.generated['x'])
        upper = np.triu(np.ones((len(self.alphas),) * 2, bool), 1)
        kept = upper & real_ok & fake_ok
        gaps = jnp.where(kept, jnp.square(fake_p - real_p) + jnp.square(fake_s - real_s), 0.0)
        return self.weight * jnp.sum(gaps) / max(2 * int(upper.sum()), 1)


def correlation_loss(name: str, weight: float, transform: TableTransform) -> CorrelationLoss:
    """CorrelationLoss over `transform`'s numerical columns: each mode's mean and 4 std (rdt's alpha scale,
    STD_MULTIPLIER) standardised by the column's mixture (its kept modes' weighted mean and standard
    deviation)."""
    positions, columns, offsets, scales, alphas, present, mixtures = [], [], [], [], [], [], []
    start = 0
    for info in transform.columns:
        if info.numerical:
            kept = list(info.modes)
            means, stds = np.asarray(info.means)[kept], np.asarray(info.stds)[kept]
            w = np.asarray(info.weights, np.float64) / np.sum(info.weights)
            centre = float(w @ means)
            spread = float(np.sqrt(max(w @ (stds ** 2 + means ** 2) - centre ** 2, 1e-12)))
            j = len(alphas)
            for k in range(len(kept)):
                positions.append(start + 1 + k)
                columns.append(j)
                offsets.append(float((means[k] - centre) / spread))
                scales.append(float(STD_MULTIPLIER * stds[k] / spread))
            alphas.append(start)
            present.append(start + 1 + len(kept) if info.missing else -1)
            mixtures.append((w, (means - centre) / spread, stds / spread))
        start += info.width
    k = max((len(m[0]) for m in mixtures), default=0)
    pad = lambda a, fill: tuple(float(e) for e in np.pad(a, (0, k - len(a)), constant_values=fill))
    mixture = tuple(tuple(pad(m[i], 1.0 if i == 2 else 0.0) for m in mixtures) for i in range(3))
    return CorrelationLoss(name, weight, tuple(positions), tuple(columns), tuple(offsets), tuple(scales),
                           tuple(alphas), tuple(present), mixture)


@dataclasses.dataclass(frozen=True)
class PackedGradientPenalty(T.GradientPenalty):
    """WGAN-GP with one interpolation weight per pack, as CTGAN's `calc_gradient_penalty` draws it
    (torch.rand(B // pac, 1, 1) repeated over the pack's rows)."""

    def noise(self, key, updates, batch):
        return jnp.repeat(jax.random.uniform(key, (updates, batch // self.pack)), self.pack, axis=1)


@dataclasses.dataclass(frozen=True, eq=False)
class TableGAN:
    """The CTGAN game and what tools need besides: the spec, the fitted transform, z's size."""

    game: Game
    spec: DataSpec
    transform: TableTransform
    z_dim: int
    tau: float
    privacy: privacy.Plan | None = None  # a private run's calibrated noise and budget (jaxgan.privacy)
    sample_modes: str = 'draw'  # config.table.sample_modes: how `sample` picks the numerical columns' modes
    real_labels = False  # batches carry conditions, not class labels
    batch_keys = ('x', 'c')
    output = 'rows'  # (jaxgan.family)
    eval_labels = True  # an evaluation set (InfoGAN's, the semi-supervised GAN's) has classes

    def preview(self, config: Config, workdir: str, writer, dataset) -> 'TableSamples':
        del writer, dataset
        return TableSamples(self, config, workdir)

    def evaluator(self, config: Config, metrics: tuple[str, ...], **options):
        raise UserError(f'--metrics={",".join(metrics)}: config.dataset={config.dataset} is a table: use '
                        '--metrics=table (fidelity, associations, efficacy with --target, privacy) and/or --metrics=privacy '
                        '(membership-inference attacks), on their own')

    @property
    def example_shapes(self) -> dict[str, tuple[int, ...]]:
        return {'x': (self.transform.dim,), 'c': (self.transform.cond_dim,)}

    def host_metrics(self, step: int) -> dict[str, float]:
        """Metrics of the loop's reports computed on the host: a private run's spent epsilon."""
        return {} if self.privacy is None else {'privacy_epsilon': self.privacy.spent(step)}

    def privacy_record(self, step: int) -> dict | None:
        """What a checkpoint at `step` keeps of the accountant (None: a run without privacy)."""
        return None if self.privacy is None else self.privacy.record(step)

    def rows(self, params: Any, model_state: Any, key: jax.Array, conditions: jax.Array, *,
             bn: str = 'batch', modes: str = 'draw') -> jax.Array:
        """Activated rows [B, D] for condition vectors [B, C] (fresh z and Gumbel noise from key).
        bn='batch': G's BatchNorm normalises with the batch's statistics, as the package samples (its
        generator stays in training mode); 'running': the running averages. modes='draw': every one-hot
        block is drawn with Gumbel noise, as the package samples; 'argmax': a numerical column's mode
        is G's most probable one, without noise (its missing flag is drawn; config.table.sample_modes)."""
        z_key, g_key = jax.random.split(key)
        z = jax.random.normal(z_key, (conditions.shape[0], self.z_dim))
        net = self.game.networks['G']
        variables = {'params': params, **model_state}
        x = jnp.concatenate([z, conditions], axis=-1)
        if bn == 'batch':
            raw, _ = net.module.apply(variables, x, train=True, mutable=list(model_state))
        else:
            raw = net.module.apply(variables, x, train=False)
        gumbel = jax.random.gumbel(g_key, raw.shape)
        if modes == 'argmax':
            gumbel = gumbel * mode_mask(self.transform)
        return activate(raw, gumbel, self.transform, self.tau)

    def sample(self, params: Any, model_state: Any, num: int, *, seed: int, batch_size: int,
               where: tuple[str, Any] | None = None, bn: str = 'batch', max_rounds: int = 100,
               modes: str | None = None) -> pd.DataFrame:
        """`num` synthetic rows in the input's schema. Conditions as the package samples them: a
        discrete column at random and one of its categories by its frequency in the data (not the
        training's log-frequency). where = (column, value): every row is generated conditioned on that
        category and rows that come out with another are drawn again (SDV's reject sampling for
        conditions), at most `max_rounds` batches of batch_size rows; a UserError where too few match.
        modes: how the numerical columns' modes are picked, 'draw' or 'argmax' (`rows`; None: the run's
        config.table.sample_modes)."""
        modes = modes or self.sample_modes
        if modes not in SAMPLE_MODES:
            raise UserError(f'modes={modes!r} must be one of {", ".join(SAMPLE_MODES)}')
        rng = np.random.default_rng([seed, 0x5a3])
        fn = _jitted_rows(self, bn, modes)
        draw = lambda i, conditions: np.asarray(fn(params, model_state, jax.random.fold_in(jax.random.key(seed), i),
                                                   jnp.asarray(conditions)))
        if where is None:
            conditions = self.transform.sample_conditions(num + (-num % batch_size), rng)
            chunks = [draw(i, conditions[i:i + batch_size]) for i in range(0, len(conditions), batch_size)]
            return self.transform.inverse(np.concatenate(chunks)[:num], seed)
        column, value = where
        index = self.transform.condition(column, value)
        span = next(s for s in self.transform.cond_spans if s.cond_start <= index < s.cond_start + s.size)
        conditions = self.transform.sample_conditions(batch_size, rng, column, value)
        kept, found = [], 0
        for i in range(max_rounds):
            rows = draw(i, conditions)
            rows = rows[rows[:, span.start:span.start + span.size].argmax(1) == index - span.cond_start]
            kept.append(rows)
            found += len(rows)
            if found >= num:
                return self.transform.inverse(np.concatenate(kept)[:num], seed)
        raise UserError(f'--where={column}={value}: {found} of {max_rounds * batch_size} rows generated under '
                        f'this condition have it; {num} were asked for (the generator has not learned the '
                        f'condition: train longer, or ask for fewer rows)')


@functools.lru_cache(maxsize=8)
def _jitted_rows(gan: TableGAN, bn: str, modes: str):
    """TableGAN.rows of one game compiled once: (params, model_state, key, conditions) -> rows."""
    return jax.jit(functools.partial(gan.rows, bn=bn, modes=modes))


def own_condition(x: jax.Array, c: jax.Array, spans: tuple[tuple[int, int, int], ...]) -> jax.Array:
    """Each row's own category in the column its condition c names (c's one-hot block moved to that
    column's category in x): a private run's real conditions, a function of the row alone, where the
    generator's c are drawn apart from the rows (jaxgan.data.table_privacy)."""
    positions = np.zeros(c.shape[-1], np.int32)
    blocks = np.zeros(c.shape[-1], np.int32)
    for i, (start, size, cond_start) in enumerate(sorted(spans, key=lambda s: s[2])):
        positions[cond_start:cond_start + size] = np.arange(start, start + size)
        blocks[cond_start:cond_start + size] = i
    chosen = jax.ops.segment_sum(jnp.moveaxis(c, -1, 0), blocks, len(spans))  # [columns, ...]: 1 at c's column
    return x[..., positions] * jnp.moveaxis(chosen[blocks], 0, -1)


def check_config(config: Config) -> None:
    """The CTGAN game's fixed parts against the config: one D update per G update, a critic's loss."""
    if config.n_critic < 1:
        raise UserError('config.model.name=ctgan trains a discriminator: set config.n_critic >= 1 (1 in the paper)')
    if config.augment.kind != 'none':
        raise UserError(f'config.augment.kind={config.augment.kind}: augmentation transforms images; tables have none')
    if config.conditioning.g != 'none' or config.conditioning.d != 'none':
        raise UserError('config.conditioning: CTGAN conditions on its own condition vectors (training-by-sampling); '
                        'leave config.conditioning at none')


def build_table(config: Config, spec: DataSpec) -> TableGAN:
    """CTGAN on rows of `spec` (see the module docstring)."""
    if spec.kind != 'table' or not spec.table:
        raise UserError(f'config.model.name=ctgan learns tables (csv:PATH, parquet:PATH, xlsx:PATH[:SHEET], table:NAME); '
                        f'{spec.source} holds {spec.kind}s')
    check_config(config)
    transform = TableTransform.from_json(spec.table)
    m, t = config.model, config.table
    dim, cond_dim, pack = transform.dim, transform.cond_dim, m.pack
    generator = tabular.Generator(out=dim, widths=tuple(m.g_hidden))
    discriminator = tabular.Discriminator(widths=tuple(m.d_hidden), dropout=m.dropout)
    networks = {'G': Network(generator, lambda: (jnp.zeros((2, m.z_dim + cond_dim)),)),
                'D': Network(discriminator, lambda: (jnp.zeros((2, pack * (dim + cond_dim))),), ('dropout',))}
    loss = losses.get(config.loss)

    def noise(key: jax.Array, updates: int, batch: int) -> dict:
        z_key, g_key = jax.random.split(key)
        return {'z': jax.random.normal(z_key, (updates, batch, m.z_dim)),
                'gumbel': jax.random.gumbel(g_key, (updates, batch, dim))}

    def generate(nets, real, noise) -> dict:
        raw = nets('G', jnp.concatenate([noise['z'], real['c']], axis=-1))
        x = activate(raw, noise['gumbel'], transform, t.tau)
        return {'x': x, 'raw': raw, 'xc': jnp.concatenate([x, real['c']], axis=-1)}

    packed = lambda x: packing.pack(x, pack)
    quantities = {
        'd_real': lambda v: v.nets('D', packed(v.real['xc'])),
        'd_fake': lambda v: v.nets('D', packed(v.generated['xc'])),
        'd_of_x': lambda v: lambda x: v.nets('D', packed(x), update=False)['logits'],
    }
    d_terms: tuple[T.Term, ...] = (T.DiscriminatorLoss('d_adversarial', 1.0, loss),)
    if config.penalties.gradient_penalty > 0:
        d_terms += (PackedGradientPenalty('gradient_penalty', config.penalties.gradient_penalty, real='xc',
                                          fake='xc', pack=pack),)
    g_terms: tuple[T.Term, ...] = (T.GeneratorLoss('g_adversarial', config.g_objective.adversarial, loss),)
    spans = tuple((s.start, s.size, s.cond_start) for s in transform.cond_spans)
    if spans and t.conditional > 0:
        g_terms += (ConditionalLoss('conditional', config.table.conditional, spans),)
    discrete = sum(info.discrete for info in transform.columns)
    numerical = sum(info.numerical for info in transform.columns)
    plan = (privacy.Plan.of(config, rows=spec.num_examples, histograms=privacy.histograms(config, discrete, numerical))
            .with_estimate({info.name: (info.minimum, info.maximum) for info in transform.columns if info.numerical})
            if privacy.enabled(config) else None)  # the estimated bounds as released, in the transform
    if t.get('correlation', 0.0) > 0 and plan is not None:
        raise UserError(f'config.table.correlation={t.correlation}: G\'s correlation loss reads the real rows, '
                        'which DP-SGD does not cover; set it to 0 for a private run (config.privacy.epsilon)')
    if t.get('correlation', 0.0) > 0 and numerical > 1:
        g_terms += (correlation_loss('correlation', t.correlation, transform),)
    if t.marginals > 0 and numerical and (plan is None or plan.histograms > discrete and plan.count_noise is not None):
        targets, matched = marginal_targets(transform)
        g_terms += (MarginalLoss('marginals', t.marginals, tuple(int(b) for b in _blocks(transform.spans)[0]),
                                 tuple(float(x) for x in targets), matched),)

    def d_metrics(view: View) -> dict:
        real, fake = view['d_real']['logits'], view['d_fake']['logits']
        return {'d_real_logit': jnp.mean(real), 'd_fake_logit': jnp.mean(fake)}

    dp = None if plan is None else private.DPSGD(plan.clip_norm, plan.sigma, unit=pack)
    critic = Player('d', ('D',), optim.make(config.d_optimizer, config.num_steps * config.n_critic), d_terms,
                    repeats=config.n_critic, metrics=d_metrics, private=dp)
    player = Player('g', ('G',), optim.make(config.g_optimizer, config.num_steps * config.n_gen), g_terms,
                    repeats=config.n_gen)

    def prepare(batch: dict) -> dict:
        x, c = batch['x'].astype(jnp.float32), batch['c'].astype(jnp.float32)
        real_c = own_condition(x, c, spans) if plan is not None and spans else c
        return {'x': x, 'c': c, 'xc': jnp.concatenate([x, real_c], axis=-1)}

    game = Game(networks=networks, generator=player, critic=critic, noise=noise, generate=generate,
                quantities=quantities, prepare=prepare, ema=('G',))
    if plan is not None:
        private.check_game(game)
    return TableGAN(game=game, spec=spec, transform=transform, z_dim=m.z_dim, tau=t.tau, privacy=plan,
                    sample_modes=t.get('sample_modes', 'draw'))


class TableSamples:
    """CSV files of the generator's synthetic rows (config.num_samples, the same seed each time) in the
    input's schema, samples/step_N.csv: a table's sample grid."""

    def __init__(self, model: TableGAN, config: Config, workdir: str):
        self.model, self.config = model, config
        self.directory = os.path.join(workdir, 'samples')

    def __call__(self, state: RunState, step: int, prefix: str, member: int | None) -> None:
        del member
        rows = self.model.sample(state.ema['G'], state.model_state['G'], self.config.num_samples,
                                 seed=self.config.seed, batch_size=self.config.batch_size, bn=self.config.sample_bn)
        if jax.process_index() == 0:
            files.atomic_write(os.path.join(self.directory, f'{prefix}step_{step:08d}.csv'), rows.to_csv(index=False))



def config_section() -> ml_collections.ConfigDict:
    """Synthetic tables (config.model.name ctgan; jaxgan.data.tables): reading the columns, the holdout, CTGAN's
    encoding and training."""
    c = ml_collections.ConfigDict()
    c.holdout = 0.2  # the fraction of rows kept apart (chosen with the seed) for evaluation; 0: none
    c.categorical = ''  # comma-separated columns read as categorical, whatever their values
    c.integer = ''  # comma-separated columns read as integers
    c.continuous = ''  # comma-separated columns read as continuous
    c.boolean = ''  # comma-separated columns read as booleans
    c.identifier = ''  # comma-separated columns read as identifiers (keys; a distinct value per row is found alone)
    c.drop = ''  # comma-separated columns left out of the model and its rows
    c.on_identifier = 'generate'  # identifier columns: generate (fresh values in their format, never a real one) | drop | refuse
    c.max_modes = 10  # most Gaussian-mixture modes per continuous column (CTGAN's 10)
    c.mixture_iterations = 1000  # the mixtures' most iterations (rdt's 100 leaves them unconverged: docs/tables.md)
    c.tau = 0.2  # the Gumbel-softmax temperature of G's one-hot outputs (CTGAN's 0.2)
    # How sampling picks a numerical column's mode: draw (from G's probabilities with Gumbel noise, independently
    # per column, as the package samples) | argmax (G's most probable mode; docs/tables.md)
    c.sample_modes = 'draw'
    c.conditional = 1.0  # weight of G's conditional loss (CTGAN's 1); 0: off
    # Weight of G's loss matching the real batch's correlations between numerical columns, Pearson's and their ranks'
    # (CorrelationLoss; it reads the real rows, so a private run has none); 0: off. experiments.ctgan sets CORRELATION.
    c.correlation = 0.0
    c.marginals = 0.0  # weight of G's loss matching the numerical columns' mode (bin) frequencies (MarginalLoss); 0: off
    c.epochs = 0  # > 0: config.num_steps is set to epochs * max(training rows // batch_size, 1), as CTGAN counts
    # > 0: the steps config.table.epochs sets are raised to at least this many (not a private run's, whose noise
    # is calibrated to its planned steps); 0: off. experiments.ctgan sets MIN_STEPS (docs/tables.md).
    c.min_steps = 0
    return c


def planned_steps(epochs: int, rows: int, batch: int, min_steps: int = 0) -> tuple[int, int]:
    """(the steps of `epochs` epochs of `rows` rows at `batch`, the steps trained): an epoch is
    max(rows // batch, 1) steps, as the `ctgan` package counts it (synthesizers/ctgan.py, CTGAN.fit:
    `steps_per_epoch`), so below 2 * batch rows an epoch is one step; the steps trained are raised to
    min_steps."""
    steps = epochs * max(rows // batch, 1)
    return steps, max(steps, min_steps)


def validate(config: Config) -> None:
    t = config.table
    check(0.0 <= t.holdout < 1.0, f'config.table.holdout={t.holdout} must be in [0, 1)')
    positive(config, 'table.max_modes')
    positive(config, 'table.mixture_iterations')
    check(t.tau > 0, f'config.table.tau={t.tau} must be positive')
    check(t.get('sample_modes', 'draw') in SAMPLE_MODES,
          f'config.table.sample_modes={t.get("sample_modes")!r} must be {" or ".join(SAMPLE_MODES)}')
    check(t.on_identifier in ('generate', 'drop', 'refuse'),
          f'config.table.on_identifier={t.on_identifier!r} must be generate, drop or refuse')
    check(t.conditional >= 0, f'config.table.conditional={t.conditional} must be >= 0')
    privacy.validate(config)
    check(isinstance(t.epochs, int) and t.epochs >= 0, f'config.table.epochs={t.epochs!r} must be an integer >= 0')
    check(t.get('correlation', 0.0) >= 0, f'config.table.correlation={t.get("correlation")} must be >= 0')
    check(t.get('marginals', 0.0) >= 0, f'config.table.marginals={t.get("marginals")} must be >= 0')
    check(isinstance(t.min_steps, int) and not isinstance(t.min_steps, bool) and t.min_steps >= 0,
          f'config.table.min_steps={t.min_steps!r} must be an integer >= 0')


def check_data(config: Config, dataset) -> None:
    if config.data.on_device or config.eval.every:
        raise UserError('config.data.on_device and config.eval.every are not built for tables; evaluate a table '
                        'run with python -m jaxgan.evaluate --metrics=table')


family.register(family.Family(
    name='tables', trains=lambda name: name in KINDS, names=lambda: KINDS,
    sections=(('table', config_section), ('privacy', privacy.config_section)), validate=validate,
    takes=lambda dataset: dataset.layout == data_base.TABLE,
    learns='learns tables (use csv:PATH, parquet:PATH, xlsx:PATH[:SHEET] or table:NAME)', holds='a table', build=build_table,
    check_data=check_data))
