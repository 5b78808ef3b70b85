"""Image-to-image translation as games: pix2pix, CycleGAN and U-GAT-IT.

    build_translation(config, spec) -> Translation        Translation.game is what the step machinery runs

The batch holds two images per example, {'a', 'b'} (jaxgan.data.translation): a pair, or one image of
each domain. config.model.name chooses the game:

  pix2pix (Isola et al. 2017; pytorch-CycleGAN-and-pix2pix, models/pix2pix_model.py)
      networks  G: a U-Net, A -> B (dropout 0.5, batch norm); D: a PatchGAN judging (A, B) pairs
      D         0.5 * the adversarial loss on real pairs (a, b) and generated pairs (a, G(a))
      G         the adversarial loss on (a, G(a)) + lambda E |G(a) - b| (config.translation.l1 = 100)
  cyclegan (Zhu et al. 2017; models/cycle_gan_model.py)
      networks  G_ab, G_ba: ResNet generators (9 blocks from 256 px, 6 below; instance norm);
                D_a, D_b: PatchGANs (instance norm)
      D         0.5 * the least-squares loss of each D on its domain's real images against generated
                ones drawn from a history of 50 (config.translation.pool; ImagePool, in the run state)
      G         the least-squares loss through both Ds
                + cycle E |G_ba(G_ab(a)) - a| + E |G_ab(G_ba(b)) - b|, lambda 10 (translation.cycle)
                + identity E |G_ab(b) - b| + E |G_ba(a) - a|, 0.5 lambda (translation.identity = 0.5)
  ugatit (Kim et al. 2020; UGATIT.py of znxlwm/UGATIT-pytorch, the authors' PyTorch code)
      networks  G_ab, G_ba: U-GAT-IT generators (CAM attention, AdaLIN; 4 residual blocks, `n_res`);
                D_a, D_b: each the domain's global (7 layers) and local (5) discriminators, one network
                (models.ugatit.GlobalLocalDiscriminator), each returning PatchGAN logits and CAM logits
      D         for each domain, the least-squares loss of the global and the local D on their PatchGAN
                logits and on their CAM logits, real images against the latest translations (no history):
                D_ad_loss_GA + D_ad_cam_loss_GA + D_ad_loss_LA + D_ad_cam_loss_LA, and B's (adv_weight 1)
      G         the least-squares loss through the same eight outputs, g_objective.adversarial (adv_weight, 1)
                + cycle, lambda 10 (translation.cycle: cycle_weight)
                + identity, lambda 10 (translation.cycle * translation.identity; the paper's identity_weight
                  10 is translation.identity = 1.0, which experiments/ugatit_selfie2anime.py sets)
                + the CAM loss of each generator, 1000 (translation.cam: cam_weight): BCE of its CAM logits on
                  the images it translates against 1 and on its identity pass's against 0 (terms.CAMLoss)
      rho       after each G update every AdaLIN and ILN rho is projected onto [0, 1]: the official
                RhoClipper, here the last transform of G's optimizer chain (models.ugatit.rho_clipper)

The least-squares loss of `core.losses` is LSGAN's, 1/2 E (D(x) - 1)^2; the papers' code takes PyTorch's
MSELoss, E (D(x) - 1)^2, so the adversarial terms of config.loss=least_squares are weighed twice here
(`official_scale`), making every loss and its balance against the L1 terms the official code's.

pix2pix and CycleGAN train with Adam (2e-4, betas 0.5 and 0.999) at a constant rate for half the run and
a linear decay to 0 for the other half (`hold_then_linear`), with PatchGANs of a 70x70 receptive field
(config.translation.patch: 70, 34, 16 or 1) and, in their experiments' configs here, batch size 1 at
256 px; the demos use small batches at 32 px. U-GAT-IT's paper (and its experiment here): Adam 1e-4,
betas 0.5 and 0.999, weight decay 1e-4 (PyTorch's Adam: added to the gradient), held for half the run,
then linear decay, batch size 1 at 256 px (main.py of znxlwm/UGATIT-pytorch: --lr 0.0001
--weight_decay 0.0001 --iteration 1000000 --decay_flag True --batch_size 1 --img_size 256). Images are
translated in evaluation mode (BatchNorm's running statistics, no dropout; the pix2pix paper keeps
dropout on at test time, we do not).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxgan import family, optim, sampling
from jaxgan.core import losses, parallel, terms as T
from jaxgan.core.game import Game, Network, Player
from jaxgan.core.state import RunState
from jaxgan.data import base as data_base
from jaxgan.data.spec import DataSpec
from jaxgan.errors import UserError
from jaxgan.models import cyclegan, patchgan, ugatit, unet

Config = ml_collections.ConfigDict
KINDS = ('pix2pix', 'cyclegan', 'ugatit')
UGATIT_BLOCKS = 4  # the generator's residual blocks before and after the CAM: n_res in the official main.py
UGATIT_D_LAYERS = (7, 5)  # the global and the local discriminator's n_layers (UGATIT.py, build_model)


@dataclasses.dataclass(frozen=True, eq=False)
class Translation:
    """A translation game and what tools need besides: the data's spec and the generators by direction."""

    game: Game
    spec: DataSpec
    kind: str  # pix2pix | cyclegan | ugatit
    real_labels = False  # the batches carry no class labels
    batch_keys = ('a', 'b')  # the batch's images
    output = 'translations'  # (jaxgan.family)
    eval_labels = False  # its test split is scored by its pairs

    @property
    def example_shapes(self) -> dict[str, tuple[int, ...]]:
        return {key: tuple(self.spec.shape) for key in self.batch_keys}

    def preview(self, config: Config, workdir: str, writer, dataset) -> 'TranslationGrid':
        return TranslationGrid(self, config, workdir, writer, dataset)

    def evaluator(self, config: Config, metrics: tuple[str, ...], *, dataset: str = '', **options):
        """evaluation.make_translation_evaluator's: the translations of a test split (`dataset`, by default
        config.eval_dataset) against its targets; options (its keywords) override config.eval's."""
        from jaxgan import evaluation
        e = config.eval
        defaults = dict(features=e.features, inception_weights=e.inception_weights, keep=e.keep)
        return evaluation.make_translation_evaluator(config, metrics, dataset or config.eval_dataset,
                                                     **{**defaults, **options})

    @property
    def directions(self) -> dict[str, str]:
        """{direction: the generator's network}: a2b, and b2a for CycleGAN and U-GAT-IT."""
        return {'a2b': 'G'} if self.kind == 'pix2pix' else {'a2b': 'G_ab', 'b2a': 'G_ba'}

    def translate(self, params: Any, model_state: Any, x: jax.Array, direction: str = 'a2b') -> jax.Array:
        """The generator of `direction` on images x [B, H, W, C] in model units, in evaluation mode: the
        translated images (U-GAT-IT's generator also returns its CAM logits and heatmap: see `outputs`)."""
        out = self.outputs(params, model_state, x, direction)
        return out['image'] if isinstance(out, dict) else out

    def outputs(self, params: Any, model_state: Any, x: jax.Array, direction: str = 'a2b') -> Any:
        """What the generator of `direction` returns on x, in evaluation mode."""
        name = self.directions[direction]
        net = self.game.networks[name]
        return net.module.apply({'params': params[name], **model_state[name]}, x, train=False)


