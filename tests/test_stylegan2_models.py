"""StyleGAN2's networks (jaxgan.models.stylegan2) against NVlabs/stylegan2-ada-pytorch.

Parameter counts: the official networks' layer lists (training/networks.py) written out below as
formulas of the layer sizes, for the configs of train.py's cfg_specs, and checked against the Flax
modules' 'params' (shapes only, `jax.eval_shape`). PyTorch counts `parameters()`; the buffers (w_avg,
noise_const, the resample filters) are not parameters, and here they are the 'stats' collection or
constants. The formulas (networks.py):
  FullyConnectedLayer(in, out): a weight [out, in] and a bias [out].
  Conv2dLayer(in, out, k, bias): a weight [out, in, k, k], a bias [out] unless bias=False.
  MappingNetwork(z_dim, c_dim, w_dim, num_layers): with labels an `embed` FullyConnectedLayer(c_dim,
    embed_features = w_dim); features_list = [z_dim + embed] + [w_dim] * (num_layers - 1) + [w_dim], one
    FullyConnectedLayer per consecutive pair.
  SynthesisLayer(in, out): `affine` FullyConnectedLayer(w_dim, in), a weight [out, in, 3, 3], a bias
    [out], noise_strength [] (noise_const is a buffer).
  ToRGBLayer(in, img_channels): `affine` FullyConnectedLayer(w_dim, in), a weight [img, in, 1, 1], a bias.
  SynthesisBlock(in, out, res), 'skip': const [out, 4, 4] if in == 0, else conv0 SynthesisLayer(in,
    out); conv1 SynthesisLayer(out, out); torgb ToRGBLayer(out, img).
  DiscriminatorBlock(tmp, out): fromrgb Conv2dLayer(img, tmp, 1) in the first block; conv0
    Conv2dLayer(tmp, tmp, 3); conv1 Conv2dLayer(tmp, out, 3); 'resnet': skip Conv2dLayer(tmp, out, 1,
    bias=False).
  DiscriminatorEpilogue(C, res 4): conv Conv2dLayer(C + mbstd_num_channels, C, 3); fc
    FullyConnectedLayer(C * 16, C); out FullyConnectedLayer(C, 1 or cmap_dim). With labels, D adds a
    MappingNetwork(z_dim=0, c_dim, w_dim=cmap_dim = channels(4)) of the default 8 layers (train.py passes
    D no mapping_kwargs).
  channels(res) = min(channel_base // res, channel_max), channel_base = fmaps * 32768, channel_max 512
  (train.py); G's blocks 4 ... R, D's R ... 8.

The official code prints these counts when training starts (torch_utils/misc.py,
print_module_summary). A training log of the official train.py at 1024x1024 with the 'auto' config
(fmaps 1, 2 mapping layers; the 'stylegan2' networks but for the mapping depth), quoted in the README
of a third-party StyleGAN2-ADA training pipeline (the same per-layer lines are in
NVlabs/stylegan2-ada-pytorch issues 181 and 182), shows 'Total 28794124 2797104' for G (parameters, buffers) and
'Total 29012513 544' for D; the formulas give those numbers and the modules match them.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.errors import UserError
from jaxgan.models import stylegan2 as sg, stylegan2_layers as sgl

# ---------------------------------------------------------------- helpers


def count(tree) -> int:
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(tree)))


def fc(cin, cout, bias=True):
    return cin * cout + (cout if bias else 0)


def conv(k, cin, cout, bias=True):
    return k * k * cin * cout + (cout if bias else 0)


def official_mapping(z_dim, c_dim, w_dim, num_layers):
    embed = w_dim if c_dim else 0
    features = [z_dim + embed] + [w_dim] * (num_layers - 1) + [w_dim]
    return (fc(c_dim, embed) if c_dim else 0) + sum(fc(a, b) for a, b in zip(features[:-1], features[1:]))


def official_generator(resolution, channel_base, mapping_layers, c_dim=0, channel_max=512, z_dim=512, w_dim=512,
                       img=3):
    ch = lambda res: min(channel_base // res, channel_max)
    synthesis_layer = lambda cin, cout: fc(w_dim, cin) + cout * cin * 9 + cout + 1
    torgb = lambda cin: fc(w_dim, cin) + img * cin + img
    total = 0
    for res in [2 ** i for i in range(2, int(math.log2(resolution)) + 1)]:
        out = ch(res)
        total += out * 4 * 4 if res == 4 else synthesis_layer(ch(res // 2), out)
        total += synthesis_layer(out, out) + torgb(out)
    return total + official_mapping(z_dim, c_dim, w_dim, mapping_layers)


def official_discriminator(resolution, channel_base, architecture='resnet', c_dim=0, channel_max=512, img=3,
                           mbstd_num_channels=1):
    ch = lambda res: min(channel_base // res, channel_max)
    total = 0
    for res in [2 ** i for i in range(int(math.log2(resolution)), 2, -1)]:
        tmp, out = ch(res), ch(res // 2)
        total += (conv(1, img, tmp) if res == resolution else 0) + conv(3, tmp, tmp) + conv(3, tmp, out)
        total += conv(1, tmp, out, bias=False) if architecture == 'resnet' else 0
    c4 = ch(4)
    cmap = c4 if c_dim else 0
    total += conv(3, c4 + mbstd_num_channels, c4) + fc(c4 * 16, c4) + fc(c4, cmap or 1)
    return total + (official_mapping(0, c_dim, cmap, 8) if c_dim else 0)


def variables_of(module, *args, **kwargs):
    """Shapes of the module's variables for inputs shaped like args (nothing computed)."""
    return jax.eval_shape(functools.partial(module.init, **kwargs), jax.random.key(0), *args)


