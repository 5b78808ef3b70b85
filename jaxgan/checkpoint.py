"""Checkpoints: an orbax CheckpointManager in <workdir>/checkpoints.

Each step's checkpoint holds two items: 'state' (the whole RunState: params, BatchNorm statistics,
both optimizer states, EMA, step and RNG) and 'meta' (JSON: the config and the data spec, so that tools
such as `jaxgan.sample` can rebuild the model from a workdir alone, and `format`, the FORMAT that wrote
it: a checkpoint of another format is refused with a one-line error rather than misread). Saves are asynchronous; orbax
writes each into a temporary directory and renames it when complete, so a run killed mid-save leaves
the previous checkpoints intact.
"""

from __future__ import annotations

import os
import time
from typing import Any

import jax
import orbax.checkpoint as ocp
from etils import epath

from jaxgan import config as config_lib, plugins
from jaxgan.errors import UserError

# The layout of what a checkpoint holds, written into its 'meta' item. Raised whenever a change to the
# state or to the meta would make older checkpoints restore wrongly. 1: checkpoints from before the
# format was recorded (no 'format' in their meta).
FORMAT = 2


def format_problem(meta: dict, where: str) -> str | None:
    """Why a checkpoint whose meta is `meta` cannot be read by this jaxgan (None if it can)."""
    found = meta.get('format', 1) if isinstance(meta, dict) else 1
    if found == FORMAT:
        return None
    written = ('an earlier jaxgan, from before checkpoint formats were numbered' if 'format' not in meta
               else 'another jaxgan version')
    return (f'{where} is of checkpoint format {found} (written by {written}); this jaxgan reads format '
            f'{FORMAT}: use another --workdir, or the jaxgan version that wrote it')


class Checkpoints:
    def __init__(self, workdir: str, *, keep: int = 3, async_save: bool = True, read_only: bool = False,
                 subdir: str = 'checkpoints'):
        self.directory = os.path.abspath(os.path.join(workdir, subdir))
        # Read-only managers neither save nor rotate: saying so here keeps orbax from warning that it
        # changed these options itself, on every `sample`, `latent` and `evaluate`.
        options = ocp.CheckpointManagerOptions(
            max_to_keep=None if read_only else keep, save_interval_steps=0 if read_only else 1,
            enable_async_checkpointing=async_save, create=not read_only, read_only=read_only)
        self._manager = ocp.CheckpointManager(
            epath.Path(self.directory), options=options,
            item_handlers={'state': ocp.StandardCheckpointHandler(), 'meta': ocp.JsonCheckpointHandler()})

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return list(self._manager.all_steps())

    def save(self, step: int, state: Any, meta: dict) -> None:
        """Starts an asynchronous save; the device arrays are copied before it returns."""
        self._manager.save(step, args=ocp.args.Composite(
            state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave({**meta, 'format': FORMAT})),
            force=True)

    def read_meta(self, step: int) -> dict:
        """The 'meta' item at `step`; a UserError if the checkpoint is of another FORMAT."""
        meta = self._manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())).meta
        problem = format_problem(meta, f'the checkpoint at step {step} in {self.directory}')
        if problem:
            raise UserError(problem)
        return meta

    def layout(self, step: int) -> dict[str, tuple]:
        """{'params.G.Conv_0.kernel': (shape, dtype), ...}: the arrays of the state saved at `step`."""
        tree = self._manager.item_metadata(step)['state']
        return {'.'.join(_key(k) for k in path): (tuple(m.shape), str(m.dtype))
                for path, m in jax.tree_util.tree_leaves_with_path(tree)}

    def restore(self, step: int, abstract_state: Any) -> Any:
        """The state at `step`, laid out as `abstract_state` (ShapeDtypeStructs with shardings)."""
        if step not in self.all_steps():
            raise UserError(f'no checkpoint at step {step} in {self.directory}; '
                            f'there are {self.all_steps() or "none"}')
        restored = self._manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_state)))
        return restored.state

    def set_aside(self, step: int) -> str:
        """Moves an unreadable checkpoint out of the way (to checkpoints_unreadable/), deleting nothing."""
        target = os.path.join(os.path.dirname(self.directory), 'checkpoints_unreadable', str(step))
        if os.path.exists(target):
            target = f'{target}.{int(time.time())}'
        self.move_out({step: target})
        return target

    def move_out(self, targets: dict[int, str]) -> None:
        """Moves the checkpoint of each step to its target path (process 0 moves, every process waits),
        deleting nothing; the manager forgets them."""
        if jax.process_index() == 0:
            for step, target in targets.items():
                os.makedirs(os.path.dirname(target), exist_ok=True)
                os.replace(os.path.join(self.directory, str(step)), target)
        if jax.process_count() > 1:
            from jax.experimental import multihost_utils
            multihost_utils.sync_global_devices(f'jaxgan moved checkpoints {sorted(targets)}')
        self._manager.reload()

    def wait(self) -> None:
        self._manager.wait_until_finished()

    def close(self) -> None:
        self._manager.close()


