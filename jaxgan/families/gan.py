"""The classic GAN family as a `Game`: G and D, the config's objective terms, latents and labels.

    build_gan(config, spec) -> GAN        GAN.game is what the step machinery runs

Every GAN jaxgan trains from a config is this one game: the unconditional G/D pair, class-conditional
G and D, AC-GAN, InfoGAN, the semi-supervised GAN, and the GMMN (n_critic = 0: no D at all). Which
terms each player's objective holds is decided in one place, `TERMS`: a row per term, with the
condition on the config that selects it and the term it makes.

PacGAN (Lin et al. 2018, "PacGAN: The power of two samples in generative adversarial networks"):
config.model.pack = m > 1 makes D judge packs of m examples concatenated along the last axis (channels
for images), real packs against generated packs, with any architecture and loss. It is D's side only: D
is built for m times the channels, and the quantities D computes (d_real, d_fake, d_of_x) pack the
device's batch before D (`core.packing`), so D's outputs and metrics (d_real_acc, ...) are per pack.
Penalties on input gradients take them with respect to the packed input (core.penalties). D's labels
and class heads are per example: packing refuses class-conditional D, AC-GAN, InfoGAN and the
semi-supervised GAN.

The latent vector is [z | one-hot categorical code | continuous codes]: z of size z_dim, then InfoGAN's
codes where config.infogan asks for them (Chen et al. 2016). Class-conditional models also take a label
y (config.conditioning).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan import augment, family, models, optim, sampling
from jaxgan.core import health, losses, packing, terms as T
from jaxgan.core.game import Game, Network, Player, View
from jaxgan.core import parallel
from jaxgan.core.parallel import DATA
from jaxgan.core.state import RunState
from jaxgan.data import base as data_base
from jaxgan.data.spec import DataSpec
from jaxgan.errors import UserError

Params = Any  # a pytree of arrays
ModelState = dict[str, Any]  # non-trained variables, e.g. {'batch_stats': ...}; {} where none
Config = ml_collections.ConfigDict

# Which terms a config selects: (player, selected(config), make(config, spec)). A new term is a row here.
TERMS: tuple[tuple[str, Callable[[Config], bool], Callable[[Config, DataSpec], T.Term]], ...] = (
    ('d', lambda c: True,
     lambda c, s: T.DiscriminatorLoss('d_adversarial', 1.0, losses.get(c.loss), c.label_smoothing)),
    ('d', lambda c: c.conditioning.d == 'acgan',
     lambda c, s: T.Classification('acgan_real', c.conditioning.acgan_weight, 'd_real', ('real', 'y'))),
    ('d', lambda c: c.conditioning.d == 'acgan',
     lambda c, s: T.Classification('acgan_fake', c.conditioning.acgan_weight, 'd_fake', ('noise', 'y_fake'))),
    ('d', lambda c: bool(c.infogan.categorical or c.infogan.continuous),
     lambda c, s: _mutual_info('d_mutual_info', c)),
    ('d', lambda c: c.semi_supervised.num_labels > 0,
     lambda c, s: T.Classification('supervised', c.semi_supervised.weight, 'd_labelled', ('real', 'y_labelled'))),
    ('d', lambda c: c.penalties.gradient_penalty > 0,
     lambda c, s: T.GradientPenalty('gradient_penalty', c.penalties.gradient_penalty, pack=c.model.pack)),
    ('d', lambda c: c.penalties.r1 > 0,
     lambda c, s: T.R1('r1', 0.5 * c.penalties.r1, every=c.penalties.r1_every, pack=c.model.pack)),
    ('d', lambda c: c.penalties.drift > 0, lambda c, s: T.Drift('drift', c.penalties.drift)),
    ('d', lambda c: c.penalties.dragan > 0,
     lambda c, s: T.Dragan('dragan', c.penalties.dragan, shape=tuple(s.shape), pack=c.model.pack)),
    ('d', lambda c: c.penalties.historical_averaging > 0,
     lambda c, s: T.HistoricalAveraging('d_historical_averaging', c.penalties.historical_averaging)),
    ('d', lambda c: c.penalties.r2 > 0,
     lambda c, s: T.R1('r2', 0.5 * c.penalties.r2, critic='d_of_fake_x', on='generated', pack=c.model.pack)),
    ('d', lambda c: c.penalties.lecam > 0, lambda c, s: T.LeCam('lecam', c.penalties.lecam)),
    ('d', lambda c: c.penalties.bcr > 0,
     lambda c, s: T.Consistency('bcr_real', c.penalties.bcr, 'd_real', 'd_real_transformed')),
    ('d', lambda c: c.penalties.bcr > 0,
     lambda c, s: T.Consistency('bcr_fake', c.penalties.bcr, 'd_fake', 'd_fake_transformed')),
    ('d', lambda c: c.penalties.zcr > 0, lambda c, s: T.Consistency('zcr', c.penalties.zcr, 'd_fake', 'd_perturbed')),
    ('d', lambda c: c.augment.kind == 'ada',
     lambda c, s: T.AdaptiveAugmentation('ada', 0.0, p=c.augment.p, target=c.augment.target,
                                         interval=c.augment.interval, kimg=c.augment.kimg,
                                         batch_images=c.batch_size)),
    ('g', lambda c: c.g_objective.adversarial > 0,
     lambda c, s: T.GeneratorLoss('g_adversarial', c.g_objective.adversarial, losses.get(c.loss))),
    ('g', lambda c: c.g_objective.feature_matching > 0,
     lambda c, s: T.FeatureMatching('feature_matching', c.g_objective.feature_matching)),
    ('g', lambda c: c.conditioning.d == 'acgan',
     lambda c, s: T.Classification('acgan_g', c.conditioning.acgan_weight, 'd_fake', ('noise', 'y_fake'))),
    ('g', lambda c: bool(c.infogan.categorical or c.infogan.continuous),
     lambda c, s: _mutual_info('g_mutual_info', c)),
    ('g', lambda c: c.g_objective.mmd > 0,
     lambda c, s: T.MMD('mmd', c.g_objective.mmd, tuple(c.g_objective.mmd_bandwidths))),
    ('g', lambda c: c.penalties.historical_averaging > 0,
     lambda c, s: T.HistoricalAveraging('g_historical_averaging', c.penalties.historical_averaging)),
    ('g', lambda c: c.penalties.zcr_g > 0, lambda c, s: T.LatentDiversity('zcr_g', c.penalties.zcr_g)),
    ('g', lambda c: _style(c) is not None and _style(c).pl_weight > 0,
     lambda c, s: T.PathLength('path_length', _style(c).pl_weight, every=_style(c).pl_every,
                               shrink=_style(c).pl_batch_shrink, decay=_style(c).pl_decay)),
)
INPUT_GRADIENT_PENALTIES = ('gradient_penalty', 'r1', 'dragan', 'r2')


def _style(c: Config) -> models.StyleOptions | None:
    """Style mixing's and the path-length penalty's options, where the architecture has a mapping network."""
    architecture = models.find(c.model.name)
    return architecture.mapping(c) if architecture is not None and architecture.mapping else None


def _mutual_info(name: str, c: Config) -> T.Term:
    return T.MutualInformation(name, c.infogan.weight, 'd_fake', 'z', c.model.z_dim, c.infogan.categorical,
                               c.infogan.continuous, c.infogan.continuous_weight)


def select_terms(config: Config, spec: DataSpec, player: str) -> tuple[T.Term, ...]:
    """The terms `config` selects for `player`."""
    return tuple(make(config, spec) for p, selected, make in TERMS if p == player and selected(config))


@dataclasses.dataclass(frozen=True, eq=False)
class GAN:
    """The classic game and what tools need besides: the data's spec, the latent layout, the labels."""

    game: Game
    spec: DataSpec
    z_dim: int
    latent: str  # 'normal' | 'uniform'
    num_classes: int = 0  # > 0: G and/or D take labels
    g_conditioned: bool = False
    d_conditioned: bool = False
    categorical_code: int = 0  # InfoGAN: classes of the categorical code
    continuous_codes: int = 0  # InfoGAN: continuous codes, U[-1, 1]
    pack: int = 1  # PacGAN: D judges packs of this many examples
    mapping: bool = False  # G maps z to w (its architecture's `mapping` capability): truncation is w's

    @property
    def generator(self) -> nn.Module:
        return self.game.networks['G'].module

    @property
    def discriminator(self) -> nn.Module | None:
        return self.game.networks['D'].module if 'D' in self.game.networks else None

    @property
    def real_labels(self) -> bool:
        """Whether real batches carry labels: D is conditioned on them, or classifies them (AC-GAN)."""
        return self.d_conditioned or any(isinstance(t, T.Classification) and t.labels == ('real', 'y')
                                         for t in self.game.terms)

    batch_keys = ('x',)  # the batch's examples (beside labels)
    output = 'samples'  # images or vectors from latents (jaxgan.family)
    eval_labels = True  # an evaluation set (InfoGAN's, the semi-supervised GAN's) has classes

    @property
    def example_shapes(self) -> dict[str, tuple[int, ...]]:
        return {'x': tuple(self.spec.shape)}

    def samples(self, state: RunState, num: int, *, seed: int = 0, ema: bool = True, label: int | None = None,
                truncation: float | None = None, bn: str = 'batch', batch_size: int = 64) -> np.ndarray:
        """`num` examples in the data's units (uint8 images [N, H, W, C], or vectors) from latents drawn with
        `seed`: the EMA generator's unless not ema; label: every sample of that class (a conditional G; by
        default the classes in turn); truncation: the architecture's own trick (sampling.latents); bn: see
        sampling.generate."""
        if truncation is not None:
            sampling.check_truncation(self, truncation)
        z, psi = sampling.latents(self, seed, num, truncation)
        y = None
        if label is not None:
            if not self.g_conditioned:
                raise UserError('--label: this generator is not class-conditional')
            if not 0 <= label < self.num_classes:
                raise UserError(f'--label={label}: the classes are 0 to {self.num_classes - 1}')
            y = jnp.full((num,), label, jnp.int32)
        params = state.ema['G'] if ema else state.params['G']
        return sampling.sample(self, params, state.model_state['G'], z, y, bn=bn, batch_size=batch_size, psi=psi)

    def preview(self, config: Config, workdir: str, writer, dataset) -> 'SampleGrid':
        del dataset
        return SampleGrid(self, config, workdir, writer)

    def evaluator(self, config: Config, metrics: tuple[str, ...], **options):
        """evaluation.make_evaluator's: FID, KID, IS, ... of samples against the data; options (its
        keywords) override config.eval's."""
        from jaxgan import evaluation
        e = config.eval
        defaults = dict(num_samples=e.num_samples, features=e.features, inception_weights=e.inception_weights,
                        reference_size=e.reference_size, keep=e.keep, reference=e.reference)
        return evaluation.make_evaluator(config, metrics, **{**defaults, **options})

    @property
    def latent_dim(self) -> int:
        return self.z_dim + self.categorical_code + self.continuous_codes

    def latents(self, key: jax.Array, *batch_shape: int) -> jax.Array:
        """Latent vectors [*batch_shape, latent_dim]: z, then InfoGAN's codes drawn from their priors."""
        return draw_latents(key, batch_shape, self.z_dim, self.latent, self.categorical_code, self.continuous_codes)

    def codes(self, latents: jax.Array) -> tuple[jax.Array | None, jax.Array | None]:
        """InfoGAN's (categorical code index [B], continuous codes [B, M]) of latent vectors."""
        return T.split_codes(latents, self.z_dim, self.categorical_code, self.continuous_codes)

    def labels(self, key: jax.Array, *batch_shape: int) -> jax.Array | None:
        """Labels for generated examples, uniform over the classes (None for unconditional G)."""
        return jax.random.randint(key, batch_shape, 0, self.num_classes) if self.g_conditioned else None


    def generate(self, params: Params, model_state: ModelState, z: jax.Array, *, y: jax.Array | None = None,
                 train: bool, module: nn.Module | None = None) -> tuple[jax.Array, ModelState]:
        """G(z[, y]) in model units; in training mode also the updated model state."""
        return apply(module or self.generator, params, model_state, z, y if self.g_conditioned else None,
                     train=train)

    def discriminate(self, params: Params, model_state: ModelState, x: jax.Array, *,
                     y: jax.Array | None = None, train: bool, rng: jax.Array | None = None
                     ) -> tuple[dict[str, jax.Array], ModelState]:
        """D's outputs (a dict: 'logits' [B], 'features' [B, F], and heads; see models.layers.Heads) and,
        in training mode, the updated model state. rng: for dropout. With pack = m > 1, x [B, ...] is
        packed first and the outputs are per pack, [B / m]."""
        return apply(self.discriminator, params, model_state, packing.pack(x, self.pack),
                     y if self.d_conditioned else None, train=train, rng=rng)


