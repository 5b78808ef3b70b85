"""The memorisation check (jaxgan.metrics.nearest, --metrics=nearest) and truncated latents (--truncation)."""

import numpy as np
import pytest

from jaxgan.metrics import nearest


def _brute_force(queries, references, k):
    q = queries.reshape(len(queries), -1).astype(np.float64)
    r = references.reshape(len(references), -1).astype(np.float64)
    d = np.sqrt(((q[:, None] - r[None]) ** 2).sum(-1))
    order = np.argsort(d, axis=1, kind='stable')[:, :k]  # ties: the lower index first
    return np.take_along_axis(d, order, 1), order


@pytest.mark.parametrize('kind', ['pixels', 'features'])
def test_nearest_is_exact_against_brute_force(kind):
    rng = np.random.default_rng(0)
    if kind == 'pixels':  # uint8 images, with duplicates among the references (ties)
        references = rng.integers(0, 256, (300, 6, 6, 1), np.uint8)
        references[200:220] = references[:20]
        queries = np.concatenate([rng.integers(0, 256, (50, 6, 6, 1), np.uint8), references[:10]])
    else:  # features far from the origin, where a plain float32 |a|^2 + |b|^2 - 2ab loses digits
        references = (1000 + rng.standard_normal((300, 12))).astype(np.float32)
        queries = (1000 + rng.standard_normal((57, 12))).astype(np.float32)
    d, i = nearest.nearest(queries, references, 3, block=64, query_block=16)  # blocks that do not divide
    want_d, want_i = _brute_force(queries, references, 3)
    np.testing.assert_array_equal(i, want_i)
    np.testing.assert_allclose(d, want_d, rtol=1e-12, atol=1e-9)
    if kind == 'pixels':
        assert (d[-10:, 0] == 0).all() and (i[-10:, 0] == np.arange(10)).all()


def test_distinct_examples_counts_an_example_and_its_mirror_once():
    # views 0..3 are examples 0..3, views 4..7 their mirrors
    d = np.array([[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]])
    i = np.array([[5, 1, 4, 0, 2, 3]])
    out_d, out_i = nearest.distinct_examples(d, i, 4, 3)
    np.testing.assert_array_equal(out_i, [[5, 4, 2]])
    np.testing.assert_array_equal(out_d, [[0.0, 2.0, 4.0]])
    with pytest.raises(ValueError, match='fewer than k=3'):
        nearest.distinct_examples(d[:, :3], np.array([[1, 5, 0]]), 4, 3)


def test_memorisation_score_of_copies_fresh_draws_and_far_samples():
    rng = np.random.default_rng(1)
    train, holdout = rng.standard_normal((500, 4)), rng.standard_normal((400, 4))
    fresh = rng.standard_normal((2000, 4))
    holdout_d = nearest.nearest(holdout, train, 1)[0][:, 0]
    copies = train[rng.integers(0, 500, 300)]
    score, threshold = nearest.memorisation_score(nearest.nearest(copies, train, 1)[0][:, 0], holdout_d)
    assert score == 1.0 and threshold == pytest.approx(np.percentile(holdout_d, 5)) and threshold > 0
    assert nearest.memorisation_score(nearest.nearest(train[:300] + 100, train, 1)[0][:, 0], holdout_d)[0] == 0.0
    score = nearest.memorisation_score(nearest.nearest(fresh, train, 1)[0][:, 0], holdout_d)[0]
    assert 0.02 < score < 0.09  # the data's own distribution: about the 5% the threshold lets through
    stats = nearest.distribution(holdout_d)
    assert stats['p0'] <= stats['p5'] <= stats['p50'] <= stats['p100'] and stats['p5'] == pytest.approx(threshold)


def _latent_layout(latent, z_dim=64, categorical=0, continuous=0):
    import types
    from jaxgan.gan import draw_latents
    gan = types.SimpleNamespace(z_dim=z_dim, latent=latent, categorical_code=categorical,
                                continuous_codes=continuous)
    gan.latents = lambda key, n: draw_latents(key, (n,), z_dim, latent, categorical, continuous)
    return gan


def test_truncation_resamples_normal_z_beyond_the_threshold_and_keeps_the_codes():
    import jax
    from jaxgan import sampling
    gan = _latent_layout('normal', z_dim=64, categorical=10, continuous=2)
    latents = gan.latents(jax.random.key(0), 4000)
    psi = 0.5
    out = np.asarray(sampling.truncate(gan, jax.random.key(1), latents, psi))
    latents = np.asarray(latents)
    z, z_out = latents[:, :64], out[:, :64]
    assert np.abs(z_out).max() <= psi
    within = np.abs(z) <= psi
    np.testing.assert_array_equal(z_out[within], z[within])  # entries within the threshold are kept as drawn
    np.testing.assert_array_equal(out[:, 64:], latents[:, 64:])  # InfoGAN's codes untouched
    # The resampled entries are N(0, 1) truncated to [-psi, psi], as the kept ones: the same distribution
    # (two-sample Kolmogorov-Smirnov distance between the kept and the resampled entries).
    kept, resampled = np.sort(z[within]), np.sort(z_out[~within])
    grid = np.linspace(-psi, psi, 201)
    ks = np.max(np.abs(np.searchsorted(kept, grid) / len(kept) - np.searchsorted(resampled, grid) / len(resampled)))
    assert ks < 0.02, ks
    assert np.abs(z).max() > 3 * psi  # the test drew entries that needed resampling


def test_truncation_of_uniform_latents_scales_and_bad_thresholds_are_refused():
    import jax
    from jaxgan import sampling
    from jaxgan.errors import UserError
    gan = _latent_layout('uniform', z_dim=8, continuous=2)
    latents = gan.latents(jax.random.key(0), 100)
    out = np.asarray(sampling.truncate(gan, jax.random.key(1), latents, 0.25))
    np.testing.assert_allclose(out[:, :8], 0.25 * np.asarray(latents)[:, :8], rtol=1e-6)
    np.testing.assert_array_equal(out[:, 8:], np.asarray(latents)[:, 8:])
    for psi, gan in ((0.0, _latent_layout('normal')), (-1.0, _latent_layout('normal')), (1.5, _latent_layout('uniform'))):
        with pytest.raises(UserError, match=f'--truncation={psi}'):
            sampling.truncate(gan, jax.random.key(1), latents, psi)
