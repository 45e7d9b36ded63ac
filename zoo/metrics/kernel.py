"""The kernel distance (KID): unbiased MMD^2 with a cubic polynomial kernel.

Binkowski et al., "Demystifying MMD GANs" (ICLR 2018). With the kernel

    k(x, y) = (x . y / d + 1)^3        (d: the activations' width)

and real activations x_1..x_m, generated y_1..y_n, the unbiased estimator of MMD^2 is

    MMD_u^2 = sum_{i != j} k(x_i, x_j) / (m (m - 1)) + sum_{i != j} k(y_i, y_j) / (n (n - 1))
              - 2 sum_{i, j} k(x_i, y_j) / (m n).

It is unbiased, so it can be slightly negative when the two sets come from one distribution.
Their protocol on Inception features: the mean of the estimate over 100 random subsets of
1,000 samples of each set (`subset_size=1000, num_subsets=100`); with `subset_size=None` the
estimate is taken once on all samples.
"""
from __future__ import annotations

import numpy as np


def _polynomial_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def mmd_squared(x: np.ndarray, y: np.ndarray) -> float:
    """MMD_u^2 of two [m, d] and [n, d] float64 arrays with the cubic kernel (module docstring)."""
    m, n = x.shape[0], y.shape[0]
    k_xx, k_yy = _polynomial_kernel(x, x), _polynomial_kernel(y, y)
    within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(within_x + within_y - 2.0 * _polynomial_kernel(x, y).mean())


def kernel_distance(real_activations: np.ndarray, fake_activations: np.ndarray,
                    subset_size: int | None = None, num_subsets: int = 100,
                    seed: int = 0) -> float:
    """KID of [m, d] real and [n, d] generated activations (see the module docstring).

    With `subset_size`, the mean of MMD_u^2 over `num_subsets` pairs of subsets of that size,
    each drawn without replacement (numpy generator seeded by `seed`); sets smaller than
    `subset_size` are used whole. Without it, one estimate on all the samples.
    """
    x = np.asarray(real_activations, dtype=np.float64)
    y = np.asarray(fake_activations, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"activations must be [m, d] and [n, d], got {x.shape} and {y.shape}")
    if min(x.shape[0], y.shape[0]) < 2:
        raise ValueError(f"need at least 2 samples in each set, got {x.shape[0]} and {y.shape[0]}")
    if subset_size is None:
        return mmd_squared(x, y)
    if int(subset_size) < 2 or int(num_subsets) < 1:
        raise ValueError(f"subset_size must be >= 2 and num_subsets >= 1, got {subset_size} "
                         f"and {num_subsets}")
    rng = np.random.default_rng(seed)
    size_x, size_y = min(int(subset_size), x.shape[0]), min(int(subset_size), y.shape[0])
    estimates = [mmd_squared(x[rng.choice(x.shape[0], size_x, replace=False)],
                             y[rng.choice(y.shape[0], size_y, replace=False)])
                 for _ in range(int(num_subsets))]
    return float(np.mean(estimates))
