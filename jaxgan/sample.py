"""Sampling from a generator: arrays in the data's units, PNG grids; `python -m jaxgan.sample`.

    python -m jaxgan.sample --workdir=DIR --num=64 --out=samples.png    # a grid
    python -m jaxgan.sample --workdir=DIR --num=10000 --out=samples.npy # the raw array
    python -m jaxgan.sample --workdir=DIR --label=3 --num=500 --out=threes.npy  # one class

`.npy` holds the samples in the data's own range and units (uint8 [N, H, W, C] images, or vectors in
the data's units); `.png` a grid of images. The EMA generator is used unless --noema.
"""

from __future__ import annotations

import math
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from jaxgan.gan import GAN, ModelState, Params, apply


def generate(gan: GAN, params: Params, model_state: ModelState, z: jax.Array, y: jax.Array | None = None, *,
             bn: str) -> jax.Array:
    """G(z[, y]) in model units, not updating any state.

    bn='batch' normalises with the batch's own statistics (as DCGAN's reference code samples);
    bn='running' uses the running averages gathered in training.
    """
    if bn == 'batch':
        module = gan.generator
        if hasattr(module, 'bn_axis_name'):  # a sample batch is not split over devices
            module = module.clone(bn_axis_name=None)
        return apply(module, params, model_state, z, y if gan.g_conditioned else None, train=True)[0]
    return gan.generate(params, model_state, z, y=y, train=False)[0]


def sample(gan: GAN, params: Params, model_state: ModelState, z: jax.Array, y: jax.Array | None = None, *,
           bn: str, batch_size: int) -> np.ndarray:
    """Samples for latents z [N, Z] (and labels y [N] for a conditional G) in the data's units,
    generated batch_size at a time."""
    fn = jax.jit(lambda p, s, z, y: generate(gan, p, s, z, y, bn=bn))
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
    """Writes beside the target and renames, so an existing file is never left half-written."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    image = image_HWC[..., 0] if image_HWC.shape[-1] == 1 else image_HWC
    tmp = f'{path}.tmp.png'
    Image.fromarray(image).save(tmp)
    os.replace(tmp, path)


def save_npy(path: str, array: np.ndarray) -> None:
    """Writes beside the target and renames, so an existing file is never left half-written."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f'{path}.tmp.npy'
    np.save(tmp, array)
    os.replace(tmp, path)


def _main(argv) -> None:
    from absl import flags
    from jaxgan.checkpoint import load_run
    from jaxgan.errors import UserError

    del argv
    f = flags.FLAGS
    out = f.out
    if not out.endswith(('.npy', '.png')):
        raise UserError(f'--out={out} must end in .npy or .png')
    if f.num <= 0:
        raise UserError(f'--num={f.num} must be positive')
    config, gan, state = load_run(f.workdir, f.step)
    if out.endswith('.png') and gan.spec.kind != 'image':
        raise UserError(f'--out={out}: the model makes vectors, not images; write .npy')
    z = gan.latents(jax.random.key(f.seed), f.num)
    y = None
    if f.label is not None:
        if not gan.g_conditioned:
            raise UserError('--label: this generator is not class-conditional')
        if not 0 <= f.label < gan.num_classes:
            raise UserError(f'--label={f.label}: the classes are 0 to {gan.num_classes - 1}')
        y = jnp.full((f.num,), f.label, jnp.int32)
    params = state.ema_params if f.ema else state.g_params
    samples = sample(gan, params, state.g_state, z, y, bn=config.sample_bn, batch_size=config.batch_size)
    if out.endswith('.npy'):
        save_npy(out, samples)
    else:
        save_png(out, make_grid(samples))
    print(f'wrote {len(samples)} samples of step {int(state.step)} to {out}', file=sys.stderr)


def main() -> None:
    from absl import flags
    from jaxgan import cli
    flags.DEFINE_string('workdir', None, 'The training run\'s workdir.', required=True)
    flags.DEFINE_integer('num', 64, 'How many samples.')
    flags.DEFINE_string('out', 'samples.png', 'Output file: .npy (raw array, data units) or .png (grid).')
    flags.DEFINE_integer('step', None, 'Checkpoint step; the latest by default.')
    flags.DEFINE_integer('seed', 0, 'Seed of the latents.')
    flags.DEFINE_bool('ema', True, 'Use the EMA generator (--noema: the trained params).')
    flags.DEFINE_integer('label', None, 'Class of every sample (class-conditional generators); by default '
                         'the classes in turn.')
    cli.run_main(_main)


if __name__ == '__main__':
    main()
