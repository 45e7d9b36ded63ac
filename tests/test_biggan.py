"""BigGAN at small scale: orthogonal regularization against numpy, the truncation trick, the
shared embedding and hierarchical latent, the defaults, and a tiny command-line run on labelled
Fashion-MNIST that learns, truncates monotonically, and serves `labels` and `truncation`."""
import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from conftest import (classifier_distances, serve, train_from_command_line,
                      untrained_and_trained)
from zoo import data, losses, trainer
from zoo.metrics.images import reference_images
from zoo.models import build
from zoo.models.biggan import checked_truncation, truncate
from zoo.networks import conditional_bn, spectral

# 16x16 images: G 4 -> 8 -> 16, so z of 24 in 3 chunks of 8 (the dense layer's and 2 blocks').
TINY = dict(width=16, d_width=16, latent_dim=24, shared_embedding=16, batch_size=32,
            image_size=16)
# The trained run: G at D's rate and an average over ~10 steps, for a 150-step run.
RUN = dict(TINY, g_learning_rate=4e-4, generator_ema=0.9)
STEPS = 150


def layers_of(model, kind):
    return [layer for layer in model._flatten_layers() if isinstance(layer, kind)]


def numpy_orthogonal_penalty(kernels, beta):
    total = 0.0
    for kernel in kernels:
        w = np.asarray(kernel, np.float64).reshape(-1, kernel.shape[-1])
        gram = w.T @ w
        total += np.sum(gram ** 2) - np.sum(np.diag(gram) ** 2)
    return beta * total


# ------------------------------------------------------------------ the defining pieces
def test_orthogonal_regularization_is_zero_for_orthogonal_filters_and_the_formula_otherwise():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(12, 5)))  # 5 orthonormal columns
    for orthogonal in (q, q * [3.0, 0.5, 1.0, 2.0, 7.0], q.reshape(2, 2, 3, 5)):
        # Filters of any lengths: W^T W is diagonal, which (1 - I) masks.
        assert float(losses.orthogonal_regularization([orthogonal], 1e-4)) == pytest.approx(
            0.0, abs=1e-12)
    w = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 1.0]], np.float32)
    # W^T W = [[1, 2, 0], [2, 5, 1], [0, 1, 1]]: off-diagonal squares 2 (4 + 4 + 1 + 1) = 10.
    assert float(losses.orthogonal_regularization([w], 1e-4)) == pytest.approx(1e-3, rel=1e-6)
    conv = rng.normal(size=(3, 3, 4, 6)).astype(np.float32)
    assert float(losses.orthogonal_regularization([w, conv], 0.5)) == pytest.approx(
        numpy_orthogonal_penalty([w, conv], 0.5), rel=1e-5)


def test_generator_loss_adds_the_penalty_over_gs_kernels_but_not_the_shared_embedding():
    model = build("biggan", data.info("fashion_mnist"), TINY)
    model.compile(*model.default_optimizers())
    shared = model.generator.get_layer("shared_embedding").embeddings
    kernels = model.regularized_kernels
    assert not any(v is shared for v in kernels)
    assert {id(v) for v in kernels} == {id(v) for v in model.generator.trainable_variables
                                        if len(v.shape) >= 2 and v is not shared}
    assert len(kernels) == 16  # dense, 2 x (2 CBN x 2 maps + 2 convs + shortcut), output conv
    expected = numpy_orthogonal_penalty([v.numpy() for v in kernels], 1e-4)
    assert expected > 0 and float(model.orthogonal_penalty()) == pytest.approx(expected,
                                                                               rel=1e-5)
    real = tf.zeros([4, 16, 16, 1])
    loss, logs = model.generator_objective(real, 4, tf.constant([0, 1, 2, 3]))
    assert float(logs["orthogonal_penalty"]) == pytest.approx(expected, rel=1e-5)
    assert float(loss) == pytest.approx(float(logs["g_loss"]) + expected, rel=1e-6)


def test_truncate_draws_the_truncated_normal_and_shrinks_every_coordinate():
    z = tf.random.stateless_normal([200_000], [0, 1])
    np.testing.assert_array_equal(truncate(z, math.inf), z)
    previous = np.zeros(200_000)
    for t in (0.25, 0.5, 1.0, 2.0):
        zt = truncate(z, t).numpy()
        assert np.abs(zt).max() < t
        assert np.all(np.abs(zt) >= previous)  # the same draw, each |z_t| growing with t
        previous = np.abs(zt)
        # The variance of N(0, 1) truncated to [-t, t]: 1 - 2 t phi(t) / (2 Phi(t) - 1).
        variance = 1 - 2 * t * stats.norm.pdf(t) / (2 * stats.norm.cdf(t) - 1)
        assert zt.var() == pytest.approx(variance, rel=0.01)
        assert stats.kstest(zt, stats.truncnorm(-t, t).cdf).pvalue > 0.01
    np.testing.assert_allclose(truncate(z, 30.0), z, atol=1e-5)  # far thresholds: no change
    assert checked_truncation(None) is None and checked_truncation(math.inf) == math.inf
    for bad in (0, -1.0, math.nan, "x"):
        with pytest.raises(ValueError, match=f"truncation must be a threshold > 0 .*got "
                                             f"{bad!r}"):
            checked_truncation(bad)


