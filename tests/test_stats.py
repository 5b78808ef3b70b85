import numpy as np
import pytest
import scipy.linalg

from jaxgan.metrics import modes, stats


def random_cov(rng, d):
    a = rng.normal(size=(d, 2 * d))
    return a @ a.T / (2 * d)


def reference_frechet(mu1, s1, mu2, s2):
    """The usual formula, through scipy.linalg.sqrtm (as the reference FID code)."""
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean)


def test_frechet_distance_matches_the_sqrtm_reference():
    rng = np.random.default_rng(0)
    for d in (8, 64):
        mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
        s1, s2 = random_cov(rng, d), random_cov(rng, d)
        np.testing.assert_allclose(stats.frechet_distance(mu1, s1, mu2, s2), reference_frechet(mu1, s1, mu2, s2),
                                   rtol=1e-6)


def test_moments_accumulate_batch_by_batch():
    x = np.random.default_rng(1).normal(3.0, 2.0, size=(1000, 16)).astype(np.float32)
    acc = stats.MomentAccumulator()
    for part in np.array_split(x, 7):
        acc.add(part)
    mean, cov = acc.mean_cov()
    np.testing.assert_allclose(mean, x.astype(np.float64).mean(0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(cov, np.cov(x.astype(np.float64), rowvar=False), rtol=1e-5, atol=1e-6)


def test_device_moments_in_float32_match_the_float64_ones():
    """DeviceMoments (float32, compensated across batches) against float64 numpy: features far from 0
    beside their spread, as the Inception's are (non-negative, mean above std), over many batches with a
    short, masked last one. Stated tolerance: 1e-7 of the covariance's largest entry, 1e-8 on the mean
    (measured 2.3e-8 and 1e-9; without the compensation 6e-7 and 1e-7: a plain float32 sum fails)."""
    import jax
    import jax.numpy as jnp
    rng = np.random.default_rng(5)
    x = (rng.gamma(2.0, 0.3, size=(400, 16, 24)) + rng.uniform(0, 4, 24)).astype(np.float32)
    valid = np.ones((400, 16), bool)
    valid[-1, 10:] = False  # the last batch's padding
    add = jax.jit(lambda m, f, v: m.add(f, v))
    moments = stats.DeviceMoments.zeros(24)
    for batch, mask in zip(x, valid):
        moments = add(moments, jnp.asarray(batch), jnp.asarray(mask))
    mean, cov = moments.to_host(jax.device_get).mean_cov()
    rows = x.reshape(-1, 24)[valid.reshape(-1)].astype(np.float64)
    assert moments.to_host(jax.device_get).count == len(rows) == 399 * 16 + 10
    np.testing.assert_allclose(mean, rows.mean(0), rtol=0, atol=1e-8)
    expected = np.cov(rows, rowvar=False)
    np.testing.assert_allclose(cov, expected, rtol=0, atol=1e-7 * np.abs(expected).max())
    # the same features through the host accumulator (float64 sums of float32 batch sums) agree as closely
    host = stats.MomentAccumulator()
    for batch, mask in zip(x, valid):
        host.add(batch[mask])
    np.testing.assert_allclose(host.mean_cov()[1], cov, rtol=0, atol=2e-7 * np.abs(expected).max())


def test_fid_of_a_set_with_itself_is_zero_and_grows_with_a_shift():
    x = np.random.default_rng(2).normal(size=(2000, 12))
    mu, cov = x.mean(0), np.cov(x, rowvar=False)
    assert abs(stats.frechet_distance(mu, cov, mu, cov)) < 1e-6
    shift = np.full(12, 0.5)
    np.testing.assert_allclose(stats.frechet_distance(mu + shift, cov, mu, cov), np.sum(shift ** 2), rtol=1e-6)


def test_kid_is_the_unbiased_polynomial_mmd():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(50, 4)), rng.normal(0.5, 1.0, size=(50, 4))
    k = lambda a, b: (a @ b.T / 4 + 1) ** 3
    m = 50
    expected = ((k(x, x).sum() - np.trace(k(x, x))) / (m * (m - 1)) + (k(y, y).sum() - np.trace(k(y, y))) / (m * (m - 1))
                - 2 * k(x, y).mean())
    value, _ = stats.kid(x, y, num_subsets=1, subset_size=50)
    np.testing.assert_allclose(value, expected, rtol=1e-10)
    same, _ = stats.kid(rng.normal(size=(2000, 4)), rng.normal(size=(2000, 4)), num_subsets=10, subset_size=500)
    assert abs(same) < 0.01 < value


def test_inception_score_bounds():
    uniform = np.zeros((100, 10))
    np.testing.assert_allclose(stats.inception_score(uniform, splits=2)[0], 1.0, rtol=1e-9)
    confident = np.full((100, 10), -50.0)
    confident[np.arange(100), np.arange(100) % 10] = 50.0
    np.testing.assert_allclose(stats.inception_score(confident, splits=2)[0], 10.0, rtol=1e-6)


def test_precision_recall_on_constructed_sets():
    grid = np.stack(np.meshgrid(np.arange(10.0), np.arange(10.0)), -1).reshape(-1, 2)
    assert stats.precision_recall(grid, grid.copy()) == {'precision': 1.0, 'recall': 1.0}
    far = grid + 100.0
    assert stats.precision_recall(grid, far) == {'precision': 0.0, 'recall': 0.0}
    half = np.concatenate([grid[:50] + 0.01, far[:50]])
    result = stats.precision_recall(grid, half)
    assert result['precision'] == 0.5 and result['recall'] < 1.0


def test_density_coverage_on_constructed_sets():
    grid = np.stack(np.meshgrid(np.arange(10.0), np.arange(10.0)), -1).reshape(-1, 2)
    same = stats.density_coverage(grid, grid + 1e-3, k=5)
    assert same['coverage'] == 1.0 and same['density'] > 0.9
    far = stats.density_coverage(grid, grid + 100.0, k=5)
    assert far == {'density': 0.0, 'coverage': 0.0}
    corner = stats.density_coverage(grid, np.zeros((100, 2)), k=5)  # all fakes on one real point
    assert corner['coverage'] == pytest.approx(0.01, abs=0.05)


def test_stacked_mode_counter():
    # Digit logits per channel, [B, 3, 10]: each channel sure of one digit.
    digits = np.array([[1, 2, 3], [1, 2, 3], [9, 0, 0], [4, 5, 6]])
    logits = 8.0 * np.eye(10)[digits]
    log_p = np.asarray(modes.stacked_log_probs(logits))
    assert log_p.shape == (4, 1000)
    np.testing.assert_allclose(np.exp(log_p).sum(axis=1), 1.0, rtol=1e-5)  # a distribution over the modes
    per_channel = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    np.testing.assert_allclose(log_p[2, 900], per_channel[2, 0, 9] + per_channel[2, 1, 0] + per_channel[2, 2, 0],
                               rtol=1e-5)
    predicted = np.argmax(log_p, axis=1)
    assert list(predicted) == [123, 123, 900, 456]  # the stacked data's labels: d0 * 100 + d1 * 10 + d2
    result = modes.stacked_modes(predicted, 1000)
    assert result['stacked_modes'] == 3 and result['stacked_total'] == 1000 and result['stacked_samples'] == 4
    q = np.array([0.5, 0.25, 0.25])
    np.testing.assert_allclose(result['stacked_kl_to_uniform'], np.sum(q * np.log(q * 1000)))
    assert 'stacked_channel_kl_0' not in result  # one channel: the joint is the channel
    # Each channel read on its own: channel 0 draws 1, 1, 9, 4; channel 1 draws 2, 2, 0, 5; channel 2: 3, 3, 0, 6.
    by_channel = modes.stacked_modes(predicted, 1000, channels=3)
    assert {k: by_channel[k] for k in result} == result
    expected = 0.5 * np.log(0.5 * 10) + 2 * 0.25 * np.log(0.25 * 10)
    np.testing.assert_allclose(modes.channel_kls(by_channel), [expected] * 3)
    # A channel that draws every digit equally is at 0, whatever the others do.
    flat = modes.stacked_modes(np.arange(10) * 100 + 77, 1000, channels=3)
    np.testing.assert_allclose(modes.channel_kls(flat), [0.0, np.log(10), np.log(10)], atol=1e-12)
    with pytest.raises(ValueError, match='not a power'):
        modes.stacked_modes(predicted, 999, channels=3)


def test_mode_coverage_of_known_mixture():
    centers = np.array([[0.0, 0.0], [10.0, 0.0]])
    samples = np.array([[0.0, 0.01], [0.02, 0.0], [10.0, 0.0], [5.0, 5.0]])
    result = modes.mode_coverage(samples, centers, sigma=0.01)
    assert result['modes'] == 2 and result['high_quality'] == 0.75
    np.testing.assert_allclose(result['reverse_kl'], (2 / 3) * np.log(4 / 3) + (1 / 3) * np.log(2 / 3))


def test_mode_coverage_without_a_good_sample_is_json():
    import json
    result = modes.mode_coverage(np.full((5, 2), 50.0), np.array([[0.0, 0.0], [10.0, 0.0]]), sigma=0.01)
    assert result['modes'] == 0 and result['high_quality'] == 0.0 and result['reverse_kl'] is None
    assert json.loads(json.dumps(result, allow_nan=False))['reverse_kl'] is None  # null, not Infinity


@pytest.mark.parametrize('name', ['ring32', 'grid100'])
def test_mode_coverage_of_a_perfect_sample_of_a_large_mixture(name):
    from jaxgan.data import toy
    mixture = toy.mixture(name)
    result = modes.mode_coverage(toy.sample(name, 2500, seed=1), mixture.centers, mixture.sigma)
    assert result['modes'] == result['num_modes'] == len(mixture.centers)
    assert result['high_quality'] > 0.98 and result['reverse_kl'] < 0.05  # 3 sigma holds 1 - e^-4.5 = 98.9% in 2-d
