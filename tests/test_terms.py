"""Each objective term against its closed form, on a hand-made view (no networks, no step)."""

import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.core import losses, penalties, terms as T
from jaxgan.core.game import View
from jaxgan.core.parallel import DATA


def view(quantities=None, real=None, generated=None, noise=None, step=0, params=None, term_states=None):
    game = types.SimpleNamespace(quantities=quantities or {})
    return View(game, None, real or {}, generated or {}, noise or {}, jnp.asarray(step), params or {},
                term_states or {})


def on_one_device(fn):
    """fn() evaluated where lax.pmean over the data axis is defined (one device)."""
    return jax.tree.map(lambda a: a[0], jax.vmap(lambda _: fn(), axis_name=DATA)(jnp.zeros(1)))


LOGITS = {'d_real': {'logits': jnp.array([2.0, -1.0, 0.5])}, 'd_fake': {'logits': jnp.array([-3.0, 0.2, 1.0])}}


@pytest.mark.parametrize('name', [n for n, loss in losses.LOSSES.items() if not loss.relativistic])
def test_adversarial_terms_are_the_losses_weighted(name):
    loss = losses.LOSSES[name]
    v = view({k: (lambda v, k=k: LOGITS[k]) for k in LOGITS})
    smoothing = 0.1 if loss.classifier else 0.0
    d = T.DiscriminatorLoss('d', 2.0, loss, smoothing)(v)
    expected = loss.discriminator(real_logits=LOGITS['d_real']['logits'], fake_logits=LOGITS['d_fake']['logits'],
                                  **({'label_smoothing': 0.1} if smoothing else {}))
    np.testing.assert_allclose(d, 2.0 * expected, rtol=1e-6)
    g = T.GeneratorLoss('g', 0.5, loss)(v)
    np.testing.assert_allclose(g, 0.5 * loss.generator(fake_logits=LOGITS['d_fake']['logits']), rtol=1e-6)


def test_quantities_are_computed_once_per_view():
    calls = []
    v = view({'d_real': lambda v: calls.append(1) or LOGITS['d_real'], 'd_fake': lambda v: LOGITS['d_fake']})
    T.DiscriminatorLoss('a', 1.0)(v)
    T.DiscriminatorLoss('b', 1.0)(v)
    assert len(calls) == 1


def test_classification_reads_labels_from_the_real_batch_or_the_noise():
    logits = jnp.log(jnp.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]]))
    v = view({'d_real': lambda v: {'class_logits': logits}}, real={'y': jnp.array([0, 1])},
             noise={'y_fake': jnp.array([2, 2])})
    np.testing.assert_allclose(T.Classification('c', 1.0, 'd_real', ('real', 'y'))(v),
                               -np.mean(np.log([0.7, 0.8])), rtol=1e-5)
    np.testing.assert_allclose(T.Classification('c', 3.0, 'd_real', ('noise', 'y_fake'))(v),
                               -3.0 * np.mean(np.log([0.1, 0.1])), rtol=1e-5)


def test_mutual_information_reads_the_codes_after_z():
    z_dim, k = 2, 3
    z = jnp.array([[9.0, 9.0, 0.0, 1.0, 0.0, 0.5], [9.0, 9.0, 0.0, 0.0, 1.0, -0.5]])  # codes 1 and 2
    q = {'q_categorical': jnp.log(jnp.array([[0.1, 0.6, 0.3], [0.2, 0.2, 0.6]])),
         'q_continuous': jnp.array([[0.0], [0.0]])}
    v = view({'d_fake': lambda v: q}, noise={'z': z})
    value = T.MutualInformation('mi', 2.0, 'd_fake', 'z', z_dim, k, 1, continuous_weight=4.0)(v)
    expected = -np.mean(np.log([0.6, 0.6])) + 4.0 * 0.5 * 0.25
    np.testing.assert_allclose(value, 2.0 * expected, rtol=1e-5)


def test_feature_matching_is_the_squared_gap_of_mean_features():
    real = {'features': jnp.array([[1.0, 2.0], [3.0, 4.0]])}
    fake = {'features': jnp.array([[0.0, 0.0], [2.0, 0.0]])}
    v = view({'d_real': lambda v: real, 'd_fake': lambda v: fake})
    value = on_one_device(lambda: T.FeatureMatching('fm', 0.5)(v))
    np.testing.assert_allclose(value, 0.5 * ((2.0 - 1.0) ** 2 + (3.0 - 0.0) ** 2), rtol=1e-6)


