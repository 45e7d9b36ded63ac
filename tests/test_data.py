"""Tests for zoo.data: mixtures, offline Fashion-MNIST, TFDS image datasets (mocked), bad input."""
from __future__ import annotations

import dataclasses
import gzip
import math
import os
import struct
import time

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import zoo.data
from zoo.data import fashion_mnist, images
from zoo.data.base import LoadRequest
from zoo.data.idx import read_idx

MIXTURES = ("ring8", "grid25", "mixture1d", "mixture3d")
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
needs_debian_files = pytest.mark.skipif(
        not os.path.isfile(os.path.join(DEBIAN_DIR, "t10k-images-idx3-ubyte.gz")),
        reason="Debian package dataset-fashion-mnist is not installed")


def first_batches(ds: tf.data.Dataset, n: int) -> list:
    return [tf.nest.map_structure(lambda t: t.numpy(), b) for b in ds.take(n)]


# --- registry and bad input -------------------------------------------------------------------

def test_names_lists_every_dataset():
    assert set(zoo.data.names()) == {
            "ring8", "grid25", "mixture1d", "mixture3d", "fashion_mnist", "mnist", "cifar10",
            "celeb_a", "stl10", "imagenet32"}


def test_unknown_name_lists_valid_names():
    with pytest.raises((KeyError, ValueError), match="nope.*ring8"):
        zoo.data.load("nope")
    with pytest.raises((KeyError, ValueError), match="grid25"):
        zoo.data.info("nope")


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True])
def test_bad_batch_size_is_named(batch_size):
    with pytest.raises(ValueError, match=f"batch_size.*{batch_size!r}"):
        zoo.data.load("ring8", batch_size)


def test_unknown_split_is_named():
    with pytest.raises(ValueError, match="'validation'"):
        zoo.data.load("ring8", 8, "validation")


def test_unknown_option_fails_loudly():
    with pytest.raises(ValueError, match="bogus"):
        zoo.data.load("ring8", 8, bogus=1)


def test_bad_image_size_and_image_size_on_mixture():
    with pytest.raises(ValueError, match="image_size.*0"):
        zoo.data.load("mnist", 8, image_size=0)
    with pytest.raises(ValueError, match="image_size"):
        zoo.data.load("ring8", 8, image_size=32)


# --- mixtures ---------------------------------------------------------------------------------

def test_mixture_settings_match_the_benchmarks():
    ring = zoo.data.info("ring8")
    angles = [2 * math.pi * k / 8 for k in range(8)]
    np.testing.assert_allclose(ring.centers, [[math.cos(a), math.sin(a)] for a in angles],
                               atol=1e-12)
    assert ring.std == 0.01 and ring.kind == "mixture" and ring.shape == (2,)
    assert ring.num_classes == 8

    grid = zoo.data.info("grid25")
    assert {tuple(c) for c in grid.centers} == {(a, b) for a in range(-4, 5, 2)
                                                 for b in range(-4, 5, 2)}
    assert grid.std == 0.05 and grid.num_classes == 25

    one, three = zoo.data.info("mixture1d"), zoo.data.info("mixture3d")
    assert one.shape == (1,) and one.centers.shape == (one.num_classes, 1)
    assert three.shape == (3,) and three.centers.shape == (three.num_classes, 3)
    for mixture in (one, three):  # well separated: 3-std balls of distinct modes are disjoint
        gaps = np.linalg.norm(mixture.centers[:, None] - mixture.centers[None], axis=-1)
        assert gaps[~np.eye(len(gaps), dtype=bool)].min() > 6 * mixture.std


def test_dataset_info_is_frozen():
    ring = zoo.data.info("ring8")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ring.std = 1.0
    with pytest.raises(ValueError):
        ring.centers[0, 0] = 5.0
    assert zoo.data.info("mnist").centers is None


