"""The architectures by name: each model module declares an `Architecture` and registers it.

An Architecture says how its (G, D) pair is built from the config and what it supports, as data: the
normalisations, conditioning kinds, image sizes and compute dtypes it takes, the generic options it has
(spectral normalisation, minibatch discrimination, InfoGAN's and the semi-supervised GAN's heads,
FreezeD's blocks, G's upsampling), and what the game must do for it (a mapping network with style
mixing and path length, noise inputs, growing by level of detail). Generic code asks these, never a
name; an option an architecture lacks is refused from its declaration, in one message form (`lacks`).

A new architecture is one module in jaxgan/models/ that calls `register`: `get` imports every module of
the package before it gives up on a name, so nothing else needs editing (docs/extending.md).
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import sys
from typing import Any, Callable

import flax.linen as nn
import jax
import ml_collections

from jaxgan import plugins
from jaxgan.errors import UserError

Config = ml_collections.ConfigDict
Networks = tuple[nn.Module, nn.Module]
Blocks = tuple[tuple[str, ...], ...]
PACKAGE = 'jaxgan.models'
D_CONDITIONING_ALL = ('none', 'concat', 'projection', 'acgan')  # what layers.Heads makes of labels


@dataclasses.dataclass(frozen=True)
class Sizes:
    """Square images of a power-of-two side from `min` to `max` pixels (max 0: no bound)."""

    min: int = 8
    max: int = 0


@dataclasses.dataclass(frozen=True)
class StyleOptions:
    """What the game does for a mapping network (Karras et al. 2020): style mixing with this probability
    (0: off) and the path-length penalty (weight 0: off; lazy every pl_every steps, on 1 / pl_batch_shrink
    of the batch, its mean moved by pl_decay). Numbers may be traced (an ensemble's)."""

    style_mixing: Any
    pl_weight: Any
    pl_every: int
    pl_batch_shrink: int
    pl_decay: Any


@dataclasses.dataclass(frozen=True)
class Growing:
    """The hooks of an architecture whose networks take a level of detail (`lod`) beside their inputs,
    from a schedule on the step (Karras et al. 2018). G is the built generator."""

    lod_of_step: Callable[[Config, nn.Module, jax.Array], jax.Array]  # (config, G, step) -> lod
    # (config, G) -> optim.make's extra arguments for G's and for D's optimizer
    optimizers: Callable[[Config, Config, nn.Module], tuple[dict, dict]]
    process_reals: Callable[[jax.Array, jax.Array, nn.Module], jax.Array]  # (reals [B, ...], lod, G) -> D's input


@dataclasses.dataclass(frozen=True)
class Architecture:
    """One architecture's declaration. Choices (norms, conditioning, upsampling): the first is the default
    (the config's ''). `build(config, shape, *, images, num_classes, bn_axis, dtype) -> (G, D)` gets a
    config that `check` has passed, and data its `sizes` take."""

    name: str
    build: Callable[..., Networks]
    summary: str = ''  # one line: the paper, what it is for
    section: Callable[[], Config] | None = None  # config.<name>'s defaults, a comment on each field
    validate: Callable[[Config, int], None] | None = None  # (config, num_devices): its section's checks
    g_norms: tuple[str, ...] = ('none',)
    d_norms: tuple[str, ...] = ('none',)
    g_conditioning: tuple[str, ...] = ('none',)
    d_conditioning: tuple[str, ...] = ('none',)
    sizes: Sizes | None = Sizes()  # None: any data, vectors or images of any shape
    dtypes: tuple[str, ...] = ('float32', 'bfloat16')
    g_upsamples: tuple[str, ...] = ()  # config.model.g_upsample's choices; (): its own way only
    spectral_norm: bool = False
    minibatch_discrimination: bool = False
    infogan: bool = False  # D has InfoGAN's Q heads
    semi_supervised: bool = False  # D has the semi-supervised GAN's class outputs
    discriminator_blocks: Callable[[nn.Module], Blocks] | None = None  # FreezeD's blocks of D, from its input
    mapping: Callable[[Config], StyleOptions] | None = None  # G has map and synthesize methods
    noise_inputs: bool = False  # G draws from the rng stream 'noise'
    growing: Growing | None = None

    def g_norm(self, config: Config) -> str:
        return config.model.g_norm or self.g_norms[0]

    def d_norm(self, config: Config) -> str:
        return config.model.d_norm or self.d_norms[0]

    def g_upsample(self, config: Config) -> str:
        return config.model.g_upsample or (self.g_upsamples[0] if self.g_upsamples else '')


_REGISTERED: dict[str, Architecture] = {}


def register(architecture: Architecture) -> Architecture:
    """Makes `architecture` available as config.model.name; its module's own again on a re-import."""
    name = architecture.name
    old = _REGISTERED.get(name)
    if old is not None and old.build.__module__ != architecture.build.__module__:
        raise ValueError(f'architecture {name!r} is registered by {old.build.__module__} already')
    _REGISTERED[name] = architecture
    return architecture


def unregister(name: str) -> None:
    _REGISTERED.pop(name, None)


def _discover() -> None:
    """Imports every public module of the package not imported yet (their registrations), then the
    plugins' modules (jaxgan.plugins)."""
    package = sys.modules[PACKAGE]
    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith('_') and f'{PACKAGE}.{module.name}' not in sys.modules:
            importlib.import_module(f'{PACKAGE}.{module.name}')
    plugins.load()  # architectures of installed packages and JAXGAN_PLUGINS


def architectures() -> tuple[Architecture, ...]:
    """Every registered architecture, in the order of registration."""
    _discover()
    return tuple(_REGISTERED.values())


def find(name: str) -> Architecture | None:
    """The architecture called `name`, or None (a name of another family: pix2pix, ctgan, ...)."""
    if name not in _REGISTERED:
        _discover()
    return _REGISTERED.get(name)


def get(name: str) -> Architecture:
    """The architecture called `name`; a UserError naming the registered ones otherwise."""
    found = find(name)
    if found is None:
        raise UserError(f'config.model.name={name!r} is not one of {", ".join(_REGISTERED)}')
    return found


def sections() -> tuple[tuple[str, Callable[[], Config]], ...]:
    """(name, defaults) of every architecture's config section, in the order of registration."""
    return tuple((a.name, a.section) for a in architectures() if a.section is not None)


def lacks(name: str, options: list[str]) -> str:
    """The one form of refusing options an architecture does not have."""
    return f'model {name} has no {" and no ".join(options)}: turn {"it" if len(options) == 1 else "them"} off'


def check(config: Config) -> Architecture:
    """config.model.name's architecture, after refusing in one line what the config asks of it that its
    declaration lacks (data shapes are checked by `check_shape`)."""
    m, c = config.model, config.conditioning
    a = get(m.name)
    infogan = bool(config.infogan.categorical or config.infogan.continuous)
    lacking = [what for what, on, has in (
        ('config.model.spectral_norm', m.spectral_norm, a.spectral_norm),
        ('config.model.minibatch_discrimination', m.minibatch_discrimination, a.minibatch_discrimination),
        ('InfoGAN (config.infogan)', infogan, a.infogan),
        ('the semi-supervised GAN', config.semi_supervised.num_labels, a.semi_supervised),
        (f'config.compute_dtype={config.compute_dtype}', True, config.compute_dtype in a.dtypes),
        (f'config.model.g_upsample={m.g_upsample}', m.g_upsample, bool(a.g_upsamples)),
        ('FreezeD (config.freeze_d)', config.get('freeze_d', 0), a.discriminator_blocks is not None),
    ) if on and not has]
    if lacking:
        raise UserError(lacks(a.name, lacking))
    for field, value, choices in (('model.g_norm', a.g_norm(config), a.g_norms),
                                  ('model.d_norm', a.d_norm(config), a.d_norms),
                                  ('model.g_upsample', a.g_upsample(config), a.g_upsamples or ('',)),
                                  ('conditioning.g', c.g, a.g_conditioning),
                                  ('conditioning.d', c.d, a.d_conditioning)):
        if value not in choices:
            raise UserError(f'config.{field}={value!r}: model {a.name} supports {", ".join(choices)}')
    if a.sizes is not None and not _makes(a.sizes, config.image_size):  # before any data are read
        raise UserError(f'config.image_size={config.image_size}: model {a.name} makes square images of a '
                        f'power-of-two size, {_range(a.sizes)}')
    return a


def _makes(sizes: Sizes, size: int) -> bool:
    return sizes.min <= size and not size & (size - 1) and (not sizes.max or size <= sizes.max)


def _range(sizes: Sizes) -> str:
    return f'at least {sizes.min}' + (f' up to {sizes.max}' if sizes.max else '')


def check_shape(a: Architecture, shape: tuple[int, ...], images: bool) -> None:
    """Refuses data of `shape` that the architecture's `sizes` do not take."""
    if a.sizes is None:
        return
    if not images:
        raise UserError(f'model {a.name} needs images; the data are vectors of shape {shape}')
    size = shape[0]
    if not _makes(a.sizes, size) or shape[1] != size:
        raise UserError(f'config.image_size={size}: model {a.name} makes square images of a power-of-two '
                        f'size, {_range(a.sizes)} (the data are {shape})')


def heads(config: Config, num_classes: int) -> dict:
    """The keyword arguments of layers.Heads (D's outputs beside the logit) that config asks for."""
    return dict(num_classes=num_classes, conditioning=config.conditioning.d,
                semi_supervised=config.semi_supervised.num_labels > 0,
                q_categorical=config.infogan.categorical, q_continuous=config.infogan.continuous)
