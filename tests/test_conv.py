"""jaxgan.models.conv: the convolution whose gradients are rewritten, against XLA's own, and the Flax modules
on it against Flax's."""

import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.models import conv as C

# (strides, padding, input dilation, kernel dilation, kernel size, input size): DCGAN's D (4x4, stride 2)
# and G (input dilation 2), ProGAN's 3x3 and 1x1, a 7x7 (CycleGAN's), uneven paddings and strides.
CASES = [((2, 2), ((1, 1), (1, 1)), (1, 1), (1, 1), 4, 16), ((1, 1), ((1, 1), (1, 1)), (1, 1), (1, 1), 3, 8),
         ((1, 1), ((0, 0), (0, 0)), (1, 1), (1, 1), 1, 5), ((1, 1), ((2, 2), (2, 2)), (2, 2), (1, 1), 4, 8),
         ((1, 1), ((2, 1), (1, 2)), (2, 2), (1, 1), 3, 7), ((2, 1), ((0, 1), (2, 0)), (1, 1), (2, 1), 3, 9),
         ((1, 1), ((3, 3), (3, 3)), (1, 1), (1, 1), 7, 9), ((2, 2), 'SAME', (1, 1), (1, 1), 3, 9)]


NHWC_HWIO_LABELS = '[b, 0, 1, f]x[0, 1, i, o]->[b, 0, 1, f]'  # StableHLO's text for NHWC/HWIO


def _xla(x, w, s, p, a, d):
    return jax.lax.conv_general_dilated(x, w, s, p, a, d, dimension_numbers=C.NHWC_HWIO)


def _ours(x, w, s, p, a, d):
    return C.conv_general_dilated(x, w, s, p, a, d, C.NHWC_HWIO)


@pytest.mark.parametrize('strides, padding, lhs_dilation, rhs_dilation, k, size', CASES)
def test_values_and_gradients_to_the_second_order_are_xlas(strides, padding, lhs_dilation, rhs_dilation, k, size):
    x = jax.random.normal(jax.random.key(0), (3, size, size, 5))
    w = jax.random.normal(jax.random.key(1), (k, k, 5, 4))
    results = []
    for conv in (_ours, _xla):
        loss = lambda x, w: jnp.sum(jnp.sin(conv(x, w, strides, padding, lhs_dilation, rhs_dilation)))
        penalty = lambda w, x: jnp.sum(jnp.square(jax.grad(loss)(x, w)))  # WGAN-GP's shape of use
        results.append((loss(x, w), *jax.grad(loss, (0, 1))(x, w), jax.grad(penalty)(w, x)))
    for ours, xla in zip(*results):
        assert ours.shape == xla.shape
        np.testing.assert_allclose(ours, xla, rtol=1e-4, atol=1e-4)


def test_the_gradients_are_rewritten_on_a_cpu_and_xlas_otherwise():
    """On one CPU the gradient's convolutions are all NHWC/HWIO (XLA's are not); grouped ones stay XLA's."""
    x, w = jnp.ones((2, 8, 8, 3)), jnp.ones((4, 4, 3, 6))

    def layouts(conv, **kwargs):
        loss = lambda x, w: jnp.sum(conv(x, w, (2, 2), ((1, 1), (1, 1)), (1, 1), (1, 1), **kwargs))
        text = jax.jit(jax.grad(loss, (0, 1))).lower(x, w).as_text()
        return set(re.findall(r'dim_numbers = (.*?), window', text))

    assert layouts(_ours) == {NHWC_HWIO_LABELS}
    assert len(layouts(_xla)) > 1  # what the rewrite is for
    grouped = lambda x, w, *args: C.conv_general_dilated(x, w[:, :, :1], *args, C.NHWC_HWIO, feature_group_count=3)
    assert len(layouts(grouped)) > 1


@pytest.mark.parametrize('kwargs', [dict(strides=(2, 2), padding=((2, 2), (2, 2))), dict(padding='VALID'),
                                    dict(strides=(2, 2), padding='SAME'), dict(strides=(2, 2), padding=1),
                                    dict(strides=(3, 3), padding='VALID', kernel_dilation=(2, 2))])
def test_the_modules_are_flaxs(kwargs):
    x = jax.random.normal(jax.random.key(0), (2, 5, 5, 3))
    for ours, theirs in ((C.ConvTranspose, nn.ConvTranspose), (C.Conv, nn.Conv)):
        if ours is C.Conv and 'kernel_dilation' in kwargs:
            continue
        a, b = ours(4, (4, 4), **kwargs), theirs(4, (4, 4), **kwargs)
        params = b.init(jax.random.key(1), x)
        assert jax.tree.map(jnp.shape, a.init(jax.random.key(1), x)) == jax.tree.map(jnp.shape, params)
        np.testing.assert_allclose(a.init(jax.random.key(1), x)['params']['kernel'], params['params']['kernel'])
        np.testing.assert_allclose(a.apply(params, x), b.apply(params, x), rtol=1e-5, atol=1e-5)
        grads = [jax.grad(lambda p, m=m: jnp.sum(jnp.sin(m.apply(p, x))))(params) for m in (a, b)]
        jax.tree.map(lambda g, h: np.testing.assert_allclose(g, h, rtol=1e-4, atol=1e-4), *grads)


