"""R3GAN's networks (jaxgan.models.r3gan) against the official code (brownvc/R3GAN).

The fixture tests/fixtures/r3gan_official.npz is written by tests/fixtures/make_r3gan_fixture.py from
the official source (torch on a CPU): tiny official G and D (widths [32, 32, 16], cardinalities [4, 4, 2],
expansion 2, 16x16), one unconditional pair (blocks [2, 2, 2]) and one conditional pair (3 classes,
blocks [1, 1, 2]), every weight random (the zero-initialised last layers and the biases too), their state
dicts, inputs and outputs, the conditional pair's outputs with two stages in bfloat16 too; and the
parameter counts of the official networks of every train.py preset.
"""

import functools
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import config as config_lib
from jaxgan.errors import UserError
from jaxgan.models import r3gan, r3gan_layers
from tests.conftest import tiny_config

FIXTURE = np.load(os.path.join(os.path.dirname(__file__), 'fixtures', 'r3gan_official.npz'))
WIDTHS, CARDINALITIES = (32, 32, 16), (4, 4, 2)
PAIRS = {'uncond': ((2, 2, 2), 0), 'cond': ((1, 1, 2), 3)}  # blocks, classes
G_EMBEDDING, D_EMBEDDING = 8, 32


def count(tree) -> int:
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(tree)))


def state_dict(prefix: str) -> dict:
    return {k[len(prefix) + 1:]: FIXTURE[k] for k in FIXTURE.files if k.startswith(prefix + '/')}


def tiny_pair(kind: str, bf16_stages: int = 0, dtype=jnp.float32):
    blocks, classes = PAIRS[kind]
    g = r3gan.Generator(WIDTHS, CARDINALITIES, blocks, 2, 3, 3, classes, G_EMBEDDING, bf16_stages, dtype)
    d = r3gan.Discriminator(WIDTHS[::-1], CARDINALITIES[::-1], blocks[::-1], 2, 3, classes, D_EMBEDDING, bf16_stages,
                            dtype)
    y = jnp.asarray(FIXTURE['y']) if classes else None
    return g, d, y


def official_params(kind: str) -> tuple[dict, dict]:
    return r3gan.from_official(state_dict(f'{kind}/G'), 'G'), r3gan.from_official(state_dict(f'{kind}/D'), 'D')


# ---------------------------------------------------------------- outputs of the official code

@pytest.mark.parametrize('kind', list(PAIRS))
def test_outputs_match_the_official_networks_given_the_same_weights(kind):
    g, d, y = tiny_pair(kind)
    g_params, d_params = official_params(kind)
    z, x = FIXTURE['z'], FIXTURE['x_nhwc']
    # from_official fills exactly the params the modules declare, of the same shapes.
    for module, params, args in ((g, g_params, (z, y)), (d, d_params, (x, y))):
        shapes = jax.eval_shape(module.init, jax.random.key(0), *args)['params']
        assert jax.tree.map(lambda s: s.shape, shapes) == jax.tree.map(jnp.shape, params)
    img = jax.jit(g.apply)({'params': g_params}, z, y)
    assert img.shape == (4, 16, 16, 3) and img.dtype == jnp.float32
    want = FIXTURE[f'{kind}/img_nhwc']
    assert float(np.abs(want).max()) > 1.0  # not trivially small: every layer's weights are random
    np.testing.assert_allclose(img, want, atol=1e-5, rtol=0)
    out = jax.jit(d.apply)({'params': d_params}, x, y)
    assert out['logits'].shape == (4,) and out['features'].shape == (4, 32)
    np.testing.assert_allclose(out['logits'], FIXTURE[f'{kind}/logits'], atol=1e-5, rtol=0)


