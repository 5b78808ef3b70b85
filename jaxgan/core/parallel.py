"""The device mesh, shardings, and placing host batches on devices.

jaxgan is data parallel over one mesh axis, 'data': the batch is split over it and everything in the
GAN state is replicated.
"""

from __future__ import annotations

from typing import Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

DATA = 'data'


def make_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh over `devices` (all devices of all processes by default)."""
    devices = list(jax.devices() if devices is None else devices)
    return jax.make_mesh((len(devices),), (DATA,), devices=devices,
                         axis_types=(jax.sharding.AxisType.Auto,))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def batch_spec(leading_axes: int) -> P:
    """Batch arrays are [*leading, B, ...]: split over B."""
    return P(*([None] * leading_axes), DATA)


def place_batch(host: np.ndarray, mesh: Mesh, leading_axes: int) -> jax.Array:
    """This process's slice of a global batch to a global array split over the mesh."""
    global_shape = list(host.shape)
    global_shape[leading_axes] *= jax.process_count()
    return jax.make_array_from_process_local_data(
        NamedSharding(mesh, batch_spec(leading_axes)), host, tuple(global_shape))


def to_host(tree):
    """A pytree of replicated (or fully addressable) arrays as NumPy, on any process."""
    def get(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            x = x.addressable_data(0)
        return np.asarray(x)
    return jax.tree.map(get, tree)
