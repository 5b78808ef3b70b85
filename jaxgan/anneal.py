"""Annealing: real-valued config fields that move over training, by any recipe.

    --config.anneal.kimg=20000 \\
    --config.anneal.to='g_optimizer.learning_rate=5e-5;penalties.r1=0.005;augment.p=0.55'

Each named field goes from its configured value (at the first step) to the value after '=' (at
config.anneal.kimg thousand images; 0: at the run's end, num_steps * batch_size images) by R3GAN's
cosine_decay_with_warmup (training/training_loop.py of brownvc/R3GAN), evaluated at cur_nimg = step *
batch_size, the images seen before the step's update, as the official loop evaluates its lr, beta2,
gamma, EMA and augmentation schedules; after kimg the value stays at the end. Any real-valued field that the train step reads as a number can move: the optimizers'
learning_rate and b2 (Adam's beta2, bias correction with the current beta2 as torch's Adam), the
penalties' weights (R1's and R2's gamma), augment.p (kind fixed), ema.half_life_kimg (the EMA's
half-life: from 0, R3GAN's EMA ramp), the losses' weights. A field the step does not read (ema.decay
where a half-life is set, augment.p of ADA, which adapts its own), or one that decides what the program
is (a switch, a size, a term turned on or off on the way) is refused in one line before training. The
values of the step are metrics, anneal/FIELD, in TensorBoard and metrics.jsonl.

How: the step builds its game from a config whose annealed fields are the step's traced values (the
mechanism of an ensemble's sweeps, jaxgan.ensemble.Swept): family builders read one config either
way. Python's decisions on an annealed field (a weight > 0 selects its term) take the outcome shared by
its values after the start, the half-open range (start, end]: a field annealed from 0 turns its part
on, at 0 at the first step (an EMA half-life of 0 copies the params; p = 0 augments nothing). An
ensemble's members anneal alike (each from its own swept values where a field is swept, which must not
be an annealed one).
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections

from jaxgan import config as config_lib, ensemble, family
from jaxgan.checks import assign
from jaxgan.core import step as step_lib
from jaxgan.core.state import init_state
from jaxgan.data.spec import DataSpec
from jaxgan.errors import UserError

Config = ml_collections.ConfigDict
_NOT_ANNEALED = ('seed', 'ensemble', 'anneal')  # the run's identity and the mechanisms themselves


def cosine_decay_with_warmup(cur_nimg: Any, base_value: float, total_nimg: float, final_value: float = 0.0,
                             warmup_value: float = 0.0, warmup_nimg: float = 0.0,
                             hold_base_value_nimg: float = 0.0) -> jax.Array:
    """R3GAN's schedule (training/training_loop.py, cosine_decay_with_warmup) at cur_nimg images, in jnp:
    base_value + (1 - d) (final_value - base_value), d = (1 + cos(pi t / T)) / 2 over t = cur_nimg -
    warmup - hold of T = total - warmup - hold; base_value while holding, a linear warm-up from
    warmup_value before, final_value past total_nimg."""
    cur = jnp.asarray(cur_nimg, jnp.float32)
    span = float(total_nimg - warmup_nimg - hold_base_value_nimg)
    # 1 - d = sin^2(pi t / 2T): the same number, and precise in float32 where cos(pi t / T) rounds to 1.
    moved = jnp.square(jnp.sin(0.5 * jnp.pi * (cur - warmup_nimg - hold_base_value_nimg) / span))
    value = base_value + moved * (final_value - base_value)
    if hold_base_value_nimg > 0:
        value = jnp.where(cur > warmup_nimg + hold_base_value_nimg, value, base_value)
    if warmup_nimg > 0:
        value = jnp.where(cur < warmup_nimg, (base_value - warmup_value) / warmup_nimg * cur + warmup_value, value)
    return jnp.where(cur > total_nimg, final_value, value)


def parse(text: str) -> dict[str, float]:
    """'a.b=1e-4;c=0.5' -> {'a.b': 1e-4, 'c': 0.5}."""
    ends: dict[str, float] = {}
    for part in (p.strip() for p in text.split(';')):
        if not part:
            continue
        name, eq, value = part.partition('=')
        name = name.strip().removeprefix('config.')
        if not eq or not name or not value.strip():
            raise UserError(f'config.anneal.to: {part!r} is not FIELD=VALUE')
        if name in ends:
            raise UserError(f'config.anneal.to names {name} twice')
        try:
            ends[name] = float(value)
        except ValueError:
            raise UserError(f'config.anneal.to: the value of {name} ({value.strip()}) is not a number') from None
    return ends


def schedules(config: Config) -> dict[str, tuple[float, float]]:
    """{field: (its configured value, its value at the end)} of config.anneal; {} where nothing moves.
    Refuses, one line each, a field that is not a real-valued field of the config, or is swept too."""
    ends = parse(config.anneal.to)
    if not ends:
        return {}
    swept = ensemble.parse_sweep(config.ensemble.sweep) if ensemble.size(config) > 1 else {}
    out = {}
    for field, end in ends.items():
        if field.split('.')[0] in _NOT_ANNEALED:
            raise UserError(f'config.anneal.to: config.{field} cannot move during training')
        try:
            start = config_lib.lookup(config, field)
        except (KeyError, AttributeError):
            raise UserError(f'config.anneal.to: no field config.{field}') from None
        if isinstance(start, bool) or not isinstance(start, float):
            raise UserError(f'config.anneal.to: config.{field}={start!r} cannot move during training: only '
                            'real-valued fields can; integers, names and switches shape the program')
        if field in swept:
            raise UserError(f'config.anneal.to: config.{field} is also swept by config.ensemble.sweep: a field '
                            'either differs between the members or moves during training')
        out[field] = (start, end)
    return out


class Annealed(ensemble.Swept):
    """An annealed field's value in the step's config: arithmetic with the traced value of the step,
    Python's decisions with the outcome its values share over (start, end], else refused."""

    __slots__ = ()

    def _shared(self, decide, outcomes=None):
        outcomes = {decide(v) for v in self.values} if outcomes is None else outcomes
        if len(outcomes) != 1:
            start, end = self.values[0], self.values[-1]
            start = (start - 1e-6 * end) / (1 - 1e-6)  # the configured start (annealed_config's decisions)
            raise UserError(f'config.anneal.to: config.{self.field} cannot move from {start:g} to '
                            f'{end:g}: the program branches on its value or takes a size from it')
        return outcomes.pop()


