"""A trained generator as a file that serves without jaxgan: `python -m jaxgan.export`.

    python -m jaxgan.export --workdir=DIR --format=stablehlo --out=g.jax      # jax.export, any batch size
    python -m jaxgan.export --workdir=DIR --format=savedmodel --out=g_saved   # TensorFlow (Serving)
    python -m jaxgan.export --workdir=DIR --format=onnx --out=g.onnx          # onnxruntime
    python -m jaxgan.export --workdir=DIR --format=savedmodel --out=sg2 --truncation=0.7   # StyleGAN2's psi, fixed

The exported function is the generator alone, deterministic, with its weights inside and a symbolic batch
size B (docs/serving.md):

    a GAN of latents     z float32 [B, Z] (+ labels int32 [B], a class-conditional G) -> images float32
                         [B, H, W, C] in [-1, 1] (vectors: float32 [B, D] in the data's units)
    a translation model  inputs float32 [B, H, W, C] in [-1, 1], at the model's size -> images float32
                         [B, H, W, C] in [-1, 1] (the generator of --direction)

the numbers `jaxgan.load(workdir)` computes for the same inputs (`Trained.images` draws z with
`model.latents(jax.random.key(seed), num)` and rounds (x + 1) * 127.5 to uint8). Z is the generator's
whole latent (InfoGAN's codes after z). The EMA generator unless --noema; BatchNorm as the run samples
(config.sample_bn: 'batch' normalises each call's batch by its own statistics, so an image depends on
the others in its batch; --bn=running for images that depend on their own latent only). StyleGAN2's noise
inputs are its fixed per-layer noise_const (the official noise_mode='const') and its truncation psi is
fixed at export (--truncation; 1, none, by default); the other generators' truncation trick resamples z,
which the caller does before calling. A table model (CTGAN) is refused: its rows come from the network's
output through the data transform in Python (`jaxgan.load(workdir).rows`).

Formats: `stablehlo`, jax.export's serialized module (jax.export.deserialize(bytearray(data)).call(z));
`savedmodel`, a TensorFlow SavedModel whose `serving_default` signature takes the inputs by name
(z, labels; inputs) and returns {'images': ...}, the weights as variables (jax2tf with native
serialization: an XlaCallModule op, which TensorFlow 2.15 or newer runs); `onnx`, an ONNX model (the
jax2onnx converter; inputs and output named as the signature's) for onnxruntime; what the converter
cannot convert is refused in one line naming the operation. stablehlo and savedmodel are lowered for
--platforms (cpu and cuda by default).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import shutil
import sys
import time
from typing import Any, Callable

import numpy as np

from jaxgan.errors import UserError
from jaxgan.models import layers as models_layers

FORMATS = ('stablehlo', 'savedmodel', 'onnx')
PLATFORMS = ('cpu', 'cuda', 'rocm', 'tpu')
OUTPUT = 'images'  # the output's name in the SavedModel's signature and the ONNX graph
ONNX_OPSET = 21  # onnxruntime 1.20 and newer run it


@dataclasses.dataclass(frozen=True, eq=False)
class Generator:
    """A generator as a pure function: apply(weights, *inputs) -> output, with its weights (numpy) and its
    inputs as (name, shape after the batch axis, dtype)."""

    apply: Callable[..., Any]
    weights: Any
    inputs: tuple[tuple[str, tuple[int, ...], str], ...]
    output_shape: tuple[int, ...]
    description: str

    def __call__(self, *inputs):
        return self.apply(self.weights, *inputs)


def generator(trained, *, ema: bool = True, truncation: float | None = None, bn: str | None = None,
              direction: str = 'a2b') -> Generator:
    """The generator of a `jaxgan.load`ed run as a pure function (the module docstring); a one-line
    UserError for a table model, a truncation or a direction it has not."""
    import jax
    model = trained.model
    if model.output == 'rows':
        raise UserError('a table model (CTGAN) is not exported: its rows come from the network through the data '
                        'transform in Python; use jaxgan.load(workdir).rows() or jaxgan.sample --out=ROWS.csv')
    which = 'EMA' if ema else 'trained'
    state = jax.device_get(trained.state)  # numpy weights: constants of one program on one device
    params_of = state.ema if ema else state.params
    if model.output == 'translations':
        if truncation is not None:
            raise UserError('--truncation is for generators of latents; a translation model has none')
        if direction not in model.directions:
            raise UserError(f'--direction={direction}: this {trained.config.model.name} model translates '
                            f'{" and ".join(model.directions)} only')
        name = model.directions[direction]
        weights = {'params': {name: params_of[name]}, 'state': {name: state.model_state[name]}}
        shape = tuple(model.spec.shape)

        def translate(w, x):
            return model.translate(w['params'], w['state'], x, direction)

        return Generator(translate, weights, (('inputs', shape, 'float32'),), shape,
                         f'{trained.config.model.name} {direction} ({which} params)')
    if model.output != 'samples':
        raise UserError(f'this run\'s model makes {model.output}, which jaxgan.export does not know')
    return _latent_generator(trained, model, params_of['G'], state.model_state['G'], truncation=truncation,
                             bn=bn or trained.config.sample_bn, which=which)


def _latent_generator(trained, gan, params, model_state, *, truncation: float | None, bn: str,
                      which: str) -> Generator:
    from jaxgan import sampling
    if bn not in ('batch', 'running'):
        raise UserError(f'--bn={bn} must be batch or running')
    psi = 1.0
    if truncation is not None:
        if not sampling.has_mapping(gan):
            raise UserError(f'--truncation: a {trained.config.model.name} generator truncates by resampling z, '
                            'which is random: truncate the latents before calling the exported function')
        sampling.check_truncation(gan, truncation)
        psi = float(truncation)
    spec = gan.spec
    image = spec.kind == 'image'
    mean, std = (None, None) if image else (np.asarray(spec.mean, np.float32), np.asarray(spec.std, np.float32))

    def generate(w, z, y=None):
        x = sampling.generate(gan, w['params'], w['state'], z, y, bn=bn, psi=psi)
        return x if image else x * std + mean  # vectors in the data's units (spec.to_data_units)

    inputs = (('z', (gan.latent_dim,), 'float32'),) + ((('labels', (), 'int32'),) if gan.g_conditioned else ())
    what = f'{trained.config.model.name} ({which} params, BatchNorm {bn}' + (f', psi {psi}' if psi != 1 else '') + ')'
    return Generator(generate, {'params': params, 'state': model_state}, inputs, tuple(spec.shape), what)


# --- the formats ------------------------------------------------------------------------------------------

def _arg_specs(g: Generator):
    """The inputs as ShapeDtypeStructs with one symbolic batch size."""
    import jax
    (b,) = jax.export.symbolic_shape('B')
    return [jax.ShapeDtypeStruct((b, *shape), np.dtype(dtype)) for _, shape, dtype in g.inputs]


def to_stablehlo(g: Generator, platforms: tuple[str, ...]) -> bytes:
    """jax.export's serialized module of the generator with its weights as constants."""
    import jax
    fn = jax.jit(functools.partial(g.apply, g.weights))
    return bytes(jax.export.export(fn, platforms=platforms)(*_arg_specs(g)).serialize())