def test_bfloat16_stages_compile_and_follow_the_official_bfloat16():
    # The official FP16Stages in bfloat16 (G's two highest-resolution stages, D's two first): the same
    # weights give the official bfloat16 outputs to bfloat16's precision, not the float32 ones exactly.
    g, d, y = tiny_pair('cond', bf16_stages=2, dtype=jnp.bfloat16)
    g_params, d_params = official_params('cond')
    img = jax.jit(g.apply)({'params': g_params}, FIXTURE['z'], y)
    logits = jax.jit(d.apply)({'params': d_params}, FIXTURE['x_nhwc'], y)['logits']
    assert img.dtype == jnp.float32 and logits.dtype == jnp.float32
    np.testing.assert_allclose(img, FIXTURE['cond/img_bf16_nhwc'], atol=0.06, rtol=0)
    np.testing.assert_allclose(logits, FIXTURE['cond/logits_bf16'], atol=0.01, rtol=0)
    assert float(np.abs(img - FIXTURE['cond/img_nhwc']).max()) > 1e-3  # computed in bfloat16 indeed
    # The float32 stages stay float32: stage 0 of G and the last of D compute in it.
    jaxpr = str(jax.make_jaxpr(functools.partial(g.apply, {'params': g_params}))(FIXTURE['z'], y))
    assert 'bf16' in jaxpr and 'f32[4,4,4,32]' in jaxpr


