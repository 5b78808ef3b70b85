"""The family interface (its implementations are in jaxgan/families/): all that the loop, the tools, evaluation, ensembles and transfer know of a family.

    family = family.of_config(config)           the family that trains config.model.name
    family.check_data(config, dataset)          refuses data it cannot train on (one line)
    model = family.build(config, spec)          model.game is what the step machinery runs

A family is a kind of game with its own generator-side use: the classic image and vector GANs
(`families.gan`: images or vectors from latents), image-to-image translation (`families.translation`:
translations of images) and synthetic tables (`families.tables`: rows in the input's schema). Each is one
module that builds its `Model` and registers a `Family`; nothing outside that module names it or its
architectures. The built-in families are imported on first use (`BUILTIN`); a family of one's own is
one module that calls `register`, imported as a plugin (`jaxgan.plugins`; docs/extending.md, "A new
family").

A `Model` gives the loop and the tools what they need without asking which family it is of:

    model.game, model.spec         the game the step runs; the data's spec
    model.batch_keys               the batch's arrays besides labels ('x'; 'a', 'b'; 'x', 'c')
    model.example_shapes           {key: one example's shape}
    model.real_labels              whether real batches carry class labels
    model.eval_labels              whether its evaluation set (config.eval_dataset) must have labels
    model.output                   what its generator makes: 'samples' (images or vectors from latents),
                                   'translations' or 'rows': the tools check it, `TOOLS` names theirs
    model.samples(state, num, seed=, ema=, **options) -> array    (output 'samples' only)
                                   examples in the data's units: what `jaxgan.sample` writes (a GAN's
                                   options: label, truncation, bn, batch_size)
    model.preview(config, workdir, writer, dataset) -> Preview
                                   what the loop writes every config.sample_every steps (a sample grid,
                                   a translation grid, a CSV of rows)
    model.evaluator(config, metrics, **options) -> evaluator(model, state, seed=, ema=) -> result
                                   the periodic evaluation's and `jaxgan.evaluate`'s metrics
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
from typing import Any, Callable, Protocol

import jax
import ml_collections

from jaxgan import plugins
from jaxgan.core import step as step_lib
from jaxgan.core.game import Game
from jaxgan.core.state import RunState
from jaxgan.data.spec import DataSpec
from jaxgan.errors import UserError

Config = ml_collections.ConfigDict

# The families that ship with jaxgan, imported (and so registered) on first use.
BUILTIN = ('jaxgan.families.gan', 'jaxgan.families.translation', 'jaxgan.families.tables')

# What each kind of generator output is used through, for the tools' messages.
TOOLS = {'samples': 'python -m jaxgan.sample (and jaxgan.latent)',
         'translations': 'python -m jaxgan.translate',
         'rows': 'python -m jaxgan.sample --out=ROWS.csv'}


class Preview(Protocol):
    """Writes what a model shows while training, for one GAN of a run (state: its state; prefix: '' or
    'member_<i>_', which keeps an ensemble's files apart; member: None or i)."""

    def __call__(self, state: RunState, step: int, prefix: str, member: int | None) -> None: ...


class Model(Protocol):
    """A built game of some family and what the tools need besides (see the module docstring)."""

    game: Game
    spec: DataSpec
    batch_keys: tuple[str, ...]
    real_labels: bool
    eval_labels: bool
    output: str

    @property
    def example_shapes(self) -> dict[str, tuple[int, ...]]: ...

    def preview(self, config: Config, workdir: str, writer: Any, dataset: Any) -> Preview: ...

    def evaluator(self, config: Config, metrics: tuple[str, ...], **options) -> Any: ...


@dataclasses.dataclass(frozen=True)
class Family:
    """One family: its name, the config.model.name values it trains, its data check and its builder.

    trains(name) -> bool        whether config.model.name=name is one of this family's models
    names() -> tuple[str, ...]  those names, for messages
    takes(dataset) -> bool      whether the dataset is the kind of data it learns
    learns, holds               what it learns and what such data hold, as messages say them
                                ('learns tables (csv:PATH, ...)', 'a table')
    check_data(config, dataset) refuses data it cannot train on (beyond their kind), one line
    build(config, spec)         the Model (the same builder makes an ensemble's members: `build`)
    sections                    (name, function returning its defaults) of its own config sections, which
                                base_config gathers (the comments on their fields are their --help)
    validate(config)            its sections' checks, run by config.validate where it trains the config
    """

    name: str
    trains: Callable[[str], bool]
    names: Callable[[], tuple[str, ...]]
    takes: Callable[[Any], bool]
    learns: str
    holds: str
    build: Callable[[Config, DataSpec], Model]
    check_data: Callable[[Config, Any], None] = lambda config, dataset: None
    sections: tuple[tuple[str, Callable[[], Config]], ...] = ()
    validate: Callable[[Config], None] | None = None


_REGISTRY: dict[str, Family] = {}
_MODULES: dict[str, str] = {}  # family name -> the module that registered it


def register(family: Family) -> Family:
    """Adds `family` (replacing one of the same name: a module imported again re-registers); called by the
    family's module, whose name checkpoints record (`modules_of`)."""
    _REGISTRY[family.name] = family
    _MODULES[family.name] = sys._getframe(1).f_globals.get('__name__', '')
    return family


def unregister(name: str) -> None:
    """Removes the family called `name` (tests; a plugin withdrawn in a running process)."""
    _REGISTRY.pop(name, None)
    _MODULES.pop(name, None)


def registered() -> tuple[Family, ...]:
    """Every family: the built-in ones and the plugins' (jaxgan.plugins)."""
    for module in BUILTIN:
        importlib.import_module(module)
    plugins.load()
    order = lambda f: BUILTIN.index(_MODULES[f.name]) if _MODULES.get(f.name) in BUILTIN else len(BUILTIN)
    return tuple(sorted(_REGISTRY.values(), key=order))  # the built-in ones first, in BUILTIN's order


def modules_of(config: Config) -> list[str]:
    """The modules outside jaxgan that a model of `config` needs (its family's, where a plugin registered
    it; its architecture's, the module of its builder): what a checkpoint records so that the tools
    import them before rebuilding the model."""
    from jaxgan import models
    family = of_config(config)
    architecture = models.find(config.model.name)
    names = [_MODULES.get(family.name, ''), architecture.build.__module__ if architecture else '']
    return [n for n in dict.fromkeys(names) if n and not n.startswith('jaxgan.')]


def sections() -> tuple[tuple[str, Callable[[], Config]], ...]:
    """Every family's own config sections, in the order of registration."""
    return tuple(section for family in registered() for section in family.sections)


def get(name: str) -> Family:
    families = {f.name: f for f in registered()}
    if name not in families:
        raise UserError(f'family {name!r} is not one of {", ".join(families)}')
    return families[name]


def of_config(config: Config) -> Family:
    """The family whose models include config.model.name."""
    name = config.model.name
    for family in registered():
        if family.trains(name):
            return family
    names = [n for family in registered() for n in family.names()]
    raise UserError(f'config.model.name={name!r} is not one of {", ".join(names)}')


def check_data(config: Config, dataset) -> None:
    """Refuses data the config's family does not learn, naming the models that do, then asks the family."""
    family = of_config(config)
    if not family.takes(dataset):
        fits = [f for f in registered() if f.takes(dataset)]
        holds = (f'{fits[0].holds}: train them with config.model.name={" or ".join(fits[0].names())}' if fits
                 else 'data no family of jaxgan learns')
        raise UserError(f'config.model.name={config.model.name} {family.learns}: config.dataset={config.dataset} '
                        f'holds {holds}')
    family.check_data(config, dataset)


def build(config: Config, spec: DataSpec) -> Model:
    """The model `config` describes on data of `spec`. Inside an ensemble's step, config is a member's
    whose swept fields are jaxgan.ensemble.Swept values: numbers to compute with, whose Python decisions
    every member shares; a builder reads one config either way."""
    return of_config(config).build(config, spec)


def check_output(model: Model, wanted: str, tool: str) -> None:
    """A one-line UserError unless `model`'s generator makes `wanted` ('samples', 'translations', 'rows'),
    naming the tool that uses what it makes."""
    if model.output != wanted:
        raise UserError(f'{tool}: this run\'s model makes {model.output}, not {wanted}: use '
                        f'{TOOLS[model.output]}')


def step_options(config: Config) -> dict:
    """The config's options of core.step.make_step_fn."""
    e = config.ema
    decay = (step_lib.half_life_decay(config.batch_size, e.half_life_kimg * 1000, e.rampup) if e.half_life_kimg
             else config.ema.decay)
    return dict(nonfinite=config.nonfinite, ema_decay=decay, ema_start=e.start)


def make_train_step(model: Model, config: Config, mesh: jax.sharding.Mesh) -> step_lib.TrainStep:
    """The jitted train step of `model` with the config's step options (see core.step.make_train_step)."""
    return step_lib.make_train_step(model.game, mesh, steps_per_dispatch=config.steps_per_dispatch,
                                    **step_options(config))
