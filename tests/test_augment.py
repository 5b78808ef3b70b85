"""The augmentations (jaxgan.augment): DiffAugment's and ADA's transforms against their definitions, the
probabilities and constants of the papers' code, gradients, keys, and ADA's adjustment of p."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import augment
from jaxgan.augment import _ada, _diffaugment
from jaxgan.errors import UserError


def images(seed: int = 0, batch: int = 16, side: int = 32, channels: int = 3, low: float = -1.0,
           dtype=jnp.float32) -> jax.Array:
    """Continuous random values: no two pixels equal, so a copied pixel can be told from a computed one."""
    return jax.random.uniform(jax.random.key(seed), (batch, side, side, channels), minval=low,
                              maxval=1.0).astype(dtype)


@functools.cache
def jitted_ada(pipeline: str):
    return jax.jit(lambda key, x, p: augment.ada(key, x, p, pipeline))


jitted_diffaugment = jax.jit(augment.diffaugment, static_argnames='policy')
jitted_resample = jax.jit(_ada.resample)
jitted_geometric = jax.jit(_ada.geometric_matrices, static_argnums=(2, 3, 4), static_argnames=('blit', 'geometric'))
jitted_colour = jax.jit(_ada.color_matrices, static_argnums=(2,), static_argnames='channels')
KEY = jax.random.key(7)


# DiffAugment -------------------------------------------------------------------------------------------

def test_translation_moves_each_image_by_whole_pixels_within_an_eighth_zero_filled():
    x = images(batch=256, channels=1, low=0.1)  # no zero in the input: zeros are the padding
    out = np.asarray(jitted_diffaugment(KEY, x, policy=('translation',)))
    x = np.asarray(x)
    n = _diffaugment.max_shift(32)
    assert n == 4  # int(32 / 8 + 0.5), the reference's rule
    padded = np.pad(x, ((0, 0), (n, n), (n, n), (0, 0)))
    found = []
    for image, result in zip(padded, out):
        shifts = [(dy, dx) for dy in range(-n, n + 1) for dx in range(-n, n + 1)
                  if np.array_equal(image[n + dy:n + dy + 32, n + dx:n + dx + 32], result)]
        assert len(shifts) == 1  # an exact integer shift, within n pixels, zero padded
        found.append(shifts[0])
    dy, dx = np.array(found).T
    # Every shift from -n to n is drawn (256 images: missing one has probability < 1e-10).
    assert set(dy) == set(dx) == set(range(-n, n + 1))


def test_translate_reads_the_pixel_at_the_offset():
    x = images(batch=1, side=8, channels=1)
    out = _diffaugment.translate(x, jnp.array([[2, -3]]))
    np.testing.assert_array_equal(out[0, :6, 3:], x[0, 2:, :5])
    assert (out[0, 6:] == 0).all() and (out[0, :, :3] == 0).all()


def test_cutout_zeros_one_square_of_half_the_side_cut_at_the_border():
    x = images(batch=256, channels=3, low=0.1)
    out = np.asarray(jitted_diffaugment(KEY, x, policy=('cutout',)))
    size = _diffaugment.cutout_size(32)
    assert size == 16  # int(32 / 2 + 0.5)
    inside = 0
    for image, result in zip(np.asarray(x), out):
        zero = (result == 0).all(-1)
        assert ((result == 0) | (result == image)).all()  # pixels are kept or zeroed, never changed
        rows, cols = np.flatnonzero(zero.any(1)), np.flatnonzero(zero.any(0))
        height, width = len(rows), len(cols)
        # One rectangle: every pixel of its bounding box is zero.
        assert zero.sum() == height * width and zero[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].all()
        for first, last, side in ((rows[0], rows[-1], height), (cols[0], cols[-1], width)):
            assert 1 <= side <= size
            assert side == size or first == 0 or last == 31  # shorter only where cut by the border
        inside += height == size and width == size
    assert 0.3 < inside / len(out) < 0.9  # (17/33)^2 of the centres keep the square whole


def test_color_transforms_follow_their_formulas():
    x = images(batch=64)
    keys = jax.random.split(KEY, 3)
    b = _diffaugment.brightness(keys[0], x) - x  # a constant per image in [-0.5, 0.5)
    np.testing.assert_allclose(b, jnp.broadcast_to(b[:, :1, :1, :1], b.shape), atol=1e-6)
    assert -0.5 <= b.min() and b.max() < 0.5 and b.std() > 0.2
    s = _diffaugment.saturation(keys[1], x)  # the channel mean is kept; the deviation scaled by [0, 2)
    np.testing.assert_allclose(s.mean(-1), x.mean(-1), atol=1e-5)
    ratio = (s - s.mean(-1, keepdims=True)) / (x - x.mean(-1, keepdims=True))
    ratio = np.median(np.asarray(ratio).reshape(64, -1), axis=1)
    assert 0 <= ratio.min() and ratio.max() < 2 and ratio.max() > 1.5
    c = _diffaugment.contrast(keys[2], x)  # the image mean is kept; the deviation scaled by [0.5, 1.5)
    np.testing.assert_allclose(c.mean((1, 2, 3)), x.mean((1, 2, 3)), atol=1e-5)
    spread = lambda y: (y - y.mean((1, 2, 3), keepdims=True)).std((1, 2, 3))
    ratio = spread(c) / spread(x)
    assert 0.5 <= ratio.min() and ratio.max() < 1.5 and ratio.max() - ratio.min() > 0.5


@pytest.mark.parametrize('dtype', [jnp.float32, jnp.bfloat16])
def test_diffaugment_keeps_shape_dtype_and_a_sane_range(dtype):
    x = images(dtype=dtype)
    out = jitted_diffaugment(KEY, x, policy=augment.DEFAULT_POLICY)
    assert out.shape == x.shape and out.dtype == dtype
    out = np.asarray(out, np.float32)
    # Brightness adds at most 0.5, saturation and contrast scale deviations by < 2 and < 1.5.
    assert np.isfinite(out).all() and np.abs(out).max() < 8
    assert not np.allclose(out, np.asarray(x, np.float32))


def test_diffaugment_gradients_reach_the_input():
    x = images(batch=4)
    weights = jax.random.normal(jax.random.key(1), x.shape)
    grad = jax.jit(jax.grad(lambda x: (augment.diffaugment(KEY, x) * weights).sum()))(x)
    assert np.isfinite(grad).all() and (np.abs(grad) > 0).mean() > 0.5


def test_diffaugment_same_key_same_images_other_key_others():
    x = images()
    run = functools.partial(jitted_diffaugment, policy=augment.DEFAULT_POLICY)
    a, b, c = run(KEY, x), run(KEY, x), run(jax.random.key(8), x)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_diffaugment_policy_as_a_string_and_unknown_names():
    x = images(batch=2, side=8)
    np.testing.assert_array_equal(jitted_diffaugment(KEY, x, policy='translation, cutout'),
                                  jitted_diffaugment(KEY, x, policy=('translation', 'cutout')))
    with pytest.raises(UserError, match="unknown DiffAugment policy 'colour'.*color, translation, cutout"):
        augment.diffaugment(KEY, x, 'colour')


# ADA: the transforms -----------------------------------------------------------------------------------

@pytest.mark.parametrize('channels', [1, 3])
def test_ada_at_p_0_is_the_identity(channels):
    x = images(channels=channels)
    np.testing.assert_array_equal(jitted_ada('bgc')(KEY, x, jnp.float32(0.0)), x)


def test_ada_at_p_1_changes_almost_every_image_and_keeps_shape_and_dtype():
    x = images(batch=64)
    out = jitted_ada('bgc')(KEY, x, jnp.float32(1.0))
    assert out.shape == x.shape and out.dtype == x.dtype and np.isfinite(out).all()
    changed = np.abs(np.asarray(out - x)).reshape(64, -1).max(1) > 1e-3
    assert changed.mean() > 0.95
    low = jitted_ada('bgc')(KEY, x.astype(jnp.bfloat16), jnp.float32(1.0))
    assert low.dtype == jnp.bfloat16 and np.isfinite(np.asarray(low, np.float32)).all()


def test_blits_copy_pixels_exactly():
    x = images(batch=64, channels=1)
    out = np.asarray(jitted_ada('b')(KEY, x, jnp.float32(1.0)))
    assert np.isin(out, np.asarray(x)).all()  # flips, quarter turns, whole-pixel shifts: no interpolation
    assert (np.abs(out - np.asarray(x)).reshape(64, -1).max(1) > 0).mean() > 0.6


def test_flip_and_quarter_turn_matrices_resample_exactly():
    x = images(batch=1, side=6, channels=2)
    flip = jnp.diag(jnp.array([-1.0, 1.0, 1.0]))[None]
    np.testing.assert_array_equal(jitted_resample(x, flip), x[:, :, ::-1])
    quarter = jnp.array([[[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]])
    np.testing.assert_array_equal(jitted_resample(x, quarter), jnp.rot90(x, k=1, axes=(1, 2)))
    shift = jnp.array([[[1.0, 0.0, -2.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])  # content 2 pixels right
    out = jitted_resample(x, shift)
    np.testing.assert_array_equal(out[:, :, 2:], x[:, :, :4])
    np.testing.assert_array_equal(out[:, :, :2], x[:, :, 2:0:-1])  # reflected, the edge not repeated


def test_geometric_output_stays_within_the_input_range():
    x = images(batch=32)
    out = jitted_ada('bg')(KEY, x, jnp.float32(1.0))
    lo, hi = x.min((1, 2), keepdims=True), x.max((1, 2), keepdims=True)
    assert (out >= lo - 1e-5).all() and (out <= hi + 1e-5).all()  # bilinear: convex combinations


def test_ada_applies_each_blit_with_probability_p():
    # P(unchanged) = P(no flip) P(no quarter turn) P(no shift): the flip is drawn from {0, 1} and the turn
    # from {0, 1, 2, 3} with probability p (the reference's rule), the shift rounds U(-4, 4) pixels to 0
    # on both axes with probability 1/64.
    p = 0.5
    expected = (1 - p / 2) * (1 - 3 * p / 4) * (1 - p + p / 64)
    x = images(batch=2000, channels=1)
    out = jitted_ada('b')(KEY, x, jnp.float32(p))
    unchanged = (np.asarray(out) == np.asarray(x)).reshape(2000, -1).all(1).mean()
    assert abs(unchanged - expected) < 0.04  # 4 standard errors


def test_geometric_constants_scale_and_rotation_probability():
    g = np.asarray(jitted_geometric(KEY, jnp.float32(1.0), 4000, 32, 32, blit=False))
    linear = g[:, :2, :2]
    # Only isotropic scaling changes the area: log2 det = -2 log2 s, s = 2^N(0, 0.2^2).
    assert abs(np.log2(np.abs(np.linalg.det(linear))).std() - 2 * _ada.SCALE_STD) < 0.02
    # Fractional translation: std 0.125 of the side before the rest of the map (a rotation and
    # scalings of mean size near 1): the offset's std is of the order of 4 pixels.
    assert 2.5 < g[:, :2, 2].std() < 6
    half = np.asarray(jitted_geometric(KEY, jnp.float32(0.5), 4000, 32, 32, blit=False))
    rotated = np.abs(half[:, 0, 1]) + np.abs(half[:, 1, 0]) > 1e-6
    assert abs(rotated.mean() - 0.5) < 0.04  # some rotation with probability p, as the reference's p_rot


def test_colour_constants():
    c = np.asarray(jitted_colour(KEY, jnp.float32(1.0), 4000, channels=3))
    v = np.ones(3) / np.sqrt(3)
    luma_gain = np.einsum('i,bij,j->b', v, c[:, :3, :3], v)  # +-contrast: the luma flip, contrast
    assert abs((luma_gain < 0).mean() - 0.5) < 0.04
    assert abs(np.log2(np.abs(luma_gain)).std() - _ada.CONTRAST_STD) < 0.03
    brightness = (c[:, :3, 3] @ v) / np.sqrt(3) / luma_gain
    assert abs(brightness.std() - _ada.BRIGHTNESS_STD) < 0.015
    chroma = np.array([1.0, -1.0, 0.0]) / np.sqrt(2)  # hue rotation keeps its length, saturation scales it
    chroma_gain = np.linalg.norm(c[:, :3, :3] @ chroma, axis=1) / np.abs(luma_gain)
    assert abs(np.log2(chroma_gain).std() - _ada.SATURATION_STD) < 0.06


def test_grey_images_get_the_mean_of_the_colour_rows():
    # For one channel the map averages the three rows (as the reference does): out = a x + b with
    # a = +-contrast (the luma flip) and b = a * brightness.
    x = images(batch=4000, side=2, channels=1)
    out = jitted_ada('c')(KEY, x, jnp.float32(1.0))
    x, out = np.asarray(x).reshape(4000, -1), np.asarray(out).reshape(4000, -1)
    a = (out[:, 1] - out[:, 0]) / (x[:, 1] - x[:, 0])
    b = out[:, 0] - a * x[:, 0]
    np.testing.assert_allclose(out, a[:, None] * x + b[:, None], atol=1e-4)
    assert abs((a < 0).mean() - 0.5) < 0.04
    assert abs(np.log2(np.abs(a)).std() - _ada.CONTRAST_STD) < 0.03
    assert abs((b / a).std() - _ada.BRIGHTNESS_STD) < 0.015


def test_ada_gradients_reach_the_input_and_same_key_same_images():
    x = images(batch=8)
    weights = jax.random.normal(jax.random.key(1), x.shape)
    grad = jax.jit(jax.grad(lambda x, p: (augment.ada(KEY, x, p) * weights).sum()))(x, jnp.float32(1.0))
    assert np.isfinite(grad).all() and (np.abs(grad) > 0).mean() > 0.5
    run = jitted_ada('bgc')
    np.testing.assert_array_equal(run(KEY, x, jnp.float32(0.7)), run(KEY, x, jnp.float32(0.7)))
    assert not np.allclose(run(KEY, x, jnp.float32(0.7)), run(jax.random.key(9), x, jnp.float32(0.7)))


def test_ada_refuses_two_channels_for_colour_and_unknown_pipelines():
    with pytest.raises(UserError, match='1 or 3 channels'):
        augment.ada(KEY, images(batch=1, side=4, channels=2), 0.5)
    with pytest.raises(UserError, match="'bx'.*b \\(pixel blitting\\), g \\(general geometric\\), c \\(colour\\)"):
        augment.ada(KEY, images(batch=1, side=4), 0.5, pipeline='bx')


# ADA: the adjustment of p ------------------------------------------------------------------------------

def test_ada_adjust_takes_p_from_0_to_1_in_500k_images():
    batch, interval = 64, 4
    adjust = jax.jit(functools.partial(augment.ada_adjust, batch_images=batch, interval=interval))
    p, adjustments = jnp.float32(0.0), 0
    while p < 1.0:
        p = adjust(p, 0.9)  # D calls 90% of real examples real: overfitting, more augmentation
        adjustments += 1
        assert adjustments < 3000
    images_seen = adjustments * batch * interval
    assert 500_000 <= images_seen < 500_000 + batch * interval
    assert float(adjust(p, 0.9)) == 1.0  # clipped
    step = batch * interval / 500_000
    assert float(adjust(0.5, 0.2)) == pytest.approx(0.5 - step)  # below the target: less augmentation
    assert float(adjust(0.5, augment.ada_adjust.__kwdefaults__['target'])) == 0.5  # at the target: still
    assert float(adjust(0.0, -1.0)) == 0.0  # clipped at 0
    assert float(augment.ada_adjust(0.5, 0.9, batch_images=32, target=0.95)) == pytest.approx(0.5 - 32 * 4 / 500_000)


def test_ada_update_adjusts_every_interval_with_the_mean_r_t():
    update = jax.jit(functools.partial(augment.ada_update, batch_images=100, interval=4))
    step = 100 * 4 / 500_000
    state = augment.ada_init(0.5)
    for rt in (1.0, 1.0, 0.0):
        state = update(state, jnp.float32(rt))
        assert float(state.p) == 0.5
    state = update(state, jnp.float32(0.0))  # mean r_t 0.5 < 0.6: p down once
    assert float(state.p) == pytest.approx(0.5 - step) and int(state.updates) == 0 and float(state.rt_sum) == 0
    for rt in (1.0, 1.0, 1.0, 0.0):  # mean 0.75 > 0.6: p up
        state = update(state, jnp.float32(rt))
    assert float(state.p) == pytest.approx(0.5)


def test_rt_heuristic_is_the_mean_sign_of_d_on_real_examples():
    assert float(augment.rt_heuristic(jnp.array([2.0, 0.5, -1.0, 3.0]))) == pytest.approx(0.5)
    assert float(augment.rt_heuristic(jnp.array([[-2.0], [-0.1]]))) == -1.0


# The registry ------------------------------------------------------------------------------------------

def test_get_each_kind():
    x = images()
    none = augment.get('none')
    np.testing.assert_array_equal(jax.jit(none.apply)(KEY, x, 1.0), x)
    diff = augment.get('diffaugment', policy='translation')
    np.testing.assert_array_equal(jax.jit(diff.apply)(KEY, x, 0.0),
                                  jitted_diffaugment(KEY, x, policy=('translation',)))
    ada, fixed = augment.get('ada'), augment.get('fixed', p=0.3)
    assert ada.adaptive and ada.p == 0.0 and not fixed.adaptive and fixed.p == 0.3
    np.testing.assert_array_equal(jax.jit(fixed.apply)(KEY, x, jnp.float32(0.3)),
                                  jitted_ada('bgc')(KEY, x, jnp.float32(0.3)))
    assert not none.adaptive and not diff.adaptive


def test_per_example_keys_make_each_image_independent_of_the_batch_it_is_in():
    x = images(batch=6)
    keys = jax.random.split(KEY, 6)
    for kind in ('diffaugment', 'fixed'):
        run = jax.jit(augment.per_example(augment.get(kind).apply))
        whole = run(keys, x, jnp.float32(0.8))
        halves = jnp.concatenate([run(keys[:3], x[:3], jnp.float32(0.8)), run(keys[3:], x[3:], jnp.float32(0.8))])
        np.testing.assert_array_equal(whole, halves)  # as on 1 device and on 2
        assert not np.allclose(whole, x)


def test_get_refuses_unknown_names_and_probabilities_outside_0_1():
    with pytest.raises(UserError, match="unknown augmentation 'adaa': choose from none, diffaugment, ada, fixed"):
        augment.get('adaa')
    for p in (-0.1, 1.5, 'high'):
        with pytest.raises(UserError, match='must be a probability in \\[0, 1\\]'):
            augment.get('fixed', p=p)
    with pytest.raises(UserError, match='must be a probability'):
        augment.ada_init(2.0)
    with pytest.raises(UserError, match="unknown DiffAugment policy 'zoom'"):
        augment.get('diffaugment', policy='color,zoom')
    with pytest.raises(UserError, match='needs a policy'):
        augment.get('diffaugment', policy='')


# ADA's probability multipliers and cutout (AugmentPipe's keyword arguments) -----------------------------

def test_ada_defaults_draw_as_before_multipliers_and_cutout():
    """Frozen from the pipeline before multipliers and cutout existed: the defaults change no bit."""
    x = jax.random.uniform(jax.random.key(0), (4, 8, 8, 3), minval=-1, maxval=1)
    frozen = {'bgc': ([19.671785, 6.4207344, 0.31606895, 7.248295], [0.19314781, -0.1531327, -0.0523946, -0.12489636]),
              'c': ([24.230839, 6.2966175, 1.0350584, 3.1057525], [-0.23820323, 0.35809648, 0.15418711, -0.30184466])}
    for pipeline, (sums, pixels) in frozen.items():
        out = np.asarray(jitted_ada(pipeline)(KEY, x, jnp.float32(0.6)))
        np.testing.assert_allclose(out.sum(axis=(1, 2, 3)), sums, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(out[:, 3, 4, 0], pixels, rtol=1e-5, atol=1e-6)
    explicit = jax.jit(lambda key, x, p: augment.ada(key, x, p, multipliers='b=1,g=1,c=1', cutout=0.0))
    np.testing.assert_array_equal(explicit(KEY, x, jnp.float32(0.6)), jitted_ada('bgc')(KEY, x, jnp.float32(0.6)))


def test_ada_cutout_zeroes_a_rectangle_of_cutout_size_at_p_1_and_nothing_at_p_0():
    x = images(batch=128, low=0.1)  # no zero in the input
    only_cutout = augment.get('fixed', pipeline='c', multipliers='c=0', cutout=1.0, cutout_size=0.25)
    run = jax.jit(only_cutout.apply)
    np.testing.assert_array_equal(run(KEY, x, jnp.float32(0.0)), x)
    out = np.asarray(run(KEY, x, jnp.float32(1.0)))
    whole = 0
    for image, result in zip(np.asarray(x), out):
        zero = (result == 0).all(-1)
        assert ((result == 0) | (result == image)).all()  # kept or zeroed, nothing recoloured
        rows, cols = np.flatnonzero(zero.any(1)), np.flatnonzero(zero.any(0))
        assert zero.sum() == len(rows) * len(cols) and zero[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].all()
        for first, last, side in ((rows[0], rows[-1], len(rows)), (cols[0], cols[-1], len(cols))):
            assert 1 <= side <= 8 and (side == 8 or first == 0 or last == 31)  # 0.25 of 32; cut by the border
        whole += len(rows) == len(cols) == 8
    assert whole >= 0.4 * len(out)  # (0.75)^2 of the centres keep it whole
    half = np.asarray(run(jax.random.key(8), x, jnp.float32(0.5)))
    assert 0.35 < (half == 0).all(-1).any(axis=(1, 2)).mean() < 0.65  # with probability cutout * p


def test_a_multiplier_of_one_half_halves_each_colour_transforms_rate():
    names = _ada.TRANSFORMS['c']

    @jax.jit
    def rates(key, p):  # each transform alone, at multiplier 1 and 0.5: the fraction of images it changes
        out = []
        for name in names:
            for m in (1, 0.5):
                c = _ada.color_matrices(key, p, 4000, 3, _ada.parse_multipliers(f'c=0,{name}={m}'))
                out.append((jnp.abs(c - jnp.eye(4)).max(axis=(1, 2)) > 1e-6).mean())
        return jnp.stack(out).reshape(len(names), 2)

    measured = np.asarray(rates(KEY, jnp.float32(0.8)))
    for name, (full, halved) in zip(names, measured):
        expected = 0.4 if name == 'lumaflip' else 0.8  # the luma flip draws the identity half the time
        assert abs(full - expected) < 0.03 and abs(halved - expected / 2) < 0.03, (name, full, halved)


def test_multipliers_c_half_leave_the_geometric_draws_alone_and_parse():
    m = _ada.parse_multipliers('c=0.5')
    assert m['hue'] == m['brightness'] == 0.5 and m['xflip'] == m['xfrac'] == 1.0
    assert _ada.parse_multipliers({'g': 0.0, 'rotate': 2.0})['rotate'] == 2.0  # later entries win
    r3gan = jax.jit(lambda key, p: _ada.geometric_matrices(key, p, 64, 8, 8, multipliers=m))
    np.testing.assert_array_equal(r3gan(KEY, jnp.float32(0.7)), jitted_geometric(KEY, jnp.float32(0.7), 64, 8, 8))
    for spec, message in (('zoom=1', "unknown ADA transform 'zoom'"), ('hue=-1', 'must be a number >= 0'),
                          ('hue', 'is not name=value')):
        with pytest.raises(UserError, match=message):
            augment.get('fixed', multipliers=spec)
    with pytest.raises(UserError, match=r'cutout_size=1.5 must be in \(0, 1\]'):
        augment.get('ada', cutout=1.0, cutout_size=1.5)
    from jaxgan import config as config_lib
    c = config_lib.base_config()
    c.augment.kind, c.augment.cutout = 'fixed', -1.0
    with pytest.raises(UserError, match=r'config.augment: ADA cutout=-1.0 must be a probability multiplier'):
        config_lib.validate(c, num_devices=1)
