"""Sample-quality metrics of image generators, in a classifier's feature space.

`feature_space_scores` measures generated images against real ones with any
`zoo.classifiers` feature extractor:
  * the Frechet distance of its features (`zoo.metrics.frechet_distance`; Heusel et al. 2017),
  * the score exp E[KL(p(y|x) || p(y))] of its logits, mean and std over 10 splits
    (`zoo.metrics.inception_score`; Salimans et al. 2016),
  * the kernel distance of its features, mean over 100 subsets of 1,000
    (`zoo.metrics.kernel_distance`; Binkowski et al. 2018),
  * precision and recall of k = 3 nearest-neighbour manifolds of its features
    (`zoo.metrics.precision_recall`; Kynkaanniemi et al. 2019, who use VGG-16 features).

`fashion_mnist_scores` applies it with the zoo's Fashion-MNIST classifier
(`zoo.classifiers.fashion_mnist`: FCD, classifier score, KCD) against the 10,000 test images;
`inception_scores` with Inception-v3 (`zoo.classifiers.inception_v3`: FID, IS, KID), whose
weights must be provided as a local file. Each returns its protocol with the numbers.

For scale, the first 10,000 Fashion-MNIST training images against the test images: FCD 0.16,
classifier score 8.13 (std 0.10), KCD -0.005, precision 0.84, recall 0.83.
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np
import tensorflow as tf

from zoo import data as zoo_data
from zoo.classifiers import fashion_mnist, inception_v3
from zoo.metrics.frechet import frechet_distance
from zoo.metrics.kernel import kernel_distance
from zoo.metrics.manifold import precision_recall
from zoo.metrics.scores import inception_score

DEFAULT_NUM_SAMPLES = 10_000
SCORE_SPLITS = 10
KID_SUBSET_SIZE = 1000
KID_SUBSETS = 100
NEIGHBOURS = 3
REFERENCE_SPLIT = "test"
_BATCH = 500


def as_samples(samples: Any, num_samples: int = DEFAULT_NUM_SAMPLES, seed: int = 0) -> np.ndarray:
    """An array of images as is, or `num_samples` from a model's `generate(n, seed=seed)`."""
    if hasattr(samples, "generate"):
        return np.asarray(samples.generate(int(num_samples), seed=seed))
    return np.asarray(samples, dtype=np.float32)


@functools.lru_cache(maxsize=4)
def reference_images(dataset: str, split: str = REFERENCE_SPLIT,
                     image_size: int | None = None) -> np.ndarray:
    """The images of `dataset`'s `split` in file order, float32 in [-1, 1] (cached, read-only;
    a last partial batch of 500 is dropped: none for Fashion-MNIST's 10,000 test images),
    resized to `image_size` squared when given (as `zoo.data.load` resizes)."""
    batches = zoo_data.load(dataset, batch_size=_BATCH, split=split, shuffle=False, repeat=False,
                            image_size=image_size)
    images = np.concatenate([np.asarray(batch) for batch in batches])
    images.flags.writeable = False
    return images


def classifier_sized(images: np.ndarray,
                     size: int = fashion_mnist.IMAGE_SHAPE[0]) -> tuple[np.ndarray, str]:
    """(images, how they were resized) for the Fashion-MNIST classifier's size x size input.

    Square samples of another size (a generator trained on `zoo.data.load(...,
    image_size=32)`) are resized as zoo.data resizes images (bilinear, antialiased) and
    clipped to [-1, 1]; anything else is returned as is (the classifier checks it).
    """
    if images.ndim != 4 or images.shape[1] != images.shape[2] or images.shape[1] == size:
        return images, "none"
    resized = tf.image.resize(images, (size, size), method="bilinear", antialias=True)
    return (np.clip(np.asarray(resized), -1.0, 1.0),
            f"{images.shape[1]}x{images.shape[2]} samples resized to {size}x{size} "
            "(bilinear, antialiased, as zoo.data resizes)")


def feature_space_scores(extractor: Any, samples: np.ndarray, real: np.ndarray,
                         seed: int = 0) -> dict:
    """{"frechet_distance", "score", "score_std", "kernel_distance", "precision", "recall"}
    of generated `samples` against `real` images in `extractor`'s space (module docstring).

    `seed` seeds the kernel distance's subsets.
    """
    fake_features, fake_logits = extractor.features_and_logits(samples)
    real_features = extractor.features(real)
    score, score_std = inception_score(fake_logits, SCORE_SPLITS)
    precision, recall = precision_recall(real_features, fake_features, NEIGHBOURS)
    return dict(
        frechet_distance=frechet_distance(real_features, fake_features),
        score=score, score_std=score_std,
        kernel_distance=kernel_distance(real_features, fake_features, KID_SUBSET_SIZE,
                                        KID_SUBSETS, seed=seed),
        precision=precision, recall=recall)


