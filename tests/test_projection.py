"""The projection GAN: D's logit against eq. (3) in numpy, conditional BN's 1 + gamma(y) gain,
the defaults, a tiny command-line run on labelled Fashion-MNIST that learns, and its export
served with labels."""
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import classifier_distances, serve, train_from_command_line, untrained_and_trained
from zoo import data
from zoo.metrics.images import reference_images
from zoo.models import build
from zoo.networks import conditional_bn, projection, resnet, spectral

TINY = dict(width=16, d_width=16, latent_dim=32, batch_size=32)
# The trained run: 16x16 images (G 4 -> 8 -> 16; D 16 -> 8 -> 4), n_dis = 5.
RUN = dict(TINY, image_size=16)
STEPS = 50


def layers_of(model, kind):
    return [layer for layer in model._flatten_layers() if isinstance(layer, kind)]


def numpy_batch_norm(x, epsilon=1e-3):
    """(x - mu_B) / sqrt(sigma_B^2 + eps) over the batch and positions, per channel."""
    mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    return (x - mean) / np.sqrt(var + epsilon)


# ------------------------------------------------------------------ the defining pieces
def test_logit_is_psi_of_phi_plus_y_v_phi():
    """Eq. (3), f(x, y) = y^T V phi(x) + psi(phi(x)), from D's phi and its normalised psi
    and V in numpy."""
    keras.utils.set_random_seed(0)
    d = resnet.discriminator(16, 1, 8, num_classes=10)
    images = tf.random.stateless_uniform([6, 16, 16, 1], [0, 1], -1, 1).numpy()
    labels = np.array([0, 3, 3, 9, 5, 1], np.int32)
    for _ in range(3):  # a few training calls: u (and so W / sigma) move away from their init
        d([images, labels], training=True)
    phi = keras.Model(d.inputs[0], d.get_layer("features").output)(images).numpy()
    (head,) = layers_of(d, projection.ClassProjection)
    psi = next(layer for layer in layers_of(d, spectral.SpectralNormalization)
               if layer.layer.name == "logit")
    v = np.asarray(head.class_embeddings())
    assert v.shape == (10, 8)
    expected = (phi @ np.asarray(psi.normalized_kernel()) + psi.layer.bias.numpy()
                + np.sum(v[labels] * phi, axis=1, keepdims=True))
    logits = d([images, labels], training=False).numpy()
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4)
    # The label moves the logit by exactly (v_y' - v_y)^T phi(x).
    other = (labels + 1) % 10
    np.testing.assert_allclose(d([images, other]).numpy() - logits,
                               np.sum((v[other] - v[labels]) * phi, axis=1, keepdims=True),
                               rtol=1e-4, atol=1e-4)
    assert np.abs(np.sum((v[other] - v[labels]) * phi, axis=1)).min() > 1e-3
    # V is spectrally normalised: its largest singular value is 1.
    assert np.linalg.svd(v, compute_uv=False)[0] == pytest.approx(1.0, abs=1e-2)


def test_conditional_bn_gain_is_one_plus_gamma():
    """Zero-initialised, CBN is Keras's BatchNormalization(); with gamma(y), beta(y) set, it is
    (1 + gamma(y)) * BN(x) + beta(y), in training and at inference."""
    x = tf.random.stateless_normal([8, 3, 3, 4], [1, 2]).numpy() * 2.0 + 0.5
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1], np.int32)
    one_hot = np.eye(3, dtype=np.float32)[labels]
    layer = conditional_bn.ConditionalBatchNormalization()
    plain = keras.layers.BatchNormalization()
    np.testing.assert_allclose(layer([x, one_hot], training=True), plain(x, training=True),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer([x, one_hot]), plain(x), rtol=1e-5, atol=1e-5)
    gamma = np.array([[0.5, -1.0, 2.0, 0.0], [0.0, 0.3, -0.5, 1.0], [-0.9, 0.0, 0.0, 3.0]],
                     np.float32)
    beta = np.arange(12, dtype=np.float32).reshape(3, 4) / 4.0
    layer.gamma.kernel.assign(gamma)
    layer.beta.kernel.assign(beta)
    gain, bias = (1.0 + gamma[labels])[:, None, None], beta[labels][:, None, None]
    np.testing.assert_allclose(layer([x, one_hot], training=True),
                               gain * numpy_batch_norm(x) + bias, rtol=1e-4, atol=1e-4)
    mean, var = (w.numpy() for w in layer.normalize.non_trainable_weights)  # moving stats
    np.testing.assert_allclose(layer([x, one_hot]),
                               gain * (x - mean) / np.sqrt(var + 1e-3) + bias,
                               rtol=1e-4, atol=1e-4)
    # gamma(y) alone as the gain (the parameterisation 1 + gamma avoids) is another function.
    assert np.abs(gamma[labels][:, None, None] * numpy_batch_norm(x) + bias
                  - layer([x, one_hot], training=True).numpy()).max() > 0.5


