"""The InceptionV3 of the reference FID code, as a Flax module, and its weights.

The network is the one TensorFlow's FID implementation uses (`inception-2015-12-05`) in the layout of its
reference PyTorch port (pytorch-fid): torchvision's InceptionV3 with FID-specific blocks (average pools
that do not count padding; max pooling in the last block) and 1008 classes. Outputs: the 2048-d
features of the final average pool (FID, KID, precision/recall) and the 1008 logits (inception score).

Protocol: uint8 images in [0, 255], grey ones repeated to RGB, resized bilinearly (half-pixel centres,
no antialiasing: PyTorch's F.interpolate(..., 'bilinear', align_corners=False)) to 299x299, scaled to
[-1, 1].

Weights are not shipped. `load_weights(path)` reads a jaxgan `.npz` or pytorch-fid's `.pth`, the latter
with jaxgan's own reader of PyTorch files (`jaxgan.metrics.pth`, no PyTorch needed); with no path it
looks in the cache dir and, if the machine is online, downloads pytorch-fid's file from its release page
once and converts it to an `.npz` there. Either file is checked against the network's names and shapes
(`check_state_dict`, `check_variables`) before use: another file is a one-line error naming it.
"""

from __future__ import annotations

import functools
import os
import sys
import urllib.request
import zipfile
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import files
from jaxgan.errors import UserError
from jaxgan.metrics import pth

FID_WEIGHTS_URL = ('https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/'
                   'pt_inception-2015-12-05-6726825d.pth')
NETWORK = 'InceptionV3 of the reference FID (inception-2015-12-05, pytorch-fid layout)'
RESIZER = 'bilinear to 299x299 (half-pixel centres, no antialiasing), inputs [0, 255] scaled to [-1, 1]'


class BasicConv(nn.Module):
    features: int
    kernel: tuple[int, int]
    strides: int = 1
    padding: Any = 'VALID'

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.Conv(self.features, self.kernel, (self.strides, self.strides), padding=self.padding,
                    use_bias=False, name='conv')(x)
        return nn.relu(nn.BatchNorm(use_running_average=True, epsilon=1e-3, name='bn')(x))


