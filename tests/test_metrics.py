"""Tests of zoo.metrics' sample-quality metrics against independent computations.

IS on uniform / one-hot logits and a direct numpy formula; FID against the closed form for
Gaussians with known moments and against scipy.linalg.sqrtm; KID against an O(n^2) loop;
precision / recall on hand-built point sets and a brute-force loop; the AAN's RBM
log-likelihood against an enumeration in numpy.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
from scipy.special import logsumexp

import zoo.data
from zoo.metrics import (frechet_distance, frechet_distance_from_moments, inception_score,
                         kernel_distance, precision_recall, rbm_log_likelihood)
from zoo.metrics.kernel import mmd_squared
from zoo.models import build


# ------------------------------------------------------------------ inception score

def test_inception_score_of_identical_predictions_is_one():
    mean, std = inception_score(np.random.default_rng(0).normal(size=(1, 7)).repeat(50, axis=0),
                                splits=5)
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_of_confident_balanced_predictions_is_the_number_of_classes():
    labels = np.tile(np.arange(10), 10)  # every split of 10 rows holds each class once
    logits = 50.0 * np.eye(10)[labels]
    mean, std = inception_score(logits, splits=10)
    assert mean == pytest.approx(10.0, rel=1e-9) and std == pytest.approx(0.0, abs=1e-9)


def test_inception_score_mean_and_std_over_splits():
    one_class = 50.0 * np.eye(4)[[0, 0, 0, 0]]   # IS 1
    two_classes = 50.0 * np.eye(4)[[1, 2, 1, 2]]  # IS 2
    mean, std = inception_score(np.concatenate([one_class, two_classes]), splits=2)
    assert mean == pytest.approx(1.5, rel=1e-9) and std == pytest.approx(0.5, rel=1e-9)


def test_inception_score_matches_a_direct_computation():
    logits = np.random.default_rng(1).normal(scale=3.0, size=(60, 5))
    expected = []
    for part in np.split(logits, 3):
        p = np.exp(part) / np.exp(part).sum(axis=1, keepdims=True)
        marginal = p.mean(axis=0)
        kl = [sum(p_i[c] * math.log(p_i[c] / marginal[c]) for c in range(5)) for p_i in p]
        expected.append(math.exp(np.mean(kl)))
    mean, std = inception_score(logits, splits=3)
    assert mean == pytest.approx(np.mean(expected), rel=1e-10)
    assert std == pytest.approx(np.std(expected), rel=1e-8)


def test_inception_score_rejects_bad_input():
    with pytest.raises(ValueError, match="at least one sample per split"):
        inception_score(np.zeros((5, 3)), splits=10)
    with pytest.raises(ValueError, match="shape"):
        inception_score(np.zeros(5))


# ------------------------------------------------------------------ Frechet distance

def with_exact_moments(rng: np.random.Generator, n: int, mean: np.ndarray,
                       cov: np.ndarray) -> np.ndarray:
    """n samples whose sample mean and (ddof=1) covariance are exactly `mean` and `cov`."""
    x = rng.normal(size=(n, len(mean)))
    x -= x.mean(axis=0)
    x = x @ np.linalg.inv(np.linalg.cholesky(np.cov(x, rowvar=False)).T)
    return x @ np.linalg.cholesky(cov).T + mean


def test_frechet_distance_of_diagonal_gaussians_is_the_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([0.5, 1.0, 1.0])
    var1, var2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
    assert frechet_distance_from_moments(mu1, np.diag(var1), mu2, np.diag(var2)) == \
        pytest.approx(expected, rel=1e-12)
    real = with_exact_moments(rng, 200, mu1, np.diag(var1))
    fake = with_exact_moments(rng, 150, mu2, np.diag(var2))
    assert frechet_distance(real, fake) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_of_one_dimensional_gaussians():
    assert frechet_distance_from_moments([1.0], [[4.0]], [3.0], [[1.0]]) == \
        pytest.approx((1.0 - 3.0) ** 2 + (2.0 - 1.0) ** 2)


def test_frechet_distance_with_non_commuting_covariances_matches_sqrtm():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    sigma1, sigma2 = a @ a.T + 0.1 * np.eye(5), b @ b.T + 0.1 * np.eye(5)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2).real
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(sigma1 + sigma2 - 2.0 * covmean)
    assert frechet_distance_from_moments(mu1, sigma1, mu2, sigma2) == \
        pytest.approx(expected, rel=1e-8)
    real = with_exact_moments(rng, 40, mu1, sigma1)
    fake = with_exact_moments(rng, 60, mu2, sigma2)
    assert frechet_distance(real, fake) == pytest.approx(expected, rel=1e-7)


def test_frechet_distance_with_singular_covariances_is_finite_and_zero_for_equal_sets():
    x = np.random.default_rng(3).normal(size=(8, 20))  # 8 samples in 20 dimensions
    # The 13 zero eigenvalues come out as rounding noise ~1e-15, whose square roots are ~3e-8:
    # the error near a singular covariance is ~sqrt(machine epsilon) per null direction.
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-5)
    assert frechet_distance(x, x + 1.0) == pytest.approx(20.0, abs=1e-5)


def test_frechet_distance_rejects_mismatched_widths():
    with pytest.raises(ValueError, match="width"):
        frechet_distance(np.zeros((4, 3)), np.zeros((4, 2)))


# ------------------------------------------------------------------ kernel distance

def mmd_by_loops(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]

    def k(a, b):
        return (sum(a[i] * b[i] for i in range(d)) / d + 1.0) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2.0 * xy


def test_kernel_distance_matches_a_direct_loop():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(30, 4)), rng.normal(0.5, 1.2, size=(25, 4))
    assert kernel_distance(x, y) == pytest.approx(mmd_by_loops(x, y), rel=1e-10)
    assert kernel_distance(x, y, subset_size=100) == pytest.approx(mmd_by_loops(x, y), rel=1e-10)


def test_kernel_distance_over_subsets_averages_the_subset_estimates():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(40, 3)), rng.normal(1.0, 1.0, size=(50, 3))
    draws = np.random.default_rng(7)
    expected = np.mean([mmd_by_loops(x[draws.choice(40, 10, replace=False)],
                                     y[draws.choice(50, 10, replace=False)]) for _ in range(4)])
    assert kernel_distance(x, y, subset_size=10, num_subsets=4, seed=7) == \
        pytest.approx(expected, rel=1e-10)


def test_kernel_distance_is_unbiased_near_zero_for_one_distribution():
    rng = np.random.default_rng(6)
    same = [mmd_squared(rng.normal(size=(50, 2)), rng.normal(size=(50, 2))) for _ in range(200)]
    shifted = kernel_distance(rng.normal(size=(50, 2)), rng.normal(2.0, 1.0, size=(50, 2)))
    assert abs(np.mean(same)) < 4 * np.std(same) / math.sqrt(len(same))
    assert shifted > 10 * np.std(same)


# ------------------------------------------------------------------ precision / recall

LINE = np.array([[x, 0.0] for x in range(10)])  # real points 0..9 on the x axis


def test_precision_recall_on_a_hand_built_set():
    # k = 1: every real ball has radius 1. Generated: (0,0), (2,0), (-1,0) and (5,1) (on the
    # boundary of (5,0)'s ball) are inside; (5,3) is not: precision 4/5. Generated radii
    # (nearest other generated point): 1, 2, 2, 2, 1, covering real x = 0..6 but not 7, 8, 9
    # ((5,1) is sqrt(5) > 2 from (7,0)): recall 7/10.
    fake = np.array([[0.0, 0.0], [2.0, 0.0], [5.0, 1.0], [5.0, 3.0], [-1.0, 0.0]])
    assert precision_recall(LINE, fake, k=1) == (pytest.approx(0.8), pytest.approx(0.7))


def test_precision_with_three_neighbours_counts_boundaries_inside():
    # k = 3: the end points' balls reach 3, the others' 2. (-3,0) sits on (0,0)'s boundary,
    # (5,1) inside (5,0)'s; (5,3) and (20,0) are outside every ball.
    fake = np.array([[0.0, 0.0], [5.0, 1.0], [5.0, 3.0], [20.0, 0.0], [-3.0, 0.0]])
    precision, _ = precision_recall(LINE, fake, k=3)
    assert precision == pytest.approx(3 / 5)


def test_precision_recall_matches_a_brute_force_loop():
    rng = np.random.default_rng(8)
    real, fake = rng.normal(size=(40, 3)), rng.normal(0.7, 1.3, size=(30, 3))

    def inside(points, centres, k):
        radii = [sorted(math.dist(c, o) for o in centres)[k] for c in centres]
        return np.mean([any(math.dist(p, c) <= r for c, r in zip(centres, radii))
                        for p in points])

    assert precision_recall(real, fake, k=3) == (pytest.approx(inside(fake, real, 3)),
                                                 pytest.approx(inside(real, fake, 3)))


def test_precision_recall_needs_more_points_than_k():
    with pytest.raises(ValueError, match="more than k"):
        precision_recall(LINE[:3], LINE, k=3)


# ------------------------------------------------------------------ RBM log-likelihood

@pytest.fixture(scope="module")
def small_aan():
    """An untrained ring8 AAN with an 8 x 6 memory given random weights."""
    overrides = dict(feature_units=8, rbm_hidden=6, feature_hidden=[16], generator_hidden=[16],
                     head_hidden=[8])
    model = build("aan", zoo.data.info("ring8"), overrides)
    rng = np.random.default_rng(9)
    model.rbm.kernel.assign(rng.normal(0.0, 0.5, size=(8, 6)).astype(np.float32))
    model.rbm.visible_bias.assign(rng.normal(0.0, 0.5, size=8).astype(np.float32))
    model.rbm.hidden_bias.assign(rng.normal(0.0, 0.5, size=6).astype(np.float32))
    return model


def log_likelihood_by_enumeration(model, points: np.ndarray) -> float:
    """mean log p(sign(F(x))), log Z summed over all 2^8 visible states, h summed out."""
    w, b, c = (np.asarray(v, np.float64) for v in
               (model.rbm.kernel, model.rbm.visible_bias, model.rbm.hidden_bias))

    def minus_free_energy(v):
        return v @ b + np.sum(np.log(2.0 * np.cosh(c + v @ w)), axis=-1)

    states = np.array([[1.0 if (i >> u) & 1 else -1.0 for u in range(8)] for i in range(256)])
    log_z = logsumexp(minus_free_energy(states))
    v = np.where(np.asarray(model.features(points)) >= 0.0, 1.0, -1.0)
    return float(np.mean(minus_free_energy(v)) - log_z)


def test_rbm_log_likelihood_exact_matches_numpy_enumeration(small_aan):
    points = np.asarray(next(iter(zoo.data.load("ring8", batch_size=300, split="test"))))
    result = rbm_log_likelihood(small_aan, points)
    assert result["rbm_log_partition_method"] == "exact" and result["num_examples"] == 300
    assert result["rbm_log_likelihood"] == pytest.approx(
        log_likelihood_by_enumeration(small_aan, points), abs=1e-4)


def test_rbm_log_likelihood_by_ais_is_close_to_exact(small_aan):
    points = np.asarray(next(iter(zoo.data.load("ring8", batch_size=300, split="test"))))
    result = rbm_log_likelihood(small_aan, points, num_chains=200, num_temperatures=500,
                                seed=1, exact=False)
    assert result["rbm_log_partition_method"] == "ais" and result["ais_chains"] == 200
    assert result["rbm_log_likelihood"] == pytest.approx(
        log_likelihood_by_enumeration(small_aan, points), abs=0.05)


def test_rbm_log_likelihood_needs_spin_features():
    model = build("aan", zoo.data.info("ring8"), dict(feature_binarization="mean"))
    with pytest.raises(ValueError, match="feature_binarization='sign'"):
        rbm_log_likelihood(model, np.zeros((4, 2), np.float32))
