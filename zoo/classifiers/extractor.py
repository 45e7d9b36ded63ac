"""A Keras classifier seen as a feature extractor: logits and penultimate features, batched."""
from __future__ import annotations

from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf

DEFAULT_BATCH = 250


class FeatureExtractor:
    """Wraps a Keras model with outputs (features, logits) (see `zoo.classifiers`).

    `preprocess` maps a float32 batch of the zoo's images in [-1, 1] to the network's input
    (resizing, channel tiling); `info` is what `description()` reports.
    """

    def __init__(self, network: keras.Model, preprocess: Callable[[tf.Tensor], tf.Tensor],
                 info: dict[str, Any], batch_size: int = DEFAULT_BATCH):
        self.network = network
        self.preprocess = preprocess
        self.info = dict(info)
        self.batch_size = int(batch_size)
        self._forward = tf.function(
            lambda images: self.network(self.preprocess(images), training=False),
            reduce_retracing=True)

    def features_and_logits(self, images: Any) -> tuple[np.ndarray, np.ndarray]:
        """(features [N, D], logits [N, C]) of `images` [N, H, W, C] in [-1, 1], in batches."""
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 4 or len(images) == 0:
            raise ValueError(f"images must be a non-empty [N, H, W, C] batch, got {images.shape}")
        parts = [self._forward(tf.constant(images[start:start + self.batch_size]))
                 for start in range(0, len(images), self.batch_size)]
        return tuple(np.concatenate([np.asarray(part[i]) for part in parts]) for i in (0, 1))

    def features(self, images: Any) -> np.ndarray:
        """Penultimate activations [N, D]."""
        return self.features_and_logits(images)[0]

    def logits(self, images: Any) -> np.ndarray:
        """Class logits [N, C]."""
        return self.features_and_logits(images)[1]

    def description(self) -> dict:
        """The network, its weights and sha256, and the preprocessing (for metric protocols)."""
        return dict(self.info)
