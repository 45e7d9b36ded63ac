"""The Frechet distance between Gaussians fitted to two sets of activations (FID, FCD).

Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
Equilibrium" (NeurIPS 2017): fit N(mu_r, S_r) to the real activations and N(mu_g, S_g) to the
generated ones (sample mean, sample covariance with ddof = 1, as in their reference code), then

    d^2 = ||mu_r - mu_g||^2 + Tr( S_r + S_g - 2 (S_r S_g)^{1/2} ),

the squared 2-Wasserstein distance between the two Gaussians. On Inception-v3's 2,048 pool
features it is the FID; on the zoo's Fashion-MNIST classifier's features, the Frechet
classifier distance (FCD).

Matrix square root: the reference code calls scipy.linalg.sqrtm(S_r S_g), adds eps * I to both
covariances when the result is not finite and drops a small imaginary part. Here the trace is
taken by an eigen-decomposition route that needs neither: S_r S_g = A B with A = S_r^{1/2} and
B = S_r^{1/2} S_g, and B A = S_r^{1/2} S_g S_r^{1/2} = M is symmetric positive semi-definite
with the same eigenvalues as A B, so

    Tr (S_r S_g)^{1/2} = sum_i sqrt(lambda_i(M)),

with S_r^{1/2} from `eigh` (eigenvalues clipped at 0) and lambda_i(M) from `eigvalsh` (clipped
at 0 against rounding). Every step is real and symmetric, so it is stable for singular
covariances too (fewer samples than dimensions), where sqrtm needs the eps.
"""
from __future__ import annotations

import numpy as np


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def _moments(activations: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    activations = np.asarray(activations, dtype=np.float64)
    if activations.ndim != 2 or activations.shape[0] < 2:
        raise ValueError(f"{what} must have shape [N, D] with N >= 2, got {activations.shape}")
    if not np.all(np.isfinite(activations)):
        raise ValueError(f"{what} contain NaN or infinite values")
    return activations.mean(axis=0), np.cov(activations, rowvar=False, ddof=1).reshape(
        activations.shape[1], activations.shape[1])


def frechet_distance_from_moments(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray,
                                  sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^{1/2}) (module docstring)."""
    mu1, mu2 = (np.atleast_1d(np.asarray(mu, np.float64)) for mu in (mu1, mu2))
    sigma1, sigma2 = (np.atleast_2d(np.asarray(sigma, np.float64)) for sigma in (sigma1, sigma2))
    dim = mu1.shape[0]
    if mu2.shape != (dim,) or sigma1.shape != (dim, dim) or sigma2.shape != (dim, dim):
        raise ValueError(f"moments disagree in shape: mu {mu1.shape} and {mu2.shape}, "
                         f"sigma {sigma1.shape} and {sigma2.shape}")
    root1 = _psd_sqrt(sigma1)
    cross = np.linalg.eigvalsh(root1 @ sigma2 @ root1)
    trace_sqrt = np.sum(np.sqrt(np.clip(cross, 0.0, None)))
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt)


def frechet_distance(real_activations: np.ndarray, fake_activations: np.ndarray) -> float:
    """The Frechet distance between Gaussians fitted to [N, D] and [M, D] activations."""
    mu1, sigma1 = _moments(real_activations, "real_activations")
    mu2, sigma2 = _moments(fake_activations, "fake_activations")
    if mu1.shape != mu2.shape:
        raise ValueError(f"activations differ in width: {mu1.shape[0]} and {mu2.shape[0]}")
    return frechet_distance_from_moments(mu1, sigma1, mu2, sigma2)