jax.tree_util.register_pytree_node(Annealed, lambda s: ((s.traced,), (s.values, s.field)),
                                   lambda aux, children: Annealed(children[0], *aux))


def values_at(config: Config, ranges: dict[str, tuple[float, float]], step: jax.Array) -> dict[str, jax.Array]:
    """{field: its value at `step`} (see the module docstring)."""
    nimg = jnp.asarray(step, jnp.float32) * config.batch_size
    return {f: cosine_decay_with_warmup(nimg, start, span_kimg(config) * 1000, end) for f, (start, end) in ranges.items()}


def span_kimg(config: Config) -> float:
    """The thousands of images over which the fields move: config.anneal.kimg, or where it is 0 the run's
    length, num_steps * batch_size (a recipe that anneals over its whole run keeps doing so when a user
    changes its length)."""
    return config.anneal.kimg or config.num_steps * config.batch_size / 1000


def annealed_config(config: Config, ranges: dict[str, tuple[float, float]], values: dict[str, jax.Array]) -> Config:
    """config with each annealed field an `Annealed` of its value (a config holding an ensemble member's
    Swept values keeps them)."""
    out = ml_collections.ConfigDict(config.to_dict(), type_safe=False)
    for field, (start, end) in ranges.items():
        decisions = (start + 1e-6 * (end - start), end) if start != end else (end,)
        assign(out, field, Annealed(values[field], decisions, field))
    return out