def test_networks_are_conditional_where_the_papers_put_it():
    model = build("projection", data.info("fashion_mnist"), dict(TINY))
    g, d = model.generator, model.discriminator
    assert [t.name for t in g.inputs] == ["z", "labels"]
    assert [t.name for t in d.inputs] == ["x", "labels"]
    cbns = layers_of(g, conditional_bn.ConditionalBatchNormalization)
    assert len(cbns) == 6  # two per up-block at 32x32
    assert all(not layer.spectral_norm and layer.gamma.kernel.shape == (10, layer.gamma.units)
               for layer in cbns)
    # The last BN, before the output convolution, is unconditional.
    (last_bn,) = [layer for layer in g.layers if type(layer) is keras.layers.BatchNormalization]
    assert last_bn.output.shape[-1] == TINY["width"]
    (head,) = layers_of(d, projection.ClassProjection)
    assert head.spectral_norm and not layers_of(g, spectral.SpectralNormalization)
    clone = type(model).from_config(model.get_config())  # the custom layers serialise
    clone.set_weights(model.get_weights())
    z, labels = tf.random.stateless_normal([3, 32], [0, 0]), tf.constant([1, 2, 3])
    np.testing.assert_array_equal(clone.generator([z, labels]), g([z, labels]))


def test_projection_defaults_and_bad_inputs():
    model = build("projection", data.info("fashion_mnist"), dict(TINY))
    config = model.config
    assert (config["loss"], config["d_steps"], config["learning_rate"], config["beta_1"],
            config["beta_2"], config["image_size"], config["num_classes"]) == (
        "hinge", 5, 2e-4, 0.0, 0.9, 32, 10)
    assert model.conditional and set(model.sample_extras) == {"labels"}
    with pytest.raises(ValueError, match="projection needs an image dataset; 'ring8' is a "
                                         "mixture"):
        build("projection", data.info("ring8"))
    with pytest.raises(ValueError, match="projection needs a dataset with class labels; "
                                         "'celeb_a' has none"):
        build("projection", data.info("celeb_a"))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 10\), got values from 0 to 10"):
        model.generate(2, labels=[0, 10])
    with pytest.raises(ValueError, match="num_classes must be a positive integer, got 0"):
        projection.ClassProjection(0)


# ------------------------------------------------------- a tiny run: learns, serves
@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """STEPS steps of the command line on labelled Fashion-MNIST at 16x16 (exported)."""
    run_dir = str(tmp_path_factory.mktemp("projection"))
    train_from_command_line("projection", run_dir, STEPS, RUN)
    return run_dir


@pytest.fixture(scope="module")
def models(run):
    return untrained_and_trained(run)


def test_projection_learns_fashion_mnist_and_its_labels(run, models):
    """Measured (50 steps at 16x16, seed 0; 500 samples, 50 of each label, against 2,000 test
    images): FCD 64.5 -> 42.9. G's conditional BNs start at zero, so the untrained G ignores
    the label; trained on (image, label) batches, the same z gives another image per label."""
    with open(os.path.join(run, "config.json")) as handle:
        assert json.load(handle)["config"]["model"]["num_classes"] == 10
    untrained, trained = models
    real = reference_images("fashion_mnist", image_size=RUN["image_size"])[:2000]
    before, after = classifier_distances((untrained, trained), real, seed=1,
                                         labels=np.repeat(np.arange(10), 50))
    z = tf.random.stateless_normal([10, RUN["latent_dim"]], [2, 3])
    spread = [float(np.abs(model.generator([z, tf.range(10)], training=False)
                           - model.generator([z, tf.zeros(10, tf.int32)], training=False)).max())
              for model in (untrained, trained)]
    print(f"projection: FCD {before:.1f} -> {after:.1f}; largest change of a pixel with the "
          f"label {spread[0]:.3f} -> {spread[1]:.3f}")
    assert after < 0.8 * before, (before, after)
    assert spread[0] == 0.0 and spread[1] > 0.05, spread


def test_projection_exports_and_serves_labels(run, models):
    base = os.path.join(run, "export", "projection_fashion_mnist")
    loaded = tf.saved_model.load(os.path.join(base, "1"))
    assert set(loaded.signatures["sample"].structured_input_signature[1]) == {"seed", "labels"}
    assert set(loaded.signatures["serving_default"].structured_input_signature[1]) == {
        "z", "labels"}
    seeds, labels = [3, 3, 4], [1, 7, 1]
    with serve(base, "proj") as predict:
        body = {"signature_name": "sample",
                "instances": [{"seed": s, "labels": y} for s, y in zip(seeds, labels)]}
        code, reply = predict(body)
        assert code == 200, reply
        body["instances"][0]["labels"] = 10
        bad_code, bad_reply = predict(body)
    images = np.array([p["images"] for p in reply["predictions"]], np.float32)
    assert images.shape == (3, 16, 16, 1)
    expected = models[1].sample_from_seeds(tf.constant(seeds, tf.int64),
                                           labels=tf.constant(labels))
    np.testing.assert_allclose(images, expected, atol=1e-5)
    assert np.abs(images[0] - images[1]).mean() > 1e-3  # same seed, another label
    assert bad_code == 400 and "labels must be < num_classes" in bad_reply["error"], bad_reply
