"""Synthetic Gaussian mixtures, the mode-collapse benchmarks.

Every mixture is uniform over M modes with isotropic components:
    y ~ Uniform{0, ..., M-1},    x | y ~ N(centers[y], std^2 I).
The label `y` (int32) is the index of the mode `x` was drawn from.

Settings:
    ring8     8 modes at (cos 2πk/8, sin 2πk/8), k = 0..7, std 0.01
              (the 2D-ring of PacGAN, Lin et al. 2018, after VEEGAN, Srivastava et al. 2017).
    grid25    25 modes at {-4, -2, 0, 2, 4}^2, std 0.05 (the 2D-grid of PacGAN / VEEGAN).
    mixture1d 5 modes at {-4, -2, 0, 2, 4}, std 0.05.
    mixture3d 27 modes at {-2, 0, 2}^3, std 0.05.

The 1-D and 3-D mixtures stand in for those of the annealed-GAN paper (Mehrjou, Schölkopf &
Saremi 2017, "Annealed Generative Adversarial Networks", arXiv:1705.07505). Its exact means and
standard deviations could not be looked up offline, so these are our choice: the same spacing (2)
and std (0.05) as `grid25`, i.e. the 1-D row and the 3-D analogue of the PacGAN grid. Adjacent
modes are 40 std apart, so the 3-std "high quality" balls of `zoo.metrics.mixture_metrics` are
disjoint and the metrics read the same way in 1, 2 and 3 dimensions.

Sampling is stateless and per batch: batch `t` of split `s` with seed `seed` is drawn with the key
fold_in([seed, s], t), so the stream is reproducible, cheap, and infinite when `repeat=True`.
With `repeat=False` one pass is the first `num_examples // batch_size` batches of that stream
(the same batches on every pass). The samples are i.i.d., so `shuffle` has nothing to do.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import tensorflow as tf

from zoo.data.base import DATASETS, SPLITS, DatasetInfo, LoadRequest, from_start

DEFAULT_NUM_EXAMPLES = 100_000


def ring_centers(num_modes: int, radius: float = 1.0) -> np.ndarray:
    """Returns the [M, 2] points radius * (cos 2πk/M, sin 2πk/M), k = 0..M-1, M = num_modes."""
    angles = 2.0 * math.pi * np.arange(num_modes) / num_modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def grid_centers(values: tuple[float, ...], dims: int) -> np.ndarray:
    """Returns the [len(values)**dims, dims] grid values^dims (last coordinate varies fastest)."""
    return np.array(list(itertools.product(values, repeat=dims)), dtype=np.float64)


@dataclass(frozen=True, eq=False)
class MixtureSource:
    """A uniform isotropic Gaussian mixture registered under `info.name`."""

    info: DatasetInfo
    options: Mapping[str, Any]

    def build(self, request: LoadRequest) -> tf.data.Dataset:
        if request.image_size is not None:
            raise ValueError(
                    f"image_size applies to image datasets only; {self.info.name!r} is a mixture")
        num_examples = request.options["num_examples"]
        if request.repeat:
            steps = from_start(
                    request, lambda start: tf.data.Dataset.counter(start=start, dtype=tf.int64))
        else:
            num_batches = int(num_examples) // request.batch_size
            if num_batches <= 0:
                raise ValueError(f"num_examples={num_examples!r} holds no full batch of "
                                 f"{request.batch_size}")
            steps = from_start(request, lambda start: tf.data.Dataset.range(start, num_batches))

        centers = tf.constant(self.info.centers, tf.float32)
        std = float(self.info.std)
        key = tf.constant([request.seed, SPLITS.index(request.split)], tf.int64)
        batch_size = request.batch_size
        with_labels = request.with_labels

        def sample(step: tf.Tensor):
            label_key, noise_key = tf.unstack(tf.random.split(tf.random.fold_in(key, step), 2))
            labels = tf.random.stateless_uniform(
                    [batch_size], label_key, minval=0, maxval=centers.shape[0], dtype=tf.int32)
            noise = tf.random.stateless_normal([batch_size, centers.shape[1]], noise_key)
            x = tf.gather(centers, labels) + std * noise
            return (x, labels) if with_labels else x

        return steps.map(sample, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _register(name: str, centers: np.ndarray, std: float) -> None:
    info = DatasetInfo(name=name, kind="mixture", shape=(centers.shape[1],),
                       num_classes=centers.shape[0], centers=centers, std=std)
    DATASETS.register(name)(MixtureSource(info, {"num_examples": DEFAULT_NUM_EXAMPLES}))


_register("ring8", ring_centers(8), 0.01)
_register("grid25", grid_centers((-4.0, -2.0, 0.0, 2.0, 4.0), 2), 0.05)
_register("mixture1d", grid_centers((-4.0, -2.0, 0.0, 2.0, 4.0), 1), 0.05)
_register("mixture3d", grid_centers((-2.0, 0.0, 2.0), 3), 0.05)