def test_conditional_bn_on_a_condition_vector_through_spectrally_normalised_maps():
    """BigGAN's CBN: (1 + c W_gamma / sigma) * BN(x) + c W_beta / sigma for c = [e(y), z_k]."""
    keras.utils.set_random_seed(2)
    layer = conditional_bn.ConditionalBatchNormalization(spectral_norm=True)
    x = tf.random.stateless_normal([6, 2, 2, 5], [3, 4]).numpy()
    c = tf.random.stateless_normal([6, 7], [5, 6]).numpy()
    layer([x, c], training=True)  # builds; one power iteration
    gamma, beta = (np.asarray(m.normalized_kernel()) for m in (layer.gamma, layer.beta))
    assert np.linalg.svd(gamma, compute_uv=False)[0] == pytest.approx(1.0, abs=1e-2)
    mean, var = (w.numpy() for w in layer.normalize.non_trainable_weights)
    expected = ((1.0 + c @ gamma)[:, None, None] * (x - mean) / np.sqrt(var + 1e-3)
                + (c @ beta)[:, None, None])
    np.testing.assert_allclose(layer([x, c]), expected, rtol=1e-4, atol=1e-4)


def test_hierarchical_latent_and_shared_embedding_feed_the_blocks_conditional_bns():
    """z = [z_0, z_1, z_2]: the dense layer reads z_0 only, block k's CBNs [e(y), z_k]."""
    model = build("biggan", data.info("fashion_mnist"), TINY)
    g = model.generator
    (chunks,) = layers_of(g, conditional_bn.LatentChunks)
    assert chunks.sizes(24) == [8, 8, 8]
    cbns = layers_of(g, conditional_bn.ConditionalBatchNormalization)
    assert len(cbns) == 4 and all(layer.spectral_norm for layer in cbns)
    assert {layer.gamma.layer.kernel.shape for layer in cbns} == {(16 + 8, 16)}
    (dense,) = [layer for layer in g.layers if isinstance(layer, spectral.SpectralNormalization)
                and isinstance(layer.layer, keras.layers.Dense)]
    adds = [layer for layer in g.layers if isinstance(layer, keras.layers.Add)]  # block outputs
    outputs = keras.Model(g.inputs, [dense.output] + [a.output for a in adds] + g.outputs)
    z = tf.random.stateless_normal([4, 24], [5, 6]).numpy()
    labels = np.array([0, 1, 2, 3], np.int32)
    reference = [t.numpy() for t in outputs([z, labels])]
    for chunk, first_changed in ((0, 0), (1, 1), (2, 2)):
        moved = z.copy()
        moved[:, 8 * chunk:8 * chunk + 8] += 1.0
        changed = [np.abs(t.numpy() - r).max() > 1e-4
                   for t, r in zip(outputs([moved, labels]), reference)]
        # dense, block 1, block 2, image: unchanged up to the layer that reads the chunk.
        assert changed == [i >= first_changed for i in range(4)], (chunk, changed)
    other = [t.numpy() for t in outputs([z, np.full(4, 5, np.int32)])]
    assert np.array_equal(other[0], reference[0])  # the label skips the dense layer
    assert np.abs(other[1] - reference[1]).max() > 1e-4  # and enters every block


def test_biggan_defaults_and_bad_inputs():
    model = build("biggan", data.info("fashion_mnist"), dict(width=8, d_width=8))
    config = model.config
    assert (config["loss"], config["d_steps"], config["beta_1"], config["beta_2"],
            config["orthogonal_regularization"], config["latent_dim"],
            config["shared_embedding"], config["image_size"]) == (
        "hinge", 1, 0.0, 0.999, 1e-4, 128, 128, 32)
    assert model.addon("generator_ema").average.decay == 0.99
    assert model.inference_generator is model.addon("generator_ema").average.average
    d_opt, g_opt = model.default_optimizers()
    assert float(d_opt.learning_rate) == pytest.approx(4e-4)
    assert float(g_opt.learning_rate) == pytest.approx(1e-4)
    assert layers_of(model.generator, conditional_bn.LatentChunks)[0].sizes(128) == [32] * 4
    for network in (model.generator, model.discriminator):  # SN on every kernel of G and D
        kernels = [k for k in layers_of(network, keras.layers.Layer) if hasattr(k, "kernel")
                   and not isinstance(k, spectral.SpectralNormalization)]
        assert len(layers_of(network, spectral.SpectralNormalization)) == len(kernels) > 10
    assert set(model.sample_extras) == {"labels", "truncation"}
    clone = type(model).from_config(model.get_config())
    assert clone.config.orthogonal_regularization == 1e-4
    with pytest.raises(ValueError, match="truncation must be a threshold > 0 .*got 0"):
        model.generate(2, truncation=0)
    with pytest.raises(ValueError, match="orthogonal_regularization must be >= 0, got -1"):
        build("biggan", data.info("fashion_mnist"), dict(width=8, orthogonal_regularization=-1))
    with pytest.raises(ValueError, match="latent of 2 values cannot be split into 4 chunks"):
        build("biggan", data.info("fashion_mnist"), dict(width=8, latent_dim=2))
    with pytest.raises(ValueError, match="biggan needs an image dataset; 'ring8'"):
        build("biggan", data.info("ring8"))
    with pytest.raises(tf.errors.InvalidArgumentError, match="truncation must be > 0"):
        model.sample_from_seeds(tf.constant([1], tf.int64), labels=tf.constant([1]),
                                truncation=tf.constant([-1.0]))


