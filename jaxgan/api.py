"""A trained model from Python: `jaxgan.load(workdir)`, what the command-line tools use.

    import jaxgan
    from jaxgan.sampling import make_grid, save_png

    run = jaxgan.load('runs/quickstart')                  # the latest checkpoint; step=, member= as the tools'
    save_png('grid.png', make_grid(run.images(16, seed=0)))  # uint8 [16, H, W, C], the data's units

`load` returns a `Trained`: the run's config, model, state and step, and the methods of what its generator
makes (the family interface's `model.output`):

    'samples'       run.images(num, seed=, label=, truncation=, ema=)  uint8 images [N, H, W, C] (or
                                                                       vectors): what `jaxgan.sample` writes
    'translations'  run.translate(images, direction=, ema=)            uint8 images at the model's size
                    run.translate_folder(src, dst, direction=, ema=)   what `jaxgan.translate` writes
    'rows'          run.rows(num, seed=, where=(column, value), ema=,  a pandas DataFrame in the input's schema
                             modes=)                                   (modes: 'draw' or 'argmax', docs/tables.md)

`jaxgan.load('PATH.pkl')` reads an official network pickle instead (StyleGAN2-ADA's or R3GAN's; jaxgan.pretrained, nothing
of the file is run): its G_ema as the EMA generator, G as the trained params, at step 0, no optimizer state.

A method of another kind of output is refused in one line (jaxgan.errors.UserError) naming the right one.
The EMA generator is used unless ema=False (the tools' --noema); sampling uses the run's config.sample_bn
and config.batch_size, as the tools do.
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import sampling
from jaxgan.data import sources, transforms
from jaxgan.errors import UserError

# The method of each kind of generator output, for the refusals (family.TOOLS names the tools').
METHODS = {'samples': 'images()', 'translations': 'translate() or translate_folder()', 'rows': 'rows()'}


def load(workdir: str, step: int | None = None, member: str | int | None = None, *,
         mesh: jax.sharding.Mesh | None = None) -> 'Trained':
    """The trained run in `workdir` at `step` (the latest by default); for an ensemble, the member that
    `member` names (an index, 'best' or 'best:METRIC', as --member). mesh: the devices its state is
    restored onto (all local devices by default). A file ending in .pkl: an official network pickle
    (`load_pickle`)."""
    from jaxgan.checkpoint import load_run
    if str(workdir).endswith('.pkl') and not os.path.isdir(workdir):
        if step is not None or member is not None:
            raise UserError(f'{workdir} is a network pickle: it has no steps or members')
        return load_pickle(workdir)
    config, model, state = load_run(workdir, step, mesh=mesh, member=None if member is None else str(member))
    return Trained(workdir=workdir, config=config, model=model, state=state, step=int(state.step))


def load_pickle(path: str, base: Any = None) -> 'Trained':
    """The networks of the official network pickle at `path` as a Trained of step 0 (G_ema the EMA, G the
    params; no optimizer state), with the config that builds them: `base` (the default config) with the
    pickle's architecture fields."""
    from jaxgan import ensemble, pretrained
    from jaxgan.core.state import RunState
    official = pretrained.read(path)
    config, spec = official.config(base)
    model = ensemble.member_gan(config, spec)
    zero = jnp.zeros((), jnp.int32)
    state = RunState(step=zero, rng=jnp.zeros((2,), jnp.uint32), opt_state={}, terms={}, nonfinite_skips=zero,
                     **official.networks(model))
    return Trained(workdir=path, config=config, model=model, state=state, step=0)


