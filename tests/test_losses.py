import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import losses
from jaxgan.errors import UserError


def _log_sigmoid_np(x):
    return -np.log1p(np.exp(-x))


@pytest.fixture
def logits():
    rng = np.random.default_rng(0)
    return rng.normal(size=32).astype(np.float32) * 3, rng.normal(size=32).astype(np.float32) * 3


def test_discriminator_loss_is_binary_cross_entropy(logits):
    real, fake = logits
    expected = -np.mean(_log_sigmoid_np(real)) - np.mean(np.log1p(-1 / (1 + np.exp(-fake))))
    got = losses.bce_discriminator_loss(real_logits=jnp.asarray(real), fake_logits=jnp.asarray(fake))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_generator_losses_match_their_formulas(logits):
    _, fake = logits
    d_fake = 1 / (1 + np.exp(-fake.astype(np.float64)))
    np.testing.assert_allclose(losses.minimax_generator_loss(fake_logits=jnp.asarray(fake)),
                               np.mean(np.log(1 - d_fake)), rtol=1e-5)
    np.testing.assert_allclose(losses.non_saturating_generator_loss(fake_logits=jnp.asarray(fake)),
                               -np.mean(np.log(d_fake)), rtol=1e-5)


@pytest.mark.parametrize('name', sorted(losses.LOSSES))
def test_losses_and_gradients_finite_at_extreme_logits(name):
    loss = losses.get(name)
    extreme = jnp.array([-200.0, 200.0, -200.0, 200.0])
    d_value, d_grads = jax.value_and_grad(
        lambda r, f: loss.discriminator(real_logits=r, fake_logits=f), argnums=(0, 1))(extreme, -extreme)
    g_value, g_grad = jax.value_and_grad(lambda f: loss.generator(fake_logits=f))(extreme)
    for value in (d_value, g_value, *d_grads, g_grad):
        assert np.isfinite(np.asarray(value)).all()
    # Half the real logits are -200: log D(x) = -200 each, so the loss is about 100 + 100.
    np.testing.assert_allclose(d_value, 200.0, rtol=1e-4)


def test_non_saturating_gradient_survives_where_minimax_saturates():
    confident_fake = jnp.array([-20.0])  # D is sure the sample is fake
    ns = jax.grad(lambda f: losses.non_saturating_generator_loss(fake_logits=f))(confident_fake)
    mm = jax.grad(lambda f: losses.minimax_generator_loss(fake_logits=f))(confident_fake)
    assert abs(float(ns[0])) > 0.99 and abs(float(mm[0])) < 1e-8


def test_unknown_loss_is_a_user_error():
    with pytest.raises(UserError, match='config.loss'):
        losses.get('nonsense')
