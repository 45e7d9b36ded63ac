"""Inception-v3 (keras.applications) as the feature extractor of FID, KID and the Inception Score.

Nothing is downloaded: the ImageNet weights come from a local file, the one keras.applications
would fetch, `inception_v3_weights_tf_dim_ordering_tf_kernels.h5` (with the classifier top,
~92 MB; the top is needed for the logits of the Inception Score). Get it on a machine with
internet access, e.g. `python -c "import keras; keras.applications.InceptionV3()"` leaves it
in ~/.keras/models/, copy it here, and pass its path as `weights=` or set
$GAN_ZOO_INCEPTION_WEIGHTS.

Preprocessing of the zoo's images (float32 in [-1, 1], any size, 1 or 3 channels): grayscale
is repeated to 3 channels, then the images are resized to 299x299 with bilinear interpolation
(`tf.image.resize`, half-pixel centres, no antialiasing). Keras' `inception_v3.preprocess_input`
maps pixels 0..255 to [-1, 1], so the zoo's range is already the network's. Features: the
2,048-d global average pool ("avg_pool"); logits: the 1,000 ImageNet classes before the softmax.

Keras' ImageNet weights are not the TF-1 graph (1,008 classes) of the published FID/IS numbers,
so scores computed here compare runs with one another, not with papers.
"""
from __future__ import annotations

import os

import keras
import tensorflow as tf

from zoo.classifiers.extractor import FeatureExtractor
from zoo.pretrained.checksum import sha256_of

WEIGHTS_ENV = "GAN_ZOO_INCEPTION_WEIGHTS"
WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
INPUT_SIZE = 299
FROM_ENV = "env"


def _weights_path(weights: str) -> str:
    path = os.environ.get(WEIGHTS_ENV) if weights == FROM_ENV else weights
    if not path or not os.path.isfile(path):
        where = (f"${WEIGHTS_ENV} is {'unset' if not path else repr(path) + ', not a file'}"
                 if weights == FROM_ENV else f"{path!r} is not a file")
        raise FileNotFoundError(
            f"Inception-v3 weights not found ({where}). Nothing is downloaded: get "
            f"{WEIGHTS_FILE} (keras.applications' ImageNet weights with the top) on a machine "
            "with internet access, e.g. `python -c \"import keras; "
            "keras.applications.InceptionV3()\"` saves it under ~/.keras/models/, copy it here "
            f"and set {WEIGHTS_ENV}=/path/to/{WEIGHTS_FILE} or pass weights='/path/...'.")
    return path


def preprocess(images: tf.Tensor, size: int = INPUT_SIZE) -> tf.Tensor:
    """Zoo images [N, H, W, 1 or 3] in [-1, 1] -> [N, size, size, 3] (module docstring)."""
    channels = images.shape[-1]
    if images.shape.rank != 4 or channels not in (1, 3):
        raise ValueError(f"images must be [N, H, W, 1 or 3], got {tuple(images.shape)}")
    if channels == 1:
        images = tf.repeat(images, 3, axis=-1)
    return tf.image.resize(images, (size, size), method="bilinear")


def load(weights: str | None = FROM_ENV, input_size: int = INPUT_SIZE) -> FeatureExtractor:
    """Inception-v3 as a `zoo.classifiers` feature extractor.

    `weights`: "env" (default) reads the file named by $GAN_ZOO_INCEPTION_WEIGHTS, a path reads
    that file, None builds the untrained network (for tests of the plumbing only). A missing
    file raises FileNotFoundError saying how to provide it. `input_size` other than 299 (at
    least 75) is for tests only.
    """
    path = None if weights is None else _weights_path(weights)
    network = keras.applications.InceptionV3(
        include_top=True, weights=path, input_shape=(input_size, input_size, 3),
        classifier_activation=None)
    network = keras.Model(network.inputs, [network.get_layer("avg_pool").output, network.output])
    return FeatureExtractor(network, lambda images: preprocess(images, input_size), dict(
        name="keras.applications.InceptionV3", weights=os.path.basename(path) if path else None,
        weights_sha256=sha256_of(path) if path else None,
        features="2048-d avg_pool activations", logits="1000 ImageNet logits",
        resizing=f"grayscale repeated to RGB, bilinear resize to {input_size}x{input_size}"))
