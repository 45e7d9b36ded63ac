"""Fashion-MNIST (28x28x1, 10 classes), read offline from Debian's `dataset-fashion-mnist`.

The IDX archives are looked for in `offline_dir` (default `FASHION_MNIST_DIR`). When a split's
files are absent, TFDS `fashion_mnist` is used instead (options `data_dir`, `download`); when that
fails too, a FileNotFoundError names both ways of getting the data. Present but corrupt files
raise instead of falling back.
"""
from __future__ import annotations

import functools
import logging
import os

import numpy as np
import tensorflow as tf

from zoo.data.base import DATASETS, DatasetInfo, LoadRequest
from zoo.data.idx import read_idx
from zoo.data.images import image_pipeline, tfds_examples

logger = logging.getLogger(__name__)

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
DEBIAN_PACKAGE = "dataset-fashion-mnist"
_FILES = {
        "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
        "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def read_offline(directory: str | os.PathLike, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Returns (images uint8 [N, 28, 28, 1], labels uint8 [N]) of `split` from the IDX files.

    The decoded arrays (read-only) are kept for the process while the files' size and
    modification time stay the same: each later load skips the 0.3 s gunzip.
    """
    stats = (os.stat(os.path.join(directory, f)) for f in _FILES[split])
    return _read_offline(os.fspath(directory), split,
                         tuple((st.st_size, st.st_mtime_ns) for st in stats))


@functools.lru_cache(maxsize=4)
def _read_offline(directory: str, split: str,
                  stamps: tuple[tuple[int, int], ...]) -> tuple[np.ndarray, np.ndarray]:
    """`read_offline`'s reading, cached by (directory, split, the files' size and mtime)."""
    image_file, label_file = (os.path.join(directory, f) for f in _FILES[split])
    images, labels = read_idx(image_file), read_idx(label_file)
    if images.ndim != 3 or labels.shape != images.shape[:1]:
        raise ValueError(f"{directory}: images {images.shape} and labels {labels.shape} disagree")
    return images[..., None], labels


class FashionMnistSource:
    """The `fashion_mnist` dataset; options `offline_dir`, `data_dir`, `download`."""

    info = DatasetInfo(name="fashion_mnist", kind="image", shape=(28, 28, 1), num_classes=10)
    options = {"offline_dir": None, "data_dir": None, "download": True}

    def build(self, request: LoadRequest) -> tf.data.Dataset:
        directory = os.fspath(request.options["offline_dir"] or FASHION_MNIST_DIR)
        missing = [f for f in _FILES[request.split]
                   if not os.path.isfile(os.path.join(directory, f))]
        if not missing:
            images, labels = read_offline(directory, request.split)
            elements = (images, labels) if request.with_labels else images
            return image_pipeline(tf.data.Dataset.from_tensor_slices(elements), request,
                                  out_shape=self.info.shape, buffer_size=len(images))

        logger.warning("fashion_mnist: %s missing from %s; falling back to TFDS",
                       ", ".join(missing), directory)
        try:
            examples = tfds_examples("fashion_mnist", request.split, request,
                                     data_dir=request.options["data_dir"],
                                     download=request.options["download"])
        except Exception as err:
            raise FileNotFoundError(
                    f"fashion_mnist: {', '.join(missing)} not found in {directory!r} (install the "
                    f"Debian package with `apt-get install {DEBIAN_PACKAGE}`), and the TFDS "
                    f"fallback tfds.load('fashion_mnist', split={request.split!r}) failed: "
                    f"{type(err).__name__}: {err}") from err
        return image_pipeline(examples, request, out_shape=self.info.shape)


DATASETS.register("fashion_mnist")(FashionMnistSource())