def test_xlas_rule_inside_a_shard_map_over_several_devices_and_its_errors_kept():
    """Over several devices the custom rule crashed XLA's CPU runtime: there the gradient is XLA's."""
    mesh = jax.make_mesh((jax.device_count(),), ('data',))
    x = jax.device_put(jnp.ones((jax.device_count() * 2, 8, 8, 3)), jax.NamedSharding(mesh, jax.P('data')))
    w = jnp.ones((4, 4, 3, 6))
    loss = lambda x, w: jnp.sum(_ours(x, w, (2, 2), ((1, 1), (1, 1)), (1, 1), (1, 1)))
    sharded = jax.shard_map(jax.grad(loss, 1), mesh=mesh, in_specs=(jax.P('data'), jax.P()), out_specs=jax.P())
    text = jax.jit(sharded).lower(x, w).as_text()
    assert set(re.findall(r'dim_numbers = (.*?), window', text)) - {NHWC_HWIO_LABELS}
    with pytest.raises(ValueError, match='String padding'):  # JAX's own error, as on any platform
        C.conv_general_dilated(jnp.ones((2, 5, 5, 3)), w[:3, :3], (1, 1), 'SAME', (2, 2), None, C.NHWC_HWIO)


def test_an_empty_output_has_zero_gradients():
    x, w = jnp.ones((2, 2, 5, 3)), jnp.ones((3, 3, 3, 4))
    dx, dw = jax.grad(lambda x, w: jnp.sum(_ours(x, w, (1, 1), ((0, 0), (0, 0)), (1, 1), (1, 1))), (0, 1))(x, w)
    assert dx.shape == x.shape and dw.shape == w.shape and not dx.any() and not dw.any()


def test_conv_transpose_takes_what_flax_takes():
    x = jax.random.normal(jax.random.key(0), (2, 5, 5, 3))
    for kwargs in (dict(strides=2, padding='SAME'), dict(kernel_size=3, padding=1), dict(padding='SAME_LOWER'),
                   dict(transpose_kernel=True, strides=(2, 2))):
        kwargs = {'kernel_size': (3, 3), **kwargs}
        params = nn.ConvTranspose(4, **kwargs).init(jax.random.key(1), x)
        np.testing.assert_allclose(C.ConvTranspose(4, **kwargs).apply(params, x),
                                   nn.ConvTranspose(4, **kwargs).apply(params, x), rtol=1e-5, atol=1e-5)


def test_the_implementation_is_chosen_in_one_place():
    """models.convolution: the rewrite on a CPU by default (today's measured choice), XLA's own elsewhere;
    `using` and `choose` pick one for what is traced after, with the same parameters and values."""
    from jaxgan.models import convolution
    assert convolution.chosen('cpu') == 'nhwc_gradients' and convolution.chosen('gpu') == 'xla'
    assert convolution.chosen() == ('nhwc_gradients' if jax.default_backend() == 'cpu' else 'xla')
    x = jax.random.normal(jax.random.key(0), (2, 8, 8, 3))

    def traced(module):
        params = module.init(jax.random.key(1), x)
        loss = lambda p: jnp.sum(jnp.sin(module.apply(p, x)))
        text = jax.jit(jax.grad(loss)).lower(params).as_text()
        return params, module.apply(params, x), jax.grad(loss)(params), set(re.findall(r'dim_numbers = (.*?), window',
                                                                                        text))

    for make in (lambda: convolution.Conv(4, (4, 4), (2, 2), padding=((1, 1), (1, 1))),
                 lambda: convolution.ConvTranspose(4, (4, 4), (2, 2), padding='SAME')):
        with convolution.using('nhwc_gradients'):
            rewritten = traced(make())
        with convolution.using('xla'):
            xla = traced(make())
        assert rewritten[3] == {NHWC_HWIO_LABELS} and len(xla[3]) > 1  # the gradients' layouts
        for a, b in zip(jax.tree.leaves(rewritten[:3]), jax.tree.leaves(xla[:3])):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    try:
        convolution.choose('xla')
        assert convolution.chosen('cpu') == 'xla'
        with convolution.using('nhwc_gradients'):
            assert convolution.chosen('cpu') == 'nhwc_gradients'
    finally:
        convolution.choose(None)
    assert convolution.chosen('cpu') == 'nhwc_gradients'
    with pytest.raises(ValueError, match="convolution 'cudnn' is not one of xla, nhwc_gradients"):
        convolution.using('cudnn').__enter__()


@pytest.mark.parametrize('groups', [2, 4])
def test_a_grouped_convolution_runs_dense_on_a_cpu_with_xlas_values_and_gradients(groups):
    """models.convolution: under 'nhwc_gradients' a grouped convolution is one dense convolution with a
    block-diagonal kernel (XLA:CPU's grouped gradients are slow); depthwise ones stay XLA's."""
    from jaxgan.models import convolution
    x = jax.random.normal(jax.random.key(0), (2, 7, 7, 8))
    w = jax.random.normal(jax.random.key(1), (3, 3, 8 // groups, 12))
    args = ((1, 1), ((1, 1), (1, 1)))
    results, programs = [], []
    for implementation in ('nhwc_gradients', 'xla'):
        with convolution.using(implementation):
            conv = lambda x, w: convolution.conv_general_dilated(x, w, *args, dimension_numbers=C.NHWC_HWIO,
                                                                 feature_group_count=groups)
            loss = lambda x, w: jnp.sum(jnp.sin(conv(x, w)))
            results.append((conv(x, w), *jax.grad(loss, (0, 1))(x, w)))
            programs.append(jax.jit(conv).lower(x, w).as_text())
    for ours, xla in zip(*results):
        assert ours.shape == xla.shape
        np.testing.assert_allclose(ours, xla, rtol=1e-4, atol=1e-4)
    assert f'feature_group_count = {groups}' not in programs[0] and f'feature_group_count = {groups}' in programs[1]
    depthwise = jax.random.normal(jax.random.key(2), (3, 3, 1, 8))
    with convolution.using('nhwc_gradients'):
        text = jax.jit(lambda x: convolution.conv_general_dilated(x, depthwise, *args, dimension_numbers=C.NHWC_HWIO,
                                                                  feature_group_count=8)).lower(x).as_text()
    assert 'feature_group_count = 8' in text
