"""The latent space (Radford et al. 2015): interpolation between codes and vector arithmetic on averaged
codes, from a trained workdir; and InfoGAN's code sweeps.

    python -m jaxgan.latent --workdir=DIR --op=interpolate --seeds=3,7,11 --steps=8 --path=slerp --out=walk.png
    python -m jaxgan.latent --workdir=DIR --op=arithmetic --a=1,2,3 --b=4,5,6 --c=7,8,9 --out=sum.png

A code is named by a seed: `codes(gan, [s])` is the latent vector that jax.random.key(s) draws, the same
that `python -m jaxgan.sample --seed=s --num=1` renders. Interpolation writes one row through the codes
in turn; `linear` mixes them directly, `slerp` along the great circle, which keeps a Gaussian code's
norm typical in between. Arithmetic averages the codes of each group (DCGAN averaged three) and renders
mean(a) - mean(b) + mean(c): a row per group (its codes, then their mean) and a last row with the result
and noisy neighbours of it (the result plus N(0, 0.25^2) noise). `--out=FILE.npy` writes the images
themselves, uint8 [N, H, W, C] in the grid's order, instead of the grid.

The tools of a generator with a mapping network (config.model.name=stylegan2), as StyleGAN2's official
style_mixing.py and truncation sweeps:

    python -m jaxgan.latent --workdir=DIR --op=mixing --rows=0,1,2 --cols=3,4,5,6 --styles=0-3 --out=mix.png
    python -m jaxgan.latent --workdir=DIR --op=truncation --seeds=0,1,2 --psis=1,0.7,0.5,0 --out=trunc.png

Mixing: the first row holds the column seeds' images, the first column the row seeds'; the cell (r, c)
is row r's ws with the layers in --styles taken from column c's (coarse layers, the first ones, carry
pose and shape; fine ones colour). Truncation: a row per seed, a column per psi, w = w_avg + psi (w -
w_avg) on the first --cutoff layers (all by default); psi 0 is the tracked average w. Both use the EMA
generator with its constant noise.

The tools walk a GAN's latent space: a translation run (`python -m jaxgan.translate`) or a table run
(`python -m jaxgan.sample --out=ROWS.csv`) is refused in one line that names its tool.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import family, models, sampling
from jaxgan.errors import UserError


def codes(gan, seeds: Sequence[int]) -> jax.Array:
    """The latent vectors [len(seeds), latent_dim] named by seeds."""
    return jnp.concatenate([gan.latents(jax.random.key(int(s)), 1) for s in seeds])


def check_steps(steps: int) -> None:
    if steps < 2:
        raise UserError(f'--steps={steps}: a leg of the interpolation needs at least 2 images (its ends)')


def interpolate(a: jax.Array, b: jax.Array, steps: int, path: str = 'linear') -> jax.Array:
    """`steps` codes from a to b inclusive, [steps, Z]: straight, or spherical (slerp)."""
    check_steps(steps)
    t = jnp.linspace(0.0, 1.0, steps)[:, None]
    if path == 'linear':
        return (1 - t) * a + t * b
    if path != 'slerp':
        raise UserError(f'--path={path!r} is not linear or slerp')
    cos = jnp.dot(a, b) / (jnp.linalg.norm(a) * jnp.linalg.norm(b))
    omega = jnp.arccos(jnp.clip(cos, -1.0, 1.0))
    if float(jnp.abs(jnp.sin(omega))) < 1e-6:  # (anti)parallel codes: the straight line
        return (1 - t) * a + t * b
    return (jnp.sin((1 - t) * omega) * a + jnp.sin(t * omega) * b) / jnp.sin(omega)


def walk(points: jax.Array, steps: int, path: str) -> jax.Array:
    """Codes through points[0], points[1], ... in turn, `steps` per leg (shared ends counted once)."""
    legs = [interpolate(points[i], points[i + 1], steps, path)[(1 if i else 0):] for i in range(len(points) - 1)]
    return jnp.concatenate(legs)


def arithmetic(a: jax.Array, b: jax.Array, c: jax.Array) -> jax.Array:
    """mean(a) - mean(b) + mean(c) of code groups [n, Z]."""
    return a.mean(0) - b.mean(0) + c.mean(0)


def with_codes(gan, z: jax.Array, categorical: int | None = None, continuous: dict[int, float] | None = None) -> jax.Array:
    """z with InfoGAN's categorical code set to `categorical` and continuous code i to continuous[i]."""
    if categorical is not None:
        onehot = jax.nn.one_hot(categorical, gan.categorical_code)
        z = z.at[..., gan.z_dim:gan.z_dim + gan.categorical_code].set(onehot)
    for i, value in (continuous or {}).items():
        z = z.at[..., gan.z_dim + gan.categorical_code + i].set(value)
    return z