def _key(k) -> str:
    for attribute in ('key', 'name', 'idx'):
        if hasattr(k, attribute):
            return str(getattr(k, attribute))
    return str(k)


def layout_of(state: Any) -> dict[str, tuple]:
    """The same as `Checkpoints.layout` for a state (arrays or shape structs) in memory."""
    from flax import serialization
    tree = serialization.to_state_dict(state)
    return {'.'.join(_key(k) for k in path): (tuple(x.shape), str(x.dtype))
            for path, x in jax.tree_util.tree_leaves_with_path(tree)}


def layout_diff(saved: dict[str, tuple], expected: dict[str, tuple], limit: int = 3) -> list[str]:
    """Where a saved state's arrays differ from the expected: missing, extra, or of another shape."""
    diffs = [f'{name}: {saved[name][0]} in the checkpoint, {expected[name][0]} now'
             for name in sorted(saved.keys() & expected.keys()) if saved[name] != expected[name]]
    diffs += [f'{name}: not in the checkpoint' for name in sorted(expected.keys() - saved.keys())]
    diffs += [f'{name}: only in the checkpoint' for name in sorted(saved.keys() - expected.keys())]
    return diffs[:limit] + ([f'{len(diffs) - limit} more'] if len(diffs) > limit else [])


def abstract_like(tree: Any, sharding: jax.sharding.Sharding) -> Any:
    """ShapeDtypeStructs of `tree` (arrays or shape structs), all placed with `sharding`."""
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), tree)


def load_run(workdir: str, step: int | None = None, mesh: jax.sharding.Mesh | None = None,
             member: str | None = None):
    """(config, gan, state) of a trained workdir at `step` (the latest by default), on `mesh`. For an
    ensemble, of the member that `member` names (an index, 'best' or 'best:METRIC'; see
    ensemble.choose_member): its own config (seed and swept values) and state."""
    from jaxgan import ensemble
    from jaxgan.core import parallel
    from jaxgan.data.spec import DataSpec

    if not os.path.isdir(os.path.join(workdir, 'checkpoints')):
        raise UserError(f'no checkpoints in {workdir} (expected {workdir}/checkpoints)')
    checkpoints = Checkpoints(workdir, read_only=True)
    try:
        step = checkpoints.latest_step() if step is None else step
        if step is None:
            raise UserError(f'no complete checkpoint in {checkpoints.directory}')
        if step not in checkpoints.all_steps():
            raise UserError(f'no checkpoint at step {step} in {checkpoints.directory}; there are '
                            f'{checkpoints.all_steps()}')
        meta = checkpoints.read_meta(step)
        plugins.import_modules(meta.get('modules', ()))  # a plugin's family or architecture
        config = config_lib.completed(meta['config'])  # a run saved before a field was added: its default
        chosen = ensemble.choose_member(member, config, workdir)
        gan = ensemble.member_gan(config, DataSpec.from_json(meta['data']))
        mesh = mesh or parallel.make_mesh()
        abstract = abstract_like(ensemble.abstract_state(gan, config), parallel.replicated(mesh))
        state = checkpoints.restore(step, abstract)
    finally:
        checkpoints.close()
    if chosen is None:
        return config, gan, state
    config = ensemble.member_config(config, chosen)
    return config, ensemble.member_gan(config, gan.spec), ensemble.member_state(state, chosen)
