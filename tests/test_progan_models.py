"""Progressive GAN's networks (jaxgan.models.progan) against tkarras/progressive_growing_of_gans.

Parameter counts: the official layer lists (networks.py, G_paper and D_paper; the paper's Table 2) written
out below as formulas of the layer shapes, checked against the Flax modules' 'params' (shapes only,
`jax.eval_shape`). The official counts are the trainables, the weights of get_weight and the biases of
apply_bias ('lod' is not trainable):
  dense(in, fmaps): a weight [in, fmaps]; apply_bias after it: a bias [fmaps] -- except G's 4x4/Dense,
    whose bias is applied after the reshape to [nf(1), 4, 4]: a bias [nf(1)].
  conv2d(in, fmaps, k), upscale2d_conv2d, conv2d_downscale2d: a weight of k * k * in * fmaps entries
    (upscale2d_conv2d's [k, k, fmaps, in]), and a bias [fmaps].
  G_paper: 4x4/Dense (latent_size + label_size -> 16 nf(1)), 4x4/Conv (3x3, nf(1) -> nf(1)); per
    resolution 2^r from 8 up Conv0_up (3x3, nf(r - 2) -> nf(r - 1)) and Conv1 (3x3, nf(r - 1) ->
    nf(r - 1)); ToRGB_lod* (1x1, nf(r - 1) -> num_channels) at every resolution, 4 included.
  D_paper: FromRGB_lod* (1x1, num_channels -> nf(r - 1)) at every resolution; per resolution 2^r from R
    down to 8 Conv0 (3x3, nf(r - 1) -> nf(r - 1)) and Conv1_down (3x3, nf(r - 1) -> nf(r - 2)); 4x4/Conv
    (3x3, nf(1) + 1 -> nf(1), the +1 the minibatch stddev map), 4x4/Dense0 (16 nf(1) -> nf(0)),
    4x4/Dense1 (nf(0) -> 1 + label_size).
  nf(stage) = min(int(fmap_base / 2^(stage fmap_decay)), fmap_max): 512, 512, 512, 512, 512, 256, 128, 64,
  32, 16 for stages 0..9 with fmap_base 8192, fmap_max 512.

At 1024x1024 (CelebA-HQ, 3 channels, no labels) these give G 23,079,115 and D 23,087,249 parameters: the
paper's "23.1M" each (Table 2, total trainable parameters). D's layer list is also that of the official
StyleGAN code's D_basic, whose print_layers table (FromRGB_lod0..8, Conv0 / Conv1_down per resolution,
4x4/Conv (3, 3, 513, 512), 4x4/Dense0 (8192, 512), 4x4/Dense1 (512, 1)) prints 'Total 23087249'.

Behaviour: the outputs of a tiny pair (fmap_base 64, fmap_max 32, 16x16) with given weights are checked
against a transcription of the official 'linear' structure at the official lod (NCHW, the fused
transposed and strided convolutions, lerp_clip), which ties together the port of the weights, the
fade-in and `schedule`'s lod -> (stage, alpha) mapping.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.errors import UserError
from jaxgan.models import progan as pg, progan_growing as pgg, progan_layers as pgl

TINY = dict(fmap_base=64, fmap_max=32)  # nf: 32, 32, 16, 8, 4 for stages 0..4

# ---------------------------------------------------------------- helpers


def count(tree) -> int:
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(tree)))


def fc(cin, cout):
    return cin * cout + cout


def conv(k, cin, cout):
    return k * k * cin * cout + cout


def official_nf(fmap_base=8192, fmap_max=512):
    return lambda stage: min(int(fmap_base / (2.0 ** stage)), fmap_max)


def official_g(resolution, num_channels=3, label_size=0, fmap_base=8192, fmap_max=512):
    nf, log2 = official_nf(fmap_base, fmap_max), int(math.log2(resolution))
    total = (nf(0) + label_size) * nf(1) * 16 + nf(1)  # 4x4/Dense: bias per feature map
    total += conv(3, nf(1), nf(1)) + conv(1, nf(1), num_channels)  # 4x4/Conv, ToRGB_lod(log2 - 2)
    for r in range(3, log2 + 1):
        total += conv(3, nf(r - 2), nf(r - 1)) + conv(3, nf(r - 1), nf(r - 1)) + conv(1, nf(r - 1), num_channels)
    return total


def official_d(resolution, num_channels=3, label_size=0, fmap_base=8192, fmap_max=512, mbstd=True):
    nf, log2 = official_nf(fmap_base, fmap_max), int(math.log2(resolution))
    total = 0
    for r in range(log2, 2, -1):
        total += conv(1, num_channels, nf(r - 1)) + conv(3, nf(r - 1), nf(r - 1)) + conv(3, nf(r - 1), nf(r - 2))
    total += conv(1, num_channels, nf(1))  # FromRGB at 4x4
    total += conv(3, nf(1) + int(mbstd), nf(1)) + fc(16 * nf(1), nf(0)) + fc(nf(0), 1 + label_size)
    return total


def g_vars(g, batch=1, **kwargs):
    y = jnp.zeros((batch,), jnp.int32) if g.num_classes else None
    return jax.eval_shape(functools.partial(g.init, **kwargs), jax.random.key(0), jnp.zeros((batch, g.z_dim)), y)


def d_vars(d, resolution, batch=1, channels=3, **kwargs):
    return jax.eval_shape(functools.partial(d.init, **kwargs), jax.random.key(0),
                          jnp.zeros((batch, resolution, resolution, channels)))


def shapes(tree):
    return jax.tree.map(lambda a: a.shape, tree)


def normal(*shape, seed=0):
    """N(0, 1) test inputs from NumPy (jax.random would compile a sampler per shape)."""
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape), jnp.float32)


# ---------------------------------------------------------------- sizes against the official code

def test_nf_is_the_official_feature_map_count():
    assert [pgl.nf(s) for s in range(10)] == [512, 512, 512, 512, 512, 256, 128, 64, 32, 16]
    assert [pgl.nf(s, 64, 1.0, 32) for s in range(5)] == [32, 32, 16, 8, 4]


def test_parameter_counts_match_the_official_celebahq_networks():
    assert (official_g(1024), official_d(1024)) == (23_079_115, 23_087_249)  # the paper's 23.1M each
    cfg = pg.config(1024)
    g, d = pg.generator(cfg), pg.discriminator(cfg)
    for stage in (None, 0, 5):  # the same parameters at every stage
        r = pgl.stage_resolution(pgl.check_stage(stage, 1024))
        assert count(g_vars(g, stage=stage, alpha=0.5)['params']) == 23_079_115
        assert count(d_vars(d, r, stage=stage, alpha=0.5)['params']) == 23_087_249
    p = g_vars(g)['params']
    # Official WeightShape of some layers (the print_layers table), in this module's layout.
    assert p['b4']['dense']['kernel'].shape == (512, 8192) and p['b4']['dense']['bias'].shape == (512,)
    assert p['b64']['conv0_up']['kernel'].shape == (3, 3, 512, 256)  # official Conv0_up: (3, 3, 256, 512)
    assert p['torgb1024']['kernel'].shape == (1, 1, 16, 3) and len([k for k in p if k.startswith('torgb')]) == 9
    q = d_vars(d, 1024)['params']
    assert q['b4']['conv']['kernel'].shape == (3, 3, 513, 512)
    assert q['b4']['dense0']['kernel'].shape == (8192, 512) and q['b4']['dense1']['kernel'].shape == (512, 1)
    assert q['b1024']['conv1_down']['kernel'].shape == (3, 3, 16, 32)
    assert q['fromrgb1024']['kernel'].shape == (1, 1, 3, 16)


@pytest.mark.parametrize('resolution,channels,classes,mbstd', [(32, 3, 0, 4), (16, 1, 10, 4), (4, 3, 0, 0),
                                                                (8, 3, 5, 1)])
def test_parameter_counts_of_small_and_conditional_networks(resolution, channels, classes, mbstd):
    g = pg.Generator(resolution, channels, classes, **TINY)
    d = pg.Discriminator(resolution, classes, **TINY, mbstd_group_size=mbstd)
    assert count(g_vars(g, stage=0)['params']) == official_g(resolution, channels, classes, **TINY)
    assert count(d_vars(d, 4, channels=channels, stage=0)['params']) == official_d(
        resolution, channels, classes, **TINY, mbstd=mbstd > 1)


# ---------------------------------------------------------------- the tiny pair's behaviour

R = 16
K = 3
B = 4


def random_variables(module, *args, seed=0, **kwargs):
    """The variables `init` would make (shapes by jax.eval_shape, nothing compiled), filled with N(0, 1)
    kernels, as init stores them, and N(0, 0.1^2) biases (zero at init), so that checks see the biases."""
    leaves, tree = jax.tree_util.tree_flatten_with_path(
        jax.eval_shape(functools.partial(module.init, **kwargs), jax.random.key(0), *args))
    rng = np.random.default_rng(seed)
    return jax.tree_util.tree_unflatten(tree, [
        jnp.asarray(rng.normal(size=a.shape) * (0.1 if path[-1].key == 'bias' else 1.0), jnp.float32)
        for path, a in leaves])


@functools.lru_cache(maxsize=None)
def tiny_pair():
    """A conditional pair at 16x16 with random variables, latents and labels."""
    g = pg.Generator(R, num_classes=K, **TINY)
    d = pg.Discriminator(R, num_classes=K, **TINY)
    z = normal(B, g.z_dim, seed=1)
    y = jnp.arange(B) % K
    gp = random_variables(g, z, y, seed=2)
    dp = random_variables(d, jnp.zeros((B, R, R, 3)), seed=3)
    return g, d, gp, dp, z, y


@functools.lru_cache(maxsize=None)
def _compiled(which, stage, static_alpha):
    module = tiny_pair()[which]

    def f(params, *inputs, alpha):
        return module.apply(params, *inputs, stage=stage, alpha=alpha)

    return jax.jit(f, static_argnames=('alpha',) if static_alpha else ())


def _alpha(alpha, static):
    """static: alpha a Python number seen by the module (1: the fade skipped); else traced, one compile
    per stage for every alpha."""
    return alpha if static else jnp.float32(alpha)


def run_g(stage, alpha, static=False):
    _, _, gp, _, z, y = tiny_pair()
    return _compiled(0, stage, static)(gp, z, y, alpha=_alpha(alpha, static))


def run_d(x, stage, alpha, static=False):
    return _compiled(1, stage, static)(tiny_pair()[3], x, alpha=_alpha(alpha, static))


def images(resolution, seed=0):
    return normal(B, resolution, resolution, 3, seed=seed)


def test_output_shapes_at_every_stage():
    g, d, gp, dp, z, y = tiny_pair()
    for stage in range(3):
        r = 4 * 2 ** stage
        img = run_g(stage, 0.5)
        assert img.shape == (B, r, r, 3) and img.dtype == jnp.float32
        out = run_d(img, stage, 0.5)
        assert out['logits'].shape == (B,) and out['features'].shape == (B, 32)
        assert out['class_logits'].shape == (B, K)
    assert jax.eval_shape(g.apply, gp, z, y).shape == (B, R, R, 3)  # stage None: the full resolution
    d8 = pg.Discriminator(8, **TINY)
    x = jnp.zeros((2, 8, 8, 1))
    assert set(jax.eval_shape(d8.apply, jax.eval_shape(d8.init, jax.random.key(0), x), x)) == {'logits', 'features'}


def test_the_params_are_the_same_pytree_at_every_stage():
    g, d, gp, dp, _, _ = tiny_pair()
    want_g, want_d = shapes(gp), shapes(dp)
    # init at each stage (alpha 1: the previous stage's toRGB / fromRGB unused), against init at the last.
    for stage, alpha in ((0, 1.0), (1, 1.0), (1, 0.3), (2, 0.3)):
        assert shapes(g_vars(g, batch=B, stage=stage, alpha=alpha)) == want_g
        assert shapes(d_vars(d, 4 * 2 ** stage, batch=B, stage=stage, alpha=alpha)) == want_d
    assert set(want_g['params']) == {'b4', 'b8', 'b16', 'torgb4', 'torgb8', 'torgb16'}
    assert set(want_d['params']) == {'b4', 'b8', 'b16', 'fromrgb4', 'fromrgb8', 'fromrgb16'}


def test_generator_fade_in():
    prev = pgl.upscale2d(run_g(1, 1.0))
    new = run_g(2, 1.0, static=True)  # the new block alone, the fade skipped
    assert float(jnp.max(jnp.abs(new - prev))) > 1e-2  # the two paths differ, so the checks below mean something
    np.testing.assert_array_equal(run_g(2, 1.0), new)  # traced alpha 1
    np.testing.assert_allclose(run_g(2, 0.0), prev, rtol=1e-6, atol=1e-6)  # the upscaled previous stage
    np.testing.assert_allclose(run_g(2, 0.25), 0.25 * new + 0.75 * prev, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run_g(2, jnp.float32(7.0)), new)  # clipped, as lerp_clip


def test_discriminator_fade_in():
    x = images(16)
    new = run_d(x, 2, 1.0, static=True)
    prev = run_d(pgl.downscale2d(x), 1, 1.0)  # the previous stage's D on the downscaled image
    assert float(jnp.max(jnp.abs(new['logits'] - prev['logits']))) > 1e-3
    for key in new:
        np.testing.assert_array_equal(run_d(x, 2, 1.0)[key], new[key])
        np.testing.assert_allclose(run_d(x, 2, 0.0)[key], prev[key], rtol=1e-5, atol=1e-5)
    mid = run_d(x, 2, 0.5)['logits']
    assert not np.allclose(mid, new['logits'], atol=1e-4) and not np.allclose(mid, prev['logits'], atol=1e-4)


def test_alpha_may_be_traced_and_differentiated():
    g, d, gp, dp, z, y = tiny_pair()

    def score(alpha):
        return jnp.sum(d.apply(dp, g.apply(gp, z, y, stage=1, alpha=alpha), stage=1, alpha=alpha)['logits'])

    value, grad = jax.jit(jax.value_and_grad(score))(jnp.float32(0.5))
    assert np.isfinite(value) and np.isfinite(grad) and grad != 0


# ---------------------------------------------------------------- against the official 'linear' structure

NCHW = ('NCHW', 'HWIO', 'NCHW')


def _nf(stage):
    return pgl.nf(stage, TINY['fmap_base'], 1.0, TINY['fmap_max'])


def _wscaled(w, gain=math.sqrt(2), fan_in=None):
    # networks.py, get_weight with use_wscale: the stored weight times gain / sqrt(fan_in).
    return w * (gain / np.sqrt(np.prod(w.shape[:-1]) if fan_in is None else fan_in))


def _bias(x, b):
    return x + (b if x.ndim == 2 else b.reshape(1, -1, 1, 1))


def _lrelu(x):
    return jnp.maximum(x * 0.2, x)


def _pn(x):
    return x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=1, keepdims=True) + 1e-8)


def _conv2d(x, w):
    return jax.lax.conv_general_dilated(x, w, (1, 1), 'SAME', dimension_numbers=NCHW)


def _upscale2d(x):
    s = x.shape
    return jnp.tile(x.reshape(-1, s[1], s[2], 1, s[3], 1), (1, 1, 1, 2, 1, 2)).reshape(-1, s[1], 2 * s[2], 2 * s[3])


def _downscale2d(x):
    s = x.shape
    return x.reshape(s[0], s[1], s[2] // 2, 2, s[3] // 2, 2).mean(axis=(3, 5))


def _shift_sum(w):
    w = jnp.pad(w, ((1, 1), (1, 1), (0, 0), (0, 0)))
    return w[1:, 1:] + w[:-1, 1:] + w[1:, :-1] + w[:-1, :-1]


def _upscale2d_conv2d(x, w_official):
    # networks.py, upscale2d_conv2d: tf.nn.conv2d_transpose(x, w4, stride 2, 'SAME'), the gradient of the
    # strided convolution with w4 [k, k, fmaps, in]; here by jax.vjp of that convolution.
    k, _, fmaps, cin = w_official.shape
    w4 = _shift_sum(_wscaled(w_official, fan_in=k * k * cin))
    y0 = jnp.zeros((x.shape[0], fmaps, 2 * x.shape[2], 2 * x.shape[3]))
    _, vjp = jax.vjp(lambda y: jax.lax.conv_general_dilated(y, w4, (2, 2), 'SAME', dimension_numbers=NCHW), y0)
    return vjp(x)[0]


def _conv2d_downscale2d(x, w):
    return jax.lax.conv_general_dilated(x, _shift_sum(_wscaled(w)) * 0.25, (2, 2), 'SAME', dimension_numbers=NCHW)


def _mbstd(x, group_size=4, xp=jnp):
    # networks.py, minibatch_stddev_layer, NCHW, step by step.
    g = min(group_size, x.shape[0])
    s = x.shape
    y = x.reshape(g, -1, s[1], s[2], s[3])
    y = y - y.mean(axis=0, keepdims=True)
    y = xp.sqrt(xp.mean(xp.square(y), axis=0) + 1e-8).mean(axis=(1, 2, 3), keepdims=True)
    return xp.concatenate([x, xp.tile(y, (g, 1, s[2], s[3]))], axis=1)


@jax.jit
def official_g_linear(p, latents, labels, lod_in):
    # networks.py, G_paper, structure 'linear', NCHW; p: this module's params, ported (Conv0_up's kernel
    # flipped in space and transposed back to the official [k, k, fmaps, in]).
    log2 = int(math.log2(R))
    x = _pn(jnp.concatenate([latents, labels], axis=1))
    b4 = p['b4']
    x = x @ _wscaled(b4['dense']['kernel'], gain=math.sqrt(2) / 4)
    x = _pn(_lrelu(_bias(x.reshape(-1, _nf(1), 4, 4), b4['dense']['bias'])))
    x = _pn(_lrelu(_bias(_conv2d(x, _wscaled(b4['conv']['kernel'])), b4['conv']['bias'])))

    def torgb(x, res):
        t = p[f'torgb{res}']
        return _bias(_conv2d(x, _wscaled(t['kernel'], gain=1)), t['bias'])

    images_out = torgb(x, 4)
    for r in range(3, log2 + 1):
        lod, blk = log2 - r, p[f'b{2 ** r}']
        w_up = jnp.flip(blk['conv0_up']['kernel'], (0, 1)).transpose(0, 1, 3, 2)
        x = _pn(_lrelu(_bias(_upscale2d_conv2d(x, w_up), blk['conv0_up']['bias'])))
        x = _pn(_lrelu(_bias(_conv2d(x, _wscaled(blk['conv1']['kernel'])), blk['conv1']['bias'])))
        img = torgb(x, 2 ** r)
        images_out = _upscale2d(images_out)
        images_out = img + (images_out - img) * jnp.clip(lod_in - lod, 0.0, 1.0)  # lerp_clip
    return images_out


@jax.jit
def official_d_linear(p, images_in, lod_in):
    # networks.py, D_paper, structure 'linear', NCHW, fused_scale=True.
    log2 = int(math.log2(R))

    def fromrgb(x, res):
        t = p[f'fromrgb{res}']
        return _lrelu(_bias(_conv2d(x, _wscaled(t['kernel'])), t['bias']))

    img = images_in
    x = fromrgb(img, R)
    for r in range(log2, 2, -1):
        lod, blk = log2 - r, p[f'b{2 ** r}']
        x = _lrelu(_bias(_conv2d(x, _wscaled(blk['conv0']['kernel'])), blk['conv0']['bias']))
        x = _lrelu(_bias(_conv2d_downscale2d(x, blk['conv1_down']['kernel']), blk['conv1_down']['bias']))
        img = _downscale2d(img)
        y = fromrgb(img, 2 ** (r - 1))
        x = x + (y - x) * jnp.clip(lod_in - lod, 0.0, 1.0)
    b4 = p['b4']
    x = _mbstd(x)
    x = _lrelu(_bias(_conv2d(x, _wscaled(b4['conv']['kernel'])), b4['conv']['bias']))
    x = _lrelu(_bias(x.reshape(x.shape[0], -1) @ _wscaled(b4['dense0']['kernel']), b4['dense0']['bias']))
    combo_out = _bias(x @ _wscaled(b4['dense1']['kernel'], gain=1), b4['dense1']['bias'])
    return combo_out[:, :1], combo_out[:, 1:]


@pytest.mark.parametrize('kimg,want', [(0, (0, 1.0)), (900, (1, 0.5)), (1200, (1, 1.0)), (2250, (2, 0.75)),
                                       (2000, (2, 200 / 600))])
def test_outputs_match_the_official_linear_structure_at_the_official_lod(kimg, want):
    _, _, gp, dp, z, y = tiny_pair()
    stage, alpha = pgg.schedule(kimg, R)
    assert stage == want[0] and alpha == pytest.approx(want[1], abs=1e-9)
    lod_in = pgg.lod(kimg, R)
    factor = 2 ** math.floor(lod_in)  # process_reals 'UpscaleLOD': the official networks work at R pixels
    ours = run_g(stage, alpha)
    official = official_g_linear(gp['params'], z, jax.nn.one_hot(y, K), lod_in)
    np.testing.assert_allclose(pgl.upscale2d(ours, factor).transpose(0, 3, 1, 2), official, rtol=1e-4, atol=1e-5)
    x = images(4 * 2 ** stage, seed=kimg)
    ours = run_d(x, stage, alpha)
    scores, labels_out = official_d_linear(dp['params'], pgl.upscale2d(x, factor).transpose(0, 3, 1, 2), lod_in)
    np.testing.assert_allclose(ours['logits'], scores[:, 0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours['class_logits'], labels_out, rtol=1e-4, atol=1e-5)


def test_unfused_discriminator_pools_after_the_activation():
    x = images(8)
    fused = pg.Discriminator(8, mbstd_group_size=0, **TINY)
    params = random_variables(fused, x)['params']
    unfused = pg.Discriminator(8, fused_scale=False, mbstd_group_size=0, **TINY)
    assert shapes(jax.eval_shape(unfused.init, jax.random.key(0), x)['params']) == shapes(params)
    assert params['b4']['conv']['kernel'].shape == (3, 3, 32, 32)  # mbstd_group_size 0: no stddev map
    blk = params['b8']

    @jax.jit
    def outputs(x):
        h = pgl.leaky_relu(pgl.Conv2d(16, 1).apply({'params': params['fromrgb8']}, x))  # nf(2) = 16 at 8x8
        got_unfused = pg.DiscriminatorBlock(16, 32, fused_scale=False).apply({'params': blk}, h)
        got_fused = pg.DiscriminatorBlock(16, 32).apply({'params': blk}, h)
        h = pgl.leaky_relu(pgl.Conv2d(16, 3).apply({'params': blk['conv0']}, h))
        c = pgl.Conv2d(32, 3).apply({'params': blk['conv1_down']}, h)
        b = blk['conv1_down']['bias']
        want_unfused = pgl.downscale2d(pgl.leaky_relu(c))  # networks.py: conv2d, bias, lrelu, downscale2d
        want_fused = pgl.leaky_relu(pgl.downscale2d(c - b) + b)  # conv2d_downscale2d, bias, lrelu
        return got_unfused, want_unfused, got_fused, want_fused

    got_unfused, want_unfused, got_fused, want_fused = outputs(x)
    np.testing.assert_allclose(got_unfused, want_unfused, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_fused, want_fused, rtol=1e-5, atol=1e-6)
    assert not np.allclose(got_fused, got_unfused, atol=1e-3)  # the order matters


# ---------------------------------------------------------------- the schedule

def official_training_schedule_lod(kimg, resolution_log2, lod_initial_resolution=4, lod_training_kimg=600,
                                   lod_transition_kimg=600):
    # train.py, TrainingSchedule.__init__, the lines for the phase and the lod, as written there.
    phase_dur = lod_training_kimg + lod_transition_kimg
    phase_idx = int(np.floor(kimg / phase_dur)) if phase_dur > 0 else 0
    phase_kimg = kimg - phase_idx * phase_dur
    lod = resolution_log2
    lod -= np.floor(np.log2(lod_initial_resolution))
    lod -= phase_idx
    if lod_transition_kimg > 0:
        lod -= max(phase_kimg - lod_training_kimg, 0.0) / lod_transition_kimg
    lod = max(lod, 0.0)
    return lod, 2 ** (resolution_log2 - int(np.floor(lod)))


@pytest.mark.parametrize('kimg,want', [
    (0, (0, 1.0)), (599.9, (0, 1.0)), (600, (0, 1.0)), (900, (1, 0.5)), (1200, (1, 1.0)), (1500, (1, 1.0)),
    (2100, (2, 0.5)), (9000, (7, 1.0)), (9060, (8, 0.1)), (9300, (8, 0.5)), (9600, (8, 1.0)), (12000, (8, 1.0))])
def test_schedule_at_official_points(kimg, want):
    stage, alpha = pgg.schedule(kimg, 1024)
    assert stage == want[0] and alpha == pytest.approx(want[1], abs=1e-9)
    assert isinstance(stage, int)


def test_schedule_follows_training_schedule_everywhere():
    for kimg in np.arange(0.0, 12000.0, 37.5):
        for resolution, args in ((1024, ()), (256, (8, 300, 900)), (32, (4, 1000, 0)), (1024, (1024, 0, 0))):
            lod, res = official_training_schedule_lod(kimg, int(math.log2(resolution)), *args)
            stage, alpha = pgg.schedule(kimg, resolution, *args[1:], *args[:1])
            assert pgg.lod(kimg, resolution, *args[1:], *args[:1]) == pytest.approx(lod, abs=1e-12)
            assert pgl.stage_resolution(stage) == res and 0 < alpha <= 1
            assert alpha == pytest.approx(1 - (lod - np.floor(lod)), abs=1e-12)
    assert pgg.schedule(0, 1024, 0, 0, 1024) == (8, 1.0)  # config.py '-nogrowing'


def test_config_is_the_official_celebahq_preset():
    cfg = pg.config(1024)
    assert cfg['minibatch'] == {4: 512, 8: 256, 16: 128, 32: 64, 64: 32, 128: 32, 256: 32, 512: 32, 1024: 32}
    assert cfg['G_lrate'] == cfg['D_lrate'] == {4: 0.001, 8: 0.001, 16: 0.001, 32: 0.001, 64: 0.001,
                                                128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003}
    assert (cfg['beta1'], cfg['beta2'], cfg['epsilon']) == (0.0, 0.99, 1e-8)
    assert (cfg['wgan_lambda'], cfg['wgan_epsilon'], cfg['wgan_target']) == (10.0, 0.001, 1.0)
    assert (cfg['lod_training_kimg'], cfg['lod_transition_kimg'], cfg['total_kimg']) == (600, 600, 12000)
    assert cfg['latent_size'] == 512 and pg.generator(cfg).z_dim == 512
    assert list(pg.config(32)['minibatch']) == [4, 8, 16, 32]


# ---------------------------------------------------------------- layers

def test_equalised_learning_rate_stores_unit_normal_weights():
    g, _, _, _, z, y = tiny_pair()
    x, h = normal(8, 64), normal(2, 4, 4, 8, seed=6)
    dense, plain, conv = pgl.Dense(256), pgl.Dense(256, use_wscale=False), pgl.Conv2d(4, 3)

    @jax.jit
    def init(key):  # one compile for every init here
        return (g.init(key, z, y)['params'], dense.init(key, x)['params'], plain.init(key, x)['params'],
                conv.init(key, h)['params'])

    gp, p, q, c = init(jax.random.key(5))
    assert np.std(p['kernel']) == pytest.approx(1.0, abs=0.02) and not np.any(p['bias'])
    np.testing.assert_allclose(dense.apply({'params': p}, x), x @ (p['kernel'] * math.sqrt(2) / 8), rtol=1e-5)
    # Without wscale the weight is stored at its He std and used as it is (networks.py, get_weight).
    np.testing.assert_allclose(q['kernel'], p['kernel'] * math.sqrt(2) / 8, rtol=1e-6)
    np.testing.assert_allclose(plain.apply({'params': q}, x), x @ q['kernel'], rtol=1e-5)
    np.testing.assert_allclose(conv.apply({'params': c}, h), jax.lax.conv_general_dilated(
        h, c['kernel'] * math.sqrt(2) / math.sqrt(72), (1, 1), 'SAME', dimension_numbers=pgl.DIMENSIONS),
                               rtol=1e-4, atol=1e-6)
    # Every weight of G stored N(0, 1), every bias zero; toRGB at gain 1.
    kernels = np.concatenate([np.ravel(a) for path, a in jax.tree_util.tree_leaves_with_path(gp)
                              if path[-1].key == 'kernel'])
    assert kernels.size > 20000 and np.std(kernels) == pytest.approx(1.0, abs=0.02)
    assert np.mean(kernels) == pytest.approx(0.0, abs=0.02)
    assert not any(np.any(a) for path, a in jax.tree_util.tree_leaves_with_path(gp) if path[-1].key == 'bias')
    np.testing.assert_allclose(pgl.Conv2d(3, 1, gain=1.0).apply({'params': gp['torgb16']}, h),
                               h @ (gp['torgb16']['kernel'][0, 0] / math.sqrt(8)), rtol=1e-4, atol=1e-6)


def test_the_first_dense_layer_reads_nchw_with_a_bias_per_feature_map():
    z = normal(2, 6)
    p = {'kernel': normal(6, 5 * 16, seed=1), 'bias': jnp.arange(5.0)}
    want = (z @ (p['kernel'] * math.sqrt(2) / 4 / math.sqrt(6))).reshape(2, 5, 4, 4).transpose(0, 2, 3, 1)
    np.testing.assert_allclose(pgl.Dense4x4(5).apply({'params': p}, z), want + jnp.arange(5.0), rtol=1e-5, atol=1e-6)


def test_pixel_norm_gives_unit_mean_square_per_pixel():
    x = normal(2, 5, 5, 16) * jnp.exp(normal(2, 5, 5, 1, seed=1))
    block = {'params': tiny_pair()[2]['params']['b8']}
    normed, feats = jax.jit(lambda x, h: (pgl.pixel_norm(x), pg.GeneratorBlock(8, 16).apply(block, h)))(
        x, normal(2, 4, 4, 32, seed=2))
    np.testing.assert_allclose(np.mean(np.square(normed), axis=-1), 1.0, rtol=1e-5)
    assert feats.shape == (2, 8, 8, 16)
    np.testing.assert_allclose(np.mean(np.square(feats), axis=-1), 1.0, rtol=1e-4)


def test_minibatch_stddev_is_the_official_single_map():
    x = np.random.default_rng(4).normal(size=(8, 3, 3, 5)).astype(np.float32)
    want = _mbstd(x.transpose(0, 3, 1, 2), xp=np).transpose(0, 2, 3, 1)
    np.testing.assert_allclose(jax.jit(pgl.minibatch_stddev)(x), want, rtol=1e-5)
    assert jax.eval_shape(pgl.minibatch_stddev, x[:2]).shape == (2, 3, 3, 6)  # group min(4, B)


def test_resampling_and_fading_the_reals():
    x = normal(2, 4, 4, 3)
    assert pgl.fade_reals(x, 1.0) is x
    up, down_up, down, faded = jax.jit(lambda x, a: (pgl.upscale2d(x), pgl.downscale2d(pgl.upscale2d(x)),
                                                     pgl.downscale2d(x), pgl.fade_reals(x, a)))(x, 0.25)
    x = np.asarray(x)
    np.testing.assert_array_equal(up[:, 1::2, ::2], x)
    np.testing.assert_array_equal(down_up, x)
    np.testing.assert_allclose(down[:, 0, 0], x[:, :2, :2].mean(axis=(1, 2)), rtol=1e-5)
    pooled = np.repeat(np.repeat(x.reshape(2, 2, 2, 2, 2, 3).mean(axis=(2, 4)), 2, axis=1), 2, axis=2)
    np.testing.assert_allclose(faded, 0.25 * x + 0.75 * pooled, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize('make', [lambda r: pg.Generator(r), lambda r: pg.Discriminator(r), lambda r: pg.config(r),
                                  lambda r: pgg.schedule(0, r)])
@pytest.mark.parametrize('resolution', [12, 2, 0, 48])
def test_a_bad_resolution_is_a_one_line_user_error(make, resolution):
    with pytest.raises(UserError) as info:
        make(resolution)
    message = str(info.value)
    assert f'resolution {resolution}' in message and '\n' not in message


@pytest.mark.parametrize('stage', [-1, 3, 1.0, True])
def test_a_stage_out_of_range_is_a_one_line_user_error(stage):
    g, d, gp, dp, z, y = tiny_pair()
    for call in (lambda: g.apply(gp, z, y, stage=stage), lambda: d.apply(dp, images(8), stage=stage)):
        with pytest.raises(UserError) as info:
            call()
        assert f'stage {stage!r}' in str(info.value) and 'stages 0 to 2' in str(info.value)
        assert '\n' not in str(info.value)


def test_wrong_input_shapes_are_user_errors():
    g, d, gp, dp, z, y = tiny_pair()
    with pytest.raises(UserError, match=r'this ProGAN discriminator at stage 1 takes \[B, 8, 8, C\]'):
        d.apply(dp, images(16), stage=1)
    with pytest.raises(UserError, match=r'takes \[B, 32\]'):
        g.apply(gp, z[:, :7], y)
    with pytest.raises(ValueError, match='labels needed'):
        g.apply(gp, z)
