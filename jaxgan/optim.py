"""Optimizers from config (see `config.optimizer_config`)."""

from __future__ import annotations

import ml_collections
import optax


def make(c: ml_collections.ConfigDict) -> optax.GradientTransformation:
    if c.name == 'adam':
        tx = optax.adam(c.learning_rate, b1=c.b1, b2=c.b2, eps=c.eps)
    elif c.name == 'adamw':
        tx = optax.adamw(c.learning_rate, b1=c.b1, b2=c.b2, eps=c.eps, weight_decay=c.weight_decay)
    elif c.name == 'rmsprop':
        tx = optax.rmsprop(c.learning_rate, decay=c.b2, eps=c.eps)
    elif c.name == 'sgd':
        tx = optax.sgd(c.learning_rate, momentum=c.b1 or None)
    else:
        raise ValueError(f'unknown optimizer {c.name!r}')  # validated earlier, in config.validate
    return optax.chain(optax.clip_by_global_norm(c.grad_clip), tx) if c.grad_clip > 0 else tx
