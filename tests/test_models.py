import functools
import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import config as config_lib, models
from jaxgan.data.spec import DataSpec
from jaxgan.families.gan import build_gan
from jaxgan.errors import UserError
from jaxgan.models import dcgan
from tests.conftest import tiny_config


def build(config, spec):
    """models.build on a DataSpec's shape, as the GAN builder calls it."""
    return models.build(config, spec.shape, images=spec.kind == 'image', num_classes=spec.num_classes,
                        bn_axis=None)


@pytest.mark.parametrize('size', [32, 64, 128])
def test_dcgan_shapes(size):
    g = dcgan.Generator(size, channels=3, width=8)
    d = dcgan.Discriminator(size, width=8)
    z = jnp.ones((2, 100))
    g_vars = jax.eval_shape(lambda: g.init(jax.random.key(0), z, train=False))
    x = jax.eval_shape(functools.partial(g.apply, train=False), g_vars, z)
    assert x.shape == (2, size, size, 3)
    d_vars = jax.eval_shape(functools.partial(d.init, train=False), jax.random.key(0), x)
    out = jax.eval_shape(functools.partial(d.apply, train=False), d_vars, x)
    assert out['logits'].shape == (2,) and out['features'].shape[0] == 2


def test_dcgan_64_matches_the_paper():
    g = dcgan.Generator(64, channels=3, width=64)
    d = dcgan.Discriminator(64, width=64)
    g_params = jax.eval_shape(lambda: g.init(jax.random.key(0), jnp.ones((2, 100)), train=False))['params']
    d_params = jax.eval_shape(lambda: d.init(jax.random.key(0), jnp.ones((2, 64, 64, 3)), train=False))['params']
    g_convs = [g_params[f'ConvTranspose_{i}']['kernel'].shape for i in range(5)]
    assert [s[-1] for s in g_convs] == [512, 256, 128, 64, 3]
    assert [d_params[f'Conv_{i}']['kernel'].shape[-1] for i in range(5)] == [64, 128, 256, 512, 1]
    # No dense layers, no pooling: convolutions and BatchNorm only; none in D's first layer.
    assert {name.split('_')[0] for name in {**g_params, **d_params}} == {'ConvTranspose', 'Conv', 'BatchNorm'}
    assert sum(name.startswith('BatchNorm') for name in d_params) == 3
    # Parameter count of the reference PyTorch DCGAN (no biases): G 3,576,704 and D 2,765,568.
    count = lambda tree: sum(np.prod(x.shape) for x in jax.tree.leaves(tree))
    assert count(g_params) == 3_576_704 and count(d_params) == 2_765_568


def test_init_is_normal_0_02_and_output_in_tanh_range():
    g = dcgan.Generator(32, channels=3, width=32)
    variables = g.init(jax.random.key(1), jnp.ones((2, 100)), train=False)
    kernel = np.asarray(variables['params']['ConvTranspose_1']['kernel'])
    assert abs(kernel.std() - 0.02) < 0.002 and abs(kernel.mean()) < 0.002
    scale = np.asarray(variables['params']['BatchNorm_0']['scale'])
    assert abs(scale.mean() - 1.0) < 0.01 and 0.01 < scale.std() < 0.03
    x, _ = g.apply(variables, jax.random.normal(jax.random.key(2), (16, 100)) * 50, train=True,
                   mutable=['batch_stats'])
    assert float(jnp.abs(x).max()) <= 1.0


def test_dcgan_resize_convolution_is_nearest_upsampling_then_a_3x3_conv():
    """upsample='nearest' (Odena et al. 2016): after the 4x4 layer, each stride-2 layer of G is
    nearest-neighbour 2x then a 3x3 convolution; checked against the same layers written out."""
    g = dcgan.Generator(16, channels=1, width=4, norm='none', upsample='nearest')
    z = jax.random.normal(jax.random.key(0), (3, 8))
    p = g.init(jax.random.key(1), z, train=False)['params']
    assert [p[f'Conv_{i}']['kernel'].shape for i in range(2)] == [(3, 3, 8, 4), (3, 3, 4, 1)]
    up = lambda x: x.repeat(2, axis=1).repeat(2, axis=2)
    conv = lambda x, q: jax.lax.conv_general_dilated(x, q['kernel'], (1, 1), 'SAME',
                                                     dimension_numbers=('NHWC', 'HWIO', 'NHWC')) + q['bias']
    first = nn.ConvTranspose(8, (4, 4), padding='VALID').apply({'params': p['ConvTranspose_0']},
                                                              z.reshape(3, 1, 1, 8))  # 1x1 -> 4x4
    x = conv(up(jax.nn.relu(first)), p['Conv_0'])  # 8x8
    want = jnp.tanh(conv(up(jax.nn.relu(x)), p['Conv_1']))  # 16x16
    np.testing.assert_allclose(g.apply({'params': p}, z, train=False), want, rtol=1e-4, atol=1e-7)
    with_bn = dcgan.Generator(16, channels=1, width=4, upsample='nearest').init(jax.random.key(1), z, train=False)
    assert all('bias' not in with_bn['params'][f'Conv_{i}'] for i in range(2))  # BatchNorm after, none at the end


