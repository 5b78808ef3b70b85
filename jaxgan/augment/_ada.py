"""ADA: adaptive discriminator augmentation (Karras et al. 2020, "Training Generative Adversarial Networks
with Limited Data").

    ada(key, x_BHWC, p, pipeline='bgc', multipliers='', cutout=0, cutout_size=0.5) -> x_BHWC
                                                        each transform applied with probability p
                                                        (times its multiplier), then cutout
    rt_heuristic(real_logits) -> E[sign(D(real))]       the overfitting heuristic r_t
    ada_adjust(p, rt, ...) -> p                         one adjustment of p towards the target
    AdaState, ada_update                                the adjustment every `interval` D updates

The pipeline 'bgc' is the paper's default: pixel blitting (b), general geometric transforms (g) and
colour transforms (c); any of the letters selects the groups. Each transform of a group is applied to
each image independently with probability p, a traced scalar: it can live in the run state and adapt
without recompiling. The transforms, their order, distributions and constants follow the authors' code
(NVlabs/stylegan2-ada-pytorch, training/augment.py, class AugmentPipe, with the 'bgc' spec of train.py):

    blitting    x-flip: i ~ U{0, 1}; 90-degree rotations: i ~ U{0..3} (so with probability p the
                transform is drawn, and may be the identity, as in the reference); integer translation:
                t ~ U(-0.125, 0.125) of each side, rounded to whole pixels (xint_max = 0.125)
    geometric   isotropic scaling s = 2^N(0, 0.2^2), a lognormal of std 0.2 ln 2 (scale_std = 0.2);
                pre-rotation by U(-pi, pi) (rotate_max = 1); anisotropic scaling (s, 1/s) with
                s = 2^N(0, 0.2^2) (aniso_std = 0.2); post-rotation by U(-pi, pi); fractional
                translation t ~ N(0, 0.125^2) of each side (xfrac_std = 0.125). The two rotations are
                each applied with probability 1 - sqrt(1 - p), so that some rotation happens with
                probability p (the reference's p_rot).
    colour      brightness b ~ N(0, 0.2^2) added (brightness_std = 0.2); contrast c = 2^N(0, 0.5^2), a
                lognormal of std 0.5 ln 2 (contrast_std = 0.5); luma flip, a Householder reflection
                about the luma axis v = (1, 1, 1)/sqrt(3), i ~ U{0, 1}; hue rotation about v by
                U(-pi, pi) (hue_max = 1); saturation s = 2^N(0, 1), a lognormal of std ln 2
                (saturation_std = 1). Hue and saturation are skipped for one-channel images, whose
                colour matrix is averaged over the three rows as in the reference.

Each transform's probability is p times its multiplier (AugmentPipe's keyword arguments of the same
names, 1 by default): `multipliers` is 'name=value,...' of transform names (xflip, rotate90, xint; scale,
rotate, aniso, xfrac; brightness, contrast, lumaflip, hue, saturation) or group letters (b, g, c: each of
the group's transforms), later entries overriding earlier ones. R3GAN's train.py, for one, runs the
colour transforms at 0.5 (multipliers 'c=0.5'). Cutout (AugmentPipe's `cutout` and `cutout_size`, in
neither 'bgc' nor on by default) comes last, applied with probability cutout * p: it zeroes a rectangle
of cutout_size of each side (0.5: half), centred at a uniformly drawn point and cut by the image's
border; 0 is the grey middle of images in [-1, 1], the reference's fill.

Blitting and geometric transforms are composed into one 3x3 matrix per image (output pixel -> input
pixel, in pixel units about the image centre) and executed with one resampling. Difference from the
reference, said plainly: the reference pads by reflection, upsamples 2x with a 'sym6' wavelet low-pass
filter, samples bilinearly and downsamples with the same filter, which suppresses aliasing; this module
samples the original image bilinearly, with reflection (without repeating the edge pixel) outside the
image. Blits alone (flips, 90-degree rotations, whole-pixel shifts) therefore copy pixels exactly, and
every geometric output is a convex combination of input pixels (it stays in the input's range), but
rotations and scalings alias more than the reference's. Colour transforms are one 4x4 affine matrix per
image, applied after the geometric ones; like the reference, no clipping follows.
"""

