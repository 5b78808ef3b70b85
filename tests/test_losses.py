import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.core import losses
from jaxgan.errors import UserError


@pytest.fixture
def logits():
    rng = np.random.default_rng(0)
    return rng.normal(size=32).astype(np.float32) * 3, rng.normal(size=32).astype(np.float32) * 3


def sigmoid(x):
    return 1 / (1 + np.exp(-x.astype(np.float64)))


def test_discriminator_loss_is_binary_cross_entropy(logits):
    real, fake = logits
    expected = -np.mean(np.log(sigmoid(real))) - np.mean(np.log(1 - sigmoid(fake)))
    got = losses.bce_discriminator_loss(real_logits=jnp.asarray(real), fake_logits=jnp.asarray(fake))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_one_sided_label_smoothing(logits):
    real, fake = logits
    expected = (-np.mean(0.9 * np.log(sigmoid(real)) + 0.1 * np.log(1 - sigmoid(real)))
                - np.mean(np.log(1 - sigmoid(fake))))
    got = losses.bce_discriminator_loss(real_logits=jnp.asarray(real), fake_logits=jnp.asarray(fake),
                                        label_smoothing=0.1)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_generator_losses_match_their_formulas(logits):
    _, fake = logits
    d_fake = sigmoid(fake)
    f = jnp.asarray(fake)
    np.testing.assert_allclose(losses.minimax_generator_loss(fake_logits=f), np.mean(np.log(1 - d_fake)), rtol=1e-5)
    np.testing.assert_allclose(losses.non_saturating_generator_loss(fake_logits=f), -np.mean(np.log(d_fake)),
                               rtol=1e-5)
    np.testing.assert_allclose(losses.least_squares_generator_loss(fake_logits=f),
                               0.5 * np.mean((fake - 1) ** 2), rtol=1e-5)
    np.testing.assert_allclose(losses.critic_generator_loss(fake_logits=f), -np.mean(fake), rtol=1e-5)


def test_discriminator_losses_match_their_formulas(logits):
    real, fake = logits
    r, f = jnp.asarray(real), jnp.asarray(fake)
    np.testing.assert_allclose(losses.least_squares_discriminator_loss(real_logits=r, fake_logits=f),
                               0.5 * np.mean((real - 1) ** 2) + 0.5 * np.mean(fake ** 2), rtol=1e-5)
    np.testing.assert_allclose(losses.wasserstein_discriminator_loss(real_logits=r, fake_logits=f),
                               np.mean(fake) - np.mean(real), rtol=1e-5)
    np.testing.assert_allclose(losses.hinge_discriminator_loss(real_logits=r, fake_logits=f),
                               np.mean(np.maximum(0, 1 - real)) + np.mean(np.maximum(0, 1 + fake)), rtol=1e-5)


@pytest.mark.parametrize('name', sorted(losses.LOSSES))
def test_losses_and_gradients_finite_at_extreme_logits(name):
    loss = losses.get(name)
    extreme = jnp.array([-200.0, 200.0, -200.0, 200.0])
    # The relativistic losses also take each side's mean (over the global batch, in the step).
    means = lambda r, f: {'real_mean': jnp.mean(r), 'fake_mean': jnp.mean(f)} if loss.relativistic else {}
    real = lambda f: {'real_logits': -extreme} if loss.relativistic else {}
    d_value, d_grads = jax.value_and_grad(
        lambda r, f: loss.discriminator(real_logits=r, fake_logits=f, **means(r, f)), argnums=(0, 1))(extreme, -extreme)
    g_value, g_grad = jax.value_and_grad(
        lambda f: loss.generator(fake_logits=f, **real(f), **means(-extreme, f)))(extreme)
    for value in (d_value, g_value, *d_grads, g_grad):
        assert np.isfinite(np.asarray(value)).all()


def test_bce_at_extreme_logits_has_the_exact_value():
    extreme = jnp.array([-200.0, 200.0, -200.0, 200.0])
    # Half the real logits are -200: -log D(x) = 200 each; half the fake ones +200: the same.
    value = losses.bce_discriminator_loss(real_logits=extreme, fake_logits=-extreme)
    np.testing.assert_allclose(value, 200.0, rtol=1e-4)


def test_non_saturating_gradient_survives_where_minimax_saturates():
    confident_fake = jnp.array([-20.0])  # D is sure the sample is fake
    ns = jax.grad(lambda f: losses.non_saturating_generator_loss(fake_logits=f))(confident_fake)
    mm = jax.grad(lambda f: losses.minimax_generator_loss(fake_logits=f))(confident_fake)
    assert abs(float(ns[0])) > 0.99 and abs(float(mm[0])) < 1e-8


def test_unknown_loss_is_a_user_error():
    with pytest.raises(UserError, match='config.loss'):
        losses.get('nonsense')