def test_g_upsample_is_dcgans_option_only():
    config = tiny_config(model__g_upsample='nearest')
    config_lib.validate(config, num_devices=1)
    g, _ = build(config, DataSpec('image', (16, 16, 1), 10, 'digits'))
    assert g.upsample == 'nearest'
    assert build(tiny_config(), DataSpec('image', (16, 16, 1), 10, 'digits'))[0].upsample == 'transposed'
    with pytest.raises(UserError, match=r"^config.model.g_upsample='bilinear' is not one of transposed, nearest "
                                        r"\('': the architecture's own\)$"):
        config_lib.validate(tiny_config(model__g_upsample='bilinear'), num_devices=1)
    with pytest.raises(UserError, match=r"^model resnet has no config.model.g_upsample=nearest: turn it off$"):
        config_lib.validate(tiny_config(model__name='resnet', model__g_upsample='nearest'), num_devices=1)


def test_build_rejects_vectors_and_bad_sizes():
    config = tiny_config()
    with pytest.raises(UserError, match='needs images'):
        build(config, DataSpec('vector', (2,), 10, 'npy:x.npy', (0.0, 0.0), (1.0, 1.0)))
    with pytest.raises(UserError, match='power-of-two'):
        build(config, DataSpec('image', (48, 48, 3), 10, 'folder:x'))
    config.model.name = 'nope'
    with pytest.raises(UserError, match='config.model.name'):
        build(config, DataSpec('image', (16, 16, 3), 10, 'folder:x'))


def test_bfloat16_compute_keeps_float32_params():
    config = tiny_config(compute_dtype='bfloat16')
    g, d = build(config, DataSpec('image', (16, 16, 1), 10, 'digits'))
    variables = g.init(jax.random.key(0), jnp.ones((2, 8)), train=False)
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(variables))
    x = g.apply(variables, jnp.ones((2, 8)), train=False)
    assert x.dtype == jnp.float32  # outputs are cast back for the loss
    hlo = jax.jit(lambda v, z: g.apply(v, z, train=False)).lower(variables, jnp.ones((2, 8))).as_text()
    assert 'bf16' in hlo


@pytest.mark.parametrize('name', ['dcgan', 'resnet', 'mlp'])
@pytest.mark.parametrize('g_cond, d_cond', [('concat', 'concat'), ('cbn', 'projection'), ('none', 'acgan')])
def test_conditional_models_and_heads(name, g_cond, d_cond):
    if name == 'mlp' and g_cond == 'cbn':
        pytest.skip('the MLP generator has no BatchNorm to condition')
    config = tiny_config(model__name=name, conditioning__g=g_cond, conditioning__d=d_cond,
                         infogan__categorical=4, infogan__continuous=2, image_size=32)
    g, d = build(config, DataSpec('image', (32, 32, 1), 10, 'digits', num_classes=10,
                                         class_names=tuple('0123456789')))
    z, y = jnp.ones((2, 8 + 4 + 2)), jnp.array([3, 7])
    g_vars = jax.eval_shape(functools.partial(g.init, train=False), jax.random.key(0), z, y if g_cond != 'none' else None)
    x = jax.eval_shape(functools.partial(g.apply, train=False), g_vars, z, y if g_cond != 'none' else None)
    assert x.shape == (2, 32, 32, 1)
    d_y = y if d_cond in ('concat', 'projection') else None
    d_vars = jax.eval_shape(functools.partial(d.init, train=False), jax.random.key(0), x, d_y)
    out = jax.eval_shape(functools.partial(d.apply, train=False), d_vars, x, d_y)
    assert out['logits'].shape == (2,) and out['q_categorical'].shape == (2, 4) and out['q_continuous'].shape == (2, 2)
    assert ('class_logits' in out) == (d_cond == 'acgan')