def _mixing_noise(key: jax.Array, updates: int, batch: int, z_dim: int, num_ws: int, probability: float,
                  suffix: str) -> dict:
    """Style mixing's draws for `updates` batches (StyleGAN2Loss.run_G of stylegan2-ada-pytorch): second
    latents, and per batch one layer from which their ws replace the first's, uniform in [1, num_ws) with
    `probability` and num_ws (no mixing) otherwise; the layer is repeated over the batch, so that each
    device reads it with its share."""
    z_key, cut_key, use_key = jax.random.split(key, 3)
    cutoff = jax.random.randint(cut_key, (updates,), 1, num_ws)
    cutoff = jnp.where(jax.random.uniform(use_key, (updates,)) < probability, cutoff, num_ws)
    return {'z_mix' + suffix: jax.random.normal(z_key, (updates, batch, z_dim)),
            'mix_cutoff' + suffix: jnp.broadcast_to(cutoff[:, None], (updates, batch))}


def draw_latents(key: jax.Array, batch_shape: tuple[int, ...], z_dim: int, latent: str, categorical: int,
                 continuous: int) -> jax.Array:
    """[*batch_shape, z_dim + categorical + continuous]: z ~ N(0, 1) or U[-1, 1] (the DCGAN paper's), a
    one-hot categorical code and continuous codes ~ U[-1, 1] (InfoGAN, Chen et al. 2016)."""
    z_key, cat_key, cont_key = jax.random.split(key, 3)
    shape = (*batch_shape, z_dim)
    if latent == 'uniform':
        parts = [jax.random.uniform(z_key, shape, minval=-1.0, maxval=1.0)]
    else:
        parts = [jax.random.normal(z_key, shape)]
    if categorical:
        parts.append(jax.nn.one_hot(jax.random.randint(cat_key, batch_shape, 0, categorical), categorical))
    if continuous:
        parts.append(jax.random.uniform(cont_key, (*batch_shape, continuous), minval=-1.0, maxval=1.0))
    return jnp.concatenate(parts, axis=-1) if len(parts) > 1 else parts[0]


