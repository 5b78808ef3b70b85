"""The InceptionV3 of the reference FID code, as a Flax module, and its weights.

The network is the one TensorFlow's FID implementation uses (`inception-2015-12-05`) in the layout of its
reference PyTorch port (pytorch-fid): torchvision's InceptionV3 with FID-specific blocks (average pools
that do not count padding; max pooling in the last block) and 1008 classes. Outputs: the 2048-d
features of the final average pool (FID, KID, precision/recall) and the 1008 logits (inception score).

Protocol: uint8 images in [0, 255], grey ones repeated to RGB, resized bilinearly (half-pixel centres,
no antialiasing: PyTorch's F.interpolate(..., 'bilinear', align_corners=False)) to 299x299, scaled to
[-1, 1].

Weights are not shipped. `load_weights(path)` reads a jaxgan `.npz` or pytorch-fid's `.pth` (that needs
PyTorch); with no path it looks in the cache dir and, if the machine is online, downloads pytorch-fid's
file from its release page once (PyTorch needed to read it).
"""

from __future__ import annotations

import os
import urllib.request
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import files
from jaxgan.errors import UserError

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


def _read_pth(path: str) -> dict[str, np.ndarray]:
    try:
        import torch
    except ImportError:
        raise UserError(f'reading {path} needs PyTorch (pip install torch), or convert it once on a machine '
                        'that has it: python -m jaxgan.metrics.inception --convert=FILE.pth --out=FILE.npz') from None
    return {k: v.numpy() for k, v in torch.load(path, map_location='cpu', weights_only=True).items()}


def default_weights_path(cache_dir: str) -> str:
    return os.path.join(cache_dir, 'inception_fid.npz')


def load_weights(path: str = '', cache_dir: str = '') -> dict:
    """The network's variables from `path` (.npz or .pth), else the cache, else a download."""
    from jaxgan.data.pipeline import default_cache_dir
    cache_dir = cache_dir or default_cache_dir()
    if not path:
        path = default_weights_path(cache_dir)
        if not os.path.exists(path):
            pth = os.path.join(cache_dir, os.path.basename(FID_WEIGHTS_URL))
            if not os.path.exists(pth):
                os.makedirs(cache_dir, exist_ok=True)
                try:
                    with files.atomic_path(pth) as tmp:
                        urllib.request.urlretrieve(FID_WEIGHTS_URL, tmp)
                except OSError as e:
                    raise UserError(f'no Inception weights given and none cached in {cache_dir}; downloading '
                                    f'{FID_WEIGHTS_URL} failed ({e}); pass the file with --inception_weights') from None
            save_npz(from_torch_state_dict(_read_pth(pth)), path)
    if not os.path.exists(path):
        raise UserError(f'Inception weights not found: {path}')
    if path.endswith('.pth'):
        return from_torch_state_dict(_read_pth(path))
    with np.load(path) as f:
        return _unflatten(dict(f))


def main() -> None:
    import argparse
    parser = argparse.ArgumentParser(description='Convert pytorch-fid Inception weights (.pth) to .npz.')
    parser.add_argument('--convert', required=True, help='pt_inception-2015-12-05-6726825d.pth')
    parser.add_argument('--out', required=True, help='where to write the .npz')
    args = parser.parse_args()
    save_npz(from_torch_state_dict(_read_pth(args.convert)), args.out)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