def g_shapes(g, batch=1):
    y = jnp.zeros((batch,), jnp.int32) if g.num_classes else None
    return variables_of(g, jnp.zeros((batch, 512)), y)


def d_shapes(d, resolution, batch=1):
    y = jnp.zeros((batch,), jnp.int32) if d.num_classes else None
    return variables_of(d, jnp.zeros((batch, resolution, resolution, 3)), y)


# ---------------------------------------------------------------- parameter counts against the official code

@pytest.mark.parametrize('name,resolution,classes', [('stylegan2', 1024, 0), ('paper256', 256, 0), ('cifar', 32, 0),
                                                     ('cifar', 32, 10)])
def test_parameter_counts_match_the_official_networks(name, resolution, classes):
    cfg = sg.config(name, resolution)
    spec = sg.CFG_SPECS[name]
    official_g = official_generator(resolution, int(spec['fmaps'] * 32768), spec['map'], c_dim=classes)
    official_d = official_discriminator(resolution, int(spec['fmaps'] * 32768),
                                        'orig' if name == 'cifar' else 'resnet', c_dim=classes)
    if (name, classes) == ('stylegan2', 0):
        assert (official_g, official_d) == (30_370_060, 29_012_513)
    g_vars = g_shapes(sg.generator(cfg, num_classes=classes))
    d_vars = d_shapes(sg.discriminator(cfg, num_classes=classes), resolution)
    assert count(g_vars['params']) == official_g
    assert count(d_vars['params']) == official_d
    assert set(d_vars) == {'params'}  # D has no buffers but the filters, which are constants here


def test_counts_match_an_official_training_log():
    # cfg 'auto' at 1024: fmaps 1 (channel_base 32768) and map=2 (train.py), networks otherwise the
    # 'stylegan2' ones. Printed totals: G 28794124 parameters, 2797104 buffers; D 29012513, 544.
    official_g = official_generator(1024, 32768, 2)
    assert official_g == 28_794_124 and official_discriminator(1024, 32768) == 29_012_513
    cfg = dict(sg.config('stylegan2', 1024), mapping_layers=2)
    g_vars = g_shapes(sg.generator(cfg))
    assert count(g_vars['params']) == 28_794_124
    # G's buffers: w_avg [512], each of the 17 synthesis layers' noise_const [res, res], and a resample
    # filter [4, 4] in each of the 17 layers and 9 blocks (here a constant).
    assert count(g_vars[sg.STATS]) == 2_797_104 - (17 + 9) * 16
    assert g_vars[sg.STATS]['mapping']['w_avg'].shape == (512,)
    assert count(d_shapes(sg.discriminator(cfg), 1024)['params']) == 29_012_513