def apply(module: nn.Module, params: Params, model_state: ModelState, inputs: jax.Array,
          labels: jax.Array | None = None, *, train: bool, rng: jax.Array | None = None) -> tuple[Any, ModelState]:
    variables = {'params': params, **model_state}
    rngs = {'dropout': rng} if rng is not None else None
    if train and model_state:
        return module.apply(variables, inputs, labels, train=True, mutable=list(model_state), rngs=rngs)
    return module.apply(variables, inputs, labels, train=train, rngs=rngs), model_state


def num_classes(config: Config, spec: DataSpec) -> int:
    """The classes the models use: the data's, where conditioning or the semi-supervised GAN needs them."""
    c = config.conditioning
    if c.g == 'none' and c.d == 'none' and not config.semi_supervised.num_labels:
        return 0
    if not spec.num_classes:
        raise UserError(f'{spec.source} has no labels; class conditioning and the semi-supervised GAN need them '
                        '(TFDS labels, folder:PATH with one sub-folder per class, or PATH.labels.npy beside an npy)')
    return spec.num_classes


def check_independent_examples(config: Config) -> None:
    """GP, R1 and DRAGAN take each example's input gradient of D: a D that mixes the examples of its batch
    (BatchNorm in training mode, minibatch discrimination) makes those gradients mix examples silently."""
    on = [f'config.penalties.{p}' for p in INPUT_GRADIENT_PENALTIES if config.penalties[p] > 0]
    if not on or config.n_critic == 0:
        return
    coupling = []
    if models.d_norm(config) == 'batch':
        coupling.append(f'model {config.model.name} normalises D with BatchNorm')
    if config.model.minibatch_discrimination:
        coupling.append('config.model.minibatch_discrimination is on')
    if coupling:
        raise UserError(f'{" and ".join(on)} {"needs" if len(on) == 1 else "need"} a discriminator that treats '
                        f'examples independently, but '
                        f'{" and ".join(coupling)}: set --config.model.d_norm=layer (or none) and turn '
                        'minibatch discrimination off')