from __future__ import annotations

import math
from typing import Mapping, NamedTuple

import jax
import jax.numpy as jnp

from jaxgan.errors import UserError

# Constants of AugmentPipe in the reference (training/augment.py); std of log2 for the lognormals.
XINT_MAX = 0.125
SCALE_STD = 0.2
ROTATE_MAX = 1.0
ANISO_STD = 0.2
XFRAC_STD = 0.125
BRIGHTNESS_STD = 0.2
CONTRAST_STD = 0.5
HUE_MAX = 1.0
SATURATION_STD = 1.0

# The reference's adjustment (training/training_loop.py and train.py): target 0.6, every 4 batches,
# p moving by at most 1 in 500k images.
ADA_TARGET = 0.6
ADA_INTERVAL = 4
ADA_KIMG = 500

GROUPS = {'b': 'pixel blitting', 'g': 'general geometric', 'c': 'colour'}
# Each group's transforms, by the names of AugmentPipe's probability multipliers (training/augment.py).
TRANSFORMS = {'b': ('xflip', 'rotate90', 'xint'), 'g': ('scale', 'rotate', 'aniso', 'xfrac'),
              'c': ('brightness', 'contrast', 'lumaflip', 'hue', 'saturation')}
CUTOUT_SIZE = 0.5  # AugmentPipe's cutout_size: the rectangle's side, relative to the image's

Multipliers = Mapping[str, float]


def _matmul(a: jax.Array, b: jax.Array) -> jax.Array:
    """a @ b for small matrices, in full float32 on every backend (a dot could run in TF32 or bf16)."""
    return (a[..., :, :, None] * b[..., None, :, :]).sum(axis=-2)


class _Draws:
    """Each image's random numbers, drawn in two calls (one RNG call per parameter would multiply the
    compiled program several times over) and handed out one column [B] at a time."""

    def __init__(self, key: jax.Array, batch: int, uniforms: int, normals: int):
        ku, kn = jax.random.split(key)
        self.batch = batch
        self._u = iter(jax.random.uniform(ku, (uniforms, batch)))
        self._n = iter(jax.random.normal(kn, (normals, batch)))

    def uniform(self, low: float = 0.0, high: float = 1.0) -> jax.Array:
        return low + (high - low) * next(self._u)

    def normal(self) -> jax.Array:
        return next(self._n)

    def chance(self, probability: jax.Array) -> jax.Array:
        return self.uniform() < probability

    def matrix(self, *rows) -> jax.Array:
        """[B, n, n] from rows of scalars or [B] arrays."""
        entry = lambda v: jnp.broadcast_to(jnp.asarray(v, jnp.float32), (self.batch,))
        return jnp.stack([jnp.stack([entry(v) for v in row], axis=-1) for row in rows], axis=-2)


def _probability(p: jax.Array, multipliers: Multipliers | None, name: str) -> jax.Array:
    """p times the transform's multiplier (p itself at 1, so that the default draws are the same bits)."""
    m = 1.0 if multipliers is None else float(multipliers.get(name, 1.0))
    return p if m == 1.0 else p * m


