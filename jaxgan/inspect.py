"""A look inside a trained GAN: the convolution filters that face the image, trained and at the start.

    python -m jaxgan.inspect --workdir=DIR --filters [--step=N] [--out=PATH.png]

writes one PNG (by default DIR/inspect/filters_step_<N>.png) with a row per image-side convolution of
each network of the game: a discriminator's first (the one applied to the image), a generator's last
(the one that makes the image), and a translation generator's first too (it reads an image): D's first
and G's last for a GAN; D_a's, D_b's, G_ab's and G_ba's for CycleGAN. In each row, the filters at step 0
on the left and at step N (the latest checkpoint by default) on the right, a white band between. Step 0
is not read from a checkpoint: it is rebuilt from the run's seed, `create_state(gan.game, config.seed,
...)`, as training starts. The weights are the trained ones, `state.params` (not G's EMA); under
spectral normalisation the raw kernel, which the layer divides as a whole by one positive number, a
scale that drawing each filter by its own range leaves unseen.

A convolution is any 4-D kernel [kh, kw, in, out] among a layer's params, found by its shape, not its
layer's class or name, in the order a forward pass applies them: Flax's Conv and ConvTranspose,
StyleGAN2's modulated convolutions (the stored weight, before the styles scale it per sample) and
ProGAN's equalised-learning-rate layers (the stored weight, before its constant He scale) alike. StyleGAN2
and ProGAN draw images with 1x1 toRGB layers and read them with 1x1 fromRGB layers: each filter is one
colour (the mix of image channels it paints or reads). A growing ProGAN shows the layers of the stage it
has reached; its last layer is the newest toRGB (the one with the largest output), not the one it fades out.

A filter is a kh x kw image over the image-side channels: for a first layer, each of the `out` filters
over the `in` image channels, as the layer matches it against the image; for a last layer, each of the
`in` feature maps over the `out` image channels, as it paints the image (the kernel flipped in both
spatial axes: a convolution, transposed or not, spreads one input unit over the output as the mirrored
kernel). Each filter is drawn in RGB where it has 3 channels, grey where it has 1, and otherwise as a
row of grey images, one per channel (a D conditioned by concatenated one-hot labels sees 1 + classes
channels, pix2pix's D the input and output side by side). Each filter is scaled to [0, 255] by its own
minimum and maximum (a constant filter is mid-grey) and enlarged to about 32 pixels a side.

Models without convolutions (`mlp`, tables and vector data) have no filters: a one-line error says so.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

import flax.linen as nn
import jax
import numpy as np

from jaxgan import sampling
from jaxgan.errors import UserError

TILE = 32  # pixels a side that a filter is enlarged to, at least (an integer factor of its kernel size)
GAP = 8  # white pixels between the step-0 and step-N columns and between the rows


@dataclasses.dataclass(frozen=True)
class Layer:
    """A convolution found by running a network: its module path, kernel [kh, kw, in, out], and whether
    it is transposed; `kind`, the module's class where it is not Flax's Conv or ConvTranspose; `keys`,
    where the kernel is in the network's params; `area`, the height times width of its output."""

    path: str
    kernel: np.ndarray
    transposed: bool
    kind: str = ''
    keys: tuple[str, ...] = ()
    area: int = 0

    def describe(self) -> str:
        kh, kw, cin, cout = self.kernel.shape
        kind = 'ConvTranspose' if self.transposed else self.kind or 'Conv'
        return f'{self.path} ({kind} {kh}x{kw}, {cin} -> {cout} channels)'