def _pad(kh: int, kw: int):
    return ((kh // 2, kh // 2), (kw // 2, kw // 2))


def _avg_pool(x):  # TensorFlow's: padded positions are not counted
    return nn.avg_pool(x, (3, 3), (1, 1), padding=((1, 1), (1, 1)), count_include_pad=False)


class InceptionA(nn.Module):
    pool_features: int

    @nn.compact
    def __call__(self, x):
        b1 = BasicConv(64, (1, 1), name='branch1x1')(x)
        b5 = BasicConv(64, (5, 5), padding=_pad(5, 5), name='branch5x5_2')(BasicConv(48, (1, 1), name='branch5x5_1')(x))
        b3 = BasicConv(64, (1, 1), name='branch3x3dbl_1')(x)
        b3 = BasicConv(96, (3, 3), padding=_pad(3, 3), name='branch3x3dbl_2')(b3)
        b3 = BasicConv(96, (3, 3), padding=_pad(3, 3), name='branch3x3dbl_3')(b3)
        bp = BasicConv(self.pool_features, (1, 1), name='branch_pool')(_avg_pool(x))
        return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(nn.Module):
    @nn.compact
    def __call__(self, x):
        b3 = BasicConv(384, (3, 3), strides=2, name='branch3x3')(x)
        bd = BasicConv(64, (1, 1), name='branch3x3dbl_1')(x)
        bd = BasicConv(96, (3, 3), padding=_pad(3, 3), name='branch3x3dbl_2')(bd)
        bd = BasicConv(96, (3, 3), strides=2, name='branch3x3dbl_3')(bd)
        return jnp.concatenate([b3, bd, nn.max_pool(x, (3, 3), (2, 2))], axis=-1)


class InceptionC(nn.Module):
    channels_7x7: int

    @nn.compact
    def __call__(self, x):
        c = self.channels_7x7
        b1 = BasicConv(192, (1, 1), name='branch1x1')(x)
        b7 = BasicConv(c, (1, 1), name='branch7x7_1')(x)
        b7 = BasicConv(c, (1, 7), padding=_pad(1, 7), name='branch7x7_2')(b7)
        b7 = BasicConv(192, (7, 1), padding=_pad(7, 1), name='branch7x7_3')(b7)
        bd = BasicConv(c, (1, 1), name='branch7x7dbl_1')(x)
        bd = BasicConv(c, (7, 1), padding=_pad(7, 1), name='branch7x7dbl_2')(bd)
        bd = BasicConv(c, (1, 7), padding=_pad(1, 7), name='branch7x7dbl_3')(bd)
        bd = BasicConv(c, (7, 1), padding=_pad(7, 1), name='branch7x7dbl_4')(bd)
        bd = BasicConv(192, (1, 7), padding=_pad(1, 7), name='branch7x7dbl_5')(bd)
        bp = BasicConv(192, (1, 1), name='branch_pool')(_avg_pool(x))
        return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(nn.Module):
    @nn.compact
    def __call__(self, x):
        b3 = BasicConv(320, (3, 3), strides=2, name='branch3x3_2')(BasicConv(192, (1, 1), name='branch3x3_1')(x))
        b7 = BasicConv(192, (1, 1), name='branch7x7x3_1')(x)
        b7 = BasicConv(192, (1, 7), padding=_pad(1, 7), name='branch7x7x3_2')(b7)
        b7 = BasicConv(192, (7, 1), padding=_pad(7, 1), name='branch7x7x3_3')(b7)
        b7 = BasicConv(192, (3, 3), strides=2, name='branch7x7x3_4')(b7)
        return jnp.concatenate([b3, b7, nn.max_pool(x, (3, 3), (2, 2))], axis=-1)


class InceptionE(nn.Module):
    max_pool: bool  # the last block of the FID network pools with max, the one before with average

    @nn.compact
    def __call__(self, x):
        b1 = BasicConv(320, (1, 1), name='branch1x1')(x)
        b3 = BasicConv(384, (1, 1), name='branch3x3_1')(x)
        b3 = jnp.concatenate([BasicConv(384, (1, 3), padding=_pad(1, 3), name='branch3x3_2a')(b3),
                              BasicConv(384, (3, 1), padding=_pad(3, 1), name='branch3x3_2b')(b3)], axis=-1)
        bd = BasicConv(448, (1, 1), name='branch3x3dbl_1')(x)
        bd = BasicConv(384, (3, 3), padding=_pad(3, 3), name='branch3x3dbl_2')(bd)
        bd = jnp.concatenate([BasicConv(384, (1, 3), padding=_pad(1, 3), name='branch3x3dbl_3a')(bd),
                              BasicConv(384, (3, 1), padding=_pad(3, 1), name='branch3x3dbl_3b')(bd)], axis=-1)
        pooled = nn.max_pool(x, (3, 3), (1, 1), padding=((1, 1), (1, 1))) if self.max_pool else _avg_pool(x)
        bp = BasicConv(192, (1, 1), name='branch_pool')(pooled)
        return jnp.concatenate([b1, b3, bd, bp], axis=-1)


def preprocess(images_uint8: jax.Array) -> jax.Array:
    """uint8 [B, H, W, C] (C 1 or 3) to the network's input, [B, 299, 299, 3] in [-1, 1]."""
    x = images_uint8.astype(jnp.float32) / 255.0
    if x.shape[-1] == 1:
        x = jnp.repeat(x, 3, axis=-1)
    x = jax.image.resize(x, (x.shape[0], 299, 299, 3), 'bilinear', antialias=False)
    return 2.0 * x - 1.0


class FIDInceptionV3(nn.Module):
    """uint8 images [B, H, W, C] -> (pool features [B, 2048], logits [B, 1008])."""

    @nn.compact
    def __call__(self, images_uint8: jax.Array) -> tuple[jax.Array, jax.Array]:
        x = preprocess(images_uint8)
        x = BasicConv(32, (3, 3), strides=2, name='Conv2d_1a_3x3')(x)
        x = BasicConv(32, (3, 3), name='Conv2d_2a_3x3')(x)
        x = BasicConv(64, (3, 3), padding=_pad(3, 3), name='Conv2d_2b_3x3')(x)
        x = nn.max_pool(x, (3, 3), (2, 2))
        x = BasicConv(80, (1, 1), name='Conv2d_3b_1x1')(x)
        x = BasicConv(192, (3, 3), name='Conv2d_4a_3x3')(x)
        x = nn.max_pool(x, (3, 3), (2, 2))
        x = InceptionA(32, name='Mixed_5b')(x)
        x = InceptionA(64, name='Mixed_5c')(x)
        x = InceptionA(64, name='Mixed_5d')(x)
        x = InceptionB(name='Mixed_6a')(x)
        for name, c in (('Mixed_6b', 128), ('Mixed_6c', 160), ('Mixed_6d', 160), ('Mixed_6e', 192)):
            x = InceptionC(c, name=name)(x)
        x = InceptionD(name='Mixed_7a')(x)
        x = InceptionE(max_pool=False, name='Mixed_7b')(x)
        x = InceptionE(max_pool=True, name='Mixed_7c')(x)
        features = jnp.mean(x, axis=(1, 2))
        return features, nn.Dense(1008, name='fc')(features)


def from_torch_state_dict(state: dict[str, np.ndarray]) -> dict:
    """Flax variables from a pytorch-fid (torchvision-named) state dict of numpy arrays."""
    params: dict = {}
    stats: dict = {}

    def put(tree, path, value):
        for part in path[:-1]:
            tree = tree.setdefault(part, {})
        tree[path[-1]] = np.asarray(value, np.float32)

    for key, value in state.items():
        *path, kind, name = key.split('.')
        if name == 'num_batches_tracked':
            continue
        if key.startswith('fc.'):
            put(params, ['fc', 'kernel' if name == 'weight' else 'bias'], value.T if name == 'weight' else value)
        elif kind == 'conv':
            put(params, [*path, 'conv', 'kernel'], np.transpose(value, (2, 3, 1, 0)))
        elif kind == 'bn':
            if name in ('running_mean', 'running_var'):
                put(stats, [*path, 'bn', 'mean' if name == 'running_mean' else 'var'], value)
            else:
                put(params, [*path, 'bn', 'scale' if name == 'weight' else 'bias'], value)
        else:
            raise UserError(f'unexpected key {key!r} in the Inception weights')
    return {'params': params, 'batch_stats': stats}


def _flatten(tree: dict, prefix: str = '') -> dict[str, np.ndarray]:
    out = {}
    for k, v in tree.items():
        out.update(_flatten(v, f'{prefix}{k}/') if isinstance(v, dict) else {f'{prefix}{k}': np.asarray(v)})
    return out


def save_npz(variables: dict, path: str) -> None:
    """The variables as a flat .npz, written whole or not at all."""
    with files.atomic_path(path) as tmp:
        np.savez(tmp, **_flatten(variables))


def _unflatten(flat: dict[str, np.ndarray]) -> dict:
    tree: dict = {}
    for key, value in flat.items():
        node = tree
        *path, last = key.split('/')
        for part in path:
            node = node.setdefault(part, {})
        node[last] = jnp.asarray(value)
    return tree


def _dims(shape: tuple[int, ...]) -> str:
    return 'x'.join(map(str, shape)) or 'a scalar'


def _listing(names: list[str], limit: int = 3) -> str:
    shown = ', '.join(names[:limit])
    return f'{shown} and {len(names) - limit} more' if len(names) > limit else shown


@functools.lru_cache(maxsize=1)
def variable_shapes() -> dict[str, tuple[int, ...]]:
    """The network's variables as {'params/Conv2d_1a_3x3/conv/kernel': shape, ...}, the names of a
    jaxgan `.npz` (traced, not computed)."""
    x = jax.ShapeDtypeStruct((1, 8, 8, 3), np.uint8)
    variables = jax.eval_shape(FIDInceptionV3().init, jax.random.key(0), x)
    leaves = jax.tree_util.tree_flatten_with_path(variables)[0]
    return {'/'.join(str(k.key) for k in path): tuple(leaf.shape) for path, leaf in leaves}


def torch_shapes() -> dict[str, tuple[int, ...]]:
    """The tensors of pytorch-fid's state dict that the network uses, {torch name: shape}: the inverse of
    `from_torch_state_dict` (BatchNorm's `num_batches_tracked`, which it ignores, is not listed)."""
    out = {}
    for key, shape in variable_shapes().items():
        _, *path, name = key.split('/')
        if path == ['fc']:
            out[f'fc.{name.replace("kernel", "weight")}'] = shape[::-1] if name == 'kernel' else shape
        elif path[-1] == 'conv':
            out['.'.join(path) + '.weight'] = (shape[3], shape[2], shape[0], shape[1])
        else:
            torch_name = {'scale': 'weight', 'bias': 'bias', 'mean': 'running_mean', 'var': 'running_var'}[name]
            out['.'.join(path) + f'.{torch_name}'] = shape
    return out


def _check_layout(found: dict[str, tuple[tuple[int, ...], np.dtype]], expected: dict[str, tuple[int, ...]],
                  ignored: tuple[str, ...], path: str, what: str) -> None:
    """A one-line UserError naming `path` and the first differences, unless `found` {name: (shape,
    dtype)} has exactly the `expected` names and shapes (floating), names ending in `ignored` aside."""
    missing = sorted(expected.keys() - found.keys())
    unexpected = sorted(k for k in found.keys() - expected.keys() if not k.endswith(ignored))
    shapes = [f'{k} is {_dims(found[k][0])}, expected {_dims(expected[k])}'
              for k in expected if k in found and tuple(found[k][0]) != expected[k]]
    types = [f'{k} is {found[k][1]}, not floating point' for k in expected
             if k in found and not np.issubdtype(found[k][1], np.floating) and found[k][1].name != 'bfloat16']
    problems = ([f'missing {_listing(missing)}'] if missing else []) + \
        ([f'unexpected {_listing(unexpected)}'] if unexpected else []) + shapes[:3] + types[:3]
    if problems:
        raise UserError(f'{path} is not {what}: {"; ".join(problems)} ({len(found)} arrays; the network has '
                        f'{len(expected)})')


def check_state_dict(state: dict[str, np.ndarray], path: str) -> None:
    """A one-line UserError unless `state` has pytorch-fid's names and shapes (read from `path`)."""
    _check_layout({k: (np.shape(v), np.asarray(v).dtype) for k, v in state.items()}, torch_shapes(),
                  ('.num_batches_tracked',), path, "pytorch-fid's Inception weights")


def check_variables(flat: dict[str, np.ndarray], path: str) -> None:
    """A one-line UserError unless the flat variables of an `.npz` are the network's, names and shapes."""
    _check_layout({k: (np.shape(v), np.asarray(v).dtype) for k, v in flat.items()}, variable_shapes(), (),
                  path, 'Inception weights in jaxgan\'s .npz layout (python -m jaxgan.metrics.inception '
                  '--convert=FILE.pth --out=FILE.npz makes one)')


def read_pth(path: str) -> dict:
    """The network's variables from pytorch-fid's `.pth` (any PyTorch file of its layout), checked."""
    state = pth.read_state_dict(path)
    check_state_dict(state, path)
    return from_torch_state_dict(state)


def read_npz(path: str) -> dict:
    """The network's variables from a jaxgan `.npz` (`save_npz`), checked."""
    try:
        loaded = np.load(path)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError(f'a single array of shape {np.shape(loaded)}, not a .npz of named arrays')
        with loaded:
            flat = dict(loaded)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:  # not a zip of .npy arrays, or damaged
        raise UserError(f'{path} is not a readable .npz ({type(e).__name__}: {e})') from None
    check_variables(flat, path)
    return _unflatten(flat)


def default_weights_path(cache_dir: str) -> str:
    return os.path.join(cache_dir, 'inception_fid.npz')


def load_weights(path: str = '', cache_dir: str = '') -> dict:
    """The network's variables from `path` (a jaxgan .npz, or else a PyTorch file such as pytorch-fid's
    .pth), else the cache, else a download."""
    from jaxgan.data.pipeline import default_cache_dir
    cache_dir = cache_dir or default_cache_dir()
    if not path:
        path = default_weights_path(cache_dir)
        if not os.path.exists(path):
            downloaded = os.path.join(cache_dir, os.path.basename(FID_WEIGHTS_URL))
            if not os.path.exists(downloaded):
                os.makedirs(cache_dir, exist_ok=True)
                try:
                    with files.atomic_path(downloaded) as tmp:
                        urllib.request.urlretrieve(FID_WEIGHTS_URL, tmp)
                except OSError as e:
                    raise UserError(f'no Inception weights given and none cached in {cache_dir}; downloading '
                                    f'{FID_WEIGHTS_URL} failed ({e}); pass the file with --inception_weights '
                                    '(jaxgan.evaluate) or --config.eval.inception_weights (training)') from None
            save_npz(read_pth(downloaded), path)
    if not os.path.exists(path):
        raise UserError(f'Inception weights not found: {path}')
    return read_npz(path) if path.endswith('.npz') else read_pth(path)


def main(argv: list[str] | None = None) -> None:
    import argparse
    parser = argparse.ArgumentParser(
        description='Convert pytorch-fid\'s Inception weights (.pth) to a jaxgan .npz, without PyTorch. '
                    'Not needed to evaluate (--inception_weights reads the .pth too); the .npz loads faster.')
    parser.add_argument('--convert', required=True,
                        help='pytorch-fid\'s pt_inception-2015-12-05-6726825d.pth (read, never executed)')
    parser.add_argument('--out', required=True, help='where to write the .npz (written whole or not at all)')
    args = parser.parse_args(argv)
    try:
        if not args.out.endswith('.npz'):
            raise UserError(f'--out={args.out} must end in .npz')
        save_npz(read_pth(args.convert), args.out)
    except UserError as e:
        print(f'error: {e}', file=sys.stderr)
        sys.exit(2)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