@pytest.mark.parametrize("name", MIXTURES)
def test_mixture_batches_come_from_their_labelled_mode(name):
    info = zoo.data.info(name)
    x, y = next(iter(zoo.data.load(name, 128, with_labels=True)))
    assert x.dtype == tf.float32 and x.shape == (128,) + info.shape
    assert y.dtype == tf.int32 and y.shape == (128,)
    x, y = x.numpy(), y.numpy()
    assert y.min() >= 0 and y.max() < info.num_classes
    distance = np.linalg.norm(x - info.centers[y], axis=1) / info.std
    assert distance.max() < 7.0
    assert 0.3 < np.median(distance) < 2.5


def test_mixture_weights_are_uniform_and_components_have_the_right_std():
    info = zoo.data.info("ring8")
    x, y = (np.concatenate(parts) for parts in zip(*first_batches(
            zoo.data.load("ring8", 500, with_labels=True), 16)))
    counts = np.bincount(y, minlength=8)
    assert counts.min() > 850 and counts.max() < 1150  # expected 1000 each, sd ~ 30
    residual = x - info.centers[y]
    np.testing.assert_allclose(residual.mean(axis=0), 0.0, atol=0.001)
    np.testing.assert_allclose(residual.std(axis=0), info.std, rtol=0.05)


def test_mixture_stream_is_reproducible_from_seed_and_split():
    a = first_batches(zoo.data.load("grid25", 64, seed=3, with_labels=True), 3)
    b = first_batches(zoo.data.load("grid25", 64, seed=3, with_labels=True), 3)
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    other_seed = first_batches(zoo.data.load("grid25", 64, seed=4), 1)[0]
    test_split = first_batches(zoo.data.load("grid25", 64, "test", seed=3), 1)[0]
    assert not np.allclose(a[0][0], other_seed)
    assert not np.allclose(a[0][0], test_split)
    assert not np.allclose(a[0][0], a[1][0])  # consecutive batches differ


class _Follow:
    """Stands in for a model: `batches_trained()` reads a variable."""

    def __init__(self, value):
        self.count = tf.Variable(value, dtype=tf.int64)

    def batches_trained(self):
        return self.count


@pytest.mark.parametrize("name", ["ring8", "fashion_mnist"])
def test_start_is_a_batch_count_or_a_model_read_when_iteration_begins(name):
    if name == "fashion_mnist" and not os.path.isdir(DEBIAN_DIR):
        pytest.skip("dataset-fashion-mnist is not installed")
    ten = first_batches(zoo.data.load(name, 16), 10)
    np.testing.assert_array_equal(first_batches(zoo.data.load(name, 16, start=7), 1)[0], ten[7])
    follow = _Follow(2)
    following = zoo.data.load(name, 16, start=follow)
    follow.count.assign(5)  # read when iteration begins, not when the dataset is made
    np.testing.assert_array_equal(first_batches(following, 2), ten[5:7])
    with pytest.raises(ValueError, match="start must be a non-negative integer or a zoo model"):
        zoo.data.load(name, 16, start=-1)
    with pytest.raises(ValueError, match="got 'x'"):
        zoo.data.load(name, 16, start="x")


def test_mixture_repeat_false_is_one_fixed_pass_and_repeat_true_is_endless():
    ds = zoo.data.load("mixture1d", 64, repeat=False, num_examples=1000)
    first, second = list(ds.as_numpy_iterator()), list(ds.as_numpy_iterator())
    assert len(first) == 1000 // 64
    np.testing.assert_array_equal(np.stack(first), np.stack(second))
    endless = zoo.data.load("mixture1d", 64, num_examples=128)
    assert len(first_batches(endless, 40)) == 40
    with pytest.raises(ValueError, match="num_examples"):
        zoo.data.load("mixture1d", 64, repeat=False, num_examples=10)


# --- Fashion-MNIST, offline -------------------------------------------------------------------

def _parse_idx_independently(path: str) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw[4 + 4 * ndim:], dtype=np.uint8).reshape(dims)


