"""Generator and discriminator architectures, chosen by config.model.name.

Every architecture is a pair of Flax modules used as pure functions: `G.apply(vars, z, train=...)`
returns images (or vectors) in [-1, 1]-scaled model units and `D.apply(vars, x, train=...)` returns one
logit per example. A new architecture is a new module here and one entry in `build`.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp
import ml_collections

from jaxgan.data.spec import DataSpec
from jaxgan.errors import UserError
from jaxgan.models import dcgan
from jaxgan.parallel import DATA

NAMES = ('dcgan',)


def build(config: ml_collections.ConfigDict, spec: DataSpec) -> tuple[nn.Module, nn.Module]:
    """The (generator, discriminator) pair for config.model on data of `spec`."""
    m = config.model
    dtype = jnp.bfloat16 if config.compute_dtype == 'bfloat16' else jnp.float32
    bn_axis = DATA if config.batch_norm == 'cross_device' else None
    if m.name == 'dcgan':
        if spec.kind != 'image':
            raise UserError(f'model dcgan needs images; {spec.source} holds vectors of shape {spec.shape}')
        size, channels = spec.shape[0], spec.shape[-1]
        if size < 8 or size & (size - 1):
            raise UserError(f'model dcgan makes square images of a power-of-two size; got {size}')
        return (dcgan.Generator(size, channels, m.g_width, dtype, bn_axis),
                dcgan.Discriminator(size, m.d_width, dtype, bn_axis))
    raise UserError(f'config.model.name={m.name!r} is not one of {", ".join(NAMES)}')
