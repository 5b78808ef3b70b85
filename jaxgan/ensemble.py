"""Many GANs in one program: N members of one config trained by one jitted step.

    python -m experiments.toy_2d --workdir=runs/seeds --config.ensemble.size=5
    python -m experiments.dcgan_celeba --workdir=runs/lr --config.ensemble.size=3 \\
        --config.ensemble.sweep='g_optimizer.learning_rate=1e-4,2e-4,4e-4'

Member i has the seed config.seed + i: its own initialisation, latents and (unless
config.ensemble.shared_data) data order, so that it trains as the single run of that seed does (to the
float rounding of batched matrix products). A sweep gives the members their own values of real-valued
fields that the step reads as numbers (learning rates, betas, loss and penalty weights, the EMA decay):
`FIELD=V1,V2,...`, joined by ';'. As a grid (config.ensemble.sweep_kind='grid') the members cycle through
every combination, member i taking combination i mod K (so size may be a multiple of K: the same
combinations under several seeds); as a list, member i takes the i-th value of every field.

The state is one member's RunState with a leading [N] axis on every array; the step maps one GAN's step
over the members with `jax.vmap` (core.step.make_ensemble_step): the swept values are one pytree, {field:
[N] values}, mapped over, and each member's game is built by its family's ordinary builder from a config
whose swept fields are `Swept` values (the member's traced number to compute with; for Python's own
decisions, the outcome every member shares). A single run carries nothing of this. On several devices every member's batch is split over the mesh, as for one
GAN, and the members are not: every device holds every member. Each member then runs the program and
the numbers of a single run on the same mesh, for any N and any device count; splitting the members
over the devices instead would need N to divide by the device count and would put each member's whole
batch on one device.

A member whose loss or gradient goes non-finite is frozen (config.nonfinite='stop': at once; 'skip':
after config.max_nonfinite_skips skipped updates): its state stays that of its last finite update,
while the others train on. The run stops when every member is frozen. With config.on_collapse='freeze' a
member whose generator collapses (jaxgan.monitor) is frozen the same way: its skip count is set to
FROZEN_COLLAPSED, past any limit, so the step keeps its state from then on, and a resumed run keeps it.
"""

from __future__ import annotations

import difflib
import itertools
import operator
from typing import Any, Callable, Iterator

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan import config as config_lib, privacy
from jaxgan.checks import assign
from jaxgan.core import step as step_lib
from jaxgan.core.state import RunState, create_ensemble, create_state, init_ensemble, init_state
from jaxgan.data.spec import DataSpec
from jaxgan.errors import UserError
from jaxgan.family import Model, build, step_options

Config = ml_collections.ConfigDict
_NOT_SWEPT = ('seed', 'ensemble')  # the seed is the member's own; the ensemble's own fields describe it


def size(config: Config) -> int:
    """How many members config trains: 1 for a single GAN."""
    return config.ensemble.size


def seeds(config: Config) -> tuple[int, ...]:
    return tuple(config.seed + i for i in range(size(config)))


def parse_sweep(text: str) -> dict[str, tuple[float, ...]]:
    """'a.b=1,2;c=0.5' -> {'a.b': (1.0, 2.0), 'c': (0.5,)}."""
    fields: dict[str, tuple[float, ...]] = {}
    for part in (p.strip() for p in text.split(';')):
        if not part:
            continue
        name, eq, values = part.partition('=')
        name = name.strip().removeprefix('config.')
        if not eq or not name or not values.strip():
            raise UserError(f'config.ensemble.sweep: {part!r} is not FIELD=VALUE,VALUE,...')
        if name in fields:
            raise UserError(f'config.ensemble.sweep names {name} twice')
        try:
            fields[name] = tuple(float(v) for v in values.split(','))
        except ValueError:
            raise UserError(f'config.ensemble.sweep: the values of {name} ({values.strip()}) are not all numbers') from None
    return fields


def _check_field(config: Config, field: str) -> None:
    if field.split('.')[0] in _NOT_SWEPT:
        raise UserError(f'config.ensemble.sweep: config.{field} cannot be swept; members differ in seed by '
                        'config.ensemble.size, and the ensemble fields describe the ensemble itself')
    try:
        value = config_lib.lookup(config, field)
    except (KeyError, AttributeError):
        close = difflib.get_close_matches(field, list(config_lib.descriptions()), n=3)
        raise UserError(f'config.ensemble.sweep: no field config.{field}'
                        + (f' (did you mean {", ".join(close)}?)' if close else '')) from None
    if isinstance(value, bool) or not isinstance(value, float):
        raise UserError(f'config.ensemble.sweep: config.{field}={value!r} cannot differ between members: only '
                        'real-valued fields can, as values in the step; integers, names and switches set sizes, '
                        'counts and choices, which shape the program')


