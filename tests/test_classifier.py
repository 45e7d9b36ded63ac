"""Tests of the feature extractors: the shipped Fashion-MNIST classifier and Inception-v3."""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from zoo.classifiers import fashion_mnist, inception_v3
from zoo.metrics.images import reference_images
from zoo.pretrained.checksum import ChecksumError, sha256_of


@pytest.fixture(scope="module")
def classifier():
    return fashion_mnist.load()


def test_shipped_record_states_seed_accuracy_and_checksum():
    with open(fashion_mnist.record_path(fashion_mnist.WEIGHTS)) as handle:
        record = json.load(handle)
    assert record["sha256"] == sha256_of(fashion_mnist.WEIGHTS)
    assert record["size"] == os.path.getsize(fashion_mnist.WEIGHTS) < 2_000_000
    assert record["seed"] == 0 and record["test_accuracy"] >= 0.90
    assert record["command"].startswith("python -m zoo.classifiers.train_fashion_mnist")


def test_test_accuracy_is_at_least_90_percent_and_as_recorded(classifier):
    import zoo.data

    images = reference_images("fashion_mnist", "test")
    labels = np.concatenate([np.asarray(y) for _, y in zoo.data.load(
        "fashion_mnist", batch_size=500, split="test", with_labels=True, repeat=False,
        shuffle=False)])
    accuracy = float(np.mean(np.argmax(classifier.logits(images), axis=1) == labels))
    assert len(labels) == 10_000 and accuracy >= 0.90
    assert accuracy == pytest.approx(classifier.description()["test_accuracy"], abs=5e-4)


def test_features_are_the_penultimate_activations(classifier):
    images = reference_images("fashion_mnist", "test")[:16]
    features, logits = classifier.features_and_logits(images)
    assert features.shape == (16, 128) and logits.shape == (16, 10)
    assert np.all(features >= 0.0)  # ReLU
    kernel, bias = classifier.network.get_layer("logits").get_weights()
    np.testing.assert_allclose(features @ kernel + bias, logits, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(classifier.features(images), features)


def test_classifier_rejects_other_image_shapes(classifier):
    with pytest.raises(ValueError, match=r"\[N, 28, 28, 1\]"):
        classifier.logits(np.zeros((2, 32, 32, 3), np.float32))


def copy_weights(tmp_path) -> str:
    weights = str(tmp_path / "fashion_mnist.weights.h5")
    shutil.copy(fashion_mnist.WEIGHTS, weights)
    shutil.copy(fashion_mnist.record_path(fashion_mnist.WEIGHTS),
                fashion_mnist.record_path(weights))
    return weights


def test_altered_weights_are_refused(tmp_path):
    weights = copy_weights(tmp_path)
    with open(weights, "r+b") as handle:
        handle.seek(os.path.getsize(weights) // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ChecksumError, match="does not match"):
        fashion_mnist.load(weights)


def test_truncated_weights_are_refused(tmp_path):
    weights = copy_weights(tmp_path)
    with open(weights, "r+b") as handle:
        handle.truncate(1000)
    with pytest.raises(ChecksumError, match="1000 bytes"):
        fashion_mnist.load(weights)


def test_missing_weights_say_how_to_train_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="train_fashion_mnist"):
        fashion_mnist.load(str(tmp_path / "none.weights.h5"))


def test_inception_without_weights_says_how_to_provide_them(monkeypatch, tmp_path):
    monkeypatch.delenv(inception_v3.WEIGHTS_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match=f"{inception_v3.WEIGHTS_ENV} is unset"):
        inception_v3.load()
    monkeypatch.setenv(inception_v3.WEIGHTS_ENV, str(tmp_path / "missing.h5"))
    with pytest.raises(FileNotFoundError, match="not a file.*Nothing is downloaded"):
        inception_v3.load()
    with pytest.raises(FileNotFoundError, match=inception_v3.WEIGHTS_FILE):
        inception_v3.load(str(tmp_path / "missing.h5"))


def test_inception_preprocessing_tiles_grey_and_resizes_bilinearly():
    ramp = np.linspace(-1.0, 1.0, 4, dtype=np.float32)
    images = np.stack([np.broadcast_to(ramp[None, :, None], (4, 4, 1)),
                       np.full((4, 4, 1), 0.5, np.float32)])
    out = inception_v3.preprocess(tf.constant(images), size=8).numpy()
    assert out.shape == (2, 8, 8, 3)
    np.testing.assert_array_equal(out[..., 0], out[..., 2])
    np.testing.assert_allclose(out[1], 0.5, atol=1e-6)
    # Half-pixel centres: output column j samples input x = (j + 0.5) / 2 - 0.5, clamped.
    x = np.clip((np.arange(8) + 0.5) / 2 - 0.5, 0, 3)
    np.testing.assert_allclose(out[0, 3, :, 1], np.interp(x, np.arange(4), ramp), atol=1e-6)


def test_inception_plumbing_with_a_local_weights_file(monkeypatch, tmp_path):
    """Untrained weights saved to a file stand in for the ImageNet file (input 75x75: cheap)."""
    from zoo.metrics import frechet_distance, inception_scores

    untrained = inception_v3.load(weights=None, input_size=75)
    assert untrained.description()["weights_sha256"] is None
    weights = str(tmp_path / "inception.weights.h5")
    untrained.network.save_weights(weights)
    monkeypatch.setenv(inception_v3.WEIGHTS_ENV, weights)
    extractor = inception_v3.load(input_size=75)
    assert extractor.description()["weights_sha256"] == sha256_of(weights)
    rng = np.random.default_rng(0)
    fake = rng.uniform(-1, 1, (12, 28, 28, 1)).astype(np.float32)
    real = rng.uniform(-1, 1, (12, 28, 28, 1)).astype(np.float32)
    for ours, theirs in zip(extractor.network.weights, untrained.network.weights):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    features, logits = extractor.features_and_logits(fake)  # one batch shape: one trace
    assert features.shape == (12, 2048) and logits.shape == (12, 1000)
    scores = inception_scores(fake, real, extractor=extractor)
    assert scores["fid"] == pytest.approx(frechet_distance(extractor.features(real), features),
                                          rel=1e-6)
    assert scores["protocol"]["feature_extractor"]["resizing"].endswith("to 75x75")
