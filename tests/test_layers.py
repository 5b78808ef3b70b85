import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.models.layers import MinibatchDiscrimination, VirtualBatchNorm, with_spectral_norm
import flax.linen as nn


def test_minibatch_discrimination_matches_its_definition():
    f = jnp.asarray(np.random.default_rng(0).normal(size=(5, 6)).astype(np.float32))
    layer = MinibatchDiscrimination(num_kernels=3, kernel_dim=2)
    variables = layer.init(jax.random.key(0), f)
    out = np.asarray(layer.apply(variables, f))
    t = np.asarray(variables['params']['T'])
    m = (np.asarray(f) @ t).reshape(5, 3, 2)
    o = np.exp(-np.abs(m[:, None] - m[None, :]).sum(-1)).sum(1)  # [B, K], self included
    np.testing.assert_allclose(out[:, :6], f)
    np.testing.assert_allclose(out[:, 6:], o, rtol=1e-5)


def test_virtual_batch_norm_uses_reference_plus_self():
    rng = np.random.default_rng(1)
    ref, xs = rng.normal(size=(4, 3, 3, 2)), rng.normal(size=(2, 3, 3, 2)) * 3 + 1
    layer = VirtualBatchNorm(reference_size=4)
    inputs = jnp.asarray(np.concatenate([ref, xs]), jnp.float32)
    variables = layer.init(jax.random.key(0), inputs)
    variables = {'params': {'scale': jnp.ones(2), 'bias': jnp.zeros(2)}}
    out = np.asarray(layer.apply(variables, inputs))
    for i, x in enumerate(xs):
        pool = np.concatenate([ref, x[None]])  # reference batch plus the example, over positions
        mean, var = pool.mean(axis=(0, 1, 2)), pool.var(axis=(0, 1, 2))
        np.testing.assert_allclose(out[4 + i], (x - mean) / np.sqrt(var + 1e-5), rtol=1e-4, atol=1e-5)
    mean, var = ref.mean(axis=(0, 1, 2)), ref.var(axis=(0, 1, 2))
    np.testing.assert_allclose(out[:4], (ref - mean) / np.sqrt(var + 1e-5), rtol=1e-4, atol=1e-5)
    # An example's output does not depend on the rest of its batch.
    other = jnp.asarray(np.concatenate([ref, xs[:1], rng.normal(size=(1, 3, 3, 2))]), jnp.float32)
    np.testing.assert_allclose(np.asarray(layer.apply(variables, other))[4], out[4], rtol=1e-6)


def test_spectral_norm_makes_the_largest_singular_value_one():
    class Net(nn.Module):
        @nn.compact
        def __call__(self, x, train):
            return with_spectral_norm(nn.Dense(7, kernel_init=nn.initializers.normal(3.0)), True, train)(x)

    x = jnp.ones((2, 5))
    variables = Net().init(jax.random.key(0), x, False)
    for _ in range(30):  # one power iteration per training call
        _, updates = Net().apply(variables, x, True, mutable=['spectral'])
        variables = {**variables, **updates}
    kernel = np.asarray(variables['params']['Dense_0']['kernel'])
    flat = {'/'.join(str(getattr(k, 'key', k)) for k in path): v
            for path, v in jax.tree_util.tree_leaves_with_path(variables['spectral'])}
    sigma = np.asarray(next(v for k, v in flat.items() if k.endswith('sigma'))).reshape(())  # the estimate
    np.testing.assert_allclose(sigma, np.linalg.svd(kernel, compute_uv=False)[0], rtol=1e-3)
    y = np.asarray(Net().apply(variables, jnp.eye(5), False))  # rows of the normalised kernel
    assert abs(np.linalg.svd(y, compute_uv=False)[0] - 1.0) < 1e-3