def member_values(config: Config) -> dict[str, np.ndarray]:
    """{field: [N] values} of the swept fields; {} without a sweep."""
    sweep, n = parse_sweep(config.ensemble.sweep), size(config)
    if not sweep:
        return {}
    if n == 1:
        raise UserError('config.ensemble.sweep needs config.ensemble.size >= 2 (a single GAN takes the field '
                        'itself, --config.FIELD=VALUE)')
    for field in sweep:
        _check_field(config, field)
    if config.ensemble.sweep_kind == 'list':
        wrong = [f'{field} has {len(v)}' for field, v in sweep.items() if len(v) != n]
        if wrong:
            raise UserError(f'config.ensemble.sweep_kind=list gives member i the i-th value of every field: each '
                            f'needs config.ensemble.size={n} values, but {", ".join(wrong)}')
        return {field: np.asarray(v, np.float64) for field, v in sweep.items()}
    grid = list(itertools.product(*sweep.values()))
    if n % len(grid):
        raise UserError(f'config.ensemble.sweep is a grid of {len(grid)} combinations: config.ensemble.size={n} '
                        f'must be a multiple of {len(grid)} (each combination under size / {len(grid)} seeds)')
    return {field: np.asarray([grid[i % len(grid)][j] for i in range(n)], np.float64)
            for j, field in enumerate(sweep)}


def member_config(config: Config, i: int) -> Config:
    """Member i's config as a single run's: its seed and its values, no ensemble (its index in
    ensemble.member)."""
    if not 0 <= i < size(config):
        raise UserError(f'member {i}: the ensemble has members 0 to {size(config) - 1}')
    values = member_values(config)
    member = ml_collections.ConfigDict(config.to_dict())
    member.seed = config.seed + i
    for field, v in values.items():
        assign(member, field, float(v[i]))
    member.ensemble.size, member.ensemble.sweep, member.ensemble.shared_data = 1, '', False
    member.ensemble.member = i
    return member


class SweptBranch(UserError):
    """The program would branch on a swept field, or take a size from it, differently for some members."""


def _plain(x: Any) -> Any:
    return x.traced if isinstance(x, Swept) else x


def _is_array(x: Any) -> bool:
    return isinstance(x, (jax.Array, np.ndarray)) or isinstance(x, jax.core.Tracer)


class Swept:
    """A swept field's value in a member's config inside the ensemble's step (`swept_config`).

    Arithmetic, and comparisons with arrays, use the member's traced scalar: the step computes with each
    member's own number. Python's own decisions (comparisons with numbers, truth, int, float, an index,
    formatting) take the outcome every member shares, as a single run of any member would decide, and
    raise SweptBranch where the members' values decide differently: what to build never depends on
    which member is traced. So a family's builder reads one config, whether it builds one GAN or a
    member of an ensemble.
    """

    __slots__ = ('traced', 'values', 'field')

    def __init__(self, traced: jax.Array, values: tuple[float, ...], field: str):
        self.traced, self.values, self.field = traced, values, field

    def _shared(self, decide, outcomes=None):
        outcomes = {decide(v) for v in self.values} if outcomes is None else outcomes
        if len(outcomes) != 1:
            raise SweptBranch(f'config.ensemble.sweep: config.{self.field} cannot differ between members: the '
                              'program branches on its value or takes a size from it')
        return outcomes.pop()

    def _compare(self, other, op):
        if _is_array(_plain(other)):
            return op(self.traced, _plain(other))
        if isinstance(other, Swept):  # member i's value against member i's
            return self._shared(None, {op(v, w) for v, w in zip(self.values, other.values)})
        return self._shared(lambda v: op(v, other))

    __lt__ = lambda self, other: self._compare(other, operator.lt)
    __le__ = lambda self, other: self._compare(other, operator.le)
    __gt__ = lambda self, other: self._compare(other, operator.gt)
    __ge__ = lambda self, other: self._compare(other, operator.ge)
    __eq__ = lambda self, other: self._compare(other, operator.eq)
    __ne__ = lambda self, other: self._compare(other, operator.ne)
    __hash__ = None
    __bool__ = lambda self: self._shared(bool)
    __float__ = lambda self: self._shared(float)
    __int__ = lambda self: self._shared(int)
    __index__ = lambda self: self._shared(operator.index)
    def __format__(self, spec: str) -> str:  # messages and logs: the members' values where they differ
        values = set(self.values)
        return format(values.pop(), spec) if len(values) == 1 else f'({", ".join(format(v, spec) for v in self.values)})'

    __repr__ = lambda self: f'Swept(config.{self.field}: {", ".join(map(str, self.values))})'
    __neg__ = lambda self: -self.traced
    __pos__ = lambda self: self.traced
    __abs__ = lambda self: abs(self.traced)

    def __getattr__(self, name: str):  # .astype, .dtype, ...: the traced scalar's
        if name.startswith('__') or name in Swept.__slots__:  # copy, pickle; slots not set yet
            raise AttributeError(name)
        return getattr(self.traced, name)

    def __jax_array__(self):  # jnp functions (jnp.minimum(decay, ...)) compute with the traced number
        return jnp.asarray(self.traced)