def test_conditioning_needs_labels():
    config = tiny_config(conditioning__g='concat')
    with pytest.raises(UserError, match='has no labels'):
        build_gan(config, DataSpec('image', (16, 16, 1), 10, 'folder:x'))


@pytest.mark.parametrize('size, width', [(16, 8), (32, 8), (64, 128), (128, 128)])
def test_resnet_discriminator_depth_follows_sn_gan(size, width):
    config = tiny_config(model__name='resnet', model__d_width=8, image_size=size)
    _, d = build(config, DataSpec('image', (size, size, 3), 10, 'folder:x'))
    x = jnp.zeros((2, size, size, 3))
    variables = jax.eval_shape(functools.partial(d.init, train=False), jax.random.key(0), x)
    shapes = [k.shape for k in jax.tree.leaves(variables['params']) if len(k.shape) == 4]
    assert max(s[-1] for s in shapes) == width  # 16 W at the deepest block where SN-GAN doubles widths
    hidden = jax.eval_shape(functools.partial(d.apply, train=False), variables, x)['features']
    assert hidden.shape == (2, width)
    blocks_of_16w = sum(1 for s in shapes if s[:2] == (3, 3) and s[-1] == width)
    # 128 px: one more 16 W block than 64 px, without downsampling (two 3x3 convs a block).
    assert blocks_of_16w == {16: 8, 32: 8, 64: 2, 128: 4}[size]


def test_resnet_rejects_sizes_beyond_its_definitions():
    with pytest.raises(UserError, match='up to 128'):
        build(tiny_config(model__name='resnet', image_size=256), DataSpec('image', (256, 256, 3), 10, 'folder:x'))


# ---- the registry: capabilities, not names ----

def test_a_new_architecture_is_one_file_found_by_its_name(tmp_path, monkeypatch):
    """docs/extending.md's tinyconv, written as a module of its own beside the package's (no other file
    edited): found by config.model.name, its section in base_config and --help, checked, built and
    trained a step."""
    import sys
    from jaxgan.family import make_train_step
    from tests.conftest import REPO
    from tests.test_step import batch, setup
    with open(f'{REPO}/docs/extending.md', encoding='utf-8') as f:
        name, source = re.search(r'```python file=jaxgan/models/(\w+)\.py\n(.*?)```', f.read(), re.S).groups()
    assert name == 'tinyconv' and name not in [a.name for a in models.architectures()]
    (tmp_path / f'{name}.py').write_text(source)
    monkeypatch.setattr(models, '__path__', [*models.__path__, str(tmp_path)])
    try:
        config = tiny_config(model__name='tinyconv')  # base_config gathers the new section
        assert config.tinyconv.width == 16
        assert config_lib.descriptions()['tinyconv.width'] == 'feature maps of every layer of G and D'
        assert config_lib.descriptions()['tinyconv'].startswith('A tiny all-convolutional pair')
        config.tinyconv.width = 0
        with pytest.raises(UserError, match=r'^config.tinyconv.width=0 must be a positive integer$'):
            config_lib.validate(config, num_devices=1)
        config.tinyconv.width = 4
        config_lib.validate(config, num_devices=1)
        mesh, gan, state, batcher = setup(config)
        assert type(gan.generator).__module__ == 'jaxgan.models.tinyconv'
        after, metrics = make_train_step(gan, config, mesh)(state, batch(batcher, mesh, config, 0))
        assert np.isfinite(float(metrics['d_adversarial']))
        for net in ('G', 'D'):
            assert any(not np.array_equal(a, b) for a, b in zip(jax.tree.leaves(state.params[net]),
                                                                jax.tree.leaves(after.params[net])))
        with pytest.raises(UserError, match=r'^model tinyconv has no config.model.spectral_norm: turn it off$'):
            config_lib.validate(tiny_config(model__name='tinyconv', model__spectral_norm=True), num_devices=1)
        with pytest.raises(UserError, match=r"^config.conditioning.g='concat': model tinyconv supports none$"):
            config_lib.validate(tiny_config(model__name='tinyconv', conditioning__g='concat'), num_devices=1)
        with pytest.raises(UserError, match=r'^config.image_size=128: model tinyconv makes square images of a '
                                            r'power-of-two size, at least 8 up to 64'):
            build(config, DataSpec('image', (128, 128, 3), 10, 'folder:x'))
    finally:
        models.registry.unregister(name)
        sys.modules.pop(f'jaxgan.models.{name}', None)