def geometric_matrices(key: jax.Array, p: jax.Array, batch: int, height: int, width: int, *,
                       blit: bool = True, geometric: bool = True,
                       multipliers: Multipliers | None = None) -> jax.Array:
    """Each image's [3, 3] map from output pixel to input pixel (x right, y down, about the centre),
    [B, 3, 3]: the inverse of the drawn transforms, composed in the reference's order."""
    draw = _Draws(key, batch, uniforms=16, normals=6)
    pm = lambda name: _probability(p, multipliers, name)
    translate = lambda tx, ty: draw.matrix([1, 0, tx], [0, 1, ty], [0, 0, 1])
    scale = lambda sx, sy: draw.matrix([sx, 0, 0], [0, sy, 0], [0, 0, 1])
    rotate = lambda cos, sin: draw.matrix([cos, -sin, 0], [sin, cos, 0], [0, 0, 1])
    g_inv = jnp.broadcast_to(jnp.eye(3), (batch, 3, 3))
    if blit:
        flip = jnp.where(draw.chance(pm('xflip')), jnp.floor(draw.uniform(0, 2)), 0)
        g_inv = _matmul(g_inv, scale(1 - 2 * flip, 1))  # its own inverse
        quarter = jnp.where(draw.chance(pm('rotate90')), jnp.floor(draw.uniform(0, 4)), 0).astype(jnp.int32)
        # Exact cosines and sines of k * 90 degrees, so that blits copy pixels without rounding.
        cos, sin = jnp.array([1, 0, -1, 0])[quarter], jnp.array([0, 1, 0, -1])[quarter]
        g_inv = _matmul(g_inv, rotate(cos, sin))  # the inverse of a rotation by -k * 90 degrees
        on = draw.chance(pm('xint'))
        tx, ty = (jnp.where(on, draw.uniform(-1, 1) * XINT_MAX, 0.0) for _ in range(2))
        g_inv = _matmul(g_inv, translate(-jnp.round(tx * width), -jnp.round(ty * height)))
    if geometric:
        s = jnp.where(draw.chance(pm('scale')), jnp.exp2(draw.normal() * SCALE_STD), 1.0)
        g_inv = _matmul(g_inv, scale(1 / s, 1 / s))
        p_rot = 1 - jnp.sqrt(jnp.clip(1 - pm('rotate'), 0, 1))  # P(pre- or post-rotation) = rotate * p

        def rotation():  # the inverse of a rotation by -theta, theta ~ U(-pi, pi) with probability p_rot
            theta = jnp.where(draw.chance(p_rot), draw.uniform(-1, 1) * math.pi * ROTATE_MAX, 0.0)
            return rotate(jnp.cos(theta), jnp.sin(theta))

        g_inv = _matmul(g_inv, rotation())
        s = jnp.where(draw.chance(pm('aniso')), jnp.exp2(draw.normal() * ANISO_STD), 1.0)
        g_inv = _matmul(g_inv, scale(1 / s, s))
        g_inv = _matmul(g_inv, rotation())
        on = draw.chance(pm('xfrac'))
        tx, ty = (jnp.where(on, draw.normal() * XFRAC_STD, 0.0) for _ in range(2))
        g_inv = _matmul(g_inv, translate(-tx * width, -ty * height))
    return g_inv


def _reflect(i: jax.Array, n: int) -> jax.Array:
    """Integer pixel indices mirrored into [0, n) without repeating the edge (..., 2, 1, 0, 1, 2, ...)."""
    if n == 1:
        return jnp.zeros_like(i)
    period = 2 * (n - 1)
    i = jnp.mod(i, period)
    return jnp.where(i > n - 1, period - i, i)


def resample(images: jax.Array, g_inv: jax.Array) -> jax.Array:
    """images [B, H, W, C] through per-image maps g_inv [B, 3, 3] (output pixel -> input pixel about the
    centre): bilinear sampling, reflection outside the image. Linear in the images, so gradients flow."""

    def one(image, m):
        height, width = image.shape[:2]
        cy, cx = (height - 1) / 2, (width - 1) / 2
        y, x = jnp.meshgrid(jnp.arange(height, dtype=jnp.float32) - cy,
                            jnp.arange(width, dtype=jnp.float32) - cx, indexing='ij')
        u = m[0, 0] * x + m[0, 1] * y + m[0, 2] + cx  # input column
        v = m[1, 0] * x + m[1, 1] * y + m[1, 2] + cy  # input row
        u0, v0 = jnp.floor(u), jnp.floor(v)
        fu, fv = (u - u0)[..., None], (v - v0)[..., None]
        u0, v0 = u0.astype(jnp.int32), v0.astype(jnp.int32)
        cols = _reflect(u0, width), _reflect(u0 + 1, width)
        rows = _reflect(v0, height), _reflect(v0 + 1, height)
        top = image[rows[0], cols[0]] * (1 - fu) + image[rows[0], cols[1]] * fu
        bottom = image[rows[1], cols[0]] * (1 - fu) + image[rows[1], cols[1]] * fu
        return (top * (1 - fv) + bottom * fv).astype(image.dtype)

    return jax.vmap(one)(images, g_inv)