def official_scale(loss: losses.Loss) -> float:
    """The weight that makes an adversarial term of `loss` the papers' code's: 2 for least_squares, whose
    1/2 E (D(x) - c)^2 (LSGAN's) the official code takes as PyTorch's MSELoss, E (D(x) - c)^2; 1 for
    the others (the non-saturating loss is BCEWithLogitsLoss on both sides)."""
    return 2.0 if loss is losses.LOSSES['least_squares'] else 1.0


def ugatit_d_layers(size: int, layers: int = 0) -> tuple[int, int]:
    """The (global, local) discriminators' n_layers: the local one 2 fewer than the global one (the paper's 7
    and 5), at least 3. layers = 0: the paper's 7 where the images allow it (96 px and up), else the most
    that leave a logit (5 at 32 px, 4 at 16) so that each keeps its place: the global one judging most of
    the image, the local one patches."""
    if not layers:
        layers = UGATIT_D_LAYERS[0]
        while layers > 3 and ugatit.discriminator_output_size(size, layers) < 1:
            layers -= 1
    return layers, max(layers - (UGATIT_D_LAYERS[0] - UGATIT_D_LAYERS[1]), 3)


def _norm(choice: str, default: str) -> str:
    return choice or default


def build_translation(config: Config, spec: DataSpec) -> Translation:
    """The translation game config.model.name names, on images of `spec` (see the module docstring)."""
    kind, t, m = config.model.name, config.translation, config.model
    if spec.kind != 'image':
        raise UserError(f'{kind} translates images; {spec.source} holds vectors')
    if config.n_critic != 1 or config.n_gen != 1:
        raise UserError(f'{kind} updates D once per G update: set config.n_critic=1 and config.n_gen=1')
    size, channels = spec.shape[0], spec.shape[-1]
    image = lambda c=channels: jnp.zeros((2, size, size, c))
    loss = losses.get(config.loss)
    scale = official_scale(loss)
    if kind == 'pix2pix':
        g = unet.UNetGenerator(channels=channels, num_downs=unet.num_downs(size), width=m.g_width,
                               norm=_norm(m.g_norm, 'batch'))
        d = patchgan.discriminator(t.patch, width=m.d_width, norm=_norm(m.d_norm, 'batch'))
        networks = {'G': Network(g, lambda: (image(),), ('dropout',)),
                    'D': Network(d, lambda: (image(2 * channels),))}
        pair = lambda v, b: {'logits': v.nets('D', jnp.concatenate([v.real['a'], b], axis=-1))['logits']}
        quantities = {'d_real': lambda v: pair(v, v.real['b']), 'd_fake': lambda v: pair(v, v.generated['b']),
                      'fake_b': lambda v: v.generated['b']}
        d_terms = (T.DiscriminatorLoss('d_adversarial', 0.5 * scale, loss),)
        g_terms = (T.L1('l1', config.translation.l1, 'fake_b'),)
        if config.g_objective.adversarial > 0:  # 0: the U-Net on L1 alone, the paper's comparison
            g_terms = (T.GeneratorLoss('g_adversarial', scale * config.g_objective.adversarial, loss),) + g_terms
        generate = lambda nets, real, noise: {'b': nets('G', real['a'])}
        players = (('D',), ('G',))
    elif kind == 'cyclegan':
        blocks = t.g_blocks or cyclegan.blocks_for(size)
        g = lambda: cyclegan.ResnetGenerator(channels=channels, num_blocks=blocks, width=m.g_width,
                                             norm=_norm(m.g_norm, 'instance'))
        d = lambda: patchgan.discriminator(t.patch, width=m.d_width, norm=_norm(m.d_norm, 'instance'))
        networks = {'G_ab': Network(g(), lambda: (image(),)), 'G_ba': Network(g(), lambda: (image(),)),
                    'D_a': Network(d(), lambda: (image(),)), 'D_b': Network(d(), lambda: (image(),))}
        shape = tuple(spec.shape)
        pools = {side: T.ImagePool(f'pool_{side}', 0.0, images=side, size=t.pool, shape=shape) for side in 'ab'}
        quantities = {
            'd_a_real': lambda v: v.nets('D_a', v.real['a']), 'd_b_real': lambda v: v.nets('D_b', v.real['b']),
            'd_a_fake': lambda v: v.nets('D_a', v.generated['a']),
            'd_b_fake': lambda v: v.nets('D_b', v.generated['b']),
            'cycle_a': lambda v: v.nets('G_ba', v.generated['b']),
            'cycle_b': lambda v: v.nets('G_ab', v.generated['a']),
            'identity_a': lambda v: v.nets('G_ba', v.real['a']),
            'identity_b': lambda v: v.nets('G_ab', v.real['b']),
        }
        for side in 'ab':  # D judges images from the history where there is one
            fake = (lambda v, s=side: v.generated[s]) if t.pool == 0 else (lambda v, s=side: pools[s].query(v))
            quantities[f'd_{side}_fake_pooled'] = lambda v, s=side, fake=fake: v.nets(f'D_{s}', fake(v))
        d_terms = tuple(T.DiscriminatorLoss(f'd_{s}_adversarial', 0.5 * scale, loss, real=f'd_{s}_real',
                                            fake=f'd_{s}_fake_pooled') for s in 'ab')
        d_terms += tuple(pools.values()) if t.pool else ()
        cycle, identity = config.translation.cycle, config.translation.cycle * config.translation.identity
        g_terms = (T.GeneratorLoss('g_ab_adversarial', scale, loss, fake='d_b_fake'),
                   T.GeneratorLoss('g_ba_adversarial', scale, loss, fake='d_a_fake'))
        if t.cycle > 0:  # 0: the paper's ablation without cycle consistency (and identity)
            g_terms += (T.L1('cycle_a', cycle, 'cycle_a', ('real', 'a')), T.L1('cycle_b', cycle, 'cycle_b', ('real', 'b')))
        if t.cycle > 0 and t.identity > 0:
            g_terms += (T.L1('identity_a', identity, 'identity_a', ('real', 'a')),
                        T.L1('identity_b', identity, 'identity_b', ('real', 'b')))
        generate = lambda nets, real, noise: {'b': nets('G_ab', real['a']), 'a': nets('G_ba', real['b'])}
        players = (('D_a', 'D_b'), ('G_ab', 'G_ba'))
    elif kind == 'ugatit':
        networks, quantities, d_terms, g_terms, generate = _ugatit(config, spec, loss)
        players = (('D_a', 'D_b'), ('G_ab', 'G_ba'))
    else:
        raise UserError(f'config.model.name={kind!r} is not a translation model: {", ".join(KINDS)}')
    critic = Player('d', players[0], optim.make(config.d_optimizer, config.num_steps), d_terms)
    g_optimizer = optim.make(config.g_optimizer, config.num_steps)
    if kind == 'ugatit':  # the official RhoClipper, after every G update: a projection after the optimizer's step
        g_optimizer = optax.chain(g_optimizer, ugatit.rho_clipper())
    generator = Player('g', players[1], g_optimizer, g_terms)
    prepare = lambda batch: {k: spec.model_input(v) for k, v in batch.items()}
    game = Game(networks=networks, generator=generator, critic=critic, noise=lambda key, updates, batch: {},
                generate=generate, quantities=quantities, prepare=prepare, ema=players[1], batch_key='a')
    return Translation(game=game, spec=spec, kind=kind)