def _lookup(tree: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        tree = tree[key]
    return tree


def conv_layers(module: nn.Module, variables: dict, args: tuple) -> list[Layer]:
    """The convolutions of `module` in the order a forward pass (train=False) on `args` applies them (a
    module called twice, twice). A convolution is any 4-D array among a module's own params, [kh, kw,
    in, out] as Flax's and this project's layers keep them: found by shape, whatever the layer's class
    or name (Flax's Conv, StyleGAN2's modulated and ProGAN's equalised-rate layers alike: the stored
    weight itself). The pass runs without jit, so that of a switch over stages (a growing ProGAN) only
    the stage the network is at runs."""
    calls: list[Layer] = []
    params = variables.get('params', {})

    def interceptor(next_fun, call_args, kwargs, context):
        out = next_fun(*call_args, **kwargs)
        m = context.module
        own = m.variables.get('params', {}) if m.scope is not None else {}
        for name, value in own.items():
            if getattr(value, 'ndim', 0) != 4:
                continue
            keys = (*m.path, name)
            try:
                kernel = _lookup(params, keys)
            except (KeyError, TypeError):  # a lifted module's path; its value here is the same array
                kernel = value
            calls.append(Layer('/'.join(m.path), np.asarray(kernel, np.float32), isinstance(m, nn.ConvTranspose),
                               '' if isinstance(m, (nn.Conv, nn.ConvTranspose)) else type(m).__name__, keys,
                               int(np.prod(out.shape[1:3])) if getattr(out, 'ndim', 0) == 4 else 0))
        return out

    with jax.disable_jit(), nn.intercept_methods(interceptor):
        module.apply(variables, *args, train=False)
    return calls


def network_layers(gan, state, name: str) -> list[Layer]:
    """The convolutions of network `name` (e.g. 'G', 'D', 'G_ab') of `state`, in the order they are applied."""
    network = gan.game.networks[name]
    variables = {'params': state.params[name], **state.model_state[name]}
    return conv_layers(network.module, jax.device_get(variables), network.init_args())


def first_layer(layers: list[Layer]) -> Layer:
    """The convolution that reads the network's input: the first applied."""
    return layers[0]


def last_layer(layers: list[Layer]) -> Layer:
    """The convolution that paints the image: the last applied of those with the largest output (a
    growing ProGAN's newest toRGB, not the previous stage's that it fades out)."""
    return max(enumerate(layers), key=lambda il: (il[1].area, il[0]))[1]


def at(layer: Layer, params: dict) -> Layer:
    """`layer` with its kernel as `params` (the network's, at another step) hold it."""
    return dataclasses.replace(layer, kernel=np.asarray(_lookup(jax.device_get(params), layer.keys), np.float32))


def filters(layer: Layer, image_side: str) -> np.ndarray:
    """The layer's filters [N, kh, kw, C], C the image-side channels: `image_side` 'in' (D's first layer:
    one filter per output channel) or 'out' (G's last: one per input channel, spatially flipped)."""
    k = layer.kernel
    if image_side == 'in':
        return np.transpose(k, (3, 0, 1, 2))
    return np.transpose(k[::-1, ::-1], (2, 0, 1, 3))


def normalise(f: np.ndarray) -> np.ndarray:
    """Filters [N, ...] to uint8, each by its own minimum and maximum; a constant one is mid-grey."""
    axes = tuple(range(1, f.ndim))
    lo, hi = f.min(axis=axes, keepdims=True), f.max(axis=axes, keepdims=True)
    span = hi - lo
    scaled = np.where(span > 0, (f - lo) / np.where(span > 0, span, 1), 0.5)
    return np.round(255 * scaled).astype(np.uint8)


def panel(f: np.ndarray) -> np.ndarray:
    """Filters [N, kh, kw, C] as one RGB uint8 image: a square grid of RGB (C 3) or grey (C 1) tiles, or a
    row of C grey tiles per filter (other C); each tile enlarged to at least TILE pixels a side."""
    n, kh, kw, c = f.shape
    tiles = normalise(f)
    if c in (1, 3):
        columns = math.ceil(math.sqrt(n))
    else:
        tiles, columns = np.transpose(tiles, (0, 3, 1, 2)).reshape(n * c, kh, kw, 1), c
    scale = max(1, math.ceil(TILE / max(kh, kw)))
    tiles = np.repeat(np.repeat(tiles, scale, axis=1), scale, axis=2)
    grid = sampling.make_grid(tiles, columns)
    return np.repeat(grid, 3, axis=-1) if grid.shape[-1] == 1 else grid


def figure(rows: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Rows of (step-0 panel, step-N panel) as one white RGB image: the step-0 panels in a left column,
    the step-N ones in a right column of the same width, GAP pixels between columns and between rows."""
    width = max(p.shape[1] for row in rows for p in row)
    heights = [max(p.shape[0] for p in row) for row in rows]
    image = np.full((sum(heights) + GAP * (len(rows) - 1), 2 * width + GAP, 3), 255, np.uint8)
    top = 0
    for (before, after), height in zip(rows, heights):
        image[top:top + before.shape[0], :before.shape[1]] = before
        image[top:top + after.shape[0], width + GAP:width + GAP + after.shape[1]] = after
        top += height + GAP
    return image


def halves(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The step-0 and step-N columns of a `figure`."""
    width = (image.shape[1] - GAP) // 2
    return image[:, :width], image[:, width + GAP:]


def check_out(out: str) -> None:
    if not out.endswith('.png'):
        raise UserError(f'--out={out} must end in .png')


def views(gan) -> list[tuple[str, str]]:
    """(network, 'first' or 'last') of each row: every network that reads images, its first convolution
    (D's; a translation generator's too), and every generator (a network named G...), its last; the
    discriminators first."""
    rows = []
    names = sorted(gan.game.networks, key=lambda n: not n.startswith('D'))
    for name in names:
        args = gan.game.networks[name].init_args()
        if args and getattr(args[0], 'ndim', 0) == 4:
            rows.append((name, 'first'))
        if name.startswith('G'):
            rows.append((name, 'last'))
    return rows


def filters_figure(gan, start, trained) -> tuple[np.ndarray, list[str]]:
    """The figure of each network's image-side convolutions (`views`) at the start and trained, and a line
    for each row (or for each network that has no convolution). A UserError if no network has one."""
    rows, notes = [], []
    for name, which in views(gan):
        after = network_layers(gan, trained, name)
        if not after:
            notes.append(f'{name} has no convolution')
            continue
        layer = first_layer(after) if which == 'first' else last_layer(after)
        before = at(layer, start.params[name])
        side = 'in' if which == 'first' else 'out'
        rows.append((panel(filters(before, side)), panel(filters(layer, side))))
        notes.append(f"{name}'s {which} layer: {layer.describe()}")
    if not rows:
        raise UserError('this model has no convolution filters to show: its networks are dense layers '
                        f'only ({"; ".join(dict.fromkeys(notes))})')
    return figure(rows), notes


def _main(argv) -> None:
    from absl import flags
    from jaxgan.checkpoint import load_run
    from jaxgan.core import parallel
    from jaxgan.core.state import create_state
    del argv
    f = flags.FLAGS
    if not f.filters:
        raise UserError('nothing to show: pass --filters')
    if f.out:
        check_out(f.out)
    mesh = parallel.make_mesh()
    config, gan, state = load_run(f.workdir, f.step, mesh, member=f.member)
    step = int(state.step)
    start = create_state(gan.game, config.seed, parallel.replicated(mesh))
    image, notes = filters_figure(gan, start, state)
    out = f.out or os.path.join(f.workdir, 'inspect', f'filters_step_{step}.png')
    sampling.save_png(out, image)
    print(f'wrote {out}: step 0 on the left, step {step} on the right; {"; ".join(notes)}')


def main() -> None:
    from absl import flags
    from jaxgan import cli
    flags.DEFINE_string('workdir', None, 'The training run\'s workdir (its checkpoints are read, never written).',
                        required=True)
    flags.DEFINE_bool('filters', False, 'Draw D\'s first-layer and G\'s last-layer convolution filters (every '
                      'network\'s image-side ones: a translation generator\'s first too) at the step beside the '
                      'same at step 0 (rebuilt from the run\'s seed). The only view so far: required.')
    flags.DEFINE_integer('step', None, 'Checkpoint step to show; the latest by default.')
    flags.DEFINE_string('out', '', 'The PNG to write (whole or not at all); default '
                        'WORKDIR/inspect/filters_step_<step>.png.')
    cli.define_member_flag()
    cli.run_main(_main)


if __name__ == '__main__':
    main()
