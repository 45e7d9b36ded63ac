"""The zoo's Fashion-MNIST classifier: a small CNN whose features measure Fashion-MNIST GANs.

Network (`build`): on the zoo's 28x28x1 images in [-1, 1] (no resizing),
    3 x [Conv2D 3x3 (16, 32, 64 filters, same padding) -> BatchNorm -> ReLU -> MaxPool 2x2]
    -> Flatten (3x3x64) -> Dropout 0.2 -> Dense 128 + ReLU ("features", the penultimate
    activations) -> Dropout 0.2 -> Dense 10 ("logits"); 98k parameters.
Trained by `python -m zoo.classifiers.train_fashion_mnist` (seed 0, op determinism on): Adam
1e-3 cosine-decayed to 0, batch 128, 8 epochs of the 60,000 training images, no augmentation.
Shipped as `fashion_mnist.weights.h5` (keras `save_weights`, model weights only, 0.45 MB)
beside `fashion_mnist.json`, the record the script wrote: seed, epochs, training time, the
weights' sha256 and size, and the accuracy measured on the 10,000 test images: 91.44%
(226 s of training on 2 CPU cores shared with other jobs; 110 s on a rerun with less load,
which reproduced the file bit for bit, same sha256). `load` checks the size and sha256 against
the record before loading.

Its features give the Frechet classifier distance (FCD) and its logits the classifier score of
Fashion-MNIST generators (`zoo.metrics.fashion_mnist_scores`).
"""
from __future__ import annotations

import json
import os

import keras
import tensorflow as tf
from keras import layers

from zoo.classifiers.extractor import FeatureExtractor
from zoo.pretrained.checksum import verify

DIRECTORY = os.path.dirname(os.path.abspath(__file__))
WEIGHTS = os.path.join(DIRECTORY, "fashion_mnist.weights.h5")
IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
FILTERS = (16, 32, 64)
FEATURE_UNITS = 128
DROPOUT = 0.2


def record_path(weights: str) -> str:
    """The JSON record beside a weights file: NAME.weights.h5 -> NAME.json."""
    stem = weights[:-len(".weights.h5")] if weights.endswith(".weights.h5") else weights
    return stem + ".json"


def build() -> keras.Model:
    """The untrained CNN (module docstring), images -> logits; layer "features" is penultimate."""
    images = keras.Input(IMAGE_SHAPE, name="images")
    h = images
    for filters in FILTERS:
        h = layers.Conv2D(filters, 3, padding="same", use_bias=False)(h)
        h = layers.ReLU()(layers.BatchNormalization()(h))
        h = layers.MaxPooling2D(2)(h)
    h = layers.Dropout(DROPOUT)(layers.Flatten()(h))
    features = layers.Dense(FEATURE_UNITS, activation="relu", name="features")(h)
    logits = layers.Dense(NUM_CLASSES, name="logits")(layers.Dropout(DROPOUT)(features))
    return keras.Model(images, logits, name="fashion_mnist_classifier")


def _check_images(images: tf.Tensor) -> tf.Tensor:
    if tuple(images.shape[1:]) != IMAGE_SHAPE:
        raise ValueError(f"the Fashion-MNIST classifier takes [N, 28, 28, 1] images in [-1, 1], "
                         f"got {tuple(images.shape)}")
    return images


def load(weights: str = WEIGHTS) -> FeatureExtractor:
    """The trained classifier as a `zoo.classifiers` feature extractor (logits, features).

    `weights` is a `.weights.h5` file with its JSON record beside it (as the training script
    writes them); its size and sha256 are checked against the record before loading.
    """
    record_file = record_path(weights)
    if not os.path.exists(weights) or not os.path.exists(record_file):
        raise FileNotFoundError(
            f"Fashion-MNIST classifier weights {weights!r} or their record {record_file!r} not "
            "found; train them with `python -m zoo.classifiers.train_fashion_mnist "
            f"--output={weights}`")
    with open(record_file) as handle:
        record = json.load(handle)
    verify(weights, record["sha256"], record["size"])
    classifier = build()
    classifier.load_weights(weights)
    network = keras.Model(classifier.inputs,
                          [classifier.get_layer("features").output, classifier.output])
    return FeatureExtractor(network, _check_images, dict(
        name="zoo.classifiers.fashion_mnist", weights=os.path.basename(weights),
        weights_sha256=record["sha256"], test_accuracy=record["test_accuracy"],
        features=f"penultimate Dense({FEATURE_UNITS}) ReLU activations",
        resizing="none: the zoo's 28x28x1 images in [-1, 1] as they are"))