def augmentation(config: Config, spec: DataSpec) -> augment.Augmentation:
    """config.augment's augmentation, refused for data it cannot transform."""
    a = config.augment
    uses_images = a.kind != 'none' or config.penalties.bcr > 0
    if uses_images and spec.kind != 'image':
        raise UserError(f'config.augment.kind={a.kind} and config.penalties.bcr transform images; '
                        f'{spec.source} holds vectors')
    if a.kind == 'ada' and config.loss in ('least_squares', 'ra_least_squares'):
        raise UserError(f'config.augment.kind=ada adapts p from the sign of D\'s output on real data, read as a '
                        f'logit; config.loss={config.loss} targets 1 and 0 instead: use another loss, or '
                        f'config.augment.kind=fixed')
    # Only ADA starts from p; 'fixed' reads config.augment.p in the step itself (where config.anneal may
    # make it a value of the step, which augment.get's check could not take as a number).
    return augment.get(a.kind, policy=a.policy, p=a.p if a.kind == 'ada' else 0.0, pipeline=a.pipeline,
                       multipliers=a.multipliers, cutout=a.cutout, cutout_size=a.cutout_size)


def check_pack(config: Config) -> None:
    """PacGAN's packs against what reads D per example: labels and class heads (one per example, where a
    pack holds m examples). Batch sizes are checked with the config (config.validate)."""
    m = config.model.pack
    if m == 1:
        return
    per_example = [what for what, on in (
        (f'config.conditioning.d={config.conditioning.d}', config.conditioning.d != 'none'),
        ('InfoGAN (config.infogan)', config.infogan.categorical or config.infogan.continuous),
        ('the semi-supervised GAN', config.semi_supervised.num_labels)) if on]
    if per_example:
        raise UserError(f'config.model.pack={m}: D judges packs of {m} examples, but {" and ".join(per_example)} '
                        f'{"reads" if len(per_example) == 1 else "read"} D per example (labels or class heads); '
                        'use pack=1 with them')