@needs_debian_files
def test_fashion_mnist_reads_the_debian_files_and_scales_to_unit_range():
    raw_images = _parse_idx_independently(os.path.join(DEBIAN_DIR, "t10k-images-idx3-ubyte.gz"))
    raw_labels = _parse_idx_independently(os.path.join(DEBIAN_DIR, "t10k-labels-idx1-ubyte.gz"))
    assert raw_images.shape == (10000, 28, 28)
    ds = zoo.data.load("fashion_mnist", 1000, "test", shuffle=False, repeat=False,
                       with_labels=True)
    batches = list(ds.as_numpy_iterator())
    assert len(batches) == 10
    x, y = batches[0]
    assert x.dtype == np.float32 and x.shape == (1000, 28, 28, 1)
    np.testing.assert_allclose(x[..., 0], raw_images[:1000] / 127.5 - 1.0, atol=1e-6)
    np.testing.assert_array_equal(y, raw_labels[:1000])
    assert y.dtype == np.int32 and x.min() == -1.0 and x.max() == 1.0


@needs_debian_files
def test_fashion_mnist_shuffle_is_seeded_and_image_size_resizes():
    def first(seed):
        return next(iter(zoo.data.load("fashion_mnist", 16, seed=seed))).numpy()

    a, b, c = first(1), first(1), first(2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    small = next(iter(zoo.data.load("fashion_mnist", 4, image_size=14))).numpy()
    assert small.shape == (4, 14, 14, 1) and small.min() >= -1.0 and small.max() <= 1.0


def test_read_idx_rejects_a_file_that_is_not_idx(tmp_path):
    bad = tmp_path / "bad-idx1-ubyte.gz"
    with gzip.open(bad, "wb") as f:
        f.write(b"\x01\x02\x08\x01" + struct.pack(">I", 3) + b"abc")
    with pytest.raises(ValueError, match="magic"):
        read_idx(bad)
    truncated = tmp_path / "short-idx1-ubyte"
    truncated.write_bytes(b"\x00\x00\x08\x01" + struct.pack(">I", 5) + b"abc")
    with pytest.raises(ValueError, match="expected"):
        read_idx(truncated)
    good = tmp_path / "good-idx1-ubyte"
    good.write_bytes(b"\x00\x00\x08\x02" + struct.pack(">II", 2, 3) + bytes(range(6)))
    np.testing.assert_array_equal(read_idx(good), [[0, 1, 2], [3, 4, 5]])


def test_fashion_mnist_falls_back_to_tfds_when_files_are_absent(tmp_path):
    with tfds.testing.mock_data(num_examples=16):
        x, y = next(iter(zoo.data.load("fashion_mnist", 8, offline_dir=tmp_path,
                                       with_labels=True)))
    assert x.shape == (8, 28, 28, 1) and x.dtype == tf.float32 and y.dtype == tf.int32
    assert -1.0 <= x.numpy().min() and x.numpy().max() <= 1.0


def test_missing_offline_data_and_failing_tfds_names_both_fixes(tmp_path, monkeypatch):
    def no_tfds(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr(tfds, "load", no_tfds)
    monkeypatch.setattr(fashion_mnist, "FASHION_MNIST_DIR", str(tmp_path))  # default dir empty
    with pytest.raises(FileNotFoundError) as caught:
        zoo.data.load("fashion_mnist", 8)
    message = str(caught.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert "TFDS" in message and "no network" in message and str(tmp_path) in message


# --- TFDS image datasets (mocked: nothing can be downloaded) ----------------------------------

@pytest.mark.parametrize("name, split, shape, with_labels", [
        ("mnist", "train", (28, 28, 1), True),
        ("cifar10", "test", (32, 32, 3), True),
        ("celeb_a", "train", (64, 64, 3), False),
        ("stl10", "train", (48, 48, 3), False),
        ("stl10", "test", (48, 48, 3), True),
        ("imagenet32", "test", (32, 32, 3), True),
])
def test_tfds_image_datasets(name, split, shape, with_labels):
    assert zoo.data.info(name).shape == shape
    with tfds.testing.mock_data(num_examples=12):
        batch = next(iter(zoo.data.load(name, 4, split, with_labels=with_labels)))
    x, y = batch if with_labels else (batch, None)
    assert x.dtype == tf.float32 and x.shape == (4,) + shape
    assert -1.0 <= x.numpy().min() and x.numpy().max() <= 1.0
    assert x.numpy().std() > 0.1  # mocked pixels are random, so they must stay spread out
    if with_labels:
        assert y.dtype == tf.int32 and y.shape == (4,)
        assert 0 <= y.numpy().min() and y.numpy().max() < zoo.data.info(name).num_classes


def test_tfds_split_and_dataset_names(monkeypatch):
    calls = []
    real_load = tfds.load

    def spy(name, **kwargs):
        calls.append((name, kwargs["split"]))
        return real_load(name, **kwargs)

    monkeypatch.setattr(tfds, "load", spy)
    with tfds.testing.mock_data(num_examples=4):
        for name, split in [("stl10", "train"), ("imagenet32", "test"), ("imagenet32", "train"),
                            ("celeb_a", "test")]:
            zoo.data.load(name, 2, split)
    assert calls == [("stl10", "unlabelled"), ("imagenet_resized/32x32", "validation"),
                     ("imagenet_resized/32x32", "train"), ("celeb_a", "test")]


@pytest.mark.parametrize("name", ["mnist", "celeb_a", "stl10"])
def test_image_size_overrides_any_image_dataset(name):
    with tfds.testing.mock_data(num_examples=4):
        x = next(iter(zoo.data.load(name, 2, image_size=20)))
    assert x.shape == (2, 20, 20, zoo.data.info(name).shape[-1])


def test_labels_of_unlabelled_data_are_refused():
    with pytest.raises(ValueError, match="celeb_a.*no class labels"):
        zoo.data.load("celeb_a", 2, with_labels=True)
    with pytest.raises(ValueError, match="stl10.*no class labels"):
        zoo.data.load("stl10", 2, "train", with_labels=True)


def _request(**overrides) -> LoadRequest:
    fields = dict(batch_size=2, split="train", shuffle=False, seed=0, with_labels=False,
                  image_size=None, repeat=False)
    fields.update(overrides)
    return LoadRequest(**fields)


def test_pipeline_maps_pixels_to_unit_range_and_center_crops():
    pixels = np.array([0, 255, 51], np.uint8).reshape(3, 1, 1, 1) * np.ones((3, 4, 4, 1), np.uint8)
    ds = images.image_pipeline(tf.data.Dataset.from_tensor_slices(pixels), _request(batch_size=3),
                               out_shape=(4, 4, 1))
    (x,) = list(ds.as_numpy_iterator())
    np.testing.assert_allclose(x[:, 0, 0, 0], [-1.0, 1.0, 51 / 127.5 - 1.0], atol=1e-6)

    face = np.zeros((1, 218, 178, 3), np.uint8)  # white 160x160 centre in a black frame
    face[:, 29:189, 9:169] = 255
    ds = images.image_pipeline(tf.data.Dataset.from_tensor_slices(face), _request(batch_size=1),
                               out_shape=(64, 64, 3), crop=images.CELEBA_CROP)
    (x,) = list(ds.as_numpy_iterator())
    assert x.shape == (1, 64, 64, 3)
    np.testing.assert_allclose(x, 1.0, atol=1e-5)  # the crop kept exactly the white centre


def test_a_dataset_not_prepared_offline_fails_at_once_naming_how_to_get_it(tmp_path,
                                                                          monkeypatch):
    """TFDS would retry its download for minutes without a network; the zoo asks first."""
    from zoo.data import images

    monkeypatch.setattr(images, "host_reachable", lambda address, timeout=3.0: False)
    started = time.time()
    with pytest.raises(ValueError, match=r"'mnist' is not prepared in .* `tfds build mnist`"):
        zoo.data.load("mnist", 2, data_dir=str(tmp_path))
    assert time.time() - started < 10
    with pytest.raises(ValueError, match="download=False"):
        zoo.data.load("mnist", 2, data_dir=str(tmp_path), download=False)
