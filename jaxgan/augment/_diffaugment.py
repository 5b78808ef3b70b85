"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training").

    diffaugment(key, x_BHWC, policy=('color', 'translation', 'cutout')) -> x_BHWC

The same random, differentiable transforms are meant for every image D sees, real and generated, in D's
and G's updates. Each transform draws its parameters per image. Images are [B, H, W, C] in [-1, 1];
shape and dtype are kept; the colour transforms may leave [-1, 1], as in the paper's code, which does
not clip.

The formulas, ranges and constants are those of the authors' reference implementation
(mit-han-lab/data-efficient-gans, DiffAugment_pytorch.py and DiffAugment_tf.py):

    color        brightness   x + b,                          b ~ U[-0.5, 0.5)
                 saturation   (x - mean_C x) * s + mean_C x,  s ~ U[0, 2)    (mean over channels)
                 contrast     (x - mean x) * c + mean x,      c ~ U[0.5, 1.5) (mean over the image)
    translation  integer shifts dy, dx ~ U{-n..n}, n = int(side * 1/8 + 0.5) per axis; pixels shifted
                 in from outside the image are 0 (zero padding)
    cutout       a square of side int(side * 1/2 + 0.5) set to 0, centred at a uniform integer
                 position (it may hang over the border, where it is cut)
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp

from jaxgan.errors import UserError

TRANSLATION_RATIO = 0.125  # rand_translation(ratio=0.125) in the reference code
CUTOUT_RATIO = 0.5  # rand_cutout(ratio=0.5) in the reference code


def brightness(key: jax.Array, x: jax.Array) -> jax.Array:
    """x + b per image, b ~ U[-0.5, 0.5) (reference: rand_brightness)."""
    b = jax.random.uniform(key, (x.shape[0], 1, 1, 1)) - 0.5
    return (x + b).astype(x.dtype)


def saturation(key: jax.Array, x: jax.Array) -> jax.Array:
    """Each pixel's distance from its mean over channels scaled by s ~ U[0, 2) per image (reference:
    rand_saturation). A one-channel image is unchanged."""
    s = jax.random.uniform(key, (x.shape[0], 1, 1, 1)) * 2.0
    mean = x.mean(axis=-1, keepdims=True)
    return ((x - mean) * s + mean).astype(x.dtype)


def contrast(key: jax.Array, x: jax.Array) -> jax.Array:
    """Each image's distance from its mean over pixels and channels scaled by c ~ U[0.5, 1.5)
    (reference: rand_contrast)."""
    c = jax.random.uniform(key, (x.shape[0], 1, 1, 1)) + 0.5
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    return ((x - mean) * c + mean).astype(x.dtype)


def max_shift(side: int, ratio: float = TRANSLATION_RATIO) -> int:
    """The largest translation, in pixels, of an image side (reference: int(size * ratio + 0.5))."""
    return int(side * ratio + 0.5)


def translation_offsets(key: jax.Array, batch: int, height: int, width: int,
                        ratio: float = TRANSLATION_RATIO) -> jax.Array:
    """[B, 2] integer (dy, dx), each uniform over -n..n with n = max_shift of that side."""
    ny, nx = max_shift(height, ratio), max_shift(width, ratio)
    ky, kx = jax.random.split(key)
    return jnp.stack([jax.random.randint(ky, (batch,), -ny, ny + 1),
                      jax.random.randint(kx, (batch,), -nx, nx + 1)], axis=-1)


def translate(x: jax.Array, offsets: jax.Array) -> jax.Array:
    """out[b, i, j] = x[b, i + dy, j + dx] where that lies in the image, else 0: the content moves by
    (-dy, -dx) pixels, as in the reference's rand_translation."""
    _, height, width, _ = x.shape
    ny, nx = height, width  # padding wide enough for any offset given
    padded = jnp.pad(x, ((0, 0), (ny, ny), (nx, nx), (0, 0)))

    def one(image, offset):
        return jax.lax.dynamic_slice(image, (ny + offset[0], nx + offset[1], 0), (height, width, x.shape[-1]))

    return jax.vmap(one)(padded, jnp.clip(offsets, -jnp.array([ny, nx]), jnp.array([ny, nx])))


def translation(key: jax.Array, x: jax.Array, ratio: float = TRANSLATION_RATIO) -> jax.Array:
    """A random integer translation per image, up to `ratio` of each side, zero padded (reference:
    rand_translation, ratio 1/8)."""
    return translate(x, translation_offsets(key, x.shape[0], x.shape[1], x.shape[2], ratio))


def cutout_size(side: int, ratio: float = CUTOUT_RATIO) -> int:
    """The side of the cut square (reference: int(size * ratio + 0.5))."""
    return int(side * ratio + 0.5)


def cutout_mask(key: jax.Array, batch: int, height: int, width: int, ratio: float = CUTOUT_RATIO) -> jax.Array:
    """[B, H, W, 1]: 0 inside each image's square, 1 elsewhere. The square's first row is
    offset - size // 2 with offset uniform over 0..H - (size odd) (reference: rand_cutout), so it may
    hang over either border; likewise for columns."""
    sy, sx = cutout_size(height, ratio), cutout_size(width, ratio)
    ky, kx = jax.random.split(key)
    top = jax.random.randint(ky, (batch, 1, 1), 0, height + (1 - sy % 2)) - sy // 2
    left = jax.random.randint(kx, (batch, 1, 1), 0, width + (1 - sx % 2)) - sx // 2
    rows = jnp.arange(height)[None, :, None]
    cols = jnp.arange(width)[None, None, :]
    inside = (rows >= top) & (rows < top + sy) & (cols >= left) & (cols < left + sx)
    return (~inside)[..., None]


def cutout(key: jax.Array, x: jax.Array, ratio: float = CUTOUT_RATIO) -> jax.Array:
    """A square of `ratio` of each side set to 0 per image (reference: rand_cutout, ratio 1/2)."""
    mask = cutout_mask(key, x.shape[0], x.shape[1], x.shape[2], ratio)
    return x * mask.astype(x.dtype)


POLICIES = {
    'color': (brightness, saturation, contrast),
    'translation': (translation,),
    'cutout': (cutout,),
}
DEFAULT_POLICY = ('color', 'translation', 'cutout')  # the paper's choice for its main results


def parse_policy(policy: str | Sequence[str]) -> tuple[str, ...]:
    """'color,translation' or ('color', 'translation') -> ('color', 'translation'); an unknown name is
    a UserError naming the known ones. The transforms run in the order given."""
    names = tuple(p.strip() for p in policy.split(',')) if isinstance(policy, str) else tuple(policy)
    names = tuple(n for n in names if n)
    unknown = [n for n in names if n not in POLICIES]
    if unknown:
        raise UserError(f'unknown DiffAugment policy {unknown[0]!r}: choose from {", ".join(POLICIES)}')
    return names


def diffaugment(key: jax.Array, x: jax.Array, policy: str | Sequence[str] = DEFAULT_POLICY) -> jax.Array:
    """The policy's transforms in order (reference: DiffAugment(x, policy)), each with its own key."""
    transforms = [f for name in parse_policy(policy) for f in POLICIES[name]]
    for k, transform in zip(jax.random.split(key, max(len(transforms), 1)), transforms):
        x = transform(k, x)
    return x