def test_configs_are_train_py_cfg_specs():
    c = sg.config('paper256', 256)
    assert (c['channel_base'], c['channel_max'], c['mapping_layers'], c['mbstd_group_size']) == (16384, 512, 8, 8)
    assert (c['batch_size'], c['lr'], c['r1_gamma'], c['ema_kimg']) == (64, 0.0025, 1, 20)
    assert c['d_architecture'] == 'resnet' and c['g_architecture'] == 'skip'
    c = sg.config('stylegan2', 1024)
    assert (c['channel_base'], c['mbstd_group_size'], c['lr'], c['r1_gamma']) == (32768, 4, 0.002, 10)
    assert (c['conv_clamp'], c['num_fp16_res'], c['batch_size']) == (256, 4, 32)
    assert sg.config('paper512', 512)['mbstd_group_size'] == 8 and sg.config('paper1024', 1024)['r1_gamma'] == 2
    c = sg.config('cifar', 32)
    assert (c['mapping_layers'], c['mbstd_group_size'], c['d_architecture']) == (2, 32, 'orig')
    assert (c['style_mixing_prob'], c['pl_weight'], c['ema_rampup']) == (0.0, 0.0, 0.05)
    assert sgl.num_ws(1024) == 18 and sgl.channels_at(1024, 32768, 512) == 32
    with pytest.raises(UserError, match='paper2048'):
        sg.config('paper2048', 256)


@pytest.mark.parametrize('make', [
    lambda r: sg.Generator(r), lambda r: sg.Discriminator(r), lambda r: sg.SynthesisNetwork(r),
    lambda r: sg.config('stylegan2', r)])
@pytest.mark.parametrize('resolution', [100, 2, 0, 48])
def test_a_bad_resolution_is_a_one_line_user_error(make, resolution):
    with pytest.raises(UserError) as info:
        make(resolution)
    message = str(info.value)
    assert f'resolution {resolution}' in message and '\n' not in message


def test_the_discriminator_needs_8_pixels():
    with pytest.raises(UserError, match='resolution 4'):
        sg.Discriminator(4)
    sg.Generator(4)  # a 4x4 generator is one block


# ---------------------------------------------------------------- FIR resampling against numpy

def np_upfirdn2d(x, f, up=1, down=1, padding=(0, 0, 0, 0), gain=1.0):
    """upfirdn2d's four steps in numpy on NHWC: zero-insert, pad (negative crops), 2-D correlate with
    the flipped filter (a convolution), keep every down-th pixel."""
    b, h, w, c = x.shape
    z = np.zeros((b, h * up, w * up, c), np.float64)
    z[:, ::up, ::up] = x
    px0, px1, py0, py1 = padding
    z = np.pad(z, ((0, 0), (max(py0, 0), max(py1, 0)), (max(px0, 0), max(px1, 0)), (0, 0)))
    z = z[:, max(-py0, 0):z.shape[1] - max(-py1, 0), max(-px0, 0):z.shape[2] - max(-px1, 0)]
    g = np.asarray(f, np.float64)[::-1, ::-1] * gain
    oh, ow = z.shape[1] - g.shape[0] + 1, z.shape[2] - g.shape[1] + 1
    out = sum(g[i, j] * z[:, i:i + oh, j:j + ow] for i in range(g.shape[0]) for j in range(g.shape[1]))
    return out[:, ::down, ::down]


def np_correlate(x, w_HWIO):
    k = w_HWIO.shape[0]
    oh, ow = x.shape[1] - k + 1, x.shape[2] - k + 1
    return sum(np.einsum('bhwi,io->bhwo', x[:, i:i + oh, j:j + ow], w_HWIO[i, j]) for i in range(k) for j in range(k))