def _ugatit(config: Config, spec: DataSpec, loss: losses.Loss):
    """U-GAT-IT's networks, quantities, D's and G's terms and forward pass (the module docstring), after
    `train()` in UGATIT.py of znxlwm/UGATIT-pytorch, whose names the comments give."""
    t, m = config.translation, config.model
    if m.g_norm or m.d_norm:
        raise UserError(f'config.model.g_norm={m.g_norm!r}, d_norm={m.d_norm!r}: U-GAT-IT\'s normalisations are '
                        'its own (instance norm, AdaLIN and ILN in G; spectral norm in D): leave them empty')
    if not (isinstance(t.d_layers, int) and (t.d_layers == 0 or t.d_layers >= 3)):
        raise UserError(f'config.translation.d_layers={t.d_layers!r} must be 0 (the paper\'s 7, fewer for small '
                        'images) or an integer >= 3')
    if t.cam < 0:
        raise UserError(f'config.translation.cam={t.cam} must be >= 0')
    size, channels = spec.shape[0], spec.shape[-1]
    image = lambda: (jnp.zeros((2, size, size, channels)),)
    global_layers, local_layers = ugatit_d_layers(size, t.d_layers)
    g = lambda: ugatit.Generator(channels=channels, num_blocks=t.g_blocks or UGATIT_BLOCKS, width=m.g_width,
                                 light=t.light)
    d = lambda: ugatit.GlobalLocalDiscriminator(width=m.d_width, global_layers=global_layers,
                                                local_layers=local_layers)
    networks = {'G_ab': Network(g(), image), 'G_ba': Network(g(), image),
                'D_a': Network(d(), image), 'D_b': Network(d(), image)}
    other = {'a': 'b', 'b': 'a'}

    def generate(nets, real, noise):  # fake_A2B, fake_A2B_cam_logit = genA2B(real_A); the same B to A
        ab, ba = nets('G_ab', real['a']), nets('G_ba', real['b'])
        return {'b': ab['image'], 'a': ba['image'], 'cam_ab': ab['cam_logits'], 'cam_ba': ba['cam_logits']}

    quantities = {}
    for s in 'ab':
        g_to = f'G_{other[s]}{s}'  # the generator into domain s
        to = g_to[2:].lower()
        quantities.update({
            f'd_{s}_real_all': lambda v, s=s: v.nets(f'D_{s}', v.real[s]),  # disGA(real_A), disLA(real_A)
            f'd_{s}_fake_all': lambda v, s=s: v.nets(f'D_{s}', v.generated[s]),  # disGA(fake_B2A), ...
            f'cycle_{s}': lambda v, s=s, g=g_to: v.nets(g, v.generated[other[s]])['image'],  # fake_A2B2A
            f'identity_{s}_all': lambda v, s=s, g=g_to: v.nets(g, v.real[s]),  # fake_A2A, fake_A2A_cam_logit
            f'identity_{s}': lambda v, s=s: v[f'identity_{s}_all']['image'],
            f'g_{to}_cam_{other[s]}': lambda v, to=to: v.generated[f'cam_{to}'],  # fake_B2A_cam_logit
            f'g_{to}_cam_{s}': lambda v, s=s: v[f'identity_{s}_all']['cam_logits'],  # fake_A2A_cam_logit
        })
        for which in ('real', 'fake'):
            for scale in ('global', 'local'):
                for head, key in (('', 'logits'), ('_cam', 'cam_logits')):
                    quantities[f'd_{s}_{which}_{scale}{head}'] = (
                        lambda v, q=f'd_{s}_{which}_all', scale=scale, key=key: {'logits': v[q][scale][key]})
    heads = [f'{scale}{head}' for scale in ('global', 'local') for head in ('', '_cam')]
    mse = official_scale(loss)
    # D_loss_A = adv_weight * (D_ad_loss_GA + D_ad_cam_loss_GA + D_ad_loss_LA + D_ad_cam_loss_LA); adv_weight 1
    d_terms = tuple(T.Sum(f'd_{s}_adversarial', 1.0, parts=tuple(
        T.DiscriminatorLoss(f'd_{s}_{h}', mse, loss, real=f'd_{s}_real_{h}', fake=f'd_{s}_fake_{h}') for h in heads))
        for s in 'ab')
    cycle, identity = config.translation.cycle, config.translation.cycle * config.translation.identity
    g_terms = ()
    for s in 'ab':  # G_loss_A: through D_A, into A (genB2A): adversarial, recon, identity, CAM
        into = f'{other[s]}{s}'  # the generator into domain s: ba for A
        g_terms += (T.Sum(f'g_{into}_adversarial', config.g_objective.adversarial, parts=tuple(
            T.GeneratorLoss(f'g_{into}_{h}', mse, loss, fake=f'd_{s}_fake_{h}') for h in heads)),)
        if t.cycle > 0:
            g_terms += (T.L1(f'cycle_{s}', cycle, f'cycle_{s}', ('real', s)),)
        if t.cycle > 0 and t.identity > 0:
            g_terms += (T.L1(f'identity_{s}', identity, f'identity_{s}', ('real', s)),)
        if t.cam > 0:
            g_terms += (T.CAMLoss(f'cam_{into}', config.translation.cam, source=f'g_{into}_cam_{other[s]}',
                                  target=f'g_{into}_cam_{s}'),)
    return networks, quantities, d_terms, g_terms, generate



