"""Feature extractors for the image metrics: the zoo's Fashion-MNIST CNN and Inception-v3.

Each loaded extractor has
  logits(images)      -> float32 [N, C]  (class logits: the inception / classifier score),
  features(images)    -> float32 [N, D]  (penultimate activations: Frechet and kernel distances,
                                          precision and recall),
  features_and_logits(images) -> both from one pass, and
  description()       -> dict naming the network, its weights file and sha256, and the
                         preprocessing (resizing) applied to the zoo's images in [-1, 1].
"""
from zoo.classifiers import fashion_mnist, inception_v3

__all__ = ["fashion_mnist", "inception_v3"]