def test_mmd_term_is_the_closed_form():
    x, y = jnp.zeros((1, 1)), jnp.full((1, 1), 2.0)
    value = T.MMD('mmd', 3.0, (1.0,))(view(real={'x': x}, generated={'x': y}))
    np.testing.assert_allclose(value, 3.0 * penalties.mmd(x=x, y=y, bandwidths=(1.0,)), rtol=1e-6)


W = jnp.array([[[3.0], [0.0]], [[0.0], [4.0]]])  # a linear critic with ||grad|| = 5 everywhere
linear_critic = {'d_of_x': lambda v: lambda x: jnp.sum(x * W, axis=(1, 2, 3))}


def test_gradient_penalty_and_dragan_of_a_linear_critic():
    x = jnp.ones((4, 2, 2, 1))
    noise = {'gp': jnp.full((4,), 0.3), 'dragan': {'uniform': jnp.ones((4, 2, 2, 1)) * 0.5, 'alpha': jnp.ones(4)}}
    v = view(linear_critic, real={'x': x}, generated={'x': -x}, noise=noise)
    np.testing.assert_allclose(T.GradientPenalty('gp', 10.0)(v), 10.0 * (5.0 - 1.0) ** 2, rtol=1e-5)
    np.testing.assert_allclose(on_one_device(lambda: T.Dragan('dragan', 2.0, shape=(2, 2, 1))(v)),
                               2.0 * 16.0, rtol=1e-5)
    drawn = T.Dragan('dragan', 1.0, shape=(2, 2, 1)).noise(jax.random.key(0), 3, 4)
    assert drawn['uniform'].shape == (3, 4, 2, 2, 1) and drawn['alpha'].shape == (3, 4)


def test_lazy_r1_is_computed_every_k_steps_and_weighed_k():
    x = jnp.ones((4, 2, 2, 1))
    term = T.R1('r1', 0.5, every=4)
    at = lambda step: on_one_device(lambda: term(view(linear_critic, real={'x': x}, step=step)))
    np.testing.assert_allclose(at(8), 4 * 0.5 * 25.0, rtol=1e-5)
    assert float(at(9)) == 0.0
    np.testing.assert_allclose(on_one_device(lambda: T.R1('r1', 0.5)(view(linear_critic, real={'x': x}))),
                               0.5 * 25.0, rtol=1e-5)


def test_historical_averaging_keeps_the_running_mean_as_its_state():
    term = T.HistoricalAveraging('ha', 0.1)
    assert term.stateful and not T.R1('r1', 1.0).stateful
    state = term.init({'w': jnp.full(3, 1.0)})
    for value in (5.0, 9.0):
        state = term.update(state, {'w': jnp.full(3, value)}, None)
    np.testing.assert_allclose(state['average']['w'], 7.0)  # the mean of 5 and 9: the initial 1 is replaced
    assert int(state['count']) == 2
    loss = term(view(params={'w': jnp.full(3, 9.0)}, term_states={'ha': state}))
    np.testing.assert_allclose(loss, 0.1 * 3 * 4.0, rtol=1e-6)


def _softplus(x):
    return np.log1p(np.exp(x))


RELATIVISTIC = {  # (D's loss, G's loss) of (real, fake) logits, from Jolicoeur-Martineau (2019)
    'ra_non_saturating': (
        lambda r, f: np.mean(_softplus(-(r - f.mean()))) + np.mean(_softplus(f - r.mean())),
        lambda r, f: np.mean(_softplus(-(f - r.mean()))) + np.mean(_softplus(r - f.mean()))),
    'ra_least_squares': (
        lambda r, f: np.mean((r - f.mean() - 1) ** 2) + np.mean((f - r.mean() + 1) ** 2),
        lambda r, f: np.mean((f - r.mean() - 1) ** 2) + np.mean((r - f.mean() + 1) ** 2)),
    'ra_hinge': (
        lambda r, f: np.mean(np.maximum(0, 1 - (r - f.mean()))) + np.mean(np.maximum(0, 1 + (f - r.mean()))),
        lambda r, f: np.mean(np.maximum(0, 1 - (f - r.mean()))) + np.mean(np.maximum(0, 1 + (r - f.mean())))),
    # RpGAN, paired (R3GAN/Trainer.py of brownvc/R3GAN): example i against example i, no means
    'rpgan': (lambda r, f: np.mean(_softplus(-(r - f))), lambda r, f: np.mean(_softplus(-(f - r)))),
}


