"""Mode-collapse metrics for Gaussian-mixture benchmarks (the PacGAN / VEEGAN protocol).

With M mode centres c_1..c_M and the per-coordinate std s of the true mixture:
  * each sample x is assigned to its nearest mode k(x) = argmin_m ||x - c_m|| / s
    (std-normalised Euclidean distance d(x) = min_m ||x - c_m|| / s);
  * x is *high quality* when d(x) < threshold (3 standard deviations by default);
  * mode m is *covered* when at least one high-quality sample is assigned to it;
  * with p the histogram of the high-quality samples over the modes (p_m = n_m / sum_j n_j) and
    u the uniform distribution (u_m = 1/M), reverse KL = KL(p || u) = sum_m p_m log(p_m M),
    with 0 log 0 = 0, in nats. It is 0 for a perfectly balanced generator and log M when every
    high-quality sample sits on one mode.
  * Convention: when there is no high-quality sample at all, p is undefined and reverse_kl is
    reported as log M, the largest value KL(p || u) takes (i.e. as bad as full collapse), so that
    the number stays finite and can be averaged across runs.
"""
from __future__ import annotations

import numpy as np

# The zoo's measurement of a generator on a mixture (`zoo.metrics.report.measure`): this many
# samples drawn with this seed.
MIXTURE_SAMPLES = 2500
MIXTURE_SEED = 12345
MIXTURE_PROTOCOL = (
    "PacGAN protocol on 2,500 generator samples: each sample goes to its nearest mode by "
    "std-normalised Euclidean distance; it is high quality when that distance is under 3; a "
    "mode is covered when at least one high-quality sample is assigned to it; reverse_kl = "
    "KL(histogram of the high-quality samples over the modes || uniform)")


def _validate(samples: np.ndarray, centers: np.ndarray,
              std: float) -> tuple[np.ndarray, np.ndarray]:
    centers = np.asarray(centers, dtype=np.float64)
    if centers.ndim != 2 or centers.shape[0] == 0:
        raise ValueError(f"centers must have shape [M, D] with M >= 1, got {centers.shape}")
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim == 1 and centers.shape[1] == 1:
        samples = samples[:, None]
    if samples.ndim != 2 or samples.shape[1] != centers.shape[1]:
        raise ValueError(
                f"samples must have shape [N, {centers.shape[1]}] to match centers "
                f"{centers.shape}, got {samples.shape}")
    if samples.shape[0] == 0:
        raise ValueError("samples is empty")
    if not np.isfinite(std) or std <= 0:
        raise ValueError(f"std must be a positive number, got {std!r}")
    return samples, centers


def nearest_modes(samples: np.ndarray, centers: np.ndarray,
                  std: float) -> tuple[np.ndarray, np.ndarray]:
    """Returns (index [N] of each sample's nearest mode, its std-normalised distance [N])."""
    samples, centers = _validate(samples, centers, std)
    distances = np.stack([np.linalg.norm(samples - c, axis=1) for c in centers], axis=1) / std
    nearest = np.argmin(distances, axis=1)
    return nearest, distances[np.arange(len(samples)), nearest]


def mode_histogram(samples: np.ndarray, centers: np.ndarray, std: float,
                   threshold: float = 3.0) -> np.ndarray:
    """Returns the int64 counts [M] of high-quality samples assigned to each mode."""
    if not threshold > 0:
        raise ValueError(f"threshold must be positive, got {threshold!r}")
    nearest, distance = nearest_modes(samples, centers, std)
    return np.bincount(nearest[distance < threshold], minlength=len(centers)).astype(np.int64)


def mixture_metrics(samples: np.ndarray, centers: np.ndarray, std: float,
                    threshold: float = 3.0) -> dict:
    """Returns {"modes_covered": int, "high_quality_fraction": float, "reverse_kl": float}.

    See the module docstring for the protocol; `samples` is [N, D] (or [N] when D == 1).
    """
    counts = mode_histogram(samples, centers, std, threshold)
    num_modes = len(counts)
    high_quality = int(counts.sum())
    if high_quality == 0:
        reverse_kl = float(np.log(num_modes))
    else:
        p = counts[counts > 0] / high_quality
        reverse_kl = float(np.sum(p * np.log(p * num_modes)))
    return {
            "modes_covered": int(np.count_nonzero(counts)),
            "high_quality_fraction": high_quality / len(np.asarray(samples)),
            "reverse_kl": reverse_kl,
    }
