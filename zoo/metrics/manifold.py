"""Improved precision and recall: k-nearest-neighbour manifolds of two feature sets.

Kynkaanniemi et al., "Improved Precision and Recall Metric for Assessing Generative Models"
(NeurIPS 2019). Each set's manifold is the union of balls around its points, the ball around
a point reaching its k-th nearest neighbour in the same set (the point itself excluded):

    manifold(S) = union_{s in S} B(s, ||s - NN_k(s, S)||)
    precision   = fraction of generated features inside manifold(real features)
    recall      = fraction of real features inside manifold(generated features)

with a point on a ball's boundary counted inside (<=, as in their code). Their protocol:
k = 3, 50,000 samples of each, VGG-16 fc2 features. Distances are Euclidean, computed in
float64 from the Gram matrix in row blocks of `BLOCK` so memory stays O(BLOCK * N).
"""
from __future__ import annotations

import numpy as np

BLOCK = 1024


def _distance_blocks(a: np.ndarray, b: np.ndarray):
    """Yields (start, distances [block, len(b)]) for row blocks of `a`."""
    squared_b = np.sum(b * b, axis=1)
    for start in range(0, a.shape[0], BLOCK):
        rows = a[start:start + BLOCK]
        squared = np.sum(rows * rows, axis=1)[:, None] + squared_b[None, :] - 2.0 * rows @ b.T
        yield start, np.sqrt(np.clip(squared, 0.0, None))


def knn_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Distance from each row to its k-th nearest other row (itself, at 0, is the 0-th)."""
    radii = np.empty(features.shape[0])
    for start, distances in _distance_blocks(features, features):
        radii[start:start + len(distances)] = np.partition(distances, k, axis=1)[:, k]
    return radii


def _fraction_inside(points: np.ndarray, centers: np.ndarray, radii: np.ndarray) -> float:
    inside = np.zeros(points.shape[0], dtype=bool)
    for start, distances in _distance_blocks(points, centers):
        inside[start:start + len(distances)] = np.any(distances <= radii[None, :], axis=1)
    return float(np.mean(inside))


def precision_recall(real_features: np.ndarray, fake_features: np.ndarray,
                     k: int = 3) -> tuple[float, float]:
    """(precision, recall) of [N, D] generated vs [M, D] real features (module docstring)."""
    real = np.asarray(real_features, dtype=np.float64)
    fake = np.asarray(fake_features, dtype=np.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"features must be [N, D] and [M, D], got {real.shape} and {fake.shape}")
    if int(k) < 1 or min(real.shape[0], fake.shape[0]) <= int(k):
        raise ValueError(f"k must be >= 1 and each set must have more than k points; got k={k}, "
                         f"{real.shape[0]} real and {fake.shape[0]} generated")
    precision = _fraction_inside(fake, real, knn_radii(real, int(k)))
    recall = _fraction_inside(real, fake, knn_radii(fake, int(k)))
    return precision, recall