@pytest.mark.parametrize('up,down,padding,gain', [
    (1, 1, (0, 0, 0, 0), 1.0), (2, 1, (2, 1, 2, 1), 4.0), (1, 2, (1, 1, 1, 1), 1.0), (2, 1, (1, 3, 0, 2), 4.0),
    (1, 2, (2, 0, 1, 3), 1.0), (2, 1, (-1, 2, 1, -2), 2.0), (1, 2, (-1, 0, 0, -1), 1.0), (2, 2, (1, 2, 2, 1), 1.0)])
def test_upfirdn2d_matches_numpy(up, down, padding, gain):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 7, 6, 3)).astype(np.float32)  # H != W and asymmetric pads catch x/y swaps
    for f in (sgl.FIR, rng.normal(size=(4, 4)).astype(np.float32)):  # asymmetric f catches a missing flip
        got = np.asarray(sgl.upfirdn2d(jnp.asarray(x), f, up=up, down=down, padding=padding, gain=gain))
        np.testing.assert_allclose(got, np_upfirdn2d(x, f, up, down, padding, gain), atol=1e-5)


def test_upsample_and_downsample_2d_match_numpy():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 8, 6, 3)).astype(np.float32)
    up = np.asarray(sgl.upsample2d(jnp.asarray(x)))
    assert up.shape == (2, 16, 12, 3)
    np.testing.assert_allclose(up, np_upfirdn2d(x, sgl.FIR, up=2, padding=(2, 1, 2, 1), gain=4.0), atol=1e-5)
    down = np.asarray(sgl.downsample2d(jnp.asarray(x)))
    assert down.shape == (2, 4, 3, 3)
    np.testing.assert_allclose(down, np_upfirdn2d(x, sgl.FIR, down=2, padding=(1, 1, 1, 1)), atol=1e-5)
    np.testing.assert_allclose(sgl.FIR, np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 64.0)
    # A constant image keeps its value inside (unit-DC filter; gain 4 makes up for the zeros).
    ones = np.asarray(sgl.upsample2d(jnp.ones((1, 6, 6, 1))))
    np.testing.assert_allclose(ones[0, 2:-2, 2:-2, 0], 1.0, atol=1e-6)


@pytest.mark.parametrize('k,up,down,flip_weight', [
    (3, 1, 1, True), (3, 2, 1, False), (3, 2, 1, True), (3, 1, 2, True), (1, 1, 2, True), (1, 2, 1, True)])