def _arithmetic(op):
    return (lambda self, other: op(self.traced, _plain(other)),
            lambda self, other: op(_plain(other), self.traced))


for _name, _op in (('add', operator.add), ('sub', operator.sub), ('mul', operator.mul), ('truediv', operator.truediv),
                   ('floordiv', operator.floordiv), ('mod', operator.mod), ('pow', operator.pow)):
    setattr(Swept, f'__{_name}__', _arithmetic(_op)[0])
    setattr(Swept, f'__r{_name}__', _arithmetic(_op)[1])


# A jit argument (optax passes betas into its jitted helpers): the traced number is the leaf.
jax.tree_util.register_pytree_node(Swept, lambda s: ((s.traced,), (s.values, s.field)),
                                   lambda aux, children: Swept(children[0], *aux))


def swept_config(config: Config, traced: dict[str, jax.Array], values: dict[str, np.ndarray]) -> Config:
    """config (member 0's) with each swept field a `Swept` of its traced value and every member's values."""
    valued = ml_collections.ConfigDict(config.to_dict(), type_safe=False)
    for field, value in traced.items():
        assign(valued, field, Swept(value, tuple(float(v) for v in values[field]), field))
    return valued


def member_gan(config: Config, spec: DataSpec) -> Model:
    """The GAN (or translation game) every member trains (built from member 0's config: `check` makes sure the members agree)."""
    return build(member_config(config, 0) if size(config) > 1 else config, spec)


def _terms(config: Config, spec: DataSpec) -> dict[str, tuple[str, ...]]:
    game = build(config, spec).game
    return {p.name: tuple(t.name for t in p.terms) for p in game.players}


def check(config: Config, spec: DataSpec, mesh: jax.sharding.Mesh) -> None:
    """Refuses, one line each, a sweep whose members would not run one program: values that turn terms
    on or off, fields the step branches on or sizes by, and fields the step does not read at all."""
    values = member_values(config)
    if not values:
        return
    members = [member_config(config, i) for i in range(size(config))]
    for member in members:
        config_lib.validate(member, num_devices=mesh.size, num_processes=jax.process_count())
    first = _terms(members[0], spec)
    for i, member in enumerate(members[1:], 1):
        terms = _terms(member, spec)
        if terms != first:
            differ = ', '.join(f'config.{f}={config_lib.lookup(member, f)!r}' for f in values)
            raise UserError(f'config.ensemble.sweep: member {i} ({differ}) trains the terms {terms}, member 0 '
                            f'{first}: a zero weight turns a term off; members must run the same terms')
    gan = build(members[0], spec)
    state = jax.eval_shape(lambda: init_state(gan.game, 0))
    batch = abstract_batch(members[0], gan)
    base = {field: jnp.float32(v[0]) for field, v in values.items()}
    for field in values:
        def traced(value, state, batch, field=field):
            swept = swept_config(members[0], {**base, field: value}, values)
            return step_lib.make_step_fn(build(swept, spec).game, mesh, **member_options(swept))(state, batch)
        try:
            jaxpr = jax.make_jaxpr(traced)(base[field], state, batch).jaxpr
        except (jax.errors.ConcretizationTypeError, jax.errors.TracerIntegerConversionError,
                jax.errors.TracerArrayConversionError):  # a swept value that reached Python some other way
            raise SweptBranch(f'config.ensemble.sweep: config.{field} cannot differ between members: the program '
                              'branches on its value or takes a size from it') from None
        var = jaxpr.invars[0]
        if not any(var in eqn.invars for eqn in jaxpr.eqns) and var not in jaxpr.outvars:
            raise UserError(f'config.ensemble.sweep: config.{field} is not a value in the train step (it is read '
                            'outside it, or not at all): it cannot differ between the members of one step')