@pytest.mark.parametrize('overrides, message', [
    (dict(model__name='r3gan', freeze_d=1), 'model r3gan has no FreezeD (config.freeze_d): turn it off'),
    (dict(model__name='progan', model__spectral_norm=True, compute_dtype='bfloat16'),
     'model progan has no config.model.spectral_norm and no config.compute_dtype=bfloat16: turn them off'),
    (dict(model__name='resnet', model__minibatch_discrimination=4),
     'model resnet has no config.model.minibatch_discrimination: turn it off'),
    (dict(model__name='mlp', model__g_upsample='nearest'),
     'model mlp has no config.model.g_upsample=nearest: turn it off'),
    (dict(model__name='pix2pix', model__g_upsample='nearest'),  # not an image GAN's architecture
     'model pix2pix has no config.model.g_upsample=nearest: turn it off'),
    (dict(model__name='resnet', model__g_norm='virtual_batch'),
     "config.model.g_norm='virtual_batch': model resnet supports batch, none"),
])
def test_what_an_architecture_lacks_is_refused_from_its_declaration(overrides, message):
    config = tiny_config(**overrides)
    with pytest.raises(UserError, match=f'^{re.escape(message)}$'):
        config_lib.validate(config, num_devices=1)
    if models.find(config.model.name):
        with pytest.raises(UserError, match=f'^{re.escape(message)}$'):
            models.check(config)


def test_the_declarations_say_what_the_game_does_for_them():
    style, growing = models.get('stylegan2'), models.get('progan')
    assert style.mapping is not None and style.noise_inputs and style.growing is None
    options = style.mapping(tiny_config(model__name='stylegan2'))
    assert (options.style_mixing, options.pl_weight, options.pl_every) == (0.9, 2.0, 4)
    assert growing.growing is not None and growing.mapping is None and growing.dtypes == ('float32',)
    assert [a.name for a in models.architectures() if a.discriminator_blocks] == ['dcgan', 'mlp', 'resnet', 'stylegan2']
    assert models.d_norm(tiny_config(model__name='resnet')) == 'none'
    assert models.d_norm(tiny_config()) == 'batch'
    with pytest.raises(UserError, match=r"^config.model.name='nope' is not one of dcgan, mlp, resnet, stylegan2, "
                                        r"progan, r3gan$"):
        models.get('nope')


def test_generic_code_names_no_architecture():
    """Outside jaxgan/models, code asks an architecture's capabilities (models.get(name).mapping, ...)
    and never compares config.model.name with an architecture's name."""
    import pathlib
    from tests.conftest import REPO
    names = '|'.join(a.name for a in models.architectures())
    test = re.compile(rf"""(==|!=|\bin)\s*[(\[{{]?[^)\]}}\n]*['"]({names})['"]""")
    found = [f'{path}: {line.strip()}' for path in sorted(pathlib.Path(REPO, 'jaxgan').rglob('*.py'))
             if 'models' not in path.parts for line in path.read_text().splitlines()
             if test.search(line.split('#')[0])]
    assert found == []


def test_an_image_size_the_architecture_cannot_make_is_refused_before_any_data_are_read(tmp_path):
    """Issue: image_size=6000 was refused only after the data were decoded (100000 was OOM-killed): the
    declaration's sizes are checked by config.validate, on a dataset that does not even exist."""
    for size in (6000, 100000):
        config = tiny_config(image_size=size, dataset=f'folder:{tmp_path}/missing')
        with pytest.raises(UserError, match=rf'^config.image_size={size}: model dcgan makes square images of a '
                                            r'power-of-two size, at least 8$'):
            config_lib.validate(config, num_devices=1)
    with pytest.raises(UserError, match=r'^config.image_size=256: model resnet makes square images of a power-of-two '
                                        r'size, at least 8 up to 128$'):
        config_lib.validate(tiny_config(model__name='resnet', image_size=256), num_devices=1)