def test_conv2d_resample_matches_the_reference_path(k, up, down, flip_weight):
    """The fast paths against conv2d_resample's generic reference path in numpy: up-sample (zeros, filter
    with gain up^2) and pad by `padding` plus the filter's share, convolve, then filter and subsample."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 8, 8, 3)).astype(np.float32)
    w = rng.normal(size=(k, k, 3, 5)).astype(np.float32)
    padding = k // 2
    p0 = p1 = padding
    if up > 1:
        p0, p1 = p0 + 2, p1 + 1  # (4 + 2 - 1) // 2, (4 - 2) // 2
    if down > 1:
        p0, p1 = p0 + 1, p1 + 1  # (4 - 2 + 1) // 2, (4 - 2) // 2
    ref = np_upfirdn2d(x, sgl.FIR if up > 1 else np.ones((1, 1)), up=up, padding=(p0, p1, p0, p1), gain=up * up)
    ref = np_correlate(ref, w if flip_weight else w[::-1, ::-1])
    if down > 1:
        ref = np_upfirdn2d(ref, sgl.FIR, down=down)
    got = np.asarray(sgl.conv2d_resample(jnp.asarray(x), jnp.asarray(w), up=up, down=down, padding=padding,
                                        flip_weight=flip_weight))
    assert got.shape == (2, 8 * up // down, 8 * up // down, 5)
    np.testing.assert_allclose(got, ref, atol=1e-4)


# ---------------------------------------------------------------- layers

def test_fully_connected_has_the_equalised_learning_rate():
    layer = sgl.FullyConnected(6, lr_multiplier=0.01, bias_init=0.5)
    x = jax.random.normal(jax.random.key(1), (4, 16))
    params = layer.init(jax.random.key(0), x)['params']
    kernel, bias = params['kernel'], params['bias']
    assert 60 < float(jnp.std(kernel)) < 140  # stored N(0, 1) / lr_multiplier
    np.testing.assert_allclose(bias, 0.5)
    gain = 0.01 / math.sqrt(16)
    np.testing.assert_allclose(layer.apply({'params': params}, x), x @ (kernel * gain) + bias * 0.01, rtol=1e-5,
                               atol=1e-6)
    # The gradient reaching the stored weight is scaled by lr_multiplier / sqrt(fan_in) too.
    grads = jax.grad(lambda p: jnp.sum(layer.apply({'params': p}, x)))(params)
    np.testing.assert_allclose(grads['kernel'], jnp.broadcast_to(jnp.sum(x, 0)[:, None], (16, 6)) * gain, rtol=1e-5)
    np.testing.assert_allclose(grads['bias'], 4 * 0.01, rtol=1e-6)
    lrelu = sgl.FullyConnected(6, activation='lrelu')
    p = lrelu.init(jax.random.key(0), x)['params']
    pre = x @ (p['kernel'] / 4.0)
    np.testing.assert_allclose(lrelu.apply({'params': p}, x), jnp.where(pre > 0, pre, 0.2 * pre) * math.sqrt(2),
                               rtol=1e-5, atol=1e-6)


def test_conv_clamp_clips_after_the_activation():
    layer = sgl.Conv2dLayer(4, 3, activation='lrelu', conv_clamp=0.5)
    x = 10 * jax.random.normal(jax.random.key(1), (1, 6, 6, 3))
    v = layer.init(jax.random.key(0), x)
    y = layer.apply(v, x)
    assert float(jnp.max(jnp.abs(y))) == pytest.approx(0.5)
    assert float(jnp.max(jnp.abs(layer.apply(v, x, gain=2.0)))) == pytest.approx(1.0)  # clamp * gain


def test_demodulation_gives_unit_variance_outputs():
    keys = jax.random.split(jax.random.key(3), 3)
    x = jax.random.normal(keys[0], (2, 34, 34, 64))
    w = jax.random.normal(keys[1], (3, 3, 64, 16))
    styles = jax.random.uniform(keys[2], (2, 64), minval=0.2, maxval=3.0)
    y = sg.modulated_conv2d(x, w, styles, padding=1)[:, 1:-1, 1:-1]  # inside: no zero padding in view
    std = np.asarray(jnp.std(y, axis=(1, 2)))  # [B, O]: 1024 positions each
    np.testing.assert_allclose(std, 1.0, atol=0.12)
    raw = np.asarray(jnp.std(sg.modulated_conv2d(x, w, styles, padding=1, demodulate=False), axis=(1, 2)))
    assert raw.mean() > 5  # without demodulation the scale follows the styles and the weights


def test_minibatch_stddev_matches_the_official_nchw_computation():
    x = np.random.default_rng(4).normal(size=(8, 3, 3, 4)).astype(np.float32)  # NHWC
    group, f = 4, 2
    # MinibatchStdLayer.forward on NCHW, step by step.
    n, c, h, w = 8, 4, 3, 3
    y = x.transpose(0, 3, 1, 2).reshape(group, -1, f, c // f, h, w)
    y = np.sqrt(np.mean(np.square(y - y.mean(0)), 0) + 1e-8).mean(axis=(2, 3, 4)).reshape(-1, f, 1, 1)
    want = np.concatenate([x.transpose(0, 3, 1, 2), np.tile(y, (group, 1, h, w))], axis=1).transpose(0, 2, 3, 1)
    np.testing.assert_allclose(sgl.minibatch_stddev(jnp.asarray(x), group, f), want, rtol=1e-5)
    assert sgl.minibatch_stddev(jnp.asarray(x[:2]), 4, 1).shape == (2, 3, 3, 5)  # group min(4, B)


# ---------------------------------------------------------------- mapping network

def test_truncation_and_the_tracked_w_avg():
    m = sg.MappingNetwork(w_dim=8, num_ws=5, num_layers=2)
    z = jax.random.normal(jax.random.key(1), (6, 8))
    v = m.init(jax.random.key(0), z)
    assert set(v) == {'params', sg.STATS} and v[sg.STATS]['w_avg'].shape == (8,)
    avg = jax.random.normal(jax.random.key(2), (8,))
    v = {'params': v['params'], sg.STATS: {'w_avg': avg}}
    w = m.apply(v, z)
    assert w.shape == (6, 5, 8) and bool(jnp.all(w == w[:, :1]))  # broadcast
    np.testing.assert_array_equal(m.apply(v, z, truncation_psi=0.0), jnp.broadcast_to(avg, (6, 5, 8)))
    np.testing.assert_array_equal(m.apply(v, z, truncation_psi=1.0), w)
    half = m.apply(v, z, truncation_psi=0.5, truncation_cutoff=2)
    np.testing.assert_allclose(half[:, :2], avg + 0.5 * (w[:, :2] - avg), rtol=1e-6)
    np.testing.assert_array_equal(half[:, 2:], w[:, 2:])
    # Training: w_avg <- mean(w) + 0.995 (w_avg - mean(w)); not without train or mutability.
    _, state = m.apply(v, z, train=True, mutable=[sg.STATS])
    mean = jnp.mean(w[:, 0], axis=0)
    np.testing.assert_allclose(state[sg.STATS]['w_avg'], mean + 0.995 * (avg - mean), rtol=1e-5, atol=1e-6)
    _, state = m.apply(v, z, train=False, mutable=[sg.STATS])
    np.testing.assert_array_equal(state[sg.STATS]['w_avg'], avg)
    # z is normalised by its second moment: its scale does not matter.
    np.testing.assert_allclose(m.apply(v, 3.0 * z), w, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- tiny networks end to end

TINY = dict(resolution=16, w_dim=16, mapping_layers=2, channel_base=256, channel_max=32)  # 32, 32, 16 maps


def test_a_tiny_generator_and_discriminator():
    g = sg.Generator(**TINY)
    d = sg.Discriminator(16, channel_base=256, channel_max=32)
    z = jax.random.normal(jax.random.key(1), (4, 8))
    gv = jax.jit(g.init)(jax.random.key(0), z)
    assert sgl.num_ws(16) == 6
    stats = gv[sg.STATS]['synthesis']
    assert stats['b16']['conv0']['noise_const'].shape == (16, 16) and 'conv0' not in stats['b4']

    @jax.jit
    def images(params, key, noise_mode='random'):
        return g.apply({'params': params, sg.STATS: gv[sg.STATS]}, z, rngs={'noise': key}, noise_mode=noise_mode)

    a = images(gv['params'], jax.random.key(10))
    assert a.shape == (4, 16, 16, 3) and a.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(a)))
    assert float(jnp.std(a)) > 0 and float(jnp.max(jnp.abs(a[0] - a[1]))) > 0  # depends on z
    np.testing.assert_array_equal(images(gv['params'], jax.random.key(11)), a)  # noise strength 0 at init
    loud = jax.tree_util.tree_map_with_path(
        lambda p, x: jnp.full_like(x, 0.5) if p[-1].key == 'noise_strength' else x, gv['params'])
    b, c = images(loud, jax.random.key(10)), images(loud, jax.random.key(11))
    assert float(jnp.max(jnp.abs(b - c))) > 1e-3  # different noise, different images
    np.testing.assert_array_equal(images(loud, jax.random.key(10)), b)  # same noise, same image
    with pytest.raises(ValueError, match="rngs={'noise'"):
        g.apply({'params': loud, sg.STATS: gv[sg.STATS]}, z, noise_mode='random')
    # Without a noise stream (sampling) the default is the official generate.py's: the constant noise.
    np.testing.assert_array_equal(g.apply({'params': loud, sg.STATS: gv[sg.STATS]}, z),
                                  g.apply({'params': loud, sg.STATS: gv[sg.STATS]}, z, noise_mode='const'))
    # The halves alone (style mixing, path length): the same image from the same noise key.
    loud_vars = {'params': loud, sg.STATS: gv[sg.STATS]}
    ws = jax.jit(functools.partial(g.apply, method=g.map))(loud_vars, z)
    assert ws.shape == (4, 6, 16)
    again = jax.jit(functools.partial(g.apply, method=g.synthesize))(loud_vars, ws, rngs={'noise': jax.random.key(10)})
    np.testing.assert_allclose(again, b, rtol=1e-5, atol=1e-5)

    x = jnp.clip(a, -1, 1)
    dv = jax.jit(d.init)(jax.random.key(0), x)
    assert set(dv) == {'params'} and 'skip' in dv['params']['b16'] and 'fromrgb' not in dv['params']['b8']
    out = jax.jit(d.apply)(dv, x)
    assert out['logits'].shape == (4,) and out['features'].shape == (4, 32)
    assert bool(jnp.all(jnp.isfinite(out['logits'])))
    with pytest.raises(UserError, match='16, 16'):
        d.apply(dv, jnp.zeros((4, 8, 8, 3)))


def test_a_tiny_conditional_pair_in_low_precision():
    # Labels as official: one-hot c embedded in G's mapping and mapped to D's cmap; bfloat16 in the
    # highest block only (num_fp16_res=1), the image float32.
    g = sg.Generator(**TINY, num_classes=3, num_fp16_res=1, dtype=jnp.bfloat16)
    d = sg.Discriminator(16, num_classes=3, channel_base=256, channel_max=32, num_fp16_res=1, dtype=jnp.bfloat16)
    z = jax.random.normal(jax.random.key(1), (4, 8))
    y = jnp.array([0, 1, 2, 0])
    shapes = variables_of(g, z, y)  # initialised by the tiny test above; here the shapes suffice
    gv = {'params': frozen_normal(shapes['params'], 0), sg.STATS: frozen_normal(shapes[sg.STATS], 1)}
    assert gv['params']['mapping']['embed']['kernel'].shape == (3, 16)
    img = jax.jit(lambda v: g.apply(v, z, y, noise_mode='const'))(gv)
    assert img.shape == (4, 16, 16, 3) and img.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(img)))
    assert float(jnp.max(jnp.abs(img[0] - img[3]))) > 0
    dv = {'params': frozen_normal(variables_of(d, img, y)['params'], 2)}
    assert dv['params']['mapping']['fc7']['kernel'].shape == (32, 32)  # cmap_dim = channels(4)
    out = jax.jit(d.apply)(dv, img, y)
    assert out['logits'].shape == (4,) and out['logits'].dtype == jnp.float32
    assert bool(jnp.all(jnp.isfinite(out['logits'])))
    with pytest.raises(ValueError, match='labels'):
        d.apply(dv, img)


# ---------------------------------------------------------------- outputs of the official code

def frozen_normal(tree, seed):
    """Every leaf N(0, 1) from numpy's legacy RandomState (a frozen stream), in tree order; the mapping
    layers' kernels N(0, 1) / 0.01 as the official initialisation stores them."""
    rng = np.random.RandomState(seed)

    def leaf(path, x):
        keys = [getattr(p, 'key', '') for p in path]
        mapping_kernel = 'mapping' in keys and keys[-2].startswith('fc') and keys[-1] == 'kernel'
        return jnp.asarray(((100.0 if mapping_kernel else 1.0) * rng.standard_normal(x.shape)).astype(np.float32))

    return jax.tree_util.tree_map_with_path(leaf, tree)


