"""Sampling from a generator of latents (a model whose output is 'samples': jaxgan.families.gan's): arrays
in the data's units, PNG grids. The command line is `jaxgan.sample`."""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from jaxgan import files
from jaxgan.errors import UserError

GAN = Any  # a model of latents: jaxgan.families.gan.GAN
Params = Any
ModelState = dict[str, Any]


def has_mapping(gan: GAN) -> bool:
    """Whether the model's generator maps z to an intermediate latent w (StyleGAN's mapping network), so
    that its truncation is w's: its architecture's `mapping` capability (models.registry)."""
    return gan.mapping


def check_truncation(gan: GAN, psi: float) -> None:
    """A one-line UserError unless `psi` is a truncation this generator's latents take."""
    if not math.isfinite(psi):
        raise UserError(f'--truncation={psi} must be a finite number')
    if has_mapping(gan):
        return  # w = w_avg + psi (w - w_avg): any psi (1 none, 0 the average w, above 1 away from it)
    if not psi > 0:
        raise UserError(f'--truncation={psi}: the threshold must be positive')
    if gan.latent == 'uniform' and psi > 1:
        raise UserError(f'--truncation={psi}: uniform latents are scaled towards 0 by a factor in (0, 1]')


def truncate(gan: GAN, key: jax.Array, latents: jax.Array, psi: float) -> jax.Array:
    """Latents [..., latent_dim] with z truncated (the truncation trick), InfoGAN's codes untouched; for a
    generator without a mapping network (with one, w is truncated: `generate`'s psi).

    Normal z: BigGAN's variant (Brock et al. 2019), entries of magnitude above `psi` are resampled until
    they are within it. Resampling an entry until it lands in [-psi, psi] draws it from N(0, 1) truncated
    to [-psi, psi], which is how it is drawn here (one draw, with `key`); entries already within are kept
    as they are. Uniform z (U[-1, 1]): scaled towards 0 by psi, in (0, 1].
    """
    check_truncation(gan, psi)
    z, codes = latents[..., :gan.z_dim], latents[..., gan.z_dim:]
    if gan.latent == 'uniform':
        z = z * psi
    else:
        fresh = jax.random.truncated_normal(key, -psi, psi, z.shape, z.dtype)
        # truncated_normal can return the bound itself in float32; clip keeps every entry within psi
        z = jnp.where(jnp.abs(z) > psi, jnp.clip(fresh, -psi, psi), z)
    return jnp.concatenate([z, codes], axis=-1)


def generate(gan: GAN, params: Params, model_state: ModelState, z: jax.Array, y: jax.Array | None = None, *,
             bn: str, psi: float = 1.0) -> jax.Array:
    """G(z[, y]) in model units, not updating any state.

    bn='batch' normalises with the batch's own statistics (as DCGAN's reference code samples);
    bn='running' uses the running averages gathered in training. psi != 1: StyleGAN's truncation, for a
    generator with a mapping network (`has_mapping`): w = w_avg + psi (w - w_avg) on every layer's w, as
    the official generate.py's `G(z, c, truncation_psi=psi)` (Karras et al. 2019, 2020).
    """
    if psi != 1.0:
        if not has_mapping(gan):
            raise ValueError('psi truncates w: this generator has no mapping network (truncate z instead)')
        variables = {'params': params, **model_state}
        return gan.generator.apply(variables, z, y if gan.g_conditioned else None, train=False, truncation_psi=psi)
    if bn == 'batch':
        module = gan.generator
        if hasattr(module, 'bn_axis_name'):  # a sample batch is not split over devices
            module = module.clone(bn_axis_name=None)
        return gan.generate(params, model_state, z, y=y, train=True, module=module)[0]
    return gan.generate(params, model_state, z, y=y, train=False)[0]


@functools.lru_cache(maxsize=16)
def jitted_generate(gan: GAN, bn: str, psi: float = 1.0):
    """`generate` of one GAN compiled once: (params, model_state, z, y) -> examples in model units."""
    return jax.jit(functools.partial(generate, gan, bn=bn, psi=psi))


def sample(gan: GAN, params: Params, model_state: ModelState, z: jax.Array, y: jax.Array | None = None, *,
           bn: str, batch_size: int, psi: float = 1.0) -> np.ndarray:
    """Samples for latents z [N, Z] (and labels y [N] for a conditional G) in the data's units,
    generated batch_size at a time; psi: w's truncation (see `generate`)."""
    fn = jitted_generate(gan, bn, psi)
    n = z.shape[0]
    if gan.g_conditioned and y is None:
        y = jnp.arange(n) % gan.num_classes
    pad = -n % batch_size
    if pad:  # filler latents complete the last batch (its statistics), then are dropped
        z = jnp.concatenate([z, gan.latents(jax.random.key(n), pad)])
        y = None if y is None else jnp.concatenate([y, jnp.arange(pad) % gan.num_classes])
    chunks = [np.asarray(fn(params, model_state, z[i:i + batch_size], None if y is None else y[i:i + batch_size]))
              for i in range(0, len(z), batch_size)]
    return gan.spec.to_data_units(np.concatenate(chunks)[:n])


def latents(gan: GAN, seed: int, num: int, truncation: float | None) -> tuple[jax.Array, float]:
    """The latents of `num` samples and the w truncation psi to render them with: the architecture's own
    truncation (jaxgan.sample's docstring). With a mapping network z is untouched and psi is `truncation`; else
    z is truncated (`sampling.truncate`) and psi is 1."""
    z = gan.latents(jax.random.key(seed), num)
    if truncation is None:
        return z, 1.0
    if has_mapping(gan):
        return z, truncation
    return truncate(gan, jax.random.fold_in(jax.random.key(seed), 0x7a0c), z, truncation), 1.0


def make_grid(images: np.ndarray, columns: int | None = None, pad: int = 2) -> np.ndarray:
    """uint8 [N, H, W, C] to one uint8 [rows*(H+pad)+pad, columns*(W+pad)+pad, C] image."""
    n, h, w, c = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    grid = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, c), 255, np.uint8)
    for i, image in enumerate(images):
        r, col = divmod(i, columns)
        grid[pad + r * (h + pad):pad + r * (h + pad) + h, pad + col * (w + pad):pad + col * (w + pad) + w] = image
    return grid


def save_png(path: str, image_HWC: np.ndarray) -> None:
    """A uint8 [H, W, C] image as PNG, written whole or not at all."""
    image = image_HWC[..., 0] if image_HWC.shape[-1] == 1 else image_HWC
    with files.atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format='PNG')


def save_npy(path: str, array: np.ndarray) -> None:
    """An array as .npy, written whole or not at all."""
    with files.atomic_path(path) as tmp:
        np.save(tmp, array)