@dataclasses.dataclass(frozen=True, eq=False)
class Trained:
    """A trained run: its config, its model (the family interface's Model), its state and step."""

    workdir: str
    config: Any
    model: Any
    state: Any
    step: int

    @property
    def output(self) -> str:
        """What its generator makes: 'samples', 'translations' or 'rows'."""
        return self.model.output

    def __repr__(self) -> str:
        return f'Trained({self.config.model.name} of step {self.step} in {self.workdir}: makes {self.output})'

    def _check(self, wanted: str, method: str) -> None:
        """A one-line UserError unless the model makes `wanted`, naming the method that serves it (in the
        words of family.check_output)."""
        if self.output != wanted:
            raise UserError(f'{method}: this run\'s model makes {self.output}, not {wanted}: use '
                            f'{METHODS.get(self.output, "its own tools")}')

    def images(self, num: int, *, seed: int = 0, label: int | None = None, truncation: float | None = None,
               ema: bool = True, batch_size: int | None = None) -> np.ndarray:
        """`num` samples in the data's units (uint8 images [N, H, W, C], or vectors) from latents of `seed`,
        as `jaxgan.sample --out=X.npy` writes them; label: every sample of that class (a conditional
        generator); truncation: the architecture's own truncation trick (jaxgan.sample's --truncation)."""
        self._check('samples', 'images')
        if num <= 0:
            raise UserError(f'images: num={num} must be positive')
        return self.model.samples(self.state, num, seed=seed, ema=ema, label=label, truncation=truncation,
                                  bn=self.config.sample_bn, batch_size=batch_size or self.config.batch_size)

    def rows(self, num: int, *, seed: int = 0, where: tuple[str, Any] | None = None, ema: bool = True,
             modes: str | None = None):
        """`num` synthetic rows, a pandas DataFrame in the input's schema; where=(column, value): every row
        of that category of a categorical or boolean column (value as in the input, or as text as
        `jaxgan.sample --where` takes it); modes: 'draw' or 'argmax', how a numerical column's mode is
        picked (None: the run's config.table.sample_modes)."""
        self._check('rows', 'rows')
        if num <= 0:
            raise UserError(f'rows: num={num} must be positive')
        if where is not None:
            column, value = where
            where = (column, self.model.transform.parse_value(column, value) if isinstance(value, str) else value)
        params = (self.state.ema if ema else self.state.params)['G']
        return self.model.sample(params, self.state.model_state['G'], num, seed=seed,
                                 batch_size=self.config.batch_size, where=where, bn=self.config.sample_bn, modes=modes)

    def translate(self, images: np.ndarray | Sequence[np.ndarray], direction: str = 'a2b', *, ema: bool = True,
                  batch_size: int = 16) -> np.ndarray:
        """Translations uint8 [N, size, size, C] of `images` (uint8 [N, H, W, C] or [N, H, W], or a list of
        images of any sizes), each first converted to the model's channels, centre cropped (config.data.crop)
        and resized to the model's size as the training data were."""
        self._check('translations', 'translate')
        self._check_direction(direction, 'translate')
        if batch_size <= 0:
            raise UserError(f'translate: batch_size={batch_size} must be positive')
        return self._translate(self._prepare(images), direction, ema, batch_size)

    def translate_folder(self, src: str, dst: str, direction: str = 'a2b', *, ema: bool = True,
                         batch_size: int = 16, flags: tuple[str, str] = ('src', 'dst')) -> list[str]:
        """Translates the image file `src`, or the image files below the folder `src`, into PNGs of the same
        names below `dst` (`jaxgan.translate`'s module docstring); every input is read and checked before
        anything is written. Returns the paths written. flags: how messages name src and dst."""
        self._check('translations', 'translate_folder')
        self._check_direction(direction, 'translate_folder')
        if batch_size <= 0:
            raise UserError(f'translate_folder: batch_size={batch_size} must be positive')
        root, files = inputs(src, flags[0])
        paths = output_paths(src, root, files, dst, flags)
        size, channels = self.model.spec.shape[0], self.model.spec.shape[-1]
        images = read_images(files, size=size, channels=channels, crop=self.config.data.crop)
        for path, image in zip(paths, self._translate(images, direction, ema, batch_size)):
            sampling.save_png(path, image)
        return paths

    def _check_direction(self, direction: str, method: str) -> None:
        if direction not in self.model.directions:
            raise UserError(f'{method}: direction={direction!r}: this {self.config.model.name} model translates '
                            f'{" and ".join(self.model.directions)} only')

    def _prepare(self, images) -> np.ndarray:
        """uint8 [N, size, size, C] of the model from the images given to `translate`."""
        shape = tuple(self.model.spec.shape)
        if isinstance(images, np.ndarray) and images.shape[1:] == shape and images.dtype == np.uint8:
            return images
        try:
            listed = [np.asarray(x) for x in images]
        except TypeError:
            raise UserError(f'translate: images must be an array [N, H, W, C] or a list of images, not '
                            f'{type(images).__name__}') from None
        for i, x in enumerate(listed):
            if x.dtype != np.uint8 or x.ndim not in (2, 3) or (x.ndim == 3 and x.shape[-1] not in (1, 3, 4)):
                raise UserError(f'translate: image {i} is {x.dtype} {list(x.shape)}; give uint8 images [H, W, C] '
                                '(C 1, 3 or 4) or [H, W]')
        if not listed:
            raise UserError('translate: no images given')
        return np.stack([transforms.preprocess_image(x, size=shape[0], crop=self.config.data.crop,
                                                     channels=shape[-1], name=f'image {i}')
                         for i, x in enumerate(listed)])

    def _translate(self, images: np.ndarray, direction: str, ema: bool, batch_size: int) -> np.ndarray:
        generator = self.model.directions[direction]
        params = {generator: (self.state.ema if ema else self.state.params)[generator]}
        model_state = {generator: self.state.model_state[generator]}
        return translate_batches(self.model, params, model_state, images, direction, batch_size)