def _d_metrics(classifier: bool) -> Callable[[View], dict]:
    def metrics(view: View) -> dict:
        real, fake = view['d_real']['logits'], view['d_fake']['logits']
        out = {'d_real_logit': jnp.mean(real), 'd_fake_logit': jnp.mean(fake),
               'd_real_acc': jnp.mean(real > 0), 'd_fake_acc': jnp.mean(fake < 0)}
        if 'ada' in view.term_states:
            out['augment_p'] = view.term_states['ada'].p
        if classifier:
            out.update(d_real_prob=jnp.mean(jax.nn.sigmoid(real)), d_fake_prob=jnp.mean(jax.nn.sigmoid(fake)))
        return out
    return metrics


def _g_metrics(view: View) -> dict:
    spread = health.mean_pairwise_distance(view.real['x'])
    return {'fake_diversity': health.mean_pairwise_distance(view.generated['x']) / jnp.maximum(spread, 1e-12)}


def build_gan(config: Config, spec: DataSpec) -> GAN:
    """The GAN that `config` describes on data of `spec` (in an ensemble's step, a member's config whose
    swept fields are jaxgan.ensemble.Swept values: the same code builds it)."""
    loss = losses.get(config.loss)
    if config.label_smoothing and not loss.classifier:
        raise UserError(f'config.label_smoothing applies to the minimax and non_saturating losses, '
                        f'not {config.loss}')
    if config.semi_supervised.num_labels and config.loss not in ('minimax', 'non_saturating'):
        raise UserError('the semi-supervised GAN needs config.loss=non_saturating or minimax')
    check_independent_examples(config)
    check_pack(config)
    k = num_classes(config, spec)
    generator, discriminator = models.build(
        config, tuple(spec.shape), images=spec.kind == 'image', num_classes=k,
        bn_axis=DATA if config.batch_norm == 'cross_device' else None)
    g_cond, d_cond = config.conditioning.g != 'none', config.conditioning.d in ('concat', 'projection')
    m, info = config.model, config.infogan
    latent_dim = m.z_dim + info.categorical + info.continuous
    labels = lambda: jnp.zeros((2,), jnp.int32)
    architecture = models.get(config.model.name)
    networks = {'G': Network(generator, lambda: (jnp.zeros((2, latent_dim)), labels() if g_cond else None),
                             ('noise',) if architecture.noise_inputs else ())}
    style = _style(config)  # G = mapping + synthesis (map and synthesize methods)
    mixing = style is not None and style.style_mixing > 0
    path_length = style is not None and style.pl_weight > 0
    growing = architecture.growing  # both networks take the schedule's lod
    # What the networks take of the batch besides the examples: ProGAN's lod, a scalar of the schedule
    # repeated over the batch (Game.schedule).
    progress = (lambda where: {'lod': where['lod'][0]}) if growing else (lambda where: {})
    n_critic, pack = config.n_critic, config.model.pack
    g_extra, d_extra = growing.optimizers(config, generator) if growing else ({}, {})
    critic = None
    if n_critic > 0:
        rngs = ('dropout',) if getattr(discriminator, 'dropout', 0.0) > 0 or getattr(discriminator, 'noise', 0.0) > 0 else ()
        packed_shape = (*spec.shape[:-1], spec.shape[-1] * pack)  # PacGAN: m examples' channels
        networks['D'] = Network(discriminator, lambda: (jnp.zeros((2, *packed_shape)), labels() if d_cond else None),
                                rngs)
        frozen = models.frozen_layers(discriminator, config.get('freeze_d', 0), architecture)  # FreezeD: D's first blocks
        d_optimizer = optim.freeze(optim.make(config.d_optimizer, config.num_steps * n_critic, **d_extra),
                                   {('D', n) for n in frozen})
        critic = Player('d', ('D',), d_optimizer,
                        select_terms(config, spec, 'd'), repeats=n_critic,
                        metrics=_d_metrics(loss.classifier))
    player = Player('g', ('G',), optim.make(config.g_optimizer, config.num_steps * config.n_gen, **g_extra),
                    select_terms(config, spec, 'g'), repeats=config.n_gen, metrics=_g_metrics)

    aug = augmentation(config, spec)
    keys = lambda key, updates, batch: {side: jax.random.key_data(jax.random.split(jax.random.fold_in(key, i),
                                                                                   (updates, batch)))
                                        for i, side in enumerate(('real', 'fake'))}

    def noise(key: jax.Array, updates: int, batch: int) -> dict:
        z_key, y_key = jax.random.split(key)
        out = {'z': draw_latents(z_key, (updates, batch), m.z_dim, m.latent, info.categorical, info.continuous)}
        if g_cond:
            out['y_fake'] = jax.random.randint(y_key, (updates, batch), 0, k)
        if aug.kind != 'none':  # one key per example, for each side: the same transforms on any device count
            out['augment'] = keys(jax.random.fold_in(key, 1), updates, batch)
        if config.penalties.bcr > 0:
            out['transform'] = keys(jax.random.fold_in(key, 2), updates, batch)
        if config.penalties.zcr > 0 or config.penalties.zcr_g > 0:  # z only, never InfoGAN's codes
            dz = config.penalties.zcr_sigma * jax.random.normal(jax.random.fold_in(key, 3), (updates, batch, m.z_dim))
            out['z_perturbation'] = jnp.pad(dz, ((0, 0), (0, 0), (0, latent_dim - m.z_dim)))
        if mixing:
            out.update(_mixing_noise(jax.random.fold_in(key, 4), updates, batch, m.z_dim, generator.num_ws,
                                     style.style_mixing, ''))
        if path_length:  # the path-length penalty's own latents, mixed as in training
            out['z_pl'] = jax.random.normal(jax.random.fold_in(key, 5), (updates, batch, m.z_dim))
            if mixing:
                out.update(_mixing_noise(jax.random.fold_in(key, 6), updates, batch, m.z_dim, generator.num_ws,
                                         style.style_mixing, '_pl'))
        return out

    def ws_of(nets, noise, z: str, suffix: str, update: bool) -> jax.Array:
        """The mapping network's ws of latents noise[z], mixed with those of noise['z_mix' + suffix] from the layer
        noise['mix_cutoff' + suffix] on (StyleGAN2Loss.run_G); only the first mapping tracks w_avg."""
        y = noise.get('y_fake') if g_cond else None
        ws = nets('G', noise[z], y, method='map', update=update)
        if not mixing:
            return ws
        other = nets('G', noise['z_mix' + suffix], y, method='map', update=False)
        layer = jnp.arange(ws.shape[1])
        return jnp.where(layer[None, :, None] < noise['mix_cutoff' + suffix][:, None, None], ws, other)

    def generate(nets, real, noise) -> dict:
        if mixing:
            return {'x': nets('G', ws_of(nets, noise, 'z', '', True), method='synthesize')}
        return {'x': nets('G', noise['z'], noise.get('y_fake') if g_cond else None, **progress(real))}

    d_labels = lambda where, key: where.get(key) if d_cond else None

    def augmented(v, x: jax.Array, side: str) -> jax.Array:
        """What D sees of examples x of a side ('real', 'fake'): x, augmented where config.augment asks."""
        if aug.kind == 'none':
            return x
        p = v.term_states['ada'].p if aug.adaptive else config.augment.p
        return augment.per_example(aug.apply)(jax.random.wrap_key_data(v.noise['augment'][side]), x, p)

    def transformed(v, x: jax.Array, side: str) -> jax.Array:  # consistency regularisation's T(x)
        return jax.vmap(lambda key, image: augment.consistency_transform(key, image[None])[0])(
            jax.random.wrap_key_data(v.noise['transform'][side]), x)

    packed = lambda x: packing.pack(x, pack)  # PacGAN: this device's batch in packs (pack 1: as it is)
    quantities = {
        'd_real': lambda v: v.nets('D', packed(augmented(v, v.real['x'], 'real')), d_labels(v.real, 'y'),
                                   **progress(v.real)),
        'd_fake': lambda v: v.nets('D', packed(augmented(v, v.generated['x'], 'fake')),
                                   d_labels(v.noise, 'y_fake'), **progress(v.real)),
        'd_labelled': lambda v: v.nets('D', v.real['x_labelled'], None),  # not augmented
        # D as a function of its input for the penalties (its augmentation inside, as StyleGAN2-ADA's R1,
        # then the packing); their model-state updates are dropped.
        'd_of_x': lambda v: lambda x: v.nets('D', packed(augmented(v, x, 'real')), d_labels(v.real, 'y'),
                                             update=False, **progress(v.real))['logits'],
        'd_of_fake_x': lambda v: lambda x: v.nets('D', packed(augmented(v, x, 'fake')), d_labels(v.noise, 'y_fake'),
                                                  update=False, **progress(v.real))['logits'],
        'd_real_transformed': lambda v: v['d_of_x'](transformed(v, v.real['x'], 'real')),
        'd_fake_transformed': lambda v: v['d_of_fake_x'](transformed(v, v.generated['x'], 'fake')),
        # zCR: G at perturbed latents (its model state left as it is), and D's logits there.
        'g_perturbed': lambda v: v.nets('G', v.noise['z'] + v.noise['z_perturbation'],
                                        v.noise.get('y_fake') if g_cond else None, update=False, **progress(v.real)),
        'd_perturbed': lambda v: v['d_of_fake_x'](v['g_perturbed']),
        # The path-length penalty (a mapping network's): the ws it is taken at, and the synthesis network as a
        # function.
        'pl_ws': lambda v: ws_of(v.nets, v.noise, 'z_pl', '_pl', False),
        'g_synthesis': lambda v: lambda ws: v.nets('G', ws, method='synthesize', update=False),
    }

    def prepare(batch: dict) -> dict:
        batch = {k: spec.model_input(v) if k.startswith('x') else v for k, v in batch.items()}
        if growing:  # the reals at the stage's resolution, faded as G fades (the architecture's hook)
            level = batch['lod'][0, 0]
            batch['x'] = jax.vmap(lambda x: growing.process_reals(x, level, generator))(batch['x'])
        return batch

    schedule = None
    if growing:
        schedule = lambda step: {'lod': growing.lod_of_step(config, generator, step)}

    game = Game(networks=networks, generator=player, critic=critic, noise=noise, generate=generate,
                quantities=quantities, prepare=prepare, ema=('G',), schedule=schedule)
    return GAN(game=game, spec=spec, z_dim=m.z_dim, latent=m.latent, num_classes=k, g_conditioned=g_cond,
               d_conditioned=d_cond, categorical_code=info.categorical, continuous_codes=info.continuous,
               pack=pack, mapping=style is not None)


