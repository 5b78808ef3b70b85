"""Image-to-image translation as games: pix2pix and CycleGAN.

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

Both papers train with Adam (2e-4, betas 0.5 and 0.999) at a constant rate for half the run and a linear
decay to 0 for the other half (`hold_then_linear`), with PatchGANs of a 70x70 receptive field
(config.translation.patch: 70, 34, 16 or 1) and, in their experiments' configs here, batch size 1 at
256 px; the demos use small batches at 32 px. Images are translated in evaluation mode (BatchNorm's
running statistics, no dropout; the pix2pix paper keeps dropout on at test time, we do not).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections

from jaxgan import optim
from jaxgan.core import losses, terms as T
from jaxgan.core.game import Game, Network, Player
from jaxgan.data.spec import DataSpec
from jaxgan.errors import UserError
from jaxgan.models import cyclegan, patchgan, unet

Config = ml_collections.ConfigDict
KINDS = ('pix2pix', 'cyclegan')


@dataclasses.dataclass(frozen=True, eq=False)
class Translation:
    """A translation game and what tools need besides: the data's spec and the generators by direction."""

    game: Game
    spec: DataSpec
    kind: str  # pix2pix | cyclegan
    real_labels = False  # the batches carry no class labels
    batch_keys = ('a', 'b')  # the batch's images

    @property
    def directions(self) -> dict[str, str]:
        """{direction: the generator's network}: a2b, and b2a for CycleGAN."""
        return {'a2b': 'G'} if self.kind == 'pix2pix' else {'a2b': 'G_ab', 'b2a': 'G_ba'}

    def translate(self, params: Any, model_state: Any, x: jax.Array, direction: str = 'a2b') -> jax.Array:
        """The generator of `direction` on images x [B, H, W, C] in model units, in evaluation mode."""
        name = self.directions[direction]
        net = self.game.networks[name]
        return net.module.apply({'params': params[name], **model_state[name]}, x, train=False)


def _norm(choice: str, default: str) -> str:
    return choice or default


def build_translation(config: Config, spec: DataSpec, values: Config | None = None) -> Translation:
    """The translation game config.model.name names, on images of `spec` (see the module docstring).
    values: the config whose numbers the terms and optimizers take (an ensemble member's; see build_gan)."""
    valued = values or config
    kind, t, m = config.model.name, config.translation, config.model
    if spec.kind != 'image':
        raise UserError(f'{kind} translates images; {spec.source} holds vectors')
    if config.n_critic != 1:
        raise UserError(f'{kind} updates D once per G update: set config.n_critic=1')
    size, channels = spec.shape[0], spec.shape[-1]
    image = lambda c=channels: jnp.zeros((2, size, size, c))
    loss = losses.get(config.loss)
    if kind == 'pix2pix':
        g = unet.UNetGenerator(channels=channels, num_downs=unet.num_downs(size), width=m.g_width,
                               norm=_norm(m.g_norm, 'batch'))
        d = patchgan.discriminator(t.patch, width=m.d_width, norm=_norm(m.d_norm, 'batch'))
        networks = {'G': Network(g, lambda: (image(),), ('dropout',)),
                    'D': Network(d, lambda: (image(2 * channels),))}
        pair = lambda v, b: {'logits': v.nets('D', jnp.concatenate([v.real['a'], b], axis=-1))['logits']}
        quantities = {'d_real': lambda v: pair(v, v.real['b']), 'd_fake': lambda v: pair(v, v.generated['b']),
                      'fake_b': lambda v: v.generated['b']}
        d_terms = (T.DiscriminatorLoss('d_adversarial', 0.5, loss),)
        g_terms = (T.L1('l1', valued.translation.l1, 'fake_b'),)
        if config.g_objective.adversarial > 0:  # 0: the U-Net on L1 alone, the paper's comparison
            g_terms = (T.GeneratorLoss('g_adversarial', valued.g_objective.adversarial, loss),) + g_terms
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
        d_terms = tuple(T.DiscriminatorLoss(f'd_{s}_adversarial', 0.5, loss, real=f'd_{s}_real',
                                            fake=f'd_{s}_fake_pooled') for s in 'ab')
        d_terms += tuple(pools.values()) if t.pool else ()
        cycle, identity = valued.translation.cycle, valued.translation.cycle * valued.translation.identity
        g_terms = (T.GeneratorLoss('g_ab_adversarial', 1.0, loss, fake='d_b_fake'),
                   T.GeneratorLoss('g_ba_adversarial', 1.0, loss, fake='d_a_fake'))
        if t.cycle > 0:  # 0: the paper's ablation without cycle consistency (and identity)
            g_terms += (T.L1('cycle_a', cycle, 'cycle_a', ('real', 'a')), T.L1('cycle_b', cycle, 'cycle_b', ('real', 'b')))
        if t.cycle > 0 and t.identity > 0:
            g_terms += (T.L1('identity_a', identity, 'identity_a', ('real', 'a')),
                        T.L1('identity_b', identity, 'identity_b', ('real', 'b')))
        generate = lambda nets, real, noise: {'b': nets('G_ab', real['a']), 'a': nets('G_ba', real['b'])}
        players = (('D_a', 'D_b'), ('G_ab', 'G_ba'))
    else:
        raise UserError(f'config.model.name={kind!r} is not a translation model: {", ".join(KINDS)}')
    critic = Player('d', players[0], optim.make(valued.d_optimizer, config.num_steps), d_terms)
    generator = Player('g', players[1], optim.make(valued.g_optimizer, config.num_steps), g_terms)
    prepare = lambda batch: {k: spec.model_input(v) for k, v in batch.items()}
    game = Game(networks=networks, generator=generator, critic=critic, noise=lambda key, updates, batch: {},
                generate=generate, quantities=quantities, prepare=prepare, ema=players[1], batch_key='a')
    return Translation(game=game, spec=spec, kind=kind)