def step_fn(config: Config, spec: DataSpec, mesh: jax.sharding.Mesh,
            options: Callable[[Config], dict]) -> step_lib.TrainStep:
    """The un-jitted step of the game `config` describes with its fields annealed; options(config): the
    step options (family.step_options, or an ensemble member's). Metrics gain anneal/FIELD."""
    ranges = schedules(config)

    def step(state, batch):
        values = values_at(config, ranges, state.step)
        annealed = annealed_config(config, ranges, values)
        state, metrics = step_lib.make_step_fn(family.build(annealed, spec).game, mesh, **options(annealed))(state, batch)
        return state, {**metrics, **{f'anneal/{f}': v for f, v in values.items()}}

    return step


def make_train_step(model: family.Model, config: Config, mesh: jax.sharding.Mesh) -> step_lib.TrainStep:
    """The run's jitted train step: one GAN's or an ensemble's, annealed where config.anneal says."""
    big = ensemble.size(config) > 1
    if not schedules(config):
        return (ensemble.make_train_step if big else family.make_train_step)(model, config, mesh)
    if big:
        member = lambda c: step_fn(c, model.spec, mesh, ensemble.member_options)
        return ensemble.make_train_step(model, config, mesh, member_step=member)
    return step_lib.jit_step(step_fn(config, model.spec, mesh, family.step_options), mesh,
                             steps_per_dispatch=config.steps_per_dispatch)


def check(config: Config, spec: DataSpec, mesh: jax.sharding.Mesh) -> None:
    """Refuses, before anything is written, an anneal whose end values are invalid, whose fields decide
    what the program is, or that the step does not read (one line each)."""
    ranges = schedules(config)
    if not ranges:
        return
    end = ml_collections.ConfigDict(config.to_dict())
    for field, (_, value) in ranges.items():
        assign(end, field, value)
    try:
        config_lib.validate(end, num_devices=mesh.size, num_processes=jax.process_count())
    except UserError as e:
        raise UserError(f'config.anneal.to: at the end of the schedule, {e}') from None
    single = ensemble.member_config(config, 0) if ensemble.size(config) > 1 else config
    single = ml_collections.ConfigDict({**single.to_dict(), 'ensemble': {**single.ensemble.to_dict(), 'sweep': ''}})
    model = family.build(single, spec)
    state = jax.eval_shape(lambda: init_state(model.game, 0))
    batch = ensemble.abstract_batch(single, model)
    fields = list(ranges)
    layout = lambda tree: (jax.tree.structure(tree), [(a.shape, a.dtype) for a in jax.tree.leaves(tree)])
    plain = layout(state)
    for field, (start, end) in ranges.items():  # what the run builds and saves must not change on the way
        one = {field: (start, end)}
        moved = jax.eval_shape(lambda: init_state(family.build(
            annealed_config(single, one, {field: jnp.float32(start)}), spec).game, 0))
        if layout(moved) != plain:
            raise UserError(f'config.anneal.to: config.{field} cannot move from {start:g} to {end:g}: its value '
                            'decides what the run builds (its state differs on the way from the start\'s)')

    def traced(values, state, batch):
        annealed = annealed_config(single, ranges, dict(zip(fields, values)))
        return step_lib.make_step_fn(family.build(annealed, spec).game, mesh, **family.step_options(annealed))(state, batch)

    try:
        jaxpr = jax.make_jaxpr(traced)([jnp.float32(0)] * len(fields), state, batch).jaxpr
    except UserError as e:  # one line, without the note JAX adds to errors raised while tracing
        raise UserError(str(e).splitlines()[0]) from None
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerIntegerConversionError,
            jax.errors.TracerArrayConversionError) as e:
        raise UserError(f'config.anneal.to: a field of {", ".join(fields)} cannot move during training: the '
                        f'program takes it as a Python number ({type(e).__name__})') from None
    for field, var in zip(fields, jaxpr.invars[:len(fields)]):
        if not any(var is v for eqn in jaxpr.eqns for v in eqn.invars) and not any(var is v for v in jaxpr.outvars):
            raise UserError(f'config.anneal.to: config.{field} is not a value in the train step (it is read outside '
                            'it, or not at all, as the weight of a term that is off): it cannot move during training; '
                            f'take it out of config.anneal.to')

