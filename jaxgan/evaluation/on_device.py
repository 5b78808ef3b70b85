"""The generator's side of FID, KID, PR and DC computed on the devices in one program (`SampleProgram`):
no host round trip per batch.

The host path (`Evaluator` with on_device=False, and every metric set outside `DEVICE_METRICS`) brings
each batch of samples to the host as uint8, sends it back for the feature network and brings its
features back to be summed in float64. Here one jitted program loops over the batches on the devices
(`lax.fori_loop`): it draws each batch's latents from the key, generates, rounds to the data's uint8
exactly as `DataSpec.to_data_units` does, runs the feature network (the Inception resizes inside it),
adds the features to float32 sums kept with compensated summation (`stats.DeviceMoments`: no float64,
which TPUs lack) and keeps the first `keep` features for KID, PR and DC. The samples are the host path's,
batch for batch (the same latents, the same batches, so a generator sampled with batch statistics sees
the same batches), so the scores are the same up to float32 rounding. The batches are split over the
mesh's 'data' axis: every device generates and embeds its share.

IS (every sample's logits), nearest (the samples themselves), classes and stacked (host-side counts)
keep the host path.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import sampling
from jaxgan.core import parallel
from jaxgan.evaluation.features import FeatureNet
from jaxgan.metrics import stats

DEVICE_METRICS = frozenset({'fid', 'kid', 'pr', 'dc'})  # what the device path gives: moments, kept features
SAMPLE_STREAM = 0xe7a1  # the key of the evaluation samples, folded into the seed's (both paths)


def sample_key(seed: int) -> jax.Array:
    """The key whose fold_in with a batch's first index draws that batch's latents and labels."""
    return jax.random.fold_in(jax.random.key(seed), SAMPLE_STREAM)


def batch_latents(gan, key: jax.Array, start, batch: int) -> tuple[jax.Array, jax.Array | None]:
    """The latents and labels (None for an unconditional G) of the batch of samples from index `start`."""
    z_key, y_key = jax.random.split(jax.random.fold_in(key, start))
    return gan.latents(z_key, batch), gan.labels(y_key, batch)


def device_data_units(x: jax.Array) -> jax.Array:
    """Images in model units to uint8 on the device: `DataSpec.to_data_units`'s arithmetic, in float32
    (round half to even, as np.round), so the samples' pixels are the host path's."""
    return jnp.clip(jnp.round((x.astype(jnp.float32) + 1.0) * 127.5), 0, 255).astype(jnp.uint8)


class SampleProgram:
    """One jitted program: (G's params, model state, key) -> (the features' moments, the first `keep`
    features), for `num` samples generated `batch` at a time. Built once per evaluator and generator, it
    compiles on its first call and is reused by every later one (periodic evaluation)."""

    def __init__(self, gan, net: FeatureNet, mesh: jax.sharding.Mesh, *, num: int, batch: int, keep: int, bn: str):
        self.gan, self.net, self.mesh = gan, net, mesh
        self.num, self.batch, self.keep, self.bn = num, batch, min(keep, num), bn
        self.num_batches = -(-num // batch)
        self.kept_rows = -(-self.keep // batch) * batch  # whole batches are written into the kept buffer
        self._run = jax.jit(self._program, out_shardings=parallel.replicated(mesh))

    def _split(self, x: jax.Array | None) -> jax.Array | None:
        """x [B, ...] split over the mesh's 'data' axis (XLA pads a batch the devices do not divide)."""
        if x is None:
            return None
        return jax.lax.with_sharding_constraint(x, jax.sharding.NamedSharding(self.mesh, parallel.batch_spec(0)))

    def _embed(self, params, model_state, key: jax.Array, start) -> jax.Array:
        z, y = batch_latents(self.gan, key, start, self.batch)
        x = sampling.generate(self.gan, params, model_state, self._split(z), self._split(y), bn=self.bn)
        features, _ = self.net.apply(self._split(device_data_units(x)))
        return features.astype(jnp.float32)

    def _program(self, params, model_state, seed: jax.Array) -> tuple[stats.DeviceMoments, jax.Array]:
        key = sample_key(seed)  # made here, not passed in: an int is the same input on every process
        images = jax.ShapeDtypeStruct((self.batch, *self.gan.spec.shape), jnp.uint8)
        dim = jax.eval_shape(self.net.apply, images)[0].shape[-1]

        def body(i, carry):
            moments, kept = carry
            start = i * self.batch
            features = self._embed(params, model_state, key, start)
            moments = moments.add(features, start + jnp.arange(self.batch) < self.num)
            kept = jax.lax.cond(start < self.kept_rows,
                                lambda k: jax.lax.dynamic_update_slice(k, features, (start, 0)), lambda k: k, kept)
            return moments, kept

        init = (stats.DeviceMoments.zeros(dim), jnp.zeros((self.kept_rows, dim), jnp.float32))
        moments, kept = jax.lax.fori_loop(0, self.num_batches, body, init)
        return moments, kept[:self.keep]

    def __call__(self, params, model_state, seed: int) -> dict:
        """The Extractor's output for these samples: {'moments': a float64 MomentAccumulator, 'features':
        the first `keep` [keep, F] as NumPy, 'logits': None}."""
        moments, kept = self._run(params, model_state, np.int32(seed))
        return {'moments': moments.to_host(parallel.to_host), 'features': np.asarray(parallel.to_host(kept)),
                'logits': None}

    def compilations(self) -> int:
        """How many times the program has been compiled (1 after any number of calls with one G)."""
        return self._run._cache_size()