# The official networks (training/networks.py of NVlabs/stylegan2-ada-pytorch at d72cc7d; torch 2.13, CPU,
# float32) given these same weights, ported by the transpositions of the module docstring: Generator(z_dim=8,
# c_dim=3, w_dim=16, img_resolution=16, img_channels=3, mapping_kwargs=dict(num_layers=2),
# synthesis_kwargs=dict(channel_base=256, channel_max=32, conv_clamp=2)) in eval mode, G(z, one_hot(y),
# truncation_psi=0.7, truncation_cutoff=4, noise_mode='const') -> image NCHW, shown here NHWC;
# Discriminator(c_dim=3, img_resolution=16, img_channels=3, channel_base=256, channel_max=32, conv_clamp=2,
# epilogue_kwargs=dict(mbstd_group_size=2)) and the 'orig' one (c_dim=0, mbstd_group_size=4) on x.
OFFICIAL_IMG_5_7 = [[0.8693473, -2.683183, -1.3268774], [0.3827565, 0.3441201, 0.08690804],
                    [2.9810944, -1.0980874, -0.34880733], [1.7392794, -1.7190396, 0.15478295]]
OFFICIAL_IMG_15_0 = [[-0.6414856, -0.549219, -2.012017], [-0.109286755, 1.2370425, -0.061724424],
                     [0.9386195, 0.4639634, -1.5869436], [-0.14066535, 0.2363944, -0.41945803]]