def color_matrices(key: jax.Array, p: jax.Array, batch: int, channels: int,
                   multipliers: Multipliers | None = None) -> jax.Array:
    """Each image's [4, 4] affine colour map (colour_in -> colour_out in homogeneous RGB), [B, 4, 4],
    composed in the reference's order: brightness, contrast, luma flip, hue, saturation."""
    draw = _Draws(key, batch, uniforms=8, normals=3)
    pm = lambda name: _probability(p, multipliers, name)
    eye = jnp.eye(4)
    v = jnp.array([1.0, 1.0, 1.0, 0.0]) / math.sqrt(3)  # the luma axis
    vv = jnp.outer(v, v)
    per_image = lambda a: a[:, None, None]
    b = jnp.where(draw.chance(pm('brightness')), draw.normal() * BRIGHTNESS_STD, 0.0)
    c = draw.matrix([1, 0, 0, b], [0, 1, 0, b], [0, 0, 1, b], [0, 0, 0, 1])
    k = jnp.where(draw.chance(pm('contrast')), jnp.exp2(draw.normal() * CONTRAST_STD), 1.0)
    c = _matmul(draw.matrix([k, 0, 0, 0], [0, k, 0, 0], [0, 0, k, 0], [0, 0, 0, 1]), c)
    flip = jnp.where(draw.chance(pm('lumaflip')), jnp.floor(draw.uniform(0, 2)), 0.0)
    c = _matmul(eye - 2 * vv * per_image(flip), c)  # a Householder reflection: the luma axis flipped
    if channels > 1:
        theta = jnp.where(draw.chance(pm('hue')), draw.uniform(-1, 1) * math.pi * HUE_MAX, 0.0)
        c = _matmul(_rotate_about(v[:3], theta), c)
        s = jnp.where(draw.chance(pm('saturation')), jnp.exp2(draw.normal() * SATURATION_STD), 1.0)
        c = _matmul(vv + (eye - vv) * per_image(s), c)
    return c


def _rotate_about(axis: jax.Array, theta: jax.Array) -> jax.Array:
    """[B, 4, 4]: rotations by theta [B] about the unit 3-vector `axis` (Rodrigues' formula)."""
    x, y, z = axis
    cross = jnp.array([[0, -z, y], [z, 0, -x], [-y, x, 0]])
    cos, sin = jnp.cos(theta)[:, None, None], jnp.sin(theta)[:, None, None]
    r = cos * jnp.eye(3) + sin * cross + (1 - cos) * jnp.outer(axis, axis)
    return jnp.zeros((len(theta), 4, 4)).at[:, :3, :3].set(r).at[:, 3, 3].set(1.0)


def recolor(images: jax.Array, c: jax.Array) -> jax.Array:
    """images [B, H, W, C] (C = 3, or 1: the matrix averaged over its rows) through c [B, 4, 4]."""
    channels = images.shape[-1]
    if channels == 3:
        out = sum(images[..., k:k + 1] * c[:, None, None, :3, k] for k in range(3)) + c[:, None, None, :3, 3]
    else:
        gain = c[:, :3, :3].sum(axis=(1, 2)) / 3
        offset = c[:, :3, 3].sum(axis=1) / 3
        out = images * gain[:, None, None, None] + offset[:, None, None, None]
    return out.astype(images.dtype)


