"""Image datasets: the shared input pipeline and the TFDS-backed sources.

Pipeline, per example: uint8 image [h, w, c] -> float32 -> optional central crop ->
bilinear (antialiased) resize to the output size when it differs -> x = clip(p / 127.5 - 1, -1, 1),
so pixel values 0..255 map onto [-1, 1]. Examples are shuffled (seeded buffer), repeated,
skipped up to batch `start` for a resumed run, preprocessed in parallel (order kept),
batched with `drop_remainder=True` and prefetched.

TFDS datasets and their splits ("train" / "test" here -> the TFDS split):
    mnist       28x28x1  train / test
    cifar10     32x32x3  train / test
    celeb_a     64x64x3  train / test; central 160x160 crop of the 218x178 aligned faces, then
                resized; no class labels
    stl10       48x48x3  unlabelled (100k images) / test; 96x96 resized to 48x48; the train split
                has no labels
    imagenet32  32x32x3  imagenet_resized/32x32 train / validation
`image_size` overrides the output size of any of them (square).
"""
from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any, Mapping

import tensorflow as tf
import tensorflow_datasets as tfds

from zoo.data.base import DATASETS, DatasetInfo, LoadRequest, from_start

SHUFFLE_BUFFER = 10_000
CELEBA_CROP = 160
DOWNLOAD_HOST = ("storage.googleapis.com", 443)  # where TFDS downloads most datasets from


def host_reachable(address: tuple[str, int], timeout: float = 3.0) -> bool:
    """Whether a TCP connection to (host, port) opens within `timeout` seconds."""
    try:
        socket.create_connection(address, timeout=timeout).close()
        return True
    except OSError:
        return False


def check_labels(info: DatasetInfo, request: LoadRequest,
                 unlabelled_splits: frozenset[str] = frozenset()) -> None:
    """Raises ValueError when labels are asked of a dataset (or split) that has none."""
    if request.with_labels and (info.num_classes is None or request.split in unlabelled_splits):
        raise ValueError(
                f"{info.name!r} has no class labels in split {request.split!r}; "
                "load it with with_labels=False")


def image_pipeline(examples: tf.data.Dataset, request: LoadRequest, *, out_shape: tuple[int, ...],
                   crop: int | None = None, buffer_size: int = SHUFFLE_BUFFER) -> tf.data.Dataset:
    """Turns raw examples (`image`, or `(image, label)` when `request.with_labels`) into batches.

    The output size is `request.image_size` squared when set, else `out_shape[:2]`.
    """
    size = (request.image_size,) * 2 if request.image_size else tuple(out_shape[:2])

    def preprocess(image: tf.Tensor) -> tf.Tensor:
        image = tf.cast(image, tf.float32)
        if crop is not None:
            image = tf.image.resize_with_crop_or_pad(image, crop, crop)
        if tuple(image.shape[:2]) != size:
            image = tf.image.resize(image, size, method="bilinear", antialias=True)
        return tf.clip_by_value(image / 127.5 - 1.0, -1.0, 1.0)

    def preprocess_labelled(image: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return preprocess(image), tf.cast(label, tf.int32)

    if request.shuffle:
        examples = examples.shuffle(buffer_size, seed=request.seed, reshuffle_each_iteration=True)
    if request.repeat:
        examples = examples.repeat()
    if request.start != 0:  # the same stream from batch `start` (raw examples: skipped cheaply)
        shuffled = examples
        examples = from_start(request, lambda start: shuffled.skip(start * request.batch_size))
    examples = examples.map(preprocess_labelled if request.with_labels else preprocess,
                            num_parallel_calls=tf.data.AUTOTUNE)
    return examples.batch(request.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def tfds_examples(tfds_name: str, tfds_split: str, request: LoadRequest, *,
                  data_dir: str | None, download: bool) -> tf.data.Dataset:
    """Loads `tfds_name[tfds_split]` as `image` or `(image, label)` elements (seeded file order).

    What is prepared in `data_dir` is read as it is; only a dataset that is not there is
    downloaded, and only after `DOWNLOAD_HOST` answers (TFDS itself would retry for minutes
    offline): otherwise a one-line ValueError says how to get the data.
    """
    def load(download_now: bool) -> tf.data.Dataset:
        return tfds.load(tfds_name, split=tfds_split, shuffle_files=request.shuffle,
                         data_dir=data_dir, download=download_now,
                         read_config=tfds.ReadConfig(shuffle_seed=request.seed))

    try:
        ds = load(False)
    except AssertionError:  # TFDS: "could not find data in DATA_DIR"
        missing = f"dataset {tfds_name!r} is not prepared in {data_dir or '~/tensorflow_datasets'}"
        if not download:
            raise ValueError(f"{missing} and download=False") from None
        if not host_reachable(DOWNLOAD_HOST):
            raise ValueError(
                f"{missing} and {DOWNLOAD_HOST[0]} cannot be reached to download it: run "
                f"`tfds build {tfds_name}` on a machine with network and copy its folder "
                "there (or pass data_dir)") from None
        ds = load(True)
    if request.with_labels:
        return ds.map(lambda ex: (ex["image"], ex["label"]))
    return ds.map(lambda ex: ex["image"])


@dataclass(frozen=True, eq=False)
class TfdsImageSource:
    """An image dataset read through `tfds.load`; options: TFDS `data_dir` and `download`."""

    info: DatasetInfo
    tfds_name: str
    splits: Mapping[str, str]
    crop: int | None = None
    unlabelled_splits: frozenset[str] = frozenset()
    options: Mapping[str, Any] = field(default_factory=lambda: {"data_dir": None, "download": True})

    def build(self, request: LoadRequest) -> tf.data.Dataset:
        check_labels(self.info, request, self.unlabelled_splits)
        examples = tfds_examples(self.tfds_name, self.splits[request.split], request,
                                 data_dir=request.options["data_dir"],
                                 download=request.options["download"])
        return image_pipeline(examples, request, out_shape=self.info.shape, crop=self.crop)


def _register(name: str, tfds_name: str, shape: tuple[int, int, int], num_classes: int | None,
              splits: Mapping[str, str], **kwargs: Any) -> None:
    info = DatasetInfo(name=name, kind="image", shape=shape, num_classes=num_classes)
    DATASETS.register(name)(TfdsImageSource(info, tfds_name, splits, **kwargs))


_TRAIN_TEST = {"train": "train", "test": "test"}
_register("mnist", "mnist", (28, 28, 1), 10, _TRAIN_TEST)
_register("cifar10", "cifar10", (32, 32, 3), 10, _TRAIN_TEST)
_register("celeb_a", "celeb_a", (64, 64, 3), None, _TRAIN_TEST, crop=CELEBA_CROP)
_register("stl10", "stl10", (48, 48, 3), 10, {"train": "unlabelled", "test": "test"},
          unlabelled_splits=frozenset({"train"}))
_register("imagenet32", "imagenet_resized/32x32", (32, 32, 3), 1000,
          {"train": "train", "test": "validation"})