def abstract_batch(config: Config, gan: Model) -> dict[str, jax.ShapeDtypeStruct]:
    """The shapes of one step's batch for one member (see batches.make_batchers)."""
    n, spec, b = gan.game.real_batches, gan.spec, config.batch_size
    batch = {key: jax.ShapeDtypeStruct((n, b, *shape), spec.host_dtype) for key, shape in gan.example_shapes.items()}
    if gan.real_labels:
        batch['y'] = jax.ShapeDtypeStruct((n, b), jnp.int32)
    if config.semi_supervised.num_labels:
        s = config.semi_supervised.batch_size
        batch.update(x_labelled=jax.ShapeDtypeStruct((n, s, *spec.shape), spec.host_dtype),
                     y_labelled=jax.ShapeDtypeStruct((n, s), jnp.int32))
    return batch


def member_options(config: Config) -> dict:
    """Step options of a member: non-finite updates skipped, then the member frozen (see module docstring)."""
    return {**step_options(config), 'nonfinite': 'skip', 'halt_after': halt_after(config)}


def make_train_step(gan: Model, config: Config, mesh: jax.sharding.Mesh, *,
                    member_step: Callable[[Config], step_lib.TrainStep] | None = None) -> step_lib.TrainStep:
    """The jitted step of every member (`gan`: from `member_gan`): state [N, ...], batch [N, n, B, ...]
    ([n, B, ...] with shared data), metrics [N] (per-step ones [k, N] with k steps per dispatch).
    member_step(member's config): its un-jitted step (jaxgan.anneal's); by default its game's."""
    swept = member_values(config)
    values = {field: jnp.asarray(v, jnp.float32) for field, v in swept.items()}
    member0 = member_config(config, 0)

    def step_of(v: dict) -> step_lib.TrainStep:
        member = swept_config(member0, v, swept) if v else member0  # the member's traced values, every member's decisions
        if member_step is not None:
            return member_step(member)
        if not v:
            return step_lib.make_step_fn(gan.game, mesh, **member_options(member0))
        return step_lib.make_step_fn(build(member, gan.spec).game, mesh, **member_options(member))

    shared = config.ensemble.shared_data
    step = step_lib.make_ensemble_step(step_of, values, shared_data=shared)
    return step_lib.jit_step(step, mesh, steps_per_dispatch=config.steps_per_dispatch, batch_axes=1 if shared else 2)


def fresh_state(gan: Model, config: Config, sharding: jax.sharding.Sharding) -> RunState:
    """A new run's state: one GAN's, or every member's stacked. A private run's random numbers (DP-SGD's
    noise among them) come from its key with the run's secret folded in (jaxgan.privacy.new_secret)."""
    if size(config) > 1:
        return create_ensemble(gan.game, seeds(config), sharding)
    state = create_state(gan.game, config.seed, sharding)
    if privacy.enabled(config):
        key = state.key()
        for word in privacy.secret_words(config.privacy.secret):
            key = jax.random.fold_in(key, word)
        state = state.replace(rng=jax.device_put(jax.random.key_data(key), state.rng.sharding))
    return state


def abstract_state(gan: Model, config: Config) -> RunState:
    """The shapes of `fresh_state`, to restore a checkpoint into."""
    if size(config) > 1:
        return jax.eval_shape(lambda: init_ensemble(gan.game, jnp.zeros((size(config),), jnp.uint32)))
    return jax.eval_shape(lambda: init_state(gan.game, 0))


def step_of(state: RunState) -> int:
    """The step a state is at (an ensemble's members move together)."""
    return int(np.ravel(jax.device_get(state.step))[0])


def member_state(state: RunState, i: int) -> RunState:
    """Member i's state out of an ensemble's."""
    return jax.tree.map(lambda a: a[i], state)


