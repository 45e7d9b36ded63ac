"""What every dataset shares: its description, its load request, and the registry of sources.

A *source* is an object with an `info` (`DatasetInfo`), an `options` mapping (the defaults of
the dataset-specific keyword arguments `zoo.data.load` accepts) and a `build(request)` method
returning the final batched `tf.data.Dataset`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Protocol

import numpy as np
import tensorflow as tf

from zoo.registry import Registry

SPLITS = ("train", "test")
KINDS = ("mixture", "image")


@dataclass(frozen=True, eq=False)
class DatasetInfo:
    """Static description of a dataset.

    `shape` is the per-example shape `load` yields by default (`image_size` may change the
    spatial part for images). `num_classes` is None for datasets without class labels. Mixtures
    also carry their mode `centers` ([M, D], read-only) and the per-coordinate `std` of every
    mode; for them `num_classes == M`.
    """

    name: str
    kind: str
    shape: tuple[int, ...]
    num_classes: int | None
    centers: np.ndarray | None = None
    std: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.centers is not None:
            centers = np.array(self.centers, dtype=np.float64)
            centers.setflags(write=False)
            object.__setattr__(self, "centers", centers)

    def sized(self, image_size: int | None) -> "DatasetInfo":
        """This dataset with image_size x image_size images (`load(..., image_size=)`);
        itself for None."""
        if image_size is None:
            return self
        return replace(self, shape=(image_size, image_size) + tuple(self.shape[2:]))


@dataclass(frozen=True)
class LoadRequest:
    """The validated arguments of one `zoo.data.load` call; `options` holds the merged extras."""

    batch_size: int
    split: str
    shuffle: bool
    seed: int
    with_labels: bool
    image_size: int | None
    repeat: bool
    options: Mapping[str, Any] = field(default_factory=dict)
    start: Any = 0  # a batch count, or a model whose `batches_trained()` gives it


def from_start(request: LoadRequest, stream: Callable[[Any], tf.data.Dataset]) -> tf.data.Dataset:
    """`stream(start)`, the dataset from batch `start` on. A model as `request.start` is read
    when iteration begins, inside tf.data (`model.batches_trained()`: a model restored by
    `keras.callbacks.BackupAndRestore` in `on_train_begin` continues its stream there)."""
    if isinstance(request.start, int):
        return stream(request.start)
    model = request.start
    return tf.data.Dataset.from_tensors(0).flat_map(
            lambda _: stream(tf.cast(model.batches_trained(), tf.int64)))


class Source(Protocol):
    """A registered dataset: see the module docstring."""

    info: DatasetInfo
    options: Mapping[str, Any]

    def build(self, request: LoadRequest) -> tf.data.Dataset:
        ...


DATASETS: Registry[Source] = Registry("dataset")
