"""Evaluation metrics.

Mixtures: `mixture_metrics` (PacGAN protocol). From activations or logits: `inception_score`,
`frechet_distance`, `kernel_distance`, `precision_recall`. Images, with a feature extractor:
`fashion_mnist_scores` (the zoo's classifier: FCD, classifier score, ...), `inception_scores`
(Inception-v3 from a local weights file). The AAN's memory: `rbm_log_likelihood`.
`zoo.metrics.report.measure` gathers them per dataset (`python -m zoo.evaluate`).
"""
from zoo.metrics.frechet import frechet_distance, frechet_distance_from_moments
from zoo.metrics.images import fashion_mnist_scores, inception_scores
from zoo.metrics.kernel import kernel_distance
from zoo.metrics.likelihood import rbm_log_likelihood
from zoo.metrics.manifold import precision_recall
from zoo.metrics.mixture import mixture_metrics, mode_histogram, nearest_modes
from zoo.metrics.scores import inception_score

__all__ = ["fashion_mnist_scores", "frechet_distance", "frechet_distance_from_moments",
           "inception_score", "inception_scores", "kernel_distance", "mixture_metrics",
           "mode_histogram", "nearest_modes", "precision_recall", "rbm_log_likelihood"]
