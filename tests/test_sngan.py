"""SNGAN: spectral normalization's math and persistent power iteration, the ResNets of
Miyato et al.'s Table 4, the model learning Fashion-MNIST at 32x32, and its export served."""
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import classifier_distances, serve, train_and_export, untrained_and_trained
from zoo import data, losses
from zoo.metrics.images import reference_images
from zoo.models import build
from zoo.networks import resnet, spectral

TINY = dict(width=16, d_width=16, latent_dim=32, batch_size=32)
# The trained run: 16x16 images (G 4 -> 8 -> 16; D 16 -> 8 -> 4), to keep CPU time small.
RUN = dict(TINY, image_size=16)
STEPS = 100


def spectral_layers(model):
    return [layer for layer in model._flatten_layers()
            if isinstance(layer, spectral.SpectralNormalization)]


def top_singular(matrix):
    u, s, vt = np.linalg.svd(matrix)
    return s[0], u[:, 0], vt[0]


@pytest.mark.parametrize("layer,input_shape", [
    (keras.layers.Dense(5), (7, 6)),
    (keras.layers.Conv2D(7, 3, padding="same"), (2, 6, 6, 4))])
def test_spectral_norm_bounds_the_largest_singular_value(layer, input_shape):
    keras.utils.set_random_seed(0)
    wrapped = spectral.SpectralNormalization(layer)
    wrapped.build(input_shape)
    layer.kernel.assign(layer.kernel * 10.0)
    layer.bias.assign(tf.range(layer.bias.shape[0], dtype=tf.float32))
    raw = layer.kernel.numpy().copy()
    units = raw.shape[-1]
    sigma = top_singular(raw.reshape(-1, units))[0]
    assert sigma > 3
    x = tf.random.stateless_normal(input_shape, [1, 2])
    # One power iteration per training call; u converges like (sigma_2 / sigma_1)^(2 calls),
    # and for these random kernels that ratio can be ~0.95: 50 calls left sigma 0.8% low.
    for _ in range(200):
        wrapped(x, training=True)
    normalized = np.asarray(wrapped.normalized_kernel())
    # The [-1, out] matrix of W / sigma(W): largest singular value 1, numpy's sigma exactly.
    assert top_singular(normalized.reshape(-1, units))[0] == pytest.approx(1.0, abs=1e-4)
    np.testing.assert_allclose(normalized, raw / sigma, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(layer.kernel.numpy(), raw)  # the variable keeps W itself
    if isinstance(layer, keras.layers.Dense):
        expected = x.numpy() @ (raw / sigma) + layer.bias.numpy()
    else:
        expected = tf.nn.conv2d(x, raw / sigma, 1, "SAME").numpy() + layer.bias.numpy()
    np.testing.assert_allclose(wrapped(x), expected, rtol=1e-4, atol=1e-5)


def test_gradient_is_eq_12_not_the_keras_projection():
    """dV/dW = (dV/dW_SN - <dV/dW_SN, W_SN> u1 v1^T) / sigma (paper orientation, W [out, in])."""
    keras.utils.set_random_seed(3)
    x = tf.random.stateless_normal([5, 4], [3, 4])
    weights = tf.random.stateless_normal([5, 3], [5, 6])

    def kernel_gradient(wrapper):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(wrapper(x, training=True) * weights)
        return tape.gradient(loss, wrapper.layer.kernel).numpy()

    ours = spectral.SpectralNormalization(keras.layers.Dense(3), power_iterations=100)
    ours.build(x.shape)
    w = ours.layer.kernel.numpy().T  # [out, in]
    sigma, u1, v1 = top_singular(w)
    g_sn = weights.numpy().T @ x.numpy()  # dV/dW_SN for y = W_SN x
    lam = np.sum(g_sn * w / sigma)
    expected = (g_sn - lam * np.outer(u1, v1)) / sigma
    np.testing.assert_allclose(kernel_gradient(ours).T, expected, rtol=1e-3, atol=1e-4)
    # Keras's layer writes W / sigma into the kernel and differentiates that variable:
    # dV/dW_SN alone, without eq. (12)'s second term.
    theirs = keras.layers.SpectralNormalization(keras.layers.Dense(3), power_iterations=100)
    theirs.build(x.shape)
    theirs.layer.kernel.assign(w.T)
    projected = kernel_gradient(theirs).T
    np.testing.assert_allclose(projected, g_sn, rtol=1e-4)
    assert np.abs(projected - expected).max() > 0.1


def test_power_iteration_vector_persists_between_calls():
    keras.utils.set_random_seed(1)
    wrapped = spectral.SpectralNormalization(keras.layers.Dense(4))
    wrapped.build((None, 6))
    assert [w.path for w in wrapped.non_trainable_weights] == [wrapped.vector_u.path]
    w = wrapped.layer.kernel.numpy()  # [in, out]

    def iterate(u):
        v = u @ w.T
        v /= np.linalg.norm(v)
        u = v @ w
        return u / np.linalg.norm(u)

    x = tf.ones([2, 6])
    u0 = wrapped.vector_u.numpy().copy()
    wrapped(x, training=True)
    u1 = wrapped.vector_u.numpy().copy()
    np.testing.assert_allclose(u1, iterate(u0), rtol=1e-4, atol=1e-6)
    wrapped(x, training=False)  # inference reads u without storing a new one
    np.testing.assert_array_equal(wrapped.vector_u.numpy(), u1)
    wrapped(x, training=True)  # the next step continues from the stored u
    np.testing.assert_allclose(wrapped.vector_u.numpy(), iterate(u1), rtol=1e-4, atol=1e-6)


def test_table4_networks_have_the_papers_sizes_and_sn_on_every_layer_of_d():
    g = resnet.generator(128, 32, 3, 256)
    d = resnet.discriminator(32, 3, 128)
    assert tuple(g.output.shape) == (None, 32, 32, 3) and tuple(d.output.shape) == (None, 1)
    # By hand: G dense 128 -> 4x4x256; 3 up-blocks of (BN, 3x3, BN, 3x3, 1x1 shortcut), each
    # BN with 4 numbers per channel (2 trained, 2 moving statistics); BN, 3x3 conv.
    block = 2 * 4 * 256 + 2 * (9 * 256 * 256 + 256) + (256 * 256 + 256)
    assert g.count_params() == (128 * 4096 + 4096) + 3 * block + 4 * 256 + (9 * 256 * 3 + 3) \
        == 4_280_323
    # D: first block 3 -> 128 (+ 1x1 shortcut), down-block 128, 2 plain blocks, dense 128 -> 1.
    conv = 9 * 128 * 128 + 128
    trainable = ((9 * 3 * 128 + 128) + conv + (3 * 128 + 128)) + (2 * conv + 128 * 128 + 128) \
        + 2 * 2 * conv + 129
    assert sum(int(np.prod(v.shape)) for v in d.trainable_variables) == trainable == 1_053_825
    kernels = [layer for layer in d._flatten_layers() if hasattr(layer, "kernel")]
    assert len(spectral_layers(d)) == 11 == len([k for k in kernels if not
                                                  isinstance(k, spectral.SpectralNormalization)])
    assert not spectral_layers(g)


def test_sngan_defaults_and_bad_inputs():
    model = build("sngan", data.info("fashion_mnist"), dict(TINY))
    config = model.config
    assert (config["loss"], config["d_steps"], config["learning_rate"], config["beta_1"],
            config["beta_2"], config["image_size"]) == ("hinge", 5, 2e-4, 0.0, 0.9, 32)
    assert tuple(model.generator.output.shape) == (None, 32, 32, 1)
    d_opt, g_opt = model.default_optimizers()
    assert float(d_opt.learning_rate) == float(g_opt.learning_rate) == pytest.approx(2e-4)
    with pytest.raises(ValueError, match="sngan needs an image dataset; 'ring8' is a mixture"):
        build("sngan", data.info("ring8"))
    with pytest.raises(ValueError, match="image_size 30 cannot be halved 2 times"):
        resnet.discriminator(30, 1, 8, down_blocks=2)
    with pytest.raises(ValueError, match="attention_resolution"):
        build("sngan", data.info("fashion_mnist"), dict(TINY, attention_resolution=16))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny SNGAN on Fashion-MNIST at 16x16, n_dis = 5 (exported): (run_dir, result)."""
    run_dir = str(tmp_path_factory.mktemp("sngan"))
    result = train_and_export("sngan", "fashion_mnist", run_dir, steps=STEPS, overrides=RUN,
                              verbose=0, final_metrics=False)
    return run_dir, result


@pytest.fixture(scope="module")
def models(run):
    return untrained_and_trained(run[0])


def test_sngan_learns_fashion_mnist(models):
    """Measured (100 steps at 16x16, seed 0; 500 samples against 2,000 test images): FCD
    152.7 -> 114.1; D's hinge loss on 500 real and 500 generated images 3.89 -> 1.02."""
    untrained, trained = models
    real = reference_images("fashion_mnist", image_size=RUN["image_size"])[:2000]
    before, after = classifier_distances((untrained, trained), real)
    hinge = losses.get("hinge").discriminator
    untrained_loss, trained_loss = (
        float(hinge(m.discriminator(real[:500]), m.discriminator(m.generate(500, seed=1))))
        for m in (untrained, trained))
    print(f"sngan: FCD {before:.1f} -> {after:.1f}; D's hinge loss {untrained_loss:.3f} -> "
          f"{trained_loss:.3f}")
    assert after < 0.85 * before, (before, after)
    assert trained_loss < untrained_loss - 1.0, (untrained_loss, trained_loss)


def test_power_iteration_vectors_are_trained_and_checkpointed(models):
    """After training (one power iteration per D call, u carried across steps) every D layer's
    W / sigma has its largest singular value within 3% of 1 (measured: 1.000-1.016; the
    top two singular values of the 3x3 convs are within 1-3% of each other, so u itself
    need not align with the first singular vector). u comes back from the run's checkpoint:
    a model freshly built from the same seed has its initial u."""
    fresh, trained = (spectral_layers(model.discriminator) for model in models)
    assert len(trained) == len(fresh) == 11
    tops = []
    for layer, initial in zip(trained, fresh):
        assert not np.allclose(layer.vector_u.numpy(), initial.vector_u.numpy(), atol=1e-3)
        normalized = np.asarray(layer.normalized_kernel())
        tops.append(top_singular(normalized.reshape(-1, normalized.shape[-1]))[0])
    print("sngan: largest singular value of each D layer's W / sigma:", np.round(tops, 4))
    assert 0.999 < min(tops) and max(tops) < 1.03, tops


def test_sngan_exports_and_serves_sample(run, models):
    run_dir, result = run
    base = os.path.join(run_dir, "export", "sngan_fashion_mnist")
    assert result.export_path == os.path.join(base, "1")
    seeds = [3, 1, 4, 1]
    with serve(base, "sngan") as predict:
        code, body = predict({"signature_name": "sample", "instances": seeds})
    assert code == 200, body
    images = np.array([p["images"] for p in body["predictions"]], np.float32)
    assert images.shape == (4, 16, 16, 1)
    np.testing.assert_array_equal(images[1], images[3])
    expected = models[1].sample_from_seeds(tf.constant(seeds, tf.int64))
    np.testing.assert_allclose(images, expected, atol=1e-5)