def render(gan, state, config, z: jax.Array, y: jax.Array | None = None) -> np.ndarray:
    """uint8 images of codes z with the EMA generator."""
    return sampling.sample(gan, state.ema['G'], state.model_state['G'], z, y, bn=config.sample_bn,
                         batch_size=max(config.batch_size, len(z)))


def _check_mapping(config, op: str) -> None:
    """Mixing and truncation work on ws: G must have a mapping network (its architecture's capability)."""
    architecture = models.find(config.model.name)
    if architecture is None or architecture.mapping is None:
        having = ', '.join(a.name for a in models.architectures() if a.mapping)
        raise UserError(f'--op={op} needs a generator with a mapping network (config.model.name={having}); '
                        f'model {config.model.name} has none')


def parse_styles(text: str, num_ws: int) -> list[int]:
    """--styles '0-3' or '0,2,5': layer indices of ws, each below num_ws."""
    layers = []
    try:
        for part in (p.strip() for p in text.split(',') if p.strip()):
            lo, _, hi = part.partition('-')
            layers.extend(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise UserError(f'--styles={text!r}: layers as ranges and indices, e.g. 0-3 or 0,2,5') from None
    if not layers or min(layers) < 0 or max(layers) >= num_ws:
        raise UserError(f'--styles={text!r}: layers from 0 to {num_ws - 1} (this generator has {num_ws} ws)')
    return sorted(set(layers))


def mixed_ws(row_ws: jax.Array, col_ws: jax.Array, styles: Sequence[int]) -> jax.Array:
    """[R * C, num_ws, w_dim]: for each row r and column c, row r's ws with the layers `styles` of c's."""
    take = jnp.zeros(row_ws.shape[1], bool).at[jnp.asarray(styles)].set(True)[None, None, :, None]
    return jnp.where(take, col_ws[None], row_ws[:, None]).reshape(-1, *row_ws.shape[1:])


def _synthesize(gan, state, ws: jax.Array) -> np.ndarray:
    variables = {'params': state.ema['G'], **state.model_state['G']}
    images = jax.jit(lambda v, w: gan.generator.apply(v, w, method='synthesize'))(variables, ws)
    return gan.spec.to_data_units(np.asarray(images))


def _map(gan, state, z: jax.Array, y: jax.Array | None, psi: float = 1.0, cutoff: int | None = None) -> jax.Array:
    variables = {'params': state.ema['G'], **state.model_state['G']}
    return gan.generator.apply(variables, z, y, method='map', truncation_psi=psi, truncation_cutoff=cutoff)


def style_grid(gan, state, f, y_value) -> tuple[np.ndarray, int]:
    """The images of --op=mixing or --op=truncation, and the grid's columns."""
    label = lambda n: None if y_value is None else jnp.full((n,), y_value, jnp.int32)
    if f.op == 'mixing':
        rows, cols = _seeds(f.rows, 'rows'), _seeds(f.cols, 'cols')
        styles = parse_styles(f.styles, gan.generator.num_ws)
        row_ws = _map(gan, state, codes(gan, rows), label(len(rows)))
        col_ws = _map(gan, state, codes(gan, cols), label(len(cols)))
        ws = jnp.concatenate([col_ws, jnp.concatenate([row_ws[:, None], mixed_ws(row_ws, col_ws, styles).reshape(
            len(rows), len(cols), *row_ws.shape[1:])], axis=1).reshape(-1, *row_ws.shape[1:])])
        images = _synthesize(gan, state, ws)
        blank = np.full_like(images[:1], 255)
        return np.concatenate([blank, images]), len(cols) + 1
    seeds = _seeds(f.seeds, 'seeds')
    try:
        psis = [float(p) for p in f.psis.split(',') if p.strip()]
    except ValueError:
        raise UserError(f'--psis={f.psis!r}: a comma-separated list of numbers') from None
    if not psis:
        raise UserError('--psis: give at least one truncation psi')
    if f.cutoff is not None and not 0 < f.cutoff <= gan.generator.num_ws:
        raise UserError(f'--cutoff={f.cutoff}: from 1 to {gan.generator.num_ws} (the generator\'s ws)')
    z = codes(gan, seeds)
    ws = jnp.stack([_map(gan, state, z, label(len(seeds)), psi, f.cutoff) for psi in psis], axis=1)
    return _synthesize(gan, state, ws.reshape(-1, *ws.shape[2:])), len(psis)


def _seeds(text: str, flag: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(',') if s.strip()]
    except ValueError:
        raise UserError(f'--{flag}={text!r}: a comma-separated list of integer seeds') from None
    if not seeds:
        raise UserError(f'--{flag}: give at least one seed')
    return seeds


def check_out(out: str) -> None:
    """--out: .png, a grid of the images; .npy, the images themselves (uint8 [N, H, W, C], row by row)."""
    if not out.endswith(('.png', '.npy')):
        raise UserError(f'--out={out} must end in .png (a grid) or .npy (the images as an array)')


def _main(argv) -> None:
    from absl import flags
    from jaxgan import api
    del argv
    f = flags.FLAGS
    check_out(f.out)
    if f.op == 'interpolate':
        check_steps(f.steps)
    trained = api.load(f.workdir, f.step, f.member)
    config, gan, state = trained.config, trained.model, trained.state
    family.check_output(gan, 'samples', 'jaxgan.latent')  # translation: jaxgan.translate; a table: jaxgan.sample
    if gan.spec.kind != 'image':
        raise UserError('the latent tools render images; this model makes vectors')
    y = None
    if gan.g_conditioned:
        y_value = f.label if f.label is not None else 0
        if not 0 <= y_value < gan.num_classes:
            raise UserError(f'--label={y_value}: the classes are 0 to {gan.num_classes - 1}')
    if f.op in ('mixing', 'truncation'):
        _check_mapping(config, f.op)
        images, columns = style_grid(gan, state, f, y_value if gan.g_conditioned else None)
        _write(f.out, images, columns)
        return
    if f.op == 'interpolate':
        seeds = _seeds(f.seeds, 'seeds')
        if len(seeds) < 2:
            raise UserError('--seeds: interpolation needs at least two codes')
        z = walk(codes(gan, seeds), f.steps, f.path)
        columns = len(z)
    else:
        groups = [codes(gan, _seeds(getattr(f, name), name)) for name in ('a', 'b', 'c')]
        columns = max(len(g) for g in groups) + 1
        # A row per group: its codes, then their mean (repeated to fill the row); the last row: the
        # result, then noisy neighbours of it.
        rows = [jnp.concatenate([g, jnp.repeat(g.mean(0, keepdims=True), columns - len(g), axis=0)]) for g in groups]
        result = arithmetic(*groups)
        noise = 0.25 * jax.random.normal(jax.random.key(0), (columns - 1, result.shape[0]))
        rows.append(jnp.concatenate([result[None], result[None] + noise]))
        z = jnp.concatenate(rows)
    if gan.g_conditioned:
        y = jnp.full((len(z),), y_value, jnp.int32)
    _write(f.out, render(gan, state, config, z, y), columns)


def _write(out: str, images: np.ndarray, columns: int) -> None:
    if out.endswith('.npy'):
        sampling.save_npy(out, images)
    else:
        sampling.save_png(out, sampling.make_grid(images, columns))
    print(f'wrote {out}')


def main() -> None:
    from absl import flags
    from jaxgan import cli
    flags.DEFINE_string('workdir', None, 'The training run\'s workdir.', required=True)
    flags.DEFINE_enum('op', 'interpolate', ['interpolate', 'arithmetic', 'mixing', 'truncation'],
                      'What to render (mixing, truncation: StyleGAN2 only).')
    flags.DEFINE_string('seeds', '0,1', 'interpolate: codes to walk through, as seeds; truncation: a row per seed.')
    flags.DEFINE_string('rows', '0,1,2', 'mixing: seeds of the rows (whose ws are kept outside --styles).')
    flags.DEFINE_string('cols', '3,4,5,6', 'mixing: seeds of the columns (whose ws replace --styles).')
    flags.DEFINE_string('styles', '0-3', 'mixing: the layers of ws taken from the columns, e.g. 0-3 (coarse) or 4-7.')
    flags.DEFINE_string('psis', '1,0.7,0.5,0', 'truncation: a column per psi (1: none; 0: the average w).')
    flags.DEFINE_integer('cutoff', None, 'truncation: truncate the first this many ws only (default: all).')
    flags.DEFINE_integer('steps', 8, 'interpolate: images per leg, ends included (at least 2).')
    flags.DEFINE_string('path', 'slerp', 'interpolate: linear or slerp.')
    flags.DEFINE_string('a', '0,1,2', 'arithmetic: seeds of the first group.')
    flags.DEFINE_string('b', '3,4,5', 'arithmetic: seeds of the group subtracted.')
    flags.DEFINE_string('c', '6,7,8', 'arithmetic: seeds of the group added.')
    flags.DEFINE_integer('label', None, 'Class, for class-conditional generators (default 0).')
    flags.DEFINE_integer('step', None, 'Checkpoint step; the latest by default.')
    flags.DEFINE_string('out', 'latent.png', '.png: a grid of the images; .npy: the images, uint8 [N, H, W, C] '
                        'in the grid\'s order.')
    cli.define_member_flag()
    cli.run_main(_main)


if __name__ == '__main__':
    main()