def write_savedmodel(g: Generator, path: str, platforms: tuple[str, ...]) -> None:
    """A SavedModel with a `serving_default` signature (inputs by name, {'images': ...}); the weights are
    tf.Variables, the computation jax2tf's (native serialization, lowered for `platforms`)."""
    import tensorflow as tf
    from jax.experimental import jax2tf
    import jax

    batch = ['(B, ' + ', '.join(map(str, shape)) + ')' if shape else '(B,)' for _, shape, _ in g.inputs]
    converted = jax2tf.convert(g.apply, polymorphic_shapes=[None, *batch], with_gradient=False,
                               native_serialization_platforms=platforms)
    module = tf.Module()
    module.weights_ = tf.nest.map_structure(lambda a: tf.Variable(a, trainable=False),
                                            jax.tree_util.tree_map(np.asarray, g.weights))
    signature = [tf.TensorSpec((None, *shape), dtype, name=name) for name, shape, dtype in g.inputs]

    @tf.function(input_signature=signature, autograph=False)
    def serve(*inputs):
        return {OUTPUT: converted(module.weights_, *inputs)}

    module.serve = serve
    _quiet(('tensorflow',), logging.WARNING)  # an INFO line for each file the saver writes
    absl_level = logging.getLogger('absl').level
    try:
        tf.saved_model.save(module, path, signatures={'serving_default': serve})
    finally:
        # TensorFlow's saver (trackable/autotrackable.py) sets absl's verbosity to FATAL and back to what it
        # reads, which sets the absl logger's level to WARNING where it had none: the process's INFO lines
        # (a notebook's, a test's) would be lost after an export.
        logging.getLogger('absl').setLevel(absl_level)


