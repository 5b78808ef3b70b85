"""Which family of games a config trains, and its train step: the one place that dispatches on it.

    build(config, spec) -> GAN | Translation | TableGAN       .game is what the step machinery runs

The classic GAN family (jaxgan.gan: unconditional, conditional, AC-GAN, InfoGAN, semi-supervised, GMMN),
image-to-image translation (jaxgan.translation: pix2pix, CycleGAN, chosen by config.model.name) and
synthetic tables (jaxgan.tabular: CTGAN).
"""

from __future__ import annotations

import jax
import ml_collections

from jaxgan import tabular, translation
from jaxgan.core import step as step_lib
from jaxgan.data.spec import DataSpec
from jaxgan.errors import UserError
from jaxgan.gan import GAN, build_gan
from jaxgan.tabular import TableGAN
from jaxgan.translation import Translation

Config = ml_collections.ConfigDict
Model = GAN | Translation | TableGAN


def is_translation(config: Config) -> bool:
    return config.model.name in translation.KINDS


def is_table(config: Config) -> bool:
    return config.model.name in tabular.KINDS


def check_data(config: Config, dataset) -> None:
    """Refuses data the family cannot train on: translation needs pairs or two domains, pix2pix pairs;
    the GAN family, single examples."""
    from jaxgan.data import base
    table = dataset.spec.kind == 'table'
    if table != is_table(config):
        raise UserError(f'config.dataset={config.dataset} is a table: train it with config.model.name=ctgan' if table
                        else f'config.model.name={config.model.name} learns tables; config.dataset={config.dataset} '
                             'is not one (use csv:PATH, parquet:PATH or table:NAME)')
    if table and (config.data.on_device or config.eval.every):
        raise UserError('config.data.on_device and config.eval.every are not built for tables; evaluate a table '
                        'run with python -m jaxgan.evaluate --metrics=table')
    two = dataset.layout in base.TRANSLATION
    if is_translation(config) and not two:
        raise UserError(f'config.model.name={config.model.name} translates between two domains: config.dataset='
                        f'{config.dataset} holds single examples (use paired:DIR, unpaired:DIR, '
                        'tfds:cycle_gan/NAME or demo:NAME)')
    if two and not is_translation(config):
        raise UserError(f'config.dataset={config.dataset} holds image pairs or two domains: train them with '
                        f'config.model.name={" or ".join(translation.KINDS)}')
    if config.model.name == 'pix2pix' and not dataset.paired:
        raise UserError(f'pix2pix learns from aligned pairs; config.dataset={config.dataset} is unpaired '
                        '(use config.model.name=cyclegan)')


def build(config: Config, spec: DataSpec, values: Config | None = None) -> Model:
    """The game `config` describes on data of `spec`; values: see gan.build_gan."""
    if is_translation(config):
        return translation.build_translation(config, spec, values)
    if is_table(config):
        return tabular.build_table(config, spec, values)
    return build_gan(config, spec, values)


def step_options(config: Config, values: Config | None = None) -> dict:
    """The config's options of core.step.make_step_fn (the EMA decay from `values`, as in build)."""
    e = config.ema
    decay = (step_lib.half_life_decay(config.batch_size, e.half_life_kimg * 1000, e.rampup) if e.half_life_kimg
             else (values or config).ema.decay)
    return dict(nonfinite=config.nonfinite, ema_decay=decay, ema_start=e.start)


def make_train_step(model: Model, config: Config, mesh: jax.sharding.Mesh) -> step_lib.TrainStep:
    """The jitted train step of `model` with the config's step options (see core.step.make_train_step)."""
    return step_lib.make_train_step(model.game, mesh, steps_per_dispatch=config.steps_per_dispatch,
                                    **step_options(config))