def config_section() -> ml_collections.ConfigDict:
    """Image-to-image translation (config.model.name pix2pix | cyclegan | ugatit): the games' sizes and weights."""
    c = ml_collections.ConfigDict()
    c.patch = 70  # the PatchGAN's receptive field: 70 (the papers'), 34, 16 or 1
    c.l1 = 100.0  # pix2pix: lambda of E |G(a) - b| (Isola et al. 2017)
    c.cycle = 10.0  # cyclegan, ugatit: lambda of the cycle-consistency losses (Zhu et al. 2017; Kim et al. 2020: 10 too)
    c.identity = 0.5  # cyclegan, ugatit: the identity losses' weight, as a fraction of cycle's (U-GAT-IT's paper: 1.0)
    c.pool = 50  # cyclegan: generated images in D's history; 0: none
    c.g_blocks = 0  # cyclegan: the ResNet generator's blocks; 0: 9 from 256 px, 6 below; ugatit: residual blocks before and after the CAM, 0: 4
    c.cam = 1000.0  # ugatit: lambda of the generators' CAM losses (Kim et al. 2020; cam_weight in the official code)
    c.light = False  # ugatit: U-GAT-IT-light, gamma and beta from pooled features (10.6 M G parameters at 256 px, not 279 M)
    c.d_layers = 0  # ugatit: the global discriminator's layers, the local one's 2 fewer; 0: the paper's 7 (and 5), fewer below 96 px
    return c