class SampleGrid:
    """The preview of a GAN of images: a PNG grid of the EMA generator's samples for fixed latents
    (samples/step_00001000.png; a column per class for a conditional G), and the same image in
    TensorBoard. Vectors have no preview of their own (experiments plot them: toy_2d)."""

    def __init__(self, gan: GAN, config: Config, workdir: str, writer):
        self.gan, self.writer = gan, writer
        self.directory = os.path.join(workdir, 'samples')
        self.z = gan.latents(jax.random.fold_in(jax.random.key(config.seed), 0x5a), config.num_samples)
        self.y = jnp.arange(config.num_samples) % gan.num_classes if gan.g_conditioned else None
        self.columns = gan.num_classes if gan.g_conditioned else None  # a column per class
        self._fn = sampling.jitted_generate(gan, config.sample_bn)

    def __call__(self, state: RunState, step: int, prefix: str, member: int | None) -> None:
        if self.gan.spec.kind != 'image':
            return
        images = self.gan.spec.to_data_units(
            parallel.to_host(self._fn(state.ema['G'], state.model_state['G'], self.z, self.y)))
        if jax.process_index() == 0:
            grid = sampling.make_grid(images, self.columns)
            sampling.save_png(os.path.join(self.directory, f'{prefix}step_{step:08d}.png'), grid)
            self.writer.image(step, 'samples' if member is None else f'samples/member_{member}', grid)


family.register(family.Family(
    name='gan', trains=lambda name: models.find(name) is not None,
    names=lambda: tuple(a.name for a in models.architectures()),
    takes=lambda dataset: dataset.layout == data_base.SINGLE,
    learns='learns single images or vectors', holds='single examples', build=build_gan))
