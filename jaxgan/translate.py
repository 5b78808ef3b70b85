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
same relative path below --out (`x.jpg` -> `OUT/x.png`), written whole or not at all. From Python:
`jaxgan.load(workdir).translate_folder(src, dst)` (jaxgan.api), which this tool calls.

Every image is read and checked before anything is written (held at the model's size meanwhile), so bad
input stops the tool with a one-line error and exit status 2, writing nothing: a workdir of a model that
is not a translation model, --direction=b2a for pix2pix (which translates A to B only), an --input that
does not exist or holds no image files, an image that cannot be decoded (named), two inputs that would
give one output name (`x.jpg` and `x.png`), and an --out that is the input folder or would overwrite
an input.
"""

from __future__ import annotations

import sys

import jax

from jaxgan import api, family, writers
from jaxgan.errors import UserError

# The pieces of a folder's translation, in jaxgan.api (Trained.translate_folder) beside the Python API.
inputs, output_paths, read_images, translate = api.inputs, api.output_paths, api.read_images, api.translate_batches


def check_direction(model, direction: str, workdir: str, name: str) -> None:
    """A UserError where `model` is not a translation model, or has no generator for `direction`."""
    if model.output != 'translations':
        raise UserError(f'{workdir} holds a {name} model, which makes {model.output}, not translations: use '
                        f'{family.TOOLS[model.output]}')
    if direction not in model.directions:
        raise UserError(f'--direction={direction}: {workdir} holds a {name} model, which translates '
                        f'{" and ".join(model.directions)} only')


def run(workdir: str, input_path: str, out: str, *, direction: str = 'a2b', step: int | None = None,
        ema: bool = True, member: str | None = None, batch_size: int = 16) -> list[str]:
    """Translates the images of `input_path` into `out` (module docstring); returns the paths written."""
    from jaxgan.core import parallel
    if batch_size <= 0:
        raise UserError(f'--batch_size={batch_size} must be positive')
    root, files = inputs(input_path)
    output_paths(input_path, root, files, out)  # bad paths refused before the model is loaded
    trained = api.load(workdir, step, member, mesh=parallel.make_mesh(jax.local_devices()[:1]))  # one device
    check_direction(trained.model, direction, workdir, trained.config.model.name)
    paths = trained.translate_folder(input_path, out, direction, ema=ema, batch_size=batch_size,
                                     flags=('--input', '--out'))
    size = trained.model.spec.shape[0]
    print(f'wrote {writers.counted(len(paths), "translation")} ({direction}, {trained.model.kind} of step '
          f'{trained.step}, {"EMA" if ema else "trained"} params, {size}x{size}) to {out}', file=sys.stderr)
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
