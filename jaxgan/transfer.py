"""Transfer: a new run that starts from another run's networks (config.init_from).

    check(config, workdir, gan)            before anything is written: the source and its architecture
    initial_state(gan, config, sharding)   a new run's first state: fresh, or from config.init_from

`--config.init_from=WORKDIR[:STEP]` starts a run that has no checkpoint of its own from the checkpoint
of WORKDIR at STEP (its latest without one): G's and D's params, their model state (BatchNorm
statistics, spectral-norm iterates, virtual batch norm's reference batch) and G's EMA, which stays the
source's own EMA, as StyleGAN2-ADA's resume does, rather than a copy of G's params (samples of the new
run at step 0 are the source's). Everything else is the new run's: optimizer states and the objective
terms' states initialised afresh on those params (historical averaging starts from them, LeCam's
averages and ADA's p from their starts), step 0, and the RNG of its own seed (latents, data order,
augmentation). The data, the losses, the optimizers and their settings may differ from the source's;
the architecture and sizes may not: every array of the networks' params, model state and EMA must have
the source's shape and dtype (else a one-line error names the arrays that differ).

An ensemble source (config.ensemble.size > 1) needs config.init_member: an index, or best / best:METRIC
(the member with the best FID, or METRIC, of its latest evaluation on record, as `jaxgan.sample
--member=best`). A new run that is an ensemble starts every member from the same source networks;
the members still differ in their seeds and swept values.

`--config.init_from=pkl:PATH` starts from an official network pickle instead (StyleGAN2-ADA's, read by
jaxgan.pretrained without running anything of it): its G, D and G_ema become the run's params G and D, EMA
G and model state (w_avg, noise_const), the rest fresh as above. The config's architecture fields must be
the pickle's (model.name, image_size, model.z_dim, config.stylegan2's sizes, conditioning); a difference
is refused in one line naming each field with both values and the flags to set. With config.freeze_d
(FreezeD) and config.augment (ADA) this is the official recipe for fine-tuning on little data.

Once the run has checkpoints of its own it resumes from them and init_from is ignored (a log line says
so): a source deleted or trained on since does not matter to a resumed run, and init_from is no part of
the structural comparison of configs on resume.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
from absl import logging

from jaxgan import ensemble, pretrained
from jaxgan.checkpoint import Checkpoints, layout_diff, layout_of, load_run
from jaxgan.core.state import RunState, init_state, player_params
from jaxgan.errors import UserError
from jaxgan.family import Model as GAN

Config = ml_collections.ConfigDict
NETWORKS = ('params', 'model_state', 'ema')  # the parts of a run's state that transfer carries over


def parse(text: str) -> tuple[str, int | None]:
    """'runs/a:1000' -> ('runs/a', 1000); 'runs/a' -> ('runs/a', None): the latest checkpoint."""
    path, colon, step = text.rpartition(':')
    if colon and path and step.isdigit():
        return path, int(step)
    return text, None


def has_checkpoints(workdir: str) -> bool:
    """Whether `workdir` holds checkpoints of its own (then the run resumes from them)."""
    if not os.path.isdir(os.path.join(workdir, 'checkpoints')):
        return False
    checkpoints = Checkpoints(workdir, read_only=True)
    try:
        return bool(checkpoints.all_steps())
    finally:
        checkpoints.close()


def _source(config: Config) -> tuple[str, int, dict, dict[str, tuple], str | None]:
    """(workdir, step, meta, layout of the networks' arrays, member) of config.init_from, each problem a
    one-line UserError. The layout is one member's (its leading ensemble axis dropped)."""
    text = config.init_from
    where, step = parse(text)
    prefix = f'config.init_from={text}'
    if not os.path.isdir(where):
        raise UserError(f'{prefix}: there is no directory {where}')
    if not has_checkpoints(where):
        raise UserError(f'{prefix}: {where} holds no checkpoint (a run\'s workdir has them in checkpoints/)')
    checkpoints = Checkpoints(where, read_only=True)
    try:
        steps = checkpoints.all_steps()
        step = max(steps) if step is None else step
        if step not in steps:
            raise UserError(f'{prefix}: no checkpoint at step {step} in {where}; there are {sorted(steps)}')
        try:
            meta = checkpoints.read_meta(step)
        except UserError as e:  # a checkpoint of another format
            raise UserError(f'{prefix}: {e}') from None
        layout = {name: v for name, v in checkpoints.layout(step).items() if name.split('.')[0] in NETWORKS}
    finally:
        checkpoints.close()
    size = meta['config'].get('ensemble', {}).get('size', 1)
    member = config.init_member or None
    if size > 1:
        if member is None:
            raise UserError(f'{prefix} holds an ensemble of {size} members: choose the one to start from with '
                            f'--config.init_member=I (0 to {size - 1}), best or best:METRIC')
        if not (member == 'best' or member.startswith('best:')):
            if not member.isdigit() or int(member) >= size:
                raise UserError(f'config.init_member={member}: the ensemble in {where} has members 0 to {size - 1} '
                                '(or best, best:METRIC)')
        layout = {name: (shape[1:], dtype) for name, (shape, dtype) in layout.items()}
    elif member is not None:
        raise UserError(f'config.init_member={member}: {where} holds a single GAN, not an ensemble (leave '
                        'init_member empty)')
    return where, step, meta, layout, member


def _expected_layout(gan: GAN) -> dict[str, tuple]:
    """The layout of the networks' arrays of one member of the new run."""
    abstract = jax.eval_shape(lambda: init_state(gan.game, 0))
    return {name: v for name, v in layout_of(abstract).items() if name.split('.')[0] in NETWORKS}


def check(config: Config, workdir: str, gan: GAN) -> None:
    """Refuses, before anything is written, a config.init_from that a new run in `workdir` could not start
    from: no such directory, no checkpoint (at STEP), an ensemble without config.init_member, or another
    architecture (naming the arrays that differ). Nothing to check where the run resumes."""
    if not config.init_from:
        if config.init_member:
            raise UserError(f'config.init_member={config.init_member} is set without config.init_from')
        return
    if not has_checkpoints(workdir):
        if pretrained.is_pickle(config.init_from):
            official, arrays = _checked_pickle(config, gan)
            path = config.init_from[len(pretrained.PREFIX):]
            _READ[:] = [_Ported(_file_key(path), gan, official, arrays)]
        else:
            _checked(config, gan)


@dataclasses.dataclass(frozen=True)
class _Ported:
    """A pickle read, ported and mapped by `check`, kept for `initial_state` of the same run."""

    key: tuple  # the path and its stat: a file changed between the two is read again
    gan: GAN
    official: pretrained.Official
    arrays: dict


_READ: list[_Ported] = []  # at most one: check()'s, taken by initial_state() (a pickle is read once per run)


def _file_key(path: str) -> tuple:
    try:
        stat = os.stat(path)
    except OSError:
        return (path,)
    return path, stat.st_ino, stat.st_size, stat.st_mtime_ns


def _checked_pickle(config: Config, gan: GAN) -> tuple[pretrained.Official, dict[str, Any]]:
    """The pickle of config.init_from=pkl:PATH, its fields matching the config's, and its arrays mapped onto
    gan's (pretrained.Official.arrays); `check`'s read of the same unchanged file where it made one."""
    if config.init_member:
        raise UserError(f'config.init_member={config.init_member}: config.init_from={config.init_from} is a '
                        'network pickle, not an ensemble (leave init_member empty)')
    path = config.init_from[len(pretrained.PREFIX):]
    key = _file_key(path)
    kept = _READ.pop() if _READ else None
    if kept is not None and kept.key == key and kept.gan is gan:
        return kept.official, kept.arrays
    official = pretrained.read(path)
    pretrained.check(config, gan.spec, official, f'config.init_from={config.init_from}')
    return official, official.arrays(gan)  # every array placed, of jaxgan's shape


def _checked(config: Config, gan: GAN) -> tuple[str, int, str | None]:
    where, step, _, layout, member = _source(config)
    expected = _expected_layout(gan)
    params = lambda tree: {name: v for name, v in tree.items() if name.startswith('params.')}
    # the params' differences first: those of the model state and the EMA follow from them
    diffs = layout_diff(params(layout), params(expected)) or layout_diff(layout, expected)
    if diffs:
        raise UserError(f'config.init_from={config.init_from}: {where} holds another architecture or size '
                        f'({"; ".join(diffs)}): transfer needs the same model and sizes')
    return where, step, member


def note_resume(config: Config, directory: str) -> None:
    """Logs that config.init_from is ignored: the run resumes from its own checkpoints in `directory`."""
    if config.init_from:
        logging.info('config.init_from=%s is ignored: the run has checkpoints of its own in %s and resumes '
                     'from them', config.init_from, directory)


def initial_state(gan: GAN, config: Config, sharding: jax.sharding.NamedSharding) -> RunState:
    """A new run's state: `ensemble.fresh_state`, or with config.init_from the source's networks in it
    (see the module docstring), placed with `sharding` (replicated over its mesh)."""
    fresh = ensemble.fresh_state(gan, config, sharding)
    if not config.init_from:
        return fresh
    if pretrained.is_pickle(config.init_from):
        official, arrays = _checked_pickle(config, gan)
        networks = jax.tree.map(jnp.asarray, arrays)
        state = jax.jit(lambda fresh, nets: transplant(gan, fresh, fresh.replace(**nets), ensemble.size(config)),
                        out_shardings=sharding)(fresh, networks)
        logging.info('started from the networks of the pickle %s (config.init_from): fresh optimizer and term '
                     'states, step 0', os.path.abspath(official.path))
        return state
    where, step, member = _checked(config, gan)
    _, _, source = load_run(where, step, sharding.mesh, member)
    state = jax.jit(lambda fresh, source: transplant(gan, fresh, source, ensemble.size(config)),
                    out_shardings=sharding)(fresh, source)
    logging.info('started from the networks of %s at step %d%s (config.init_from): fresh optimizer and term '
                 'states, step 0', os.path.abspath(where), step, '' if member is None else f', member {member}')
    return state


def transplant(gan: GAN, fresh: RunState, source: RunState, members: int = 1) -> RunState:
    """`fresh` (of `members` stacked members where more than 1) with the networks of `source` (one GAN's
    state): their params, model state and EMA, and each player's optimizer state and each stateful
    term's state initialised on those params. Step, RNG and skip count stay fresh's."""
    params, model_state, ema = source.params, source.model_state, source.ema
    opt_state, terms = {}, {}
    for player in gan.game.players:
        mine = player_params(params, player.networks)
        opt_state[player.name] = player.optimizer.init(mine)
        terms.update({t.name: t.init(mine) for t in player.terms if t.stateful})
    moved = dict(params=params, model_state=model_state, ema=ema, opt_state=opt_state, terms=terms)
    if members > 1:  # every member starts from the same networks
        moved = jax.tree.map(lambda x: jnp.broadcast_to(x, (members, *jnp.shape(x))), moved)
    return fresh.replace(**moved)