@pytest.mark.parametrize('name', list(RELATIVISTIC))
def test_relativistic_terms_against_the_papers(name):
    loss = losses.LOSSES[name]
    assert loss.relativistic and not loss.classifier
    v = lambda: view({k: (lambda v, k=k: LOGITS[k]) for k in LOGITS})
    r, f = (np.asarray(LOGITS[k]['logits'], np.float64) for k in ('d_real', 'd_fake'))
    d_expected, g_expected = RELATIVISTIC[name]
    np.testing.assert_allclose(on_one_device(lambda: T.DiscriminatorLoss('d', 2.0, loss)(v())),
                               2.0 * d_expected(r, f), rtol=1e-5)
    np.testing.assert_allclose(on_one_device(lambda: T.GeneratorLoss('g', 0.5, loss)(v())),
                               0.5 * g_expected(r, f), rtol=1e-5)


def test_lecam_against_the_official_formula_and_its_averages():
    # State after 2 updates with decay 0.9; the loss first folds in this batch's means (zero-debiased).
    term = T.LeCam('lecam', 3.0, decay=0.9)
    state = {'real': jnp.asarray(0.5), 'fake': jnp.asarray(-0.2), 'count': jnp.asarray(2, jnp.int32)}
    v = lambda: view({k: (lambda v, k=k: LOGITS[k]) for k in LOGITS}, term_states={'lecam': state})
    r, f = (np.asarray(LOGITS[k]['logits'], np.float64) for k in ('d_real', 'd_fake'))
    biased_r, biased_f = 0.9 * 0.5 + 0.1 * r.mean(), 0.9 * -0.2 + 0.1 * f.mean()
    a_r, a_f = biased_r / (1 - 0.9 ** 3), biased_f / (1 - 0.9 ** 3)
    expected = np.mean(np.maximum(r - a_f, 0) ** 2) + np.mean(np.maximum(a_r - f, 0) ** 2)
    np.testing.assert_allclose(on_one_device(lambda: term(v())), 3.0 * expected, rtol=1e-5)
    observed = on_one_device(lambda: term.observe(v()))
    new = term.update(state, None, observed)
    np.testing.assert_allclose([new['real'], new['fake'], new['count']], [biased_r, biased_f, 3], rtol=1e-6)


def test_consistency_and_latent_diversity_are_mean_squares():
    v = view({'d_real': lambda v: {'logits': jnp.array([1.0, 2.0])}, 'd_real_t': lambda v: jnp.array([0.0, 4.0]),
              'g_perturbed': lambda v: jnp.ones((2, 3))}, generated={'x': jnp.zeros((2, 3))})
    np.testing.assert_allclose(T.Consistency('c', 10.0, 'd_real', 'd_real_t')(v), 10.0 * (1 + 4) / 2)
    np.testing.assert_allclose(T.LatentDiversity('z', 0.5)(v), -0.5)


def test_r2_is_r1_on_generated_examples():
    x_real, x_fake = jnp.ones((2, 3)), jnp.arange(6.0).reshape(2, 3)
    d = lambda v: lambda x: jnp.sum(x ** 2, axis=1)  # grad 2x
    v = lambda: view({'d_of_fake_x': d}, real={'x': x_real}, generated={'x': x_fake})
    expected = np.mean(np.sum((2 * np.asarray(x_fake)) ** 2, axis=1))
    np.testing.assert_allclose(on_one_device(lambda: T.R1('r2', 0.5, critic='d_of_fake_x', on='generated')(v())),
                               0.5 * expected, rtol=1e-6)


def test_adaptive_augmentation_moves_p_by_the_sign_of_rt():
    term = T.AdaptiveAugmentation('ada', 0.0, p=0.5, target=0.6, interval=1, kimg=1.0, batch_images=100)
    state = term.init(None)
    confident = view({'d_real': lambda v: {'logits': jnp.array([3.0, 2.0, 1.0, 1.0])}})  # r_t = 1 > 0.6
    unsure = view({'d_real': lambda v: {'logits': jnp.array([3.0, -2.0, 1.0, -1.0])}})  # r_t = 0 < 0.6
    up = term.update(state, None, on_one_device(lambda: term.observe(confident)))
    down = term.update(state, None, on_one_device(lambda: term.observe(unsure)))
    np.testing.assert_allclose([up.p, down.p], [0.5 + 0.1, 0.5 - 0.1], rtol=1e-6)  # 100 images of 1,000
    assert float(term(unsure)) == 0.0