def _quiet(loggers: tuple[str, ...], level: int) -> None:
    for name in loggers:
        logging.getLogger(name).setLevel(level)


def to_onnx(g: Generator) -> bytes:
    """The ONNX model of the generator (jax2onnx), its weights as initializers; a one-line UserError naming
    the operations the converter does not handle."""
    try:
        from jax2onnx import to_onnx as convert
    except ImportError as e:
        raise UserError(f'--format=onnx needs the jax2onnx converter ({e}): pip install -e ".[export]" then '
                        'pip install --no-deps jax2onnx (docs/serving.md)') from None
    # Its INFO lines, and a warning for each optional plugin (Equinox's, ...) whose library is not installed.
    _quiet(('jax2onnx', 'onnx_ir'), logging.WARNING)
    _quiet(('jax2onnx.plugins.plugin_system', 'onnx_ir.serde'), logging.ERROR)
    import jax
    specs = _arg_specs(g)
    # Traced here, before the converter patches Flax's modules: its BatchNorm plugin would turn a batch-
    # statistics BatchNorm (config.sample_bn='batch') into the running averages' form, other numbers.
    with models_layers.portable():  # the operations ONNX has (StyleGAN2's and R3GAN's zero insertion)
        closed = jax.make_jaxpr(functools.partial(g.apply, g.weights))(*specs)
    primitives = lambda *inputs: jax.core.eval_jaxpr(closed.jaxpr, closed.consts, *inputs)[0]  # noqa: E731
    try:
        model = convert(primitives, specs, model_name='generator', opset=ONNX_OPSET,
                        input_names=[name for name, _, _ in g.inputs], output_names=[OUTPUT])
    except Exception as e:  # noqa: BLE001 (whatever fails inside the converter: its errors name the op)
        raise UserError(f'--format=onnx: jax2onnx cannot convert this generator: {type(e).__name__}: '
                        f'{_first_line(e)}') from None
    return model.SerializeToString()


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


# --- the tool ---------------------------------------------------------------------------------------------

def check_out(out: str, overwrite: bool) -> None:
    """A UserError where --out exists (unless overwrite) or its folder cannot be made."""
    if not out:
        raise UserError('--out: give the path of the exported file (a folder for savedmodel)')
    if os.path.lexists(out) and not overwrite:
        raise UserError(f'--out={out} exists; pass --overwrite to replace it')
    parent = os.path.dirname(os.path.abspath(out))
    if os.path.exists(parent) and not os.path.isdir(parent):
        raise UserError(f'--out={out}: {parent} is not a folder')


def parse_platforms(text: str) -> tuple[str, ...]:
    names = tuple(p.strip() for p in text.split(',') if p.strip())
    unknown = [p for p in names if p not in PLATFORMS]
    if not names or unknown:
        raise UserError(f'--platforms={text}: give some of {", ".join(PLATFORMS)}, comma-separated')
    return names


def export(workdir: str, fmt: str, out: str, *, step: int | None = None, member: str | None = None,
           overwrite: bool = False, **options) -> dict:
    """Writes the generator of the run in `workdir` to `out` in `fmt` (module docstring), whole or not at
    all; options: `export_trained`'s. Bad input is refused before anything is written."""
    from jaxgan import api
    from jaxgan.core import parallel
    import jax
    if fmt not in FORMATS:
        raise UserError(f'--format={fmt} is not one of {", ".join(FORMATS)}')
    check_out(out, overwrite)
    trained = api.load(workdir, step, member, mesh=parallel.make_mesh(jax.local_devices()[:1]))
    return export_trained(trained, fmt, out, **options)


