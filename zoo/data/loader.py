"""`load`, `info` and `names`: the one entry point to every registered dataset."""
from __future__ import annotations

from typing import Any

import tensorflow as tf

from zoo.config import merge
from zoo.data.base import DATASETS, SPLITS, DatasetInfo, LoadRequest


def names() -> list[str]:
    """Returns the sorted names of all registered datasets."""
    return DATASETS.names()


def info(name: str) -> DatasetInfo:
    """Returns the `DatasetInfo` of dataset `name` (an unknown name lists the valid ones)."""
    return DATASETS.get(name).info


def _check_positive_int(what: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")


def load(name: str, batch_size: int = 64, split: str = "train", *, shuffle: bool = True,
         seed: int = 0, with_labels: bool = False, image_size: int | None = None,
         repeat: bool = True, start: Any = 0, **kwargs: Any) -> tf.data.Dataset:
    """Returns dataset `name` as a shuffled, batched (`drop_remainder=True`), prefetched stream.

    Elements are `x`, or `(x, y)` with int32 labels when `with_labels=True` (for mixtures `y` is
    the index of the mode `x` was drawn from). Images are float32 in [-1, 1] with shape
    [batch, H, W, C]; `image_size` resizes them to `image_size` x `image_size`. Mixtures yield
    float32 [batch, D]. `repeat=True` makes the stream infinite. `split` is "train" or "test".
    `start=N` begins at batch N of the same stream (what a resumed run continues with: the
    stream is keyed by the batch count, not restarted). `start=model` (a zoo model) begins at
    `model.batches_trained()`, read when iteration begins: with
    `keras.callbacks.BackupAndRestore` in your own `fit`, a resumed fit reads the batches the
    uninterrupted one would have.
    Dataset-specific `kwargs` (see each source's `options`) are checked against its defaults.
    """
    source = DATASETS.get(name)
    _check_positive_int("batch_size", batch_size)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} for dataset {name!r}; valid splits: {SPLITS}")
    if image_size is not None:
        _check_positive_int("image_size", image_size)
    if isinstance(start, bool) or not (isinstance(start, int) and start >= 0
                                       or callable(getattr(start, "batches_trained", None))):
        raise ValueError(f"start must be a non-negative integer or a zoo model, got {start!r}")
    options = merge(source.options, kwargs, f"{name!r} dataset")
    request = LoadRequest(batch_size=batch_size, split=split, shuffle=shuffle, seed=int(seed),
                          with_labels=with_labels, image_size=image_size, repeat=repeat,
                          options=options, start=start)
    return source.build(request)