def test_path_length_against_its_closed_form_lazily_and_on_every_shrink_th_example():
    """A linear synthesis, images = ws . A: the gradient of sum(images * y) by ws is A . y, so the lengths
    are known; the running mean moves by decay towards their mean on the regularised steps only."""
    rng = np.random.default_rng(0)
    a = jnp.asarray(rng.normal(size=(3, 2, 4, 4, 1)), jnp.float32)  # [num_ws, w_dim, H, W, C]
    ws = jnp.asarray(rng.normal(size=(4, 3, 2)), jnp.float32)  # [B, num_ws, w_dim]
    synthesis = lambda w: jnp.einsum('bnk,nkhwc->bhwc', w, a)
    term = T.PathLength('pl', 2.0, every=4, shrink=2, decay=0.1)
    keys = term.noise(jax.random.key(1), 1, 4)[0]
    state = jnp.asarray(0.5)

    def at(step):
        v = view({'pl_ws': lambda v: ws, 'g_synthesis': lambda v: synthesis}, noise={'pl': keys}, step=step,
                 term_states={'pl': state})
        return on_one_device(lambda: (term(v), term.observe(v)))

    lengths = []
    for i in (0, 2):  # every second example of the batch
        y = np.asarray(jax.random.normal(jax.random.wrap_key_data(keys[i]), (4, 4, 1))) / 4.0
        grad = np.einsum('nkhwc,hwc->nk', np.asarray(a), y)
        lengths.append(np.sqrt(np.mean(np.sum(grad ** 2, axis=1))))
    lengths = np.asarray(lengths)
    mean = 0.5 + 0.1 * (lengths.mean() - 0.5)
    value, observed = at(8)
    np.testing.assert_allclose(value, 2.0 * 4 * np.mean((lengths - mean) ** 2), rtol=1e-4)
    np.testing.assert_allclose(observed, mean, rtol=1e-5)
    np.testing.assert_allclose(term.update(state, None, observed), mean, rtol=1e-5)
    value, observed = at(9)  # not a regularised step: nothing, and the mean stays
    assert float(value) == 0.0 and float(observed) == 0.5


def test_r1_and_r2_are_r3gans_zero_centered_gradient_penalty():
    """R3GAN/Trainer.py's D loss adds (gamma / 2) (R1 + R2), each ZeroCenteredGradientPenalty: the squared
    input gradient of D(Preprocessor(x)) summed over [1, 2, 3] (the pixels: H, W, C), averaged over the
    batch with the adversarial loss. jaxgan's R1 and R2 at weight gamma / 2 (the game's rows for
    config.penalties.r1 and r2), through the augmentation inside the critic, are the same numbers."""
    gamma = 0.05
    flip = lambda x: x[:, :, ::-1, :] * 0.9  # a fixed 'augmentation' inside the critic, as the official Preprocessor
    d = lambda x: jnp.sum(jnp.tanh(flip(x)) ** 2 * jnp.arange(1.0, 4.0), axis=(1, 2, 3))  # [B, 2, 2, 3] -> [B]
    real = jax.random.normal(jax.random.key(0), (4, 2, 2, 3))
    fake = jax.random.normal(jax.random.key(1), (4, 2, 2, 3))
    v = lambda: view({'d_of_x': lambda v: d, 'd_of_fake_x': lambda v: d}, real={'x': real}, generated={'x': fake})
    from jaxgan.data.spec import DataSpec
    from jaxgan.families.gan import select_terms
    from tests.conftest import tiny_config
    config = tiny_config(loss='rpgan')
    config.penalties.r1 = config.penalties.r2 = gamma  # R3GAN's gamma, as experiments._r3gan sets it
    rows = {t.name: t for t in select_terms(config, DataSpec('image', (2, 2, 3), 0, 'x'), 'd')}
    r1 = on_one_device(lambda: rows['r1'](v()))
    r2 = on_one_device(lambda: rows['r2'](v()))
    official = lambda x: np.mean(np.sum(np.square(np.asarray(jax.grad(lambda x: jnp.sum(d(x)))(x))), axis=(1, 2, 3)))
    np.testing.assert_allclose(r1 + r2, gamma / 2 * (official(real) + official(fake)), rtol=1e-5)