def each_member(state: RunState, n: int) -> Iterator[tuple[int | None, str, RunState]]:
    """(member, file-name prefix, its state) for each GAN of a run of n: (None, '', state) for a single
    GAN, else (i, 'member_<i>_', member i's state) (samples/member_3_step_00001000.png)."""
    if n == 1:
        yield None, '', state
        return
    for i in range(n):
        yield i, f'member_{i}_', member_state(state, i)


def halt_after(config: Config) -> int:
    """Skipped non-finite updates after which a member is frozen (see the module docstring)."""
    return config.max_nonfinite_skips if config.nonfinite == 'skip' else 0


def halted(state: RunState, config: Config) -> np.ndarray:
    """[N] bool: the members frozen, for non-finite values or a collapse (see the module docstring)."""
    return np.asarray(jax.device_get(state.nonfinite_skips)) > halt_after(config)


FROZEN_COLLAPSED = 2 ** 30  # a collapsed member's skip count: past any limit, far from int32's end


def collapsed(state: RunState) -> np.ndarray:
    """[N] bool: the members frozen for a collapse."""
    return np.asarray(jax.device_get(state.nonfinite_skips)) >= FROZEN_COLLAPSED


def freeze(state: RunState, members: list[int]) -> RunState:
    """The ensemble's state with `members` frozen for a collapse (see the module docstring)."""
    skips = state.nonfinite_skips
    frozen = skips.at[np.asarray(members, np.int32)].set(FROZEN_COLLAPSED)
    return state.replace(nonfinite_skips=jax.device_put(frozen, skips.sharding))  # the step's sharding


HIGHER_IS_BETTER = ('is', 'precision', 'recall', 'density', 'coverage', 'classes_covered', 'stacked_modes')


def evaluations(workdir: str) -> list[dict]:
    """The members' evaluation results on record: training's eval/history.jsonl rows and
    `python -m jaxgan.evaluate --member=I`'s eval/step_<step>_member_<i>.json files."""
    import glob
    import json
    import os
    rows = []
    history = os.path.join(workdir, 'eval', 'history.jsonl')
    if os.path.exists(history):
        with open(history, encoding='utf-8') as f:
            for line in f:
                try:
                    rows.append(json.loads(line))
                except ValueError:  # the half-written last line of a killed run
                    continue
    for path in sorted(glob.glob(os.path.join(workdir, 'eval', 'step_*_member_*.json'))):
        with open(path, encoding='utf-8') as f:
            rows.append(json.load(f))
    return [r for r in rows if 'member' in r and 'metrics' in r]


def best_member(workdir: str, metric: str = 'fid') -> int:
    """The member with the best `metric` at the latest step at which the members were evaluated
    (lowest, or highest for HIGHER_IS_BETTER)."""
    rows = [r for r in evaluations(workdir) if metric in r['metrics']]
    if not rows:
        raise UserError(f'--member=best needs evaluations of the members with {metric} on record in {workdir}/eval: '
                        f'train with --config.eval.every, or run python -m jaxgan.evaluate --member=I for each, '
                        f'or pass --member=I')
    latest = max(r['protocol']['step'] for r in rows)
    scores = {r['member']: r['metrics'][metric] for r in rows if r['protocol']['step'] == latest}
    pick = max if metric in HIGHER_IS_BETTER else min
    best = pick(scores, key=scores.get)
    from absl import logging
    logging.info('member %d (best %s %.4g at step %d)', best, metric, scores[best], latest)
    return best


def choose_member(text: str | None, config: Config, workdir: str) -> int | None:
    """--member: None for a single GAN (where it must not be given); for an ensemble an index, or
    'best' / 'best:METRIC' (see best_member)."""
    n = size(config)
    if n == 1:
        if text not in (None, '', '0'):
            raise UserError(f'--member={text}: {workdir} holds a single GAN, not an ensemble')
        return None
    if text in (None, ''):
        raise UserError(f'{workdir} holds an ensemble of {n} members: pass --member=I (0 to {n - 1}) or --member=best')
    if text == 'best' or text.startswith('best:'):
        return best_member(workdir, text.partition(':')[2] or 'fid')
    try:
        member = int(text)
    except ValueError:
        raise UserError(f'--member={text} is not a member index, best or best:METRIC') from None
    if not 0 <= member < n:
        raise UserError(f'--member={member}: the ensemble has members 0 to {n - 1}')
    return member