def heatmap_image(heatmap: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """U-GAT-IT's CAM heatmaps [B, h, w] as images of `shape` [B, H, W, C] in [-1, 1]: each scaled to
    [0, 1] by its own minimum and maximum and resized bilinearly (the official `cam`, UGATIT-pytorch's
    utils.py, which then applies OpenCV's jet colour map), coloured by the piecewise-linear jet (blue, low,
    to red, high) for 3 channels, grey for 1."""
    low = heatmap.min(axis=(1, 2), keepdims=True)
    t = (heatmap - low) / jnp.maximum(heatmap.max(axis=(1, 2), keepdims=True) - low, 1e-12)
    t = jax.image.resize(t, shape[:3], 'bilinear')[..., None]
    if shape[-1] == 1:
        return 2 * t - 1
    jet = jnp.concatenate([jnp.clip(1.5 - jnp.abs(4 * t - c), 0, 1) for c in (3, 2, 1)], axis=-1)
    return 2 * jet - 1


class TranslationGrid:
    """A PNG grid of the generators' translations of fixed training inputs (EMA params, evaluation
    mode), a row per input: a | G(a) | b for pix2pix (input, translation, target); a | G_ab(a) |
    G_ba(G_ab(a)) then b | G_ba(b) | G_ab(G_ba(b)) for CycleGAN (input, translation, reconstruction);
    U-GAT-IT's rows hold G's attention heatmap (`heatmap_image`) after the input."""

    def __init__(self, model: Translation, config: Config, workdir: str, writer, dataset):
        self.model, self.writer = model, writer
        self.directory = os.path.join(workdir, 'samples')
        rows = max(1, min(config.num_samples // 3, 16, *dataset.sizes))
        self.inputs = dataset.examples([np.arange(rows)] * len(dataset.sizes))
        prepare = lambda key: model.spec.model_input(jnp.asarray(self.inputs[key]))
        self._a, self._b = prepare('a'), prepare('b')

        def grid(ema, model_state):
            to = lambda d, x: model.translate(ema, model_state, x, d)
            if model.kind == 'pix2pix':
                return jnp.stack([self._a, to('a2b', self._a), self._b], axis=1)
            if model.kind == 'ugatit':  # the attention beside each translation, as the official samples show it
                rows = []
                for x, there, back in ((self._a, 'a2b', 'b2a'), (self._b, 'b2a', 'a2b')):
                    out = model.outputs(ema, model_state, x, there)
                    rows.append(jnp.stack([x, heatmap_image(out['heatmap'], x.shape), out['image'],
                                           to(back, out['image'])], 1))
                return jnp.concatenate(rows)
            ab, ba = to('a2b', self._a), to('b2a', self._b)
            return jnp.concatenate([jnp.stack([self._a, ab, to('b2a', ab)], 1), jnp.stack([self._b, ba, to('a2b', ba)], 1)])

        self._fn = jax.jit(grid)

    def __call__(self, state: RunState, step: int, prefix: str, member: int | None) -> None:
        rows = np.asarray(parallel.to_host(self._fn(state.ema, state.model_state)))
        images = self.model.spec.to_data_units(rows.reshape(-1, *rows.shape[2:]))
        if jax.process_index() == 0:
            grid = sampling.make_grid(images, rows.shape[1])
            sampling.save_png(os.path.join(self.directory, f'{prefix}step_{step:08d}.png'), grid)
            self.writer.image(step, 'samples' if member is None else f'samples/member_{member}', grid)


def check_data(config: Config, dataset) -> None:
    if config.model.name == 'pix2pix' and dataset.layout != data_base.PAIRED:
        raise UserError(f'pix2pix learns from aligned pairs; config.dataset={config.dataset} is unpaired '
                        '(use config.model.name=cyclegan)')


family.register(family.Family(
    name='translation', trains=lambda name: name in KINDS, names=lambda: KINDS, sections=(('translation', config_section),),
    takes=lambda dataset: dataset.layout in data_base.TRANSLATION,
    learns='translates between two domains', holds='image pairs or two domains', build=build_translation,
    check_data=check_data))