# --- folders of images (jaxgan.translate's too) ---------------------------------------------------------

def inputs(path: str, flag: str = '--input') -> tuple[str, list[str]]:
    """(the folder the output names are relative to, the image files) of an image file or a folder."""
    if os.path.isfile(path):
        return os.path.dirname(os.path.abspath(path)), [path]
    if not os.path.isdir(path):
        raise UserError(f'{flag}={path}: no such file or folder')
    try:
        return path, sources.image_files(path)
    except UserError:
        raise UserError(f'{flag}={path} holds no image files '
                        f'({"/".join(s[1:] for s in sources.IMAGE_SUFFIXES)})') from None


def output_paths(input_path: str, root: str, files: list[str], out: str,
                 flags: tuple[str, str] = ('--input', '--out')) -> list[str]:
    """Where each input's translation goes: OUT/<its path below root, extension aside>.png; a UserError
    where out is a file or the input folder, or where two inputs, or an input and an output, share a path."""
    real = lambda p: os.path.realpath(os.path.abspath(p))  # noqa: E731
    flag = flags[1]
    if os.path.isfile(out):
        raise UserError(f'{flag}={out} is a file; give a folder for the translations')
    if os.path.isdir(input_path) and real(out) == real(input_path):
        raise UserError(f'{flag}={out} is the input folder: the translations would mix with the inputs; give '
                        'another folder')
    paths = [os.path.join(out, os.path.splitext(os.path.relpath(f, root))[0] + '.png') for f in files]
    seen: dict[str, str] = {}
    for f, p in zip(files, paths):
        if real(p) in seen:
            raise UserError(f'{seen[real(p)]} and {f} would both be translated to {p}: rename one')
        seen[real(p)] = f
    for f in files:
        if real(f) in seen:
            raise UserError(f'{flag}={out}: the translation of {seen[real(f)]} would overwrite the input {f}; '
                            'give another folder')
    return paths


def read_images(files: list[str], *, size: int, channels: int, crop: int, workers: int = 8) -> np.ndarray:
    """The images uint8 [N, size, size, channels], decoded, cropped and resized as the training data."""
    def one(f: str) -> np.ndarray:
        return transforms.preprocess_image(sources.decode_image(f, f), size=size, crop=crop, channels=channels,
                                           name=f)

    with ThreadPoolExecutor(max(1, min(workers, len(files)))) as pool:
        return np.stack(list(pool.map(one, files)))


def translate_batches(model, params, model_state, images: np.ndarray, direction: str = 'a2b',
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