def export_trained(trained, fmt: str, out: str, *, ema: bool = True, truncation: float | None = None,
                   bn: str | None = None, direction: str = 'a2b',
                   platforms: tuple[str, ...] = ('cpu', 'cuda')) -> dict:
    """Writes the generator of `trained` (a jaxgan.api.Trained) to `out` in `fmt`, replacing what is there;
    returns what it wrote: the format, the path, its size in bytes, the seconds taken, the signature."""
    if fmt not in FORMATS:
        raise UserError(f'--format={fmt} is not one of {", ".join(FORMATS)}')
    start = time.perf_counter()
    g = generator(trained, ema=ema, truncation=truncation, bn=bn, direction=direction)
    tmp = _temporary(out)
    try:
        if fmt == 'stablehlo':
            with open(tmp, 'wb') as f:
                f.write(to_stablehlo(g, platforms))
        elif fmt == 'onnx':
            with open(tmp, 'wb') as f:
                f.write(to_onnx(g))
        else:
            write_savedmodel(g, tmp, platforms)
        _replace(tmp, out)
    finally:
        _remove(tmp)
    return dict(format=fmt, out=out, bytes=_size(out), seconds=round(time.perf_counter() - start, 2),
                step=trained.step, generator=g.description, signature=signature(g))


def signature(g: Generator) -> str:
    """'z float32 [B, 8], labels int32 [B] -> images float32 [B, 16, 16, 1]'"""
    dims = lambda shape: '[' + ', '.join(['B', *map(str, shape)]) + ']'  # noqa: E731
    ins = ', '.join(f'{name} {dtype} {dims(shape)}' for name, shape, dtype in g.inputs)
    return f'{ins} -> {OUTPUT} float32 {dims(g.output_shape)}'


def _temporary(out: str) -> str:
    directory, name = os.path.split(os.path.abspath(out))
    os.makedirs(directory, exist_ok=True)
    return os.path.join(directory, f'.{name}.{os.getpid()}.tmp')


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def _replace(tmp: str, out: str) -> None:
    """Moves the finished artifact into place, replacing what --overwrite allowed to be replaced."""
    if os.path.isdir(out) and not os.path.islink(out):
        shutil.rmtree(out)
    os.replace(tmp, out)


def _size(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def _main(argv) -> None:
    from absl import flags
    del argv
    f = flags.FLAGS
    done = export(f.workdir, f.format, f.out, step=f.step, member=f.member, ema=f.ema, truncation=f.truncation,
                  bn=f.bn, direction=f.direction, platforms=parse_platforms(f.platforms), overwrite=f.overwrite)
    print(f'wrote {done["out"]} ({done["format"]}, {done["bytes"] / 1e6:.1f} MB, {done["seconds"]} s): '
          f'{done["generator"]} of step {done["step"]}: {done["signature"]}', file=sys.stderr)


def main() -> None:
    from absl import flags
    from jaxgan import cli
    flags.DEFINE_string('workdir', None, 'The trained run\'s workdir.', required=True)
    flags.DEFINE_string('format', None, 'stablehlo: jax.export\'s serialized module (a file); savedmodel: a '
                        'TensorFlow SavedModel (a folder) with a serving_default signature; onnx: an ONNX model '
                        '(a file) for onnxruntime.', required=True)
    flags.DEFINE_string('out', None, 'Where the artifact goes; refused if it exists, unless --overwrite.',
                        required=True)
    flags.DEFINE_bool('overwrite', False, 'Replace an existing --out.')
    flags.DEFINE_integer('step', None, 'Checkpoint step; the latest by default.')
    flags.DEFINE_bool('ema', True, 'Export the EMA generator (--noema: the trained params).')
    flags.DEFINE_float('truncation', None, 'StyleGAN2 (a mapping network): the truncation psi fixed in the '
                       'exported function, w = w_avg + PSI (w - w_avg); default none (1). Other generators '
                       'truncate z by resampling: do it before calling.')
    flags.DEFINE_string('bn', None, 'BatchNorm in the exported generator: batch (each call\'s batch statistics) or '
                        'running (the averages gathered in training); default: the run\'s config.sample_bn.')
    flags.DEFINE_enum('direction', 'a2b', ['a2b', 'b2a'], 'A translation model: the generator exported (b2a for '
                      'CycleGAN and U-GAT-IT).')
    flags.DEFINE_string('platforms', 'cpu,cuda', 'stablehlo and savedmodel: the platforms the module is lowered '
                        f'for, comma-separated ({", ".join(PLATFORMS)}).')
    cli.define_member_flag()
    cli.run_main(_main)


if __name__ == '__main__':
    main()
