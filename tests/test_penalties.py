import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.core import penalties
from tests.test_step import run
from tests.conftest import tiny_config


@pytest.fixture
def linear_critic():
    w = jnp.asarray(np.random.default_rng(0).normal(size=(4, 4, 3)).astype(np.float32))
    return w, lambda x: jnp.sum(x * w, axis=(1, 2, 3))


def batch(seed, shape=(6, 4, 4, 3)):
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape).astype(np.float32))


def test_gradient_penalty_of_a_linear_critic_is_closed_form(linear_critic):
    w, d_fn = linear_critic
    value = penalties.gradient_penalty(d_fn=d_fn, real=batch(1), fake=batch(2), epsilon=jnp.linspace(0, 1, 6))
    np.testing.assert_allclose(value, (np.linalg.norm(w) - 1) ** 2, rtol=1e-5)


def test_r1_of_a_linear_critic_is_its_squared_norm(linear_critic):
    w, d_fn = linear_critic
    np.testing.assert_allclose(penalties.r1_penalty(d_fn=d_fn, real=batch(1)), np.sum(np.square(w)), rtol=1e-5)


def test_dragan_of_a_linear_critic_is_closed_form(linear_critic):
    w, d_fn = linear_critic
    value = penalties.dragan_penalty(d_fn=d_fn, real=batch(1), std=jnp.asarray(1.3),
                                     uniform=jnp.abs(batch(3)) % 1, alpha=jnp.linspace(0, 1, 6))
    np.testing.assert_allclose(value, (np.linalg.norm(w) - 1) ** 2, rtol=1e-5)


def test_r1_of_a_quadratic_critic():
    # D(x) = sum x^2 / 2: grad = x, so R1 = mean over examples of ||x||^2.
    x = batch(4)
    value = penalties.r1_penalty(d_fn=lambda x: 0.5 * jnp.sum(x ** 2, axis=(1, 2, 3)), real=x)
    np.testing.assert_allclose(value, np.mean(np.sum(np.square(x), axis=(1, 2, 3))), rtol=1e-5)


def test_historical_average_penalty_is_the_squared_distance():
    value = penalties.historical_average_penalty(params={'w': jnp.full(3, 7.0)}, average={'w': jnp.full(3, 5.0)})
    np.testing.assert_allclose(value, 3 * 4.0)


def test_mmd_of_two_points_is_closed_form():
    x, y = jnp.zeros((1, 1)), jnp.full((1, 1), 2.0)
    sigmas = (1.0, 3.0)
    expected = np.sqrt(sum(2 * (1 - np.exp(-4.0 / (2 * s * s))) for s in sigmas))
    np.testing.assert_allclose(penalties.mmd(x=x, y=y, bandwidths=sigmas), expected, rtol=1e-5)
    same = batch(5, (16, 3))
    assert float(penalties.mmd(x=same, y=same, bandwidths=sigmas)) < 1e-5


def test_lazy_r1_runs_every_k_steps_weighed_k():
    config = tiny_config(penalties__r1=2.0, penalties__r1_every=2, model__d_norm='none')
    _, first = run(config, 1)  # step 0: computed
    _, second = run(config, 2)  # step 1: skipped
    assert float(first['r1']) > 0 and float(second['r1']) == 0.0


@pytest.mark.parametrize('overrides', [
    dict(loss='wasserstein', penalties__gradient_penalty=10.0, model__d_norm='layer', n_critic=2),
    dict(loss='hinge', model__spectral_norm=True),
    dict(loss='least_squares', penalties__dragan=10.0, model__d_norm='none'),
    dict(label_smoothing=0.1, penalties__historical_averaging=0.01, model__minibatch_discrimination=8),
    dict(loss='hinge', penalties__r1=1.0, model__d_norm='layer', model__spectral_norm=True),
    dict(g_objective__adversarial=0.0, g_objective__feature_matching=1.0, model__g_norm='virtual_batch',
         model__vbn_reference_size=4),
    dict(n_critic=0, g_objective__adversarial=0.0, g_objective__mmd=1.0),
    dict(conditioning__g='cbn', conditioning__d='projection'),
    dict(conditioning__g='concat', conditioning__d='acgan', n_critic=2),
    # InfoGAN's and the semi-supervised GAN's steps run in CI through experiments infogan_mnist, ssgan_mnist.
    pytest.param(dict(infogan__categorical=10, infogan__continuous=2), marks=pytest.mark.slow),
    pytest.param(dict(semi_supervised__num_labels=20, semi_supervised__batch_size=8, g_objective__adversarial=0.0,
                      g_objective__feature_matching=1.0), marks=pytest.mark.slow),
])
def test_objectives_compose_in_one_step(overrides):
    state, metrics = run(tiny_config(**overrides), 2)
    assert int(state.step) == 2 and int(metrics['nonfinite']) == 0
    assert all(np.isfinite(v).all() for v in metrics.values())
    expected_terms = {'conditioning__d': {'acgan': {'acgan_real', 'acgan_fake', 'acgan_g'}},
                      'infogan__categorical': {10: {'d_mutual_info', 'g_mutual_info'}},
                      'semi_supervised__num_labels': {20: {'supervised', 'feature_matching'}},
                      'penalties__gradient_penalty': {10.0: {'gradient_penalty'}},
                      'penalties__dragan': {10.0: {'dragan'}}}
    for field, value in overrides.items():
        assert expected_terms.get(field, {}).get(value, set()) <= set(metrics), field


def test_input_gradient_penalties_refuse_a_discriminator_that_couples_examples():
    from jaxgan.data.spec import DataSpec
    from jaxgan.errors import UserError
    from jaxgan.families.gan import build_gan
    spec = DataSpec('image', (16, 16, 1), 10, 'digits')
    with pytest.raises(UserError, match='r1 needs a discriminator that treats examples independently.*BatchNorm'):
        build_gan(tiny_config(penalties__r1=1.0), spec)  # DCGAN's D normalises with BatchNorm by default
    with pytest.raises(UserError, match='gradient_penalty.*minibatch_discrimination is on'):
        build_gan(tiny_config(penalties__gradient_penalty=10.0, model__d_norm='layer',
                              model__minibatch_discrimination=4), spec)
    build_gan(tiny_config(penalties__dragan=10.0, model__d_norm='layer'), spec)  # per example: accepted