OFFICIAL_IMG_ABS_SUM = 3786.0220919176936
OFFICIAL_LOGITS = [4.630015, 1.4556113, 0.89618766, 1.5139952]
OFFICIAL_LOGITS_ORIG = [-2.846575, -2.7940784, -2.8278134, -2.8079205]


def test_outputs_match_the_official_networks_given_the_same_weights():
    g = sg.Generator(16, 3, w_dim=16, num_classes=3, mapping_layers=2, channel_base=256, channel_max=32,
                     conv_clamp=2.0)
    d = sg.Discriminator(16, num_classes=3, channel_base=256, channel_max=32, conv_clamp=2.0, mbstd_group_size=2)
    d_orig = sg.Discriminator(16, architecture='orig', channel_base=256, channel_max=32)
    z = jnp.asarray(np.random.RandomState(4).standard_normal((4, 8)).astype(np.float32))
    x = jnp.asarray(np.random.RandomState(5).uniform(-1, 1, (4, 16, 16, 3)).astype(np.float32))
    y = jnp.array([0, 2, 1, 2])
    shapes = variables_of(g, z, y)
    g_vars = {'params': frozen_normal(shapes['params'], 0), sg.STATS: frozen_normal(shapes[sg.STATS], 1)}
    img = jax.jit(functools.partial(g.apply, noise_mode='const', truncation_psi=0.7, truncation_cutoff=4))(
        g_vars, z, y)
    np.testing.assert_allclose(img[:, 5, 7], OFFICIAL_IMG_5_7, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(img[:, 15, 0], OFFICIAL_IMG_15_0, rtol=1e-4, atol=1e-5)
    assert float(jnp.sum(jnp.abs(img))) == pytest.approx(OFFICIAL_IMG_ABS_SUM, rel=1e-5)
    d_params = frozen_normal(variables_of(d, x, y)['params'], 2)
    np.testing.assert_allclose(jax.jit(d.apply)({'params': d_params}, x, y)['logits'], OFFICIAL_LOGITS, rtol=1e-5)
    o_params = frozen_normal(variables_of(d_orig, x)['params'], 3)
    np.testing.assert_allclose(jax.jit(d_orig.apply)({'params': o_params}, x)['logits'], OFFICIAL_LOGITS_ORIG,
                               rtol=1e-5)


@pytest.mark.parametrize('up, pads', [(2, ((2, 1), (2, 1))), (2, ((1, -1), (0, 2))), (1, ((-1, 2), (1, 1))),
                                      (3, ((0, -2), (-1, 0)))])
def test_zero_insertion_is_lax_pads_interior_padding(up, pads):
    """zero_insert (stack, reshape, edge slices: what ONNX converts) gives lax.pad's numbers exactly: up - 1
    zeros between pixels and after the last, then the edges, negative ones cropping."""
    from jaxgan.models.layers import portable
    from jaxgan.models.stylegan2_layers import zero_insert
    x = jax.random.normal(jax.random.key(0), (2, 3, 4, 5))
    (top, bottom), (left, right) = pads
    want = jax.lax.pad(x, 0.0, ((0, 0, 0), (top, bottom + up - 1, up - 1), (left, right + up - 1, up - 1), (0, 0, 0)))
    with portable():
        got = zero_insert(x, up, pads)
        ops = {e.primitive.name for e in jax.make_jaxpr(lambda x: zero_insert(x, up, pads))(x).eqns}
    assert got.shape == want.shape and 'pad' not in ops  # the portable form: no lax.pad at all
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(zero_insert(x, up, pads), want)  # the training form