def _protocol(extractor: Any, num_samples: int, reference: str, seed: int) -> dict:
    return dict(
        num_samples=num_samples, reference=reference, generator_seed=seed,
        feature_extractor=extractor.description(),
        frechet_distance="Heusel et al. 2017 on the features (ddof=1 covariances, eigenvalue "
                         "route to Tr sqrt(S_r S_g))",
        score=f"exp E[KL(p(y|x) || p(y))] of the logits, mean/std over {SCORE_SPLITS} splits "
              "(Salimans et al. 2016)",
        kernel_distance=f"unbiased MMD^2, kernel (x.y/d + 1)^3, mean over {KID_SUBSETS} subsets "
                        f"of {KID_SUBSET_SIZE} (Binkowski et al. 2018)",
        precision_recall=f"k={NEIGHBOURS} nearest-neighbour manifolds of the features "
                         "(Kynkaanniemi et al. 2019)")


def fashion_mnist_scores(samples: Any, real: np.ndarray | None = None,
                         num_samples: int = DEFAULT_NUM_SAMPLES, seed: int = 0,
                         classifier: Any = None) -> dict:
    """FCD, classifier score, KCD, precision and recall of Fashion-MNIST samples.

    `samples`: images [N, 28, 28, 1] in [-1, 1], or a model whose `generate(num_samples, seed)`
    draws them; other square sizes (32x32) are resized to 28x28 (`classifier_sized`).
    `real`: the reference images (default: the 10,000 test images; for samples of another
    size, the test images loaded at that size and resized back to 28x28 as the samples are,
    so that both sides carry the same resampling: the test images' own round trip
    28 -> 32 -> 28 is at FCD 10.9 from them).
    `classifier`: a loaded `zoo.classifiers.fashion_mnist` extractor (default: the shipped one).
    Returns {"frechet_classifier_distance", "classifier_score", "classifier_score_std",
    "kernel_classifier_distance", "precision", "recall", "protocol"}.
    """
    classifier = classifier or fashion_mnist.load()
    samples = as_samples(samples, num_samples, seed)
    images, resizing = classifier_sized(samples)
    reference = (f"fashion_mnist {REFERENCE_SPLIT} split, all images" if real is None
                 else "images given by the caller")
    if real is not None:
        real = np.asarray(real, np.float32)
    elif resizing == "none":
        real = reference_images("fashion_mnist")
    else:
        size = samples.shape[1]
        real, _ = classifier_sized(reference_images("fashion_mnist", image_size=size))
        reference += f", loaded at {size}x{size} and resized back as the samples"
    scores = feature_space_scores(classifier, images, real, seed)
    protocol = dict(_protocol(classifier, len(images), f"{reference} ({len(real)})", seed),
                    sample_resizing=resizing)
    return dict(frechet_classifier_distance=scores["frechet_distance"],
                classifier_score=scores["score"], classifier_score_std=scores["score_std"],
                kernel_classifier_distance=scores["kernel_distance"],
                precision=scores["precision"], recall=scores["recall"], protocol=protocol)


def inception_scores(samples: Any, real: np.ndarray, weights: str | None = "env",
                     num_samples: int = DEFAULT_NUM_SAMPLES, seed: int = 0,
                     extractor: Any = None) -> dict:
    """FID, Inception Score, KID, precision and recall with Inception-v3 (keras.applications).

    `weights` as `zoo.classifiers.inception_v3.load` takes it ("env": $GAN_ZOO_INCEPTION_WEIGHTS;
    a missing file raises FileNotFoundError saying how to provide it), unless `extractor` is an
    Inception-v3 extractor already loaded. Returns {"fid", "inception_score",
    "inception_score_std", "kid", "precision", "recall", "protocol"}.
    """
    extractor = extractor or inception_v3.load(weights)
    images = as_samples(samples, num_samples, seed)
    real = np.asarray(real, np.float32)
    scores = feature_space_scores(extractor, images, real, seed)
    protocol = _protocol(extractor, len(images), f"images given by the caller ({len(real)})", seed)
    return dict(fid=scores["frechet_distance"], inception_score=scores["score"],
                inception_score_std=scores["score_std"], kid=scores["kernel_distance"],
                precision=scores["precision"], recall=scores["recall"], protocol=protocol)
