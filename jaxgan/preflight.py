"""What a run checks before it writes anything: the workdir, the data an experiment evaluates on after
training, and set-ups that work but are probably not what was meant (warnings).

Each check raises UserError naming the problem; none writes to the workdir. `train.train` runs them
before its first write, so a run that would fail on one of them fails at once, not after training.
Whether a batch at config.image_size fits in memory is checked by `data.load` itself, before it reads
any data (`jaxgan.data.memory`), so every tool that reads data is covered.
"""

from __future__ import annotations

import os

import ml_collections

from jaxgan import data
from jaxgan.errors import UserError

# Images smaller than the training size by more than this factor (per side) draw a warning.
MAX_UPSAMPLING = 4


def check_workdir(workdir: str) -> None:
    """The workdir is a directory that can be written, or can be made: creates nothing."""
    path = os.path.abspath(workdir)
    if os.path.exists(path) and not os.path.isdir(path):
        raise UserError(f'--workdir={workdir} is a file, not a directory')
    existing = path
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise UserError(f'--workdir={workdir} cannot be made: {existing} is a file, not a directory')
    if not os.access(existing, os.W_OK | os.X_OK):
        what = 'cannot be written' if existing == path else f'cannot be made in {existing}'
        raise UserError(f'--workdir={workdir} {what}: permission denied')


def check_eval_dataset(config: ml_collections.ConfigDict, spec: data.DataSpec, *, labels: bool = True) -> None:
    """config.eval_dataset (where set) opens, has labels (but for translation's test pairs), and gives
    examples of the training shape: it is read after training (infogan_mnist, ssgan_mnist, the
    translation demos), where a problem would waste the run. labels: whether it must have labels (a
    translation model scores its pairs instead)."""
    name = config.get('eval_dataset', '')
    if not name:
        return
    try:
        eval_spec = data.load(data.dataset_config(config, name)).spec
    except UserError as e:
        raise UserError(f'config.eval_dataset={name!r}: {e}') from None
    if labels and not eval_spec.num_classes:
        raise UserError(f'config.eval_dataset={name!r} has no labels')
    if eval_spec.shape != spec.shape:
        raise UserError(f'config.eval_dataset={name!r} gives examples of shape {eval_spec.shape}, the training '
                        f'data ({config.dataset}) {spec.shape}')


def raw_side(dataset: data.Dataset, crop: int) -> int | None:
    """The side, in pixels, of the square the first image is cropped to before resizing (None where the
    data are not images, are stored already resized, or the first cannot be read)."""
    if dataset.spec.kind != 'image' or dataset.source.preprocessed:
        return None
    source = dataset.source
    try:
        first = source[0]
        h, w = (first[0] if first.ndim == 4 else first).shape[:2]  # a pair [2, H, W, C]: its A
    except Exception:  # an unreadable image: the pipeline reports it (or skips it) itself
        return None
    return crop or min(h, w)


def check_resolution(config: ml_collections.ConfigDict, dataset: data.Dataset) -> None:
    """With config.data.upsample off (StyleGAN2's configs: the official code trains at the data's own
    resolution), images smaller than config.image_size are refused rather than resized up. Data whose
    original size is not at hand (TFDS read from a cache at the training size) are not checked."""
    if config.data.upsample:
        return
    side = raw_side(dataset, config.data.crop)
    if side and side < config.image_size:
        raise UserError(f'config.image_size={config.image_size} is larger than the {side}x{side} images of '
                        f'{dataset.spec.source}: this config trains at the data\'s resolution (set '
                        f'config.image_size, or config.model.resolution, to {side} or less; or '
                        f'config.data.upsample=true to resize them up)')


def warnings(config: ml_collections.ConfigDict, dataset: data.Dataset) -> list[str]:
    """One line for each set-up that trains but is probably not what was meant."""
    found = []
    spec = dataset.spec
    if config.batch_size > spec.num_examples and spec.kind != 'table':  # a table's rows are drawn with replacement
        found.append(f'config.batch_size={config.batch_size} is more than the {spec.num_examples} examples '
                     f'of {spec.source}: each batch holds some examples more than once')
    side = raw_side(dataset, config.data.crop)
    if side and config.image_size > MAX_UPSAMPLING * side:
        found.append(f'config.image_size={config.image_size} upsamples the {side}x{side} images of {spec.source} '
                     f'{config.image_size / side:g} times: the generator learns mostly the resizing filter '
                     f'(set a smaller config.image_size)')
    return found