def test_from_official_refuses_unknown_names_and_takes_the_wrapper_prefix():
    sd = state_dict('uncond/G')
    bare = {k.removeprefix('Model.'): v for k, v in sd.items()}
    assert len(bare) == len(sd) and any(k.startswith('Model.') for k in sd)
    a, b = r3gan.from_official(sd, 'G'), r3gan.from_official(bare, 'G')
    assert jax.tree.structure(a) == jax.tree.structure(b)
    assert all(np.array_equal(u, v) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
    with pytest.raises(ValueError, match='unknown parameter Model.Mystery.weight'):
        r3gan.from_official({**sd, 'Model.Mystery.weight': np.zeros(1)}, 'G')
    with pytest.raises(ValueError, match="'G' or 'D'"):
        r3gan.from_official(sd, 'E')


# ---------------------------------------------------------------- the initialisation (Networks.py, MSRInitializer)

def test_the_official_initialisation():
    # One block and D's label embedding initialised (random draws compile slowly on a CPU); the rest by shape.
    blocks = (2, 2, 2)
    gain = math.sqrt(2 / 1.04) * sum(blocks) ** -0.25  # BiasedActivation.Gain * L^(-1 / (2 * 3 - 2))
    assert r3gan_layers.block_gain(sum(blocks)) == pytest.approx(gain)
    block = r3gan_layers.ResidualBlock(8, 2, 3, sum(blocks))
    block = jax.jit(block.init)(jax.random.key(0), jnp.zeros((1, 4, 4, 32)))['params']
    assert not np.any(block['conv3']['kernel']) and not np.any(block['act1']['bias'])  # the last layer 0, biases 0
    assert block['conv2']['kernel'].shape == (3, 3, 8, 64)  # 64 channels in 8 groups
    assert float(np.std(block['conv1']['kernel'])) == pytest.approx(gain / math.sqrt(32), rel=0.05)
    assert float(np.std(block['conv2']['kernel'])) == pytest.approx(gain / math.sqrt(8 * 9), rel=0.05)
    embedding = r3gan_layers.Linear(256, 1 / math.sqrt(256))  # D's, ActivationGain 1 / sqrt(dim), fan-in 5
    kernel = jax.jit(embedding.init)(jax.random.key(1), jnp.zeros((1, 5)))['params']['kernel']
    assert float(np.std(kernel)) == pytest.approx(1 / math.sqrt(256) / math.sqrt(5), rel=0.1)
    g = r3gan.Generator(WIDTHS, (8, 8, 4), blocks, 2, 3, 1, 5, G_EMBEDDING)
    params = jax.eval_shape(g.init, jax.random.key(0), jnp.zeros((1, 8)), jnp.zeros((1,), jnp.int32))['params']
    assert params['stage0']['basis']['linear']['kernel'].shape == (8 + G_EMBEDDING, 32)  # z beside the label's
    assert params['stage0']['basis']['basis'].shape == (4, 4, 32)
    assert 'upsample' not in params['stage1']  # the width does not change: no 1x1 convolution
    assert params['stage2']['upsample']['linear']['kernel'].shape == (1, 1, 32, 16)
    assert params['aggregation']['kernel'].shape == (1, 1, 16, 1)  # to the data's channels (grey here)
    d = r3gan.Discriminator(WIDTHS[::-1], (4, 8, 8), blocks, 2, 3, 5, 256)
    d_params = jax.eval_shape(d.init, jax.random.key(1), jnp.zeros((1, 16, 16, 1)),
                              jnp.zeros((1,), jnp.int32))['params']
    assert d_params['extraction']['kernel'].shape == (1, 1, 1, 16)
    assert d_params['stage2']['basis']['linear']['kernel'].shape == (32, 256)
    np.testing.assert_allclose(r3gan_layers.LOWPASS, np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 64)  # [1, 2, 1] * [1, 1]


# ---------------------------------------------------------------- presets and parameter counts

PRESET_COUNTS = {str(name): (int(g), int(d), int(k)) for name, g, d, k in zip(
    FIXTURE['preset_names'], FIXTURE['preset_g_params'], FIXTURE['preset_d_params'], FIXTURE['preset_classes'])}


def preset_config(name: str, classes: int):
    p = r3gan.preset(name)
    c = tiny_config(model__name='r3gan', image_size=p.pop('image_size'), model__z_dim=p.pop('z_dim'))
    c.r3gan.update(p)
    c.conditioning.g, c.conditioning.d = ('embedding', 'projection') if classes else ('none', 'none')
    return c


@pytest.mark.parametrize('name', list(PRESET_COUNTS))
def test_parameter_counts_equal_the_official_at_every_preset(name):
    official_g, official_d, classes = PRESET_COUNTS[name]
    config = preset_config(name.removesuffix('-uncond'), classes)
    config_lib.validate(config, num_devices=1)
    size = config.image_size
    from jaxgan import models
    g, d = models.build(config, (size, size, 3), images=True, num_classes=classes, bn_axis=None)
    y = jnp.zeros((1,), jnp.int32) if classes else None
    g_shapes = jax.eval_shape(g.init, jax.random.key(0), jnp.zeros((1, config.model.z_dim)), y)
    d_shapes = jax.eval_shape(d.init, jax.random.key(0), jnp.zeros((1, size, size, 3)), y)
    assert (count(g_shapes['params']), count(d_shapes['params'])) == (official_g, official_d)
    assert set(g_shapes) == set(d_shapes) == {'params'}  # the resamplers' kernels are constants, not variables


def test_presets_are_train_py_s():
    assert set(r3gan.PRESETS) == {'CIFAR10', 'FFHQ-64', 'FFHQ-256', 'ImageNet-32', 'ImageNet-64'}
    c = r3gan.preset('CIFAR10')
    assert (c['widths'], c['cardinalities'], c['blocks']) == ((768,) * 4, (96,) * 4, (2,) * 4)
    assert (c['z_dim'], c['image_size'], c['g_embedding'], c['d_embedding'], c['bf16_stages']) == (64, 32, 64, 768, 3)
    c = r3gan.preset('FFHQ-256')
    assert c['widths'] == (768, 768, 768, 768, 384, 192, 96) and c['cardinalities'][-1] == 12
    assert (c['image_size'], c['bf16_stages']) == (256, 4)
    assert r3gan.preset('ImageNet-64')['widths'] == (1536,) * 5
    assert set(r3gan.preset('FFHQ-64')) == set(config_lib.base_config().r3gan) | {'z_dim', 'image_size'}
    with pytest.raises(UserError, match='FFHQ-1024'):
        r3gan.preset('FFHQ-1024')


# ---------------------------------------------------------------- the config section's checks

@pytest.mark.parametrize('overrides, message', [
    ({'image_size': 32}, r'^config.image_size=32: R3GAN networks of 5 stages \(config.r3gan.widths\) make 64x64'),
    ({'r3gan__blocks': (2, 2)}, 'one entry per stage'),
    ({'r3gan__cardinalities': (96, 96, 96, 96, 100)}, '100 groups do not divide'),
    ({'r3gan__bf16_stages': 6}, 'bf16_stages=6'),
    ({'conditioning__g': 'concat'}, 'model r3gan supports none, embedding'),
    ({'conditioning__d': 'acgan'}, 'model r3gan supports none, projection'),
])
def test_bad_r3gan_configs_are_one_line_errors(overrides, message):
    config = tiny_config(model__name='r3gan', **{'image_size': 64, **overrides})
    with pytest.raises(UserError, match=message) as e:
        config_lib.validate(config, num_devices=1)
    assert '\n' not in str(e.value)
