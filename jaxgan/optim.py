"""Optimizers from config (see `config.optimizer_config`)."""

from __future__ import annotations

from typing import Any, Callable, Collection, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import optax


def learning_rate(c: ml_collections.ConfigDict, updates: int) -> optax.ScalarOrSchedule:
    """c.learning_rate, constant or decayed to 0 over `updates` optimizer updates (hold_then_linear: held
    for the first decay_start of them, then decayed linearly to 0; pix2pix's and CycleGAN's 100 + 100
    epochs are decay_start 0.5)."""
    if c.schedule == 'linear':
        return optax.linear_schedule(c.learning_rate, 0.0, updates)
    if c.schedule == 'cosine':
        return optax.cosine_decay_schedule(c.learning_rate, updates)
    if c.schedule == 'hold_then_linear':  # pix2pix's and CycleGAN's: constant for the first half, then to 0
        hold = int(updates * c.decay_start)
        return optax.join_schedules([optax.constant_schedule(c.learning_rate),
                                     optax.linear_schedule(c.learning_rate, 0.0, max(updates - hold, 1))], [hold])
    return c.learning_rate


def clip_params(c: float) -> optax.GradientTransformation:
    """Updates that leave every param in [-c, c] after they are applied: the original WGAN's weight
    clipping of the critic (Arjovsky et al. 2017: c = 0.01, with RMSProp at 5e-5), as the last
    transform of a chain."""

    def update(updates, state, params=None):
        if params is None:
            raise ValueError('clip_params needs the params')
        return jax.tree.map(lambda u, p: jnp.clip(p + u, -c, c) - p, updates, params), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


class ResetState(NamedTuple):
    inner: Any  # the wrapped transform's state
    key: jax.Array  # reset_when's value at the last update
    count: jax.Array  # updates made


def reset_on_change(inner: optax.GradientTransformation,
                    key_of: Callable[[jax.Array], jax.Array]) -> optax.GradientTransformation:
    """inner, its state re-initialised before each update at which key_of(updates made so far) differs
    from its value at the update before: the official ProGAN loop's reset_optimizer_state (train.py,
    reset_opt_for_new_lod), which re-initialises every Adam slot, its beta powers included, whenever the
    lod's floor or ceiling changes."""
    def init(params):
        count = jnp.zeros((), jnp.int32)
        return ResetState(inner.init(params), jnp.asarray(key_of(count)), count)

    def update(updates, state, params=None):
        key = jnp.asarray(key_of(state.count))
        fresh = inner.init(updates)
        kept = jax.tree.map(lambda f, s: jnp.where(key != state.key, f, s), fresh, state.inner)
        updates, kept = inner.update(updates, kept, params)
        return updates, ResetState(kept, key, state.count + 1)

    return optax.GradientTransformation(init, update)


def freeze(tx: optax.GradientTransformation, frozen: Collection[tuple[str, ...]]) -> optax.GradientTransformation:
    """tx whose updates of the params under the paths `frozen` ({('D', 'Conv_0'), ...}: key prefixes in the
    params tree) are 0 (FreezeD): the last word, after weight decay and clipping, so nothing tx does moves
    them. Their slots in tx's state stay (updated, unused): the state's layout, which checkpoints
    compare on resume, does not depend on what is frozen. tx itself where nothing is."""
    if not frozen:
        return tx
    frozen = {tuple(path) for path in frozen}

    def is_frozen(path) -> bool:
        keys = tuple(str(getattr(k, 'key', k)) for k in path)
        return any(keys[:n] in frozen for n in range(1, len(keys) + 1))

    def update(updates, state, params=None):
        updates, state = tx.update(updates, state, params)
        return jax.tree_util.tree_map_with_path(lambda path, u: jnp.zeros_like(u) if is_frozen(path) else u,
                                                updates), state

    return optax.GradientTransformation(tx.init, update)


def make(c: ml_collections.ConfigDict, updates: int, *, lr: optax.ScalarOrSchedule | None = None,
         reset_when: Callable[[jax.Array], jax.Array] | None = None) -> optax.GradientTransformation:
    """The optimizer of config c; `updates`: how many updates it will make in the whole run.

    lr: a learning rate or schedule of the update count in place of c's (ProGAN's per-resolution rates).
    reset_when: a function of the update count; Adam's moments and its bias-correction count start afresh
    before each update at which its value differs from the update before's (ProGAN's
    reset_opt_for_new_lod; `reset_on_change`). Adam only."""
    lr = learning_rate(c, updates) if lr is None else lr
    if reset_when is not None and c.name != 'adam':
        raise ValueError(f'reset_when: Adam only, not {c.name}')
    if c.name == 'adam':  # weight decay as torch's Adam has it: L2, added to the gradient
        moments = optax.scale_by_adam(b1=c.b1, b2=c.b2, eps=c.eps)
        if reset_when is not None:
            moments = reset_on_change(moments, reset_when)
        tx = optax.chain(moments, optax.scale_by_learning_rate(lr))  # optax.adam, the moments resettable
        if c.weight_decay > 0:
            tx = optax.chain(optax.add_decayed_weights(c.weight_decay), tx)
    elif c.name == 'adamw':
        tx = optax.adamw(lr, b1=c.b1, b2=c.b2, eps=c.eps, weight_decay=c.weight_decay)
    elif c.name == 'rmsprop':
        tx = optax.rmsprop(lr, decay=c.b2, eps=c.eps)
    elif c.name == 'sgd':
        tx = optax.sgd(lr, momentum=c.b1 or None)
    else:
        raise ValueError(f'unknown optimizer {c.name!r}')  # validated earlier, in config.validate
    if c.grad_clip > 0:
        tx = optax.chain(optax.clip_by_global_norm(c.grad_clip), tx)
    return optax.chain(tx, clip_params(c.weight_clip)) if c.weight_clip > 0 else tx
