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

    nhwc_hwio = '[b, 0, 1, f]x[0, 1, i, o]->[b, 0, 1, f]'
    assert layouts(_ours) == {nhwc_hwio}
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