def parse_pipeline(pipeline: str) -> str:
    """'bgc' or any of its letters, in that order; else a UserError naming the groups."""
    if not pipeline or any(g not in GROUPS for g in pipeline) or len(set(pipeline)) != len(pipeline):
        raise UserError(f'ADA pipeline {pipeline!r} is not a selection of the letters '
                        + ', '.join(f'{g} ({name})' for g, name in GROUPS.items()))
    return ''.join(g for g in GROUPS if g in pipeline)


def parse_multipliers(spec: str | Multipliers) -> dict[str, float]:
    """'c=0.5,hue=1' (or a mapping) -> every transform's probability multiplier: 1 where not named; a
    group letter sets each of its transforms, later entries override earlier ones. Unknown names and
    values that are not numbers >= 0 are a UserError."""
    if isinstance(spec, str):
        pairs = []
        for entry in (e.strip() for e in spec.split(',')):
            if entry:
                name, eq, value = entry.partition('=')
                if not eq:
                    raise UserError(f'ADA multiplier {entry!r} is not name=value')
                pairs.append((name.strip(), value.strip()))
    else:
        pairs = list(spec.items())
    names = [t for group in TRANSFORMS.values() for t in group]
    result = dict.fromkeys(names, 1.0)
    for name, value in pairs:
        if name not in result and name not in TRANSFORMS:
            raise UserError(f'unknown ADA transform {name!r}: choose from the groups {", ".join(TRANSFORMS)} '
                            f'or {", ".join(names)}')
        try:
            m = float(value)
        except (TypeError, ValueError):
            m = -1.0
        if not m >= 0:  # also NaN
            raise UserError(f'ADA multiplier {name}={value!r} must be a number >= 0')
        for t in TRANSFORMS.get(name, (name,)):
            result[t] = m
    return result


def check_cutout(cutout: float, size: float) -> tuple[float, float]:
    """(cutout, cutout_size) as floats, or a UserError: cutout is a multiplier >= 0, size in (0, 1]."""
    try:
        cutout, size = float(cutout), float(size)
    except (TypeError, ValueError):
        raise UserError(f'ADA cutout={cutout!r} and cutout_size={size!r} must be numbers') from None
    if not cutout >= 0:
        raise UserError(f'ADA cutout={cutout!r} must be a probability multiplier >= 0 (0: off)')
    if not 0 < size <= 1:
        raise UserError(f'ADA cutout_size={size!r} must be in (0, 1]: the side, relative to the image\'s')
    return cutout, size


def apply_cutout(key: jax.Array, x: jax.Array, probability: jax.Array | float,
                 size: float = CUTOUT_SIZE) -> jax.Array:
    """Zeroes, in each image with the given probability, the pixels whose centres lie within size / 2 (of
    the side) of a uniform point in both directions: a rectangle of `size` of each side, cut by the
    border (the reference's AugmentPipe.forward, 'Apply cutout', which multiplies by the mask)."""
    batch, height, width, _ = x.shape
    on_key, centre_key = jax.random.split(key)
    half = jnp.where(jax.random.uniform(on_key, (batch,)) < probability, size / 2, 0.0)[:, None]
    cx, cy = jax.random.uniform(centre_key, (2, batch, 1))
    inside_x = jnp.abs((jnp.arange(width) + 0.5) / width - cx) < half  # [B, W]
    inside_y = jnp.abs((jnp.arange(height) + 0.5) / height - cy) < half  # [B, H]
    keep = ~(inside_y[:, :, None] & inside_x[:, None, :])
    return x * keep[..., None].astype(x.dtype)