# ------------------------------------------------------- a tiny run: learns, serves
@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """STEPS steps of the command line on labelled Fashion-MNIST at 16x16 (exported)."""
    run_dir = str(tmp_path_factory.mktemp("biggan"))
    train_from_command_line("biggan", run_dir, STEPS, RUN)
    return run_dir


@pytest.fixture(scope="module")
def trained(run):
    return trainer.load_run(run)


def test_biggan_learns_fashion_mnist(run, trained):
    """Measured (150 steps at 16x16, seed 0; G's average, 500 samples, 50 of each label,
    against 2,000 test images): FCD 92.1 -> 43.9."""
    untrained = untrained_and_trained(run)[0]
    real = reference_images("fashion_mnist", image_size=RUN["image_size"])[:2000]
    before, after = classifier_distances((untrained, trained), real, seed=1,
                                         labels=np.repeat(np.arange(10), 50))
    print(f"biggan: FCD {before:.1f} -> {after:.1f}")
    assert after < 0.8 * before, (before, after)


def test_truncation_lowers_the_variance_of_z_and_of_the_samples_monotonically(trained):
    labels = np.full(256, 7)
    thresholds = (0.1, 0.5, 1.0, 2.0, None)
    z_variances, sample_variances = [], []
    for t in thresholds:
        z = trained.sample_generator_inputs(256, tf.constant([3, 0], tf.int64), truncation=t)
        z_variances.append(float(np.var(z)))
        sample_variances.append(float(trained.generate(256, seed=3, labels=labels,
                                                       truncation=t).var(axis=0).mean()))
    print("biggan: variance of z", np.round(z_variances, 4), "of the samples",
          np.round(sample_variances, 5))
    assert np.all(np.diff(z_variances) > 0) and np.all(np.diff(sample_variances) > 0)
    assert sample_variances[0] < 0.1 * sample_variances[-1]


def test_biggan_exports_and_serves_labels_and_truncation(run, trained):
    base = os.path.join(run, "export", "biggan_fashion_mnist")
    signature = tf.saved_model.load(os.path.join(base, "1")).signatures["sample"]
    specs = signature.structured_input_signature[1]
    assert set(specs) == {"seed", "labels", "truncation"}
    assert specs["truncation"].dtype == tf.float32 and specs["labels"].dtype == tf.int32
    seeds, labels, truncation = [4, 4, 4, 9], [2, 2, 6, 2], [1e9, 0.5, 0.5, 0.5]
    expected = trained.sample_from_seeds(tf.constant(seeds, tf.int64), labels=tf.constant(labels),
                                         truncation=tf.constant(truncation)).numpy()
    np.testing.assert_allclose(trained.sample_from_seeds(  # a far threshold truncates nothing
        tf.constant(seeds[:1], tf.int64), labels=tf.constant(labels[:1]))[0], expected[0],
        atol=1e-5)
    with serve(base, "big") as predict:
        body = {"signature_name": "sample",
                "instances": [dict(seed=s, labels=y, truncation=t)
                              for s, y, t in zip(seeds, labels, truncation)]}
        code, reply = predict(body)
        assert code == 200, reply
        body["instances"][0]["truncation"] = 0.0
        bad_code, bad_reply = predict(body)
    images = np.array([p["images"] for p in reply["predictions"]], np.float32)
    assert images.shape == (4, 16, 16, 1)
    np.testing.assert_allclose(images, expected, atol=1e-5)
    for i, j in ((0, 1), (1, 2), (1, 3)):  # truncation, label and seed each move the sample
        assert np.abs(images[i] - images[j]).mean() > 1e-3, (i, j)
    assert bad_code == 400 and "truncation must be > 0" in bad_reply["error"], bad_reply
