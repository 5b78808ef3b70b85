"""The image-to-image translation models: pix2pix's U-Net and PatchGAN, CycleGAN's ResNet generator,
U-GAT-IT's generator and discriminators.

Parameter counts are checked against the official PyTorch networks, counted layer by layer from their
layer lists (pix2pix/CycleGAN: models/networks.py of junyanz/pytorch-CycleGAN-and-pix2pix; U-GAT-IT:
networks.py of znxlwm/UGATIT-pytorch), written out below as formulas of the layer sizes. PyTorch counts
`net.parameters()`: conv weights, biases where the code asks for them, BatchNorm's affine scale and
shift (not its running statistics), and under spectral normalisation `weight_orig` (u and v are
buffers), the same as Flax's 'params' here. The official repository prints these as
'[Network G] Total number of parameters : %.3f M' (models/base_model.py, print_networks): 54.414 M
for unet_256, 2.769 M for the basic D of pix2pix (6 input channels), 11.378 M and 2.765 M for CycleGAN's
resnet_9blocks G and basic D; the exact counts below round to those.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.errors import UserError
from jaxgan.models import cyclegan, patchgan, ugatit, unet


def count(tree) -> int:
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(tree)))


def shapes(module, shape, **kwargs):
    """The module's variables' shapes (nothing allocated) for an input of `shape`."""
    return jax.eval_shape(functools.partial(module.init, train=False, **kwargs), jax.random.key(0),
                          jnp.zeros(shape))


def init(module, x, **kwargs):
    return jax.jit(functools.partial(module.init, **kwargs))(jax.random.key(1), x)


def apply(module, *args, **kwargs):
    """module.apply, compiled whole (much faster on a CPU than op by op)."""
    return jax.jit(functools.partial(module.apply, **kwargs))(*args)


def conv(k, cin, cout, bias):
    return k * k * cin * cout + (cout if bias else 0)


BN = 2  # BatchNorm2d(affine=True): a scale and a shift per channel; InstanceNorm2d(affine=False): none


# ---------------------------------------------------------------- parameter counts against the official code

def test_unet_256_has_the_official_parameter_count():
    # UnetGenerator(3, 3, num_downs=8, ngf=64, BatchNorm2d): use_bias False (batch norm). Blocks
    # (outer_nc, inner_nc): outermost (3 -> 64; its upconv 128 -> 3 with bias), (64, 128), (128, 256),
    # (256, 512), 3 x (512, 512) with dropout, innermost (512, 512). A middle block: downconv
    # outer -> inner, downnorm(inner), upconv 2 inner -> outer, upnorm(outer); the innermost has no
    # downnorm and its upconv takes inner (no skip below it); every conv 4x4.
    middle = lambda outer, inner: conv(4, outer, inner, False) + BN * inner + conv(4, 2 * inner, outer, False) + BN * outer
    official = (conv(4, 3, 64, False) + conv(4, 128, 3, True)
                + middle(64, 128) + middle(128, 256) + middle(256, 512) + 3 * middle(512, 512)
                + conv(4, 512, 512, False) + conv(4, 512, 512, False) + BN * 512)
    assert official == 54_413_955 and round(official / 1e6, 3) == 54.414
    variables = shapes(unet.UNetGenerator(channels=3, num_downs=8), (1, 256, 256, 3))
    assert count(variables['params']) == official
    assert unet.num_downs(256) == 8


def test_unet_instance_norm_has_biases_and_no_norm_parameters():
    # use_bias True with InstanceNorm2d(affine=False): one bias per conv output channel, no norm params.
    middle = lambda outer, inner: conv(4, outer, inner, True) + conv(4, 2 * inner, outer, True)
    official = (conv(4, 3, 64, True) + conv(4, 128, 3, True) + middle(64, 128) + middle(128, 256)
                + middle(256, 512) + conv(4, 512, 512, True) + conv(4, 512, 512, True))  # unet_32: num_downs 5
    variables = shapes(unet.UNetGenerator(channels=3, num_downs=5, norm='instance'), (1, 32, 32, 3))
    assert count(variables['params']) == official and 'batch_stats' not in variables


@pytest.mark.parametrize('channels,norm,official_m', [(6, 'batch', 2.769), (3, 'instance', 2.765)])
def test_basic_patchgan_has_the_official_parameter_count(channels, norm, official_m):
    # NLayerDiscriminator(input_nc, 64, n_layers=3): conv 4x4 s2 (bias) 64; 128 and 256 (s2) and 512 (s1),
    # each with its norm (bias only with instance norm); conv 512 -> 1 (bias).
    bias = norm == 'instance'
    norm_params = BN if norm == 'batch' else 0
    official = (conv(4, channels, 64, True) + sum(conv(4, cin, cout, bias) + norm_params * cout
                                                  for cin, cout in ((64, 128), (128, 256), (256, 512)))
                + conv(4, 512, 1, True))
    assert round(official / 1e6, 3) == official_m
    d = patchgan.discriminator(70, norm=norm)
    assert isinstance(d, patchgan.PatchDiscriminator) and d.num_layers == 3
    assert count(shapes(d, (1, 256, 256, channels))['params']) == official


def test_pixel_and_16x16_patchgans_have_the_official_parameter_counts():
    # PixelDiscriminator(6, 64, BatchNorm2d): 1x1 convs 6 -> 64 (bias), 64 -> 128 (no bias), BN(128),
    # 128 -> 1 (bias=use_bias: none).
    pixel = conv(1, 6, 64, True) + conv(1, 64, 128, False) + BN * 128 + conv(1, 128, 1, False)
    assert count(shapes(patchgan.discriminator(1), (1, 64, 64, 6))['params']) == pixel
    # NLayerDiscriminator(6, 64, n_layers=1): conv s2 64 (bias); conv s1 128, BN; conv 128 -> 1 (bias).
    n1 = conv(4, 6, 64, True) + conv(4, 64, 128, False) + BN * 128 + conv(4, 128, 1, True)
    assert count(shapes(patchgan.discriminator(16), (1, 64, 64, 6))['params']) == n1


@pytest.mark.parametrize('blocks,size,official_m', [(9, 256, 11.378), (6, 128, 7.838)])
def test_resnet_generator_has_the_official_parameter_count(blocks, size, official_m):
    # ResnetGenerator(3, 3, 64, InstanceNorm2d, n_blocks): use_bias True. 7x7 3 -> 64; 3x3 s2 64 -> 128 ->
    # 256; n_blocks x two 3x3 256 -> 256; 3x3 transposed 256 -> 128 -> 64; 7x7 64 -> 3 (bias).
    official = (conv(7, 3, 64, True) + conv(3, 64, 128, True) + conv(3, 128, 256, True)
                + blocks * 2 * conv(3, 256, 256, True) + conv(3, 256, 128, True) + conv(3, 128, 64, True)
                + conv(7, 64, 3, True))
    assert round(official / 1e6, 3) == official_m
    assert cyclegan.blocks_for(size) == blocks
    g = cyclegan.ResnetGenerator(channels=3, num_blocks=blocks)
    assert count(shapes(g, (1, size, size, 3))['params']) == official


@pytest.mark.parametrize('light', [True, False])
def test_ugatit_generator_has_the_official_parameter_count(light):
    # ResnetGenerator(3, 3, ngf=64, n_blocks=4, img_size=256, light): no conv bias but the CAM's 1x1.
    # Down: 7x7 3 -> 64, 3x3 s2 64 -> 128 -> 256, 4 blocks of two 3x3 256 -> 256 (InstanceNorm2d, no
    # params). CAM: gap_fc and gmp_fc Linear(256, 1, bias=False), conv1x1 512 -> 256 (bias). MLP:
    # Linear(256 or 64*64*256 -> 256), Linear(256, 256), gamma and beta Linear(256, 256), all bias-free.
    # Up: 4 blocks of two 3x3 convs, each with an adaILN (rho: 256); two (upsample, 3x3 conv 256 -> 128,
    # then 128 -> 64, ILN: rho, gamma, beta per channel); 7x7 64 -> 3.
    c = 256
    mlp_in = c if light else (256 // 4) ** 2 * c
    official = (conv(7, 3, 64, False) + conv(3, 64, 128, False) + conv(3, 128, c, False)
                + 4 * 2 * conv(3, c, c, False)
                + 2 * c + conv(1, 2 * c, c, True)
                + mlp_in * c + c * c + 2 * c * c
                + 4 * 2 * (conv(3, c, c, False) + c)
                + conv(3, c, 128, False) + 3 * 128 + conv(3, 128, 64, False) + 3 * 64
                + conv(7, 64, 3, False))
    assert official == (10_589_888 if light else 278_959_808)
    g = ugatit.Generator(channels=3, num_blocks=4, width=64, light=light)
    assert count(shapes(g, (1, 256, 256, 3))['params']) == official


@pytest.mark.parametrize('layers', [7, 5])
def test_ugatit_discriminators_have_the_official_parameter_count(layers):
    # Discriminator(3, ndf=64, n_layers): 4x4 convs with bias, spectrally normalised: s2 3 -> 64, then
    # n_layers - 3 more s2 doubling the width, one s1 doubling it again; CAM: gap_fc, gmp_fc
    # Linear(C, 1, bias=False), conv1x1 2C -> C (bias); the logit conv 4x4 C -> 1 without bias.
    widths = [64 * 2 ** i for i in range(layers - 1)]  # 64 ... C = 64 * 2^(n_layers - 2)
    c = widths[-1]
    official = (conv(4, 3, 64, True) + sum(conv(4, a, b, True) for a, b in zip(widths, widths[1:]))
                + 2 * c + conv(1, 2 * c, c, True) + conv(4, c, 1, False))
    assert official == {7: 53_130_176, 5: 3_290_560}[layers]
    variables = shapes(ugatit.Discriminator(num_layers=layers), (1, 256, 256, 3))
    assert count(variables['params']) == official
    # Spectral normalisation on every 4x4 conv and on the two CAM layers, not on the 1x1 conv.
    assert len(jax.tree.leaves(variables['spectral'])) == 2 * (layers + 2)


# ---------------------------------------------------------------- shapes, receptive fields, modes

def test_patchgan_receptive_fields_are_70_34_16_and_1():
    x = jax.random.normal(jax.random.key(0), (1, 96, 96, 3))
    for patch in (70, 34, 16, 1):
        d = patchgan.discriminator(patch, width=4, norm='none')
        variables = init(d, x, train=False)
        side = patchgan.output_size(96, d.num_layers) if patch > 1 else 96
        centre = lambda x: d.apply(variables, x, train=False)['logits'][0, side // 2, side // 2]
        grad = jax.jit(jax.grad(centre))(x)
        rows, cols = np.nonzero(np.abs(np.asarray(grad[0])).sum(-1))
        assert rows.max() - rows.min() + 1 == patch and cols.max() - cols.min() + 1 == patch
        if patch > 1:
            assert patchgan.receptive_field(d.num_layers) == patch
            assert jax.eval_shape(functools.partial(d.apply, train=False), variables, x)['logits'].shape == (1, side, side)
    assert patchgan.output_size(256, 3) == 30


def test_patchgan_refuses_what_it_cannot_make():
    with pytest.raises(UserError, match='patch 50'):
        patchgan.discriminator(50)
    with pytest.raises(UserError, match='image size 8'):
        shapes(patchgan.discriminator(70), (1, 8, 8, 6))


def test_unet_forward_shapes_modes_and_dropout():
    g = unet.UNetGenerator(channels=3, num_downs=6, width=8)  # dropout after the decoder block of level 4
    x = jax.random.uniform(jax.random.key(0), (2, 64, 64, 1), minval=-1, maxval=1)
    variables = init(g, x, train=False)
    evaluate = jax.jit(functools.partial(g.apply, train=False))
    evaluated = evaluate(variables, x)
    assert evaluated.shape == (2, 64, 64, 3) and evaluated.dtype == jnp.float32
    assert float(jnp.abs(evaluated).max()) <= 1.0
    assert np.array_equal(evaluated, evaluate(variables, x + 0.0))  # no randomness in evaluation
    run = jax.jit(lambda key: g.apply(variables, x, train=True, rngs={'dropout': key}, mutable=['batch_stats']))
    (a, stats), (b, _) = run(jax.random.key(2)), run(jax.random.key(3))
    assert not np.allclose(a, b)  # dropout draws from the 'dropout' stream in training
    assert not jax.tree.all(jax.tree.map(np.array_equal, stats['batch_stats'], variables['batch_stats']))
    no_dropout = unet.UNetGenerator(channels=3, num_downs=6, width=8, dropout=0.0)
    train = jax.jit(lambda key: no_dropout.apply(variables, x, train=True, rngs={'dropout': key},
                                                 mutable=['batch_stats'])[0])
    assert np.array_equal(train(jax.random.key(2)), train(jax.random.key(3)))


def test_unet_32_without_middle_blocks_and_bfloat16():
    x = jnp.zeros((2, 32, 32, 3))
    g = unet.UNetGenerator(channels=3, num_downs=unet.num_downs(32), width=8, dtype=jnp.bfloat16)
    variables = init(g, x, train=False)
    assert jax.tree.all(jax.tree.map(lambda p: p.dtype == jnp.float32, variables['params']))
    y = apply(g, variables, jax.random.normal(jax.random.key(1), x.shape), train=False)
    assert y.shape == (2, 32, 32, 3) and y.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(y)))
    assert [variables['params'][f'Conv_{i}']['kernel'].shape[-1] for i in range(5)] == [8, 16, 32, 64, 64]


def test_unet_refuses_sizes_it_cannot_make():
    with pytest.raises(UserError, match='image size 48'):
        unet.num_downs(48)
    with pytest.raises(UserError, match='image size 48x48'):
        shapes(unet.UNetGenerator(num_downs=5), (1, 48, 48, 3))


def test_resnet_generator_shapes_and_instance_norm_is_per_example():
    g = cyclegan.ResnetGenerator(channels=3, num_blocks=2, width=8)
    x = jax.random.uniform(jax.random.key(0), (3, 32, 32, 3), minval=-1, maxval=1)
    variables = init(g, x, train=True)
    assert set(variables) == {'params'}
    y = apply(g, variables, x, train=True)
    assert y.shape == (3, 32, 32, 3) and float(jnp.abs(y).max()) <= 1.0
    # Instance norm: an example's translation does not depend on the rest of its batch, in any mode.
    np.testing.assert_allclose(y[:1], apply(g, variables, x[:1], train=False), atol=1e-5)
    with pytest.raises(UserError, match='image size 30x30'):
        shapes(g, (1, 30, 30, 3))


def test_ugatit_light_generator_outputs():
    g = ugatit.Generator(channels=3, num_blocks=2, width=8, light=True)
    x = jax.random.uniform(jax.random.key(0), (2, 32, 32, 3), minval=-1, maxval=1)
    variables = init(g, x)
    out = apply(g, variables, x, train=True)
    assert out['image'].shape == (2, 32, 32, 3) and out['cam_logits'].shape == (2, 2)
    assert out['heatmap'].shape == (2, 8, 8) and float(jnp.abs(out['image']).max()) <= 1.0
    assert float(jnp.min(out['heatmap'])) >= 0.0  # a channel sum after ReLU
    assert set(variables['params']['CAM_0']) == {'gap', 'gmp', 'conv1x1'}  # a weight per pooling
    rho = [v for k, v in variables['params'].items() if k.startswith('adalin')]
    assert len(rho) == 4 and all(np.allclose(r['rho'], 0.9) for r in rho)
    bf16 = ugatit.Generator(channels=3, num_blocks=2, width=8, light=True, dtype=jnp.bfloat16)
    out16 = apply(bf16, variables, x)
    assert all(v.dtype == jnp.float32 for v in out16.values())
    np.testing.assert_allclose(out16['image'], out['image'], atol=0.1)


def test_ugatit_discriminators_outputs_and_sizes():
    x = jax.random.uniform(jax.random.key(0), (2, 32, 32, 3), minval=-1, maxval=1)
    d = ugatit.Discriminator(num_layers=5, width=8)
    variables = init(d, x, train=False)
    out, updated = apply(d, variables, x, train=True, mutable=['spectral'])
    assert out['logits'].shape == (2, 2, 2) and out['cam_logits'].shape == (2, 2) and out['heatmap'].shape == (2, 3, 3)
    assert not jax.tree.all(jax.tree.map(np.array_equal, updated['spectral'], variables['spectral']))
    with pytest.raises(UserError, match='image size 32'):
        shapes(ugatit.Discriminator(num_layers=7), (1, 32, 32, 3))
    both = jax.eval_shape(lambda: ugatit.GlobalLocalDiscriminator().apply(
        ugatit.GlobalLocalDiscriminator().init(jax.random.key(0), jnp.zeros((1, 256, 256, 3)), train=False),
        jnp.zeros((1, 256, 256, 3)), train=False))
    assert both['global']['logits'].shape == (1, 6, 6) and both['local']['logits'].shape == (1, 30, 30)
    assert ugatit.discriminator_output_size(256, 7) == 6 and ugatit.discriminator_output_size(256, 5) == 30


def test_adalin_is_the_rho_mix_of_instance_and_layer_norm():
    x = jax.random.normal(jax.random.key(0), (2, 5, 5, 4)) * 3 + 1
    gamma = jax.random.normal(jax.random.key(1), (2, 4))
    beta = jax.random.normal(jax.random.key(2), (2, 4))
    xn = np.asarray(x, np.float64)
    x_in = (xn - xn.mean((1, 2), keepdims=True)) / np.sqrt(xn.var((1, 2), ddof=1, keepdims=True) + 1e-5)
    x_ln = (xn - xn.mean((1, 2, 3), keepdims=True)) / np.sqrt(xn.var((1, 2, 3), ddof=1, keepdims=True) + 1e-5)
    adalin = jax.jit(lambda rho: ugatit.AdaLIN().apply({'params': {'rho': rho}}, x, gamma, beta))
    for rho, expected in ((1.0, x_in), (0.0, x_ln), (0.3, 0.3 * x_in + 0.7 * x_ln), (1.7, x_in), (-2.0, x_ln)):
        y = adalin(jnp.full((4,), rho))
        np.testing.assert_allclose(y, expected * gamma[:, None, None] + beta[:, None, None], atol=1e-4)
    # Out of [0, 1], rho's value is clipped but its gradient still flows (as the official code's
    # clip after the step leaves the gradient alone).
    grad = jax.jit(jax.grad(lambda rho: jnp.sum(adalin(rho) * x)))(jnp.full((4,), 1.5))
    assert bool(jnp.all(grad != 0))


def test_rho_clipper_projects_rho_and_nothing_else():
    params = {'adalin_0_0': {'rho': jnp.array([0.5, 0.95])}, 'ILN_0': {'rho': jnp.array([0.02]),
              'gamma': jnp.array([1.0])}, 'Conv_0': {'kernel': jnp.array([0.99])}}
    updates = {'adalin_0_0': {'rho': jnp.array([-0.7, 0.2])}, 'ILN_0': {'rho': jnp.array([-0.05]),
               'gamma': jnp.array([0.5])}, 'Conv_0': {'kernel': jnp.array([0.5])}}
    tx = ugatit.rho_clipper()
    out, _ = tx.update(updates, tx.init(params), params)
    applied = jax.tree.map(lambda p, u: p + u, params, out)
    np.testing.assert_allclose(applied['adalin_0_0']['rho'], [0.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(applied['ILN_0']['rho'], [0.0], atol=1e-6)
    np.testing.assert_allclose(applied['ILN_0']['gamma'], [1.5])
    np.testing.assert_allclose(applied['Conv_0']['kernel'], [1.49])
    np.testing.assert_allclose(ugatit.clip_rho(jax.tree.map(lambda p, u: p + u, params, updates))['adalin_0_0']['rho'],
                               [0.0, 1.0])