def ada(key: jax.Array, x: jax.Array, p: jax.Array | float, pipeline: str = 'bgc', *,
        multipliers: str | Multipliers = '', cutout: float = 0.0, cutout_size: float = CUTOUT_SIZE) -> jax.Array:
    """ADA's augmentation of images [B, H, W, C] in [-1, 1], each transform applied with probability p
    (clipped to [0, 1]) times its multiplier, then cutout with probability cutout * p; p = 0 returns
    the images unchanged."""
    pipeline = parse_pipeline(pipeline)
    m = parse_multipliers(multipliers)
    cutout_multiplier, cutout_size = check_cutout(cutout, cutout_size)
    batch, height, width, channels = x.shape
    if 'c' in pipeline and channels not in (1, 3):
        raise UserError(f"ADA's colour transforms need images of 1 or 3 channels, got {channels}")
    p = jnp.clip(jnp.asarray(p, jnp.float32), 0.0, 1.0)
    geometric_key, color_key = jax.random.split(key)
    if 'b' in pipeline or 'g' in pipeline:
        x = resample(x, geometric_matrices(geometric_key, p, batch, height, width, blit='b' in pipeline,
                                           geometric='g' in pipeline, multipliers=m))
    if 'c' in pipeline:
        x = recolor(x, color_matrices(color_key, p, batch, channels, m))
    if cutout_multiplier > 0:  # its own key, folded in, so that the other transforms draw as without it
        x = apply_cutout(jax.random.fold_in(key, 2), x, cutout_multiplier * p, cutout_size)
    return x


# The adaptation of p ----------------------------------------------------------------------------------

def rt_heuristic(real_logits: jax.Array) -> jax.Array:
    """r_t = E[sign(D(real))], the paper's overfitting heuristic: 0 when D cannot tell, 1 when it
    calls every real example real. It reads D's output as a logit (real above 0), as the
    non-saturating, minimax, hinge and Wasserstein losses do."""
    return jnp.mean(jnp.sign(real_logits.astype(jnp.float32)))


def ada_adjust(p: jax.Array | float, rt: jax.Array | float, *, batch_images: int, target: float = ADA_TARGET,
               interval: int = ADA_INTERVAL, kimg: float = ADA_KIMG) -> jax.Array:
    """One adjustment, made every `interval` batches of `batch_images` real images: p moves by
    sign(rt - target) * batch_images * interval / (kimg * 1000), so that it can go from 0 to 1 in `kimg`
    thousand images (the reference's training_loop.py). Clipped to [0, 1]; the reference clips only at
    0, and a p above 1 acts as 1 there too."""
    step = batch_images * interval / (kimg * 1000)
    p = jnp.asarray(p, jnp.float32) + jnp.sign(jnp.asarray(rt, jnp.float32) - target) * step
    return jnp.clip(p, 0.0, 1.0)


class AdaState(NamedTuple):
    """ADA's state in a run: p, and the r_t of the D updates since the last adjustment."""

    p: jax.Array  # float32 []
    rt_sum: jax.Array  # float32 []: the sum of each update's r_t since the last adjustment
    updates: jax.Array  # int32 []: D updates since the last adjustment


def ada_init(p: float = 0.0) -> AdaState:
    """The state at the start of a run; the reference starts ADA at p = 0."""
    check_probability(p, 'the starting ADA probability')
    return AdaState(jnp.asarray(p, jnp.float32), jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32))


def ada_update(state: AdaState, rt: jax.Array, *, batch_images: int, target: float = ADA_TARGET,
               interval: int = ADA_INTERVAL, kimg: float = ADA_KIMG) -> AdaState:
    """Adds one D update's r_t (over the global batch); every `interval` updates, adjusts p with their
    mean (`ada_adjust`) and starts counting again. Jittable: no branch on the host."""
    rt_sum, updates = state.rt_sum + rt, state.updates + 1
    due = updates >= interval
    adjusted = ada_adjust(state.p, rt_sum / updates, batch_images=batch_images, target=target,
                          interval=interval, kimg=kimg)
    return AdaState(jnp.where(due, adjusted, state.p), jnp.where(due, 0.0, rt_sum),
                    jnp.where(due, 0, updates).astype(jnp.int32))


def check_probability(p, name: str = 'p') -> float:
    """p as a float, or a UserError where it is not a number in [0, 1]."""
    try:
        value = float(p)
    except (TypeError, ValueError):
        raise UserError(f'{name}={p!r} must be a probability in [0, 1]') from None
    if not 0.0 <= value <= 1.0:
        raise UserError(f'{name}={p!r} must be a probability in [0, 1]')
    return value
