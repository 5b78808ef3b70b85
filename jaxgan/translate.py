"""Translating your own images with a trained translation model: `python -m jaxgan.translate`.

    python -m jaxgan.translate --workdir=runs/cyclegan_demo --input=photos --out=translated
    python -m jaxgan.translate --workdir=runs/cyclegan_demo --input=zebra.jpg --out=out --direction=b2a
    python -m jaxgan.translate --workdir=runs/facades --input=photos --out=labels --step=40000 --noema

--input is an image file or a folder, whose image files (jpg, jpeg, png, bmp, gif, webp) are read at any
depth. Each is decoded as the training data are (`data.sources.decode_image`), converted to the model's
channel count, centre cropped to a square (the run's config.data.crop, or the largest square) and resized
to the model's size with the training data's bicubic filter (`data.transforms.preprocess_image`): an
image of another size or shape is cropped and resized, not tiled, and its translation has the model's
size. The generator of --direction (a2b: A to B, the default; b2a for CycleGAN and U-GAT-IT), its EMA
params unless --noema, in evaluation mode (`translation.Translation.translate`), translates them in
batches of --batch_size; each translation is written as a PNG of the same name, extension aside, at the
same relative path below --out (`x.jpg` -> `OUT/x.png`), written whole or not at all.

Every image is read and checked before anything is written (held at the model's size meanwhile), so bad
input stops the tool with a one-line error and exit status 2, writing nothing: a workdir of a model that
is not a translation model, --direction=b2a for pix2pix (which translates A to B only), an --input that
does not exist or holds no image files, an image that cannot be decoded (named), two inputs that would
give one output name (`x.jpg` and `x.png`), and an --out that is the input folder or would overwrite
an input.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import sampling, writers
from jaxgan.data import sources, transforms
from jaxgan.errors import UserError
from jaxgan import family


def inputs(path: str) -> tuple[str, list[str]]:
    """(the folder the output names are relative to, the image files) of --input: a file or a folder."""
    if os.path.isfile(path):
        return os.path.dirname(os.path.abspath(path)), [path]
    if not os.path.isdir(path):
        raise UserError(f'--input={path}: no such file or folder')
    try:
        return path, sources.image_files(path)
    except UserError:
        raise UserError(f'--input={path} holds no image files '
                        f'({"/".join(s[1:] for s in sources.IMAGE_SUFFIXES)})') from None


def output_paths(input_path: str, root: str, files: list[str], out: str) -> list[str]:
    """Where each input's translation goes: OUT/<its path below root, extension aside>.png; a UserError
    where --out is a file or the input folder, or where two inputs, or an input and an output, share a path."""
    real = lambda p: os.path.realpath(os.path.abspath(p))  # noqa: E731
    if os.path.isfile(out):
        raise UserError(f'--out={out} is a file; give a folder for the translations')
    if os.path.isdir(input_path) and real(out) == real(input_path):
        raise UserError(f'--out={out} is the input folder: the translations would mix with the inputs; give '
                        'another folder')
    paths = [os.path.join(out, os.path.splitext(os.path.relpath(f, root))[0] + '.png') for f in files]
    seen: dict[str, str] = {}
    for f, p in zip(files, paths):
        if real(p) in seen:
            raise UserError(f'{seen[real(p)]} and {f} would both be translated to {p}: rename one')
        seen[real(p)] = f
    for f in files:
        if real(f) in seen:
            raise UserError(f'--out={out}: the translation of {seen[real(f)]} would overwrite the input {f}; '
                            'give another folder')
    return paths


def read_images(files: list[str], *, size: int, channels: int, crop: int, workers: int = 8) -> np.ndarray:
    """The images uint8 [N, size, size, channels], decoded, cropped and resized as the training data."""
    def one(f: str) -> np.ndarray:
        return transforms.preprocess_image(sources.decode_image(f, f), size=size, crop=crop, channels=channels,
                                           name=f)

    with ThreadPoolExecutor(max(1, min(workers, len(files)))) as pool:
        return np.stack(list(pool.map(one, files)))


def check_direction(model, direction: str, workdir: str, name: str) -> None:
    """A UserError where `model` is not a translation model, or has no generator for `direction`."""
    if model.output != 'translations':
        raise UserError(f'{workdir} holds a {name} model, which makes {model.output}, not translations: use '
                        f'{family.TOOLS[model.output]}')
    if direction not in model.directions:
        raise UserError(f'--direction={direction}: {workdir} holds a {name} model, which translates '
                        f'{" and ".join(model.directions)} only')


def translate(model: family.Model, params, model_state, images: np.ndarray, direction: str = 'a2b',
              batch_size: int = 16) -> np.ndarray:
    """Translations uint8 [N, H, W, C] of images uint8 [N, H, W, C] at the model's size, in batches (the
    last one padded, so one program serves every batch)."""
    fn = jax.jit(lambda p, s, x: model.translate(p, s, model.spec.model_input(x), direction))
    out = []
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size]
        padded = np.concatenate([x, np.zeros((batch_size - len(x), *x.shape[1:]), x.dtype)]) if len(x) < batch_size else x
        out.append(np.asarray(fn(params, model_state, jnp.asarray(padded)))[:len(x)])
    return model.spec.to_data_units(np.concatenate(out))


def run(workdir: str, input_path: str, out: str, *, direction: str = 'a2b', step: int | None = None,
        ema: bool = True, member: str | None = None, batch_size: int = 16) -> list[str]:
    """Translates the images of `input_path` into `out` (module docstring); returns the paths written."""
    from jaxgan.checkpoint import load_run
    from jaxgan.core import parallel
    if batch_size <= 0:
        raise UserError(f'--batch_size={batch_size} must be positive')
    root, files = inputs(input_path)
    paths = output_paths(input_path, root, files, out)
    mesh = parallel.make_mesh(jax.local_devices()[:1])  # a tool's batches: one device
    config, model, state = load_run(workdir, step, mesh=mesh, member=member)
    check_direction(model, direction, workdir, config.model.name)
    size, channels = model.spec.shape[0], model.spec.shape[-1]
    images = read_images(files, size=size, channels=channels, crop=config.data.crop)
    generator = model.directions[direction]
    params = {generator: (state.ema if ema else state.params)[generator]}
    model_state = {generator: state.model_state[generator]}
    translated = translate(model, params, model_state, images, direction, batch_size)
    for path, image in zip(paths, translated):
        sampling.save_png(path, image)
    print(f'wrote {writers.counted(len(paths), "translation")} ({direction}, {model.kind} of step {int(state.step)}, '
          f'{"EMA" if ema else "trained"} params, {size}x{size}) to {out}', file=sys.stderr)
    return paths


def _main(argv) -> None:
    from absl import flags
    del argv
    f = flags.FLAGS
    run(f.workdir, f.input, f.out, direction=f.direction, step=f.step, ema=f.ema, member=f.member,
        batch_size=f.batch_size)


def main() -> None:
    from absl import flags
    from jaxgan import cli
    flags.DEFINE_string('workdir', None, 'The workdir of a trained translation model (pix2pix, cyclegan, ugatit).',
                        required=True)
    flags.DEFINE_string('input', None, 'An image file, or a folder whose image files (jpg, jpeg, png, bmp, gif, '
                        'webp; at any depth) are translated. Each is centre cropped (the run\'s config.data.crop, or '
                        'the largest square) and resized to the model\'s size, as the training data were: images '
                        'of other sizes are resized, not tiled, and translated at the model\'s size.', required=True)
    flags.DEFINE_string('out', None, 'The folder the translations go to, as PNGs of the inputs\' names (x.jpg -> '
                        'OUT/x.png, sub-folders kept); not the input folder.', required=True)
    flags.DEFINE_enum('direction', 'a2b', ['a2b', 'b2a'], 'a2b: A to B; b2a: B to A (CycleGAN and U-GAT-IT).')
    flags.DEFINE_integer('step', None, 'Checkpoint step; the latest by default.')
    flags.DEFINE_bool('ema', True, 'Use the EMA generator (--noema: the trained params).')
    flags.DEFINE_integer('batch_size', 16, 'Images translated per batch.')
    cli.define_member_flag()
    cli.run_main(_main)


if __name__ == '__main__':
    main()
