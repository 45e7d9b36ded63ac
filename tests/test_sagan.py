"""SAGAN: the self-attention layer against numpy (eqs. 1-3), its defaults (SN in G and D,
TTUR, attention at a middle resolution), and the model learning Fashion-MNIST at 32x32,
exported and served."""
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import classifier_distances, serve, train_and_export, untrained_and_trained
from zoo import data
from zoo.metrics.images import reference_images
from zoo.models import build
from zoo.networks import attention, spectral

TINY = dict(width=16, d_width=16, latent_dim=32, batch_size=32)
# The trained run: 16x16 images, attention at 8x8 (G 4 -> 8 -> 16; D 16 -> 8 -> 4).
RUN = dict(TINY, image_size=16, attention_resolution=8)
STEPS = 200


def layers_of(model, kind):
    return [layer for layer in model._flatten_layers() if isinstance(layer, kind)]


def numpy_attention(layer, x):
    """(beta, y) of eqs. (1)-(3) from the layer's spectrally normalised 1x1 kernels."""
    batch, height, width, channels = x.shape
    kernel = {name: np.asarray(getattr(layer, name).normalized_kernel())[0, 0]
              for name in "fghv"}
    flat = x.reshape(batch, height * width, channels)
    fx, gx, hx = (flat @ kernel[name] for name in "fgh")
    scores = np.einsum("bjc,bic->bji", gx, fx)  # s_ij = f(x_i)^T g(x_j), at [b, j, i]
    beta = np.exp(scores - scores.max(-1, keepdims=True))
    beta /= beta.sum(-1, keepdims=True)  # softmax over i, eq. (1)
    o = (beta @ hx) @ kernel["v"]  # eq. (2)
    y = float(layer.gamma.numpy()) * o + flat  # eq. (3)
    return beta, y.reshape(x.shape)


def test_attention_with_gamma_zero_is_the_identity():
    keras.utils.set_random_seed(0)
    layer = attention.SelfAttention()
    x = tf.random.stateless_normal([2, 4, 4, 16], [0, 1]) * 3.0
    assert float(layer(x, training=True).numpy().std()) > 0  # built
    assert float(layer.gamma.numpy()) == 0.0 and layer.gamma.trainable
    np.testing.assert_array_equal(layer(x, training=True), x)
    np.testing.assert_array_equal(layer(x), x)


def test_attention_map_rows_sum_to_one_and_the_layer_is_eqs_1_to_3():
    keras.utils.set_random_seed(1)
    layer = attention.SelfAttention()
    x = tf.random.stateless_normal([2, 4, 3, 16], [2, 3])
    layer.build(x.shape)
    assert layer.key_channels == 2  # C / 8
    layer.gamma.assign(0.7)
    beta = layer.attention_map(x).numpy()
    assert beta.shape == (2, 12, 12) and (beta >= 0).all()
    np.testing.assert_allclose(beta.sum(-1), 1.0, rtol=1e-5)
    assert np.abs(beta.sum(-2) - 1.0).max() > 0.05  # over positions i, not j
    expected_beta, expected_y = numpy_attention(layer, x.numpy())
    np.testing.assert_allclose(beta, expected_beta, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(layer(x), expected_y, rtol=1e-4, atol=1e-5)
    assert np.abs(expected_y - x.numpy()).max() > 0.01


def test_sagan_defaults_sn_everywhere_attention_at_16_and_ttur():
    model = build("sagan", data.info("fashion_mnist"), dict(TINY))
    config = model.config
    assert (config["loss"], config["d_steps"], config["beta_1"], config["beta_2"],
            config["image_size"], config["attention_resolution"]) == ("hinge", 1, 0.0, 0.9, 32, 16)
    d_opt, g_opt = model.default_optimizers()
    assert float(d_opt.learning_rate) == pytest.approx(4e-4)
    assert float(g_opt.learning_rate) == pytest.approx(1e-4)
    for network in (model.generator, model.discriminator):
        (layer,) = layers_of(network, attention.SelfAttention)
        assert tuple(layer.input.shape[1:3]) == (16, 16)
        kernels = [k for k in layers_of(network, keras.layers.Layer) if hasattr(k, "kernel")
                   and not isinstance(k, spectral.SpectralNormalization)]
        assert len(layers_of(network, spectral.SpectralNormalization)) == len(kernels) > 10
    clone = type(model).from_config(model.get_config())  # the custom layers serialise
    clone.set_weights(model.get_weights())
    z = tf.random.stateless_normal([2, TINY["latent_dim"]], [0, 0])
    np.testing.assert_array_equal(clone.generator(z), model.generator(z))
    with pytest.raises(ValueError, match="attention_resolution 12 is not a resolution of the "
                                         "generator's blocks; valid: \\[8, 16, 32\\]"):
        build("sagan", data.info("fashion_mnist"), dict(TINY, attention_resolution=12))
    with pytest.raises(ValueError, match="key_reduction must be a positive integer, got 0"):
        attention.SelfAttention(key_reduction=0)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny SAGAN on Fashion-MNIST at 16x16 (exported): (run_dir, result)."""
    run_dir = str(tmp_path_factory.mktemp("sagan"))
    result = train_and_export("sagan", "fashion_mnist", run_dir, steps=STEPS, overrides=RUN,
                              verbose=0, final_metrics=False)
    return run_dir, result


@pytest.fixture(scope="module")
def models(run):
    return untrained_and_trained(run[0])


def test_sagan_learns_fashion_mnist_and_to_attend(models):
    """Measured (200 steps at 16x16, seed 0; 500 samples against 2,000 test images): FCD
    218.8 -> 135.9; gamma 0 -> 0.010 in G, -0.029 in D."""
    untrained, trained = models
    real = reference_images("fashion_mnist", image_size=RUN["image_size"])[:2000]
    before, after = classifier_distances((untrained, trained), real)
    gammas = [float(layers_of(network, attention.SelfAttention)[0].gamma.numpy())
              for network in (trained.generator, trained.discriminator)]
    print(f"sagan: FCD {before:.1f} -> {after:.1f}; gamma in G, D: {gammas}")
    assert after < 0.8 * before, (before, after)
    assert min(abs(g) for g in gammas) > 1e-3, gammas


def test_sagan_exports_and_serves_sample(run, models):
    run_dir, result = run
    base = os.path.join(run_dir, "export", "sagan_fashion_mnist")
    assert result.export_path == os.path.join(base, "1")
    seeds = [2, 7, 2]
    with serve(base, "sagan") as predict:
        code, body = predict({"signature_name": "sample", "instances": seeds})
    assert code == 200, body
    images = np.array([p["images"] for p in body["predictions"]], np.float32)
    assert images.shape == (3, 16, 16, 1)
    np.testing.assert_array_equal(images[0], images[2])
    expected = models[1].sample_from_seeds(tf.constant(seeds, tf.int64))
    np.testing.assert_allclose(images, expected, atol=1e-5)
