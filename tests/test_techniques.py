"""Salimans et al. (2016)'s improved techniques as skeleton add-ons: the math of each against
numpy, their state (saved, exported), composition with variants, and what each changes."""
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO_ROOT, subprocess_env, train_and_export
from zoo import data, trainer
from zoo.models import GAN, build
from zoo.networks import mlp
from zoo.addons import feature_matching, label_smoothing, virtual_batch_norm
from zoo.addons import minibatch_discrimination as minibatch

TINY = dict(generator_hidden=[16], discriminator_hidden=[16], batch_size=32)
TINY_DCGAN = dict(width=8, latent_dim=16, batch_size=16)


def tiny_gan(seed=0, **overrides):
    keras.utils.set_random_seed(seed)
    model = build("gan", data.info("ring8"), dict(TINY, **overrides), seed=seed)
    model.compile(*model.default_optimizers())
    return model


def fit(model, steps, dataset="ring8", batch_size=32, epochs=1, seed=0):
    return model.fit(data.load(dataset, batch_size=batch_size, seed=seed),
                     steps_per_epoch=steps, epochs=epochs, verbose=0, shuffle=False).history


def softplus(x):
    return np.logaddexp(0.0, x)


# --------------------------------------------------------- minibatch discrimination
def numpy_closeness(features, kernel, num_kernels, kernel_dim, include_self):
    m = (features @ kernel).reshape(len(features), num_kernels, kernel_dim)
    l1 = np.abs(m[:, None] - m[None, :]).sum(-1)                   # [n, n, B]
    o = np.exp(-l1).sum(axis=1)
    return o if include_self else o - 1.0


@pytest.mark.parametrize("include_self,normalize", [(True, False), (False, False), (True, True),
                                                    (False, True)])
def test_minibatch_layer_matches_the_paper_and_knows_identical_samples(include_self, normalize):
    layer = minibatch.MinibatchDiscrimination(num_kernels=4, kernel_dim=3, kernel_stddev=0.5,
                                              include_self=include_self, normalize=normalize)
    diverse = np.random.default_rng(0).normal(size=(6, 5)).astype(np.float32)
    out = layer(diverse).numpy()
    assert out.shape == (6, 5 + 4)
    np.testing.assert_array_equal(out[:, :5], diverse)          # [f, o(f)]
    terms = 6 if include_self else 5
    expected = numpy_closeness(diverse, layer.kernel.numpy(), 4, 3, include_self)
    np.testing.assert_allclose(out[:, 5:], expected / terms if normalize else expected,
                               rtol=1e-5)
    # n identical samples: every L1 distance is 0, so o_b = n (n - 1 without j = i), or 1
    # divided by the number of terms.
    identical = np.repeat(diverse[:1], 6, axis=0)
    o_identical = layer(identical).numpy()[:, 5:]
    np.testing.assert_allclose(o_identical, 1.0 if normalize else terms, rtol=1e-6)
    assert np.all(out[:, 5:] < o_identical - 0.01 / terms)      # diverse batches score lower


def test_minibatch_goes_before_the_head_of_any_discriminator():
    composed = minibatch.insert_before_head(
        {"discriminator": mlp.discriminator(2, [8])}, {"num_kernels": 3})["discriminator"]
    head = composed.get_layer("head")
    assert [l.name for l in head.layers][1] == "minibatch_discrimination"
    assert composed(tf.zeros([4, 2])).shape == (4, 1)
    sequential = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8),
                                   keras.layers.Dense(1)], name="plain")
    inserted = minibatch.insert_before_head({"discriminator": sequential}, True)["discriminator"]
    assert isinstance(inserted.layers[-2], minibatch.MinibatchDiscrimination)
    assert inserted(tf.zeros([4, 2])).shape == (4, 1)
    # Variants that compose D themselves (the AAN) hand over their head.
    aan = build("aan", data.info("ring8"), dict(feature_units=4, rbm_hidden=4, feature_hidden=[8],
                                                head_hidden=[8], generator_hidden=[8],
                                                minibatch_discrimination={"num_kernels": 3}))
    assert aan.head.get_layer("minibatch_discrimination").num_kernels == 3
    with pytest.raises(ValueError, match="unknown minibatch_discrimination option.*kernels"):
        minibatch.insert_before_head({"discriminator": sequential}, {"kernels": 3})
    functional_input = keras.Input((2,))
    odd = keras.Model(functional_input, keras.layers.Dense(1)(functional_input), name="odd")
    with pytest.raises(ValueError, match="composed as head\\(features\\(x\\)\\) .*'odd'"):
        minibatch.insert_before_head({"discriminator": odd}, True)


def test_minibatch_discrimination_lets_d_see_a_collapsed_batch():
    """Fakes that are each a real point, but all the same one in a batch (a new one every
    batch): their marginal is the data's, so a D judging samples one by one can do no better
    than chance (loss 2 log 2 = 1.386); with minibatch discrimination D spots the collapse."""
    losses = {}
    for option in (None, True):
        model = tiny_gan(seed=5, minibatch_discrimination=option, learning_rate=1e-2,
                         discriminator_hidden=[32, 32])
        stream = iter(data.load("ring8", batch_size=64, seed=5))
        variables = model.discriminator.trainable_variables

        @tf.function
        def step(real, other):
            collapsed = tf.repeat(other[:1], 64, axis=0)
            with tf.GradientTape() as tape:
                loss = model.discriminator_loss(real, collapsed, model.discriminator(real),
                                                model.discriminator(collapsed))
            model.apply(model.d_optimizer, tape, loss, variables)
            return loss

        history = [float(step(next(stream), next(stream))) for _ in range(150)]
        losses[option] = np.mean(history[-30:])
    assert losses[None] > 1.2, losses
    assert losses[True] < 0.5, losses   # measured 1.385 vs 0.27


# ---------------------------------------------------------------- feature matching
def test_feature_matching_loss_is_the_squared_distance_of_feature_means():
    model = tiny_gan(feature_matching=True)
    real = np.random.default_rng(1).normal(size=(8, 2)).astype(np.float32)
    fake = np.random.default_rng(2).normal(size=(8, 2)).astype(np.float32)
    features = model.discriminator.get_layer("features")          # D's last hidden layer
    expected = np.sum((features(real).numpy().mean(0) - features(fake).numpy().mean(0)) ** 2)
    got = model.addon("feature_matching").matching.loss(real, fake, training=False).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    # Another layer, by name or index: the first dense layer's pre-activations.
    first_dense = features.layers[1]
    by_name = feature_matching.FeatureMatching(model.discriminator, first_dense.name)
    by_index = feature_matching.FeatureMatching(model.discriminator, 1)
    expected = np.sum((first_dense(real).numpy().mean(0) - first_dense(fake).numpy().mean(0)) ** 2)
    for component in (by_name, by_index):
        np.testing.assert_allclose(component.loss(real, fake).numpy(), expected, rtol=1e-5)
    # A plain Sequential D: the layer before the last one.
    hidden = keras.layers.Dense(3, activation="relu")
    plain = keras.Sequential([keras.Input((2,)), hidden, keras.layers.Dense(1)])
    expected = np.sum((hidden(real).numpy().mean(0) - hidden(fake).numpy().mean(0)) ** 2)
    np.testing.assert_allclose(
        feature_matching.FeatureMatching(plain).loss(real, fake).numpy(), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="layer 'nope' is not a layer of 'features'"):
        feature_matching.FeatureMatching(model.discriminator, "nope")
    with pytest.raises(ValueError, match="feature_matching needs a variant with "
                                         "skeleton_generator_objective; VCD does not have it"):
        build("vcd", data.info("ring8"), dict(TINY, latent_dim=4, feature_matching=True))


def test_feature_matching_trains_g_to_match_the_features():
    """G's loss is the feature distance (no adversarial term) and falls as G learns."""
    model = tiny_gan(seed=0, feature_matching=True)
    untrained = keras.models.clone_model(model.generator)
    untrained.set_weights(model.generator.get_weights())
    history = fit(model, 100, epochs=4)
    assert set(history) == {"d_loss", "g_loss"}
    assert all(np.isfinite(v).all() for v in history.values())
    assert history["g_loss"][-1] < 0.6 * history["g_loss"][0], history["g_loss"]
    # Under the final D, the trained G's features are closer to the data's than at the start.
    real = next(iter(data.load("ring8", batch_size=1000, seed=9)))
    z = model.sample_generator_inputs(1000, tf.constant([9, 9], tf.int64))
    matching = model.addon("feature_matching").matching
    distance = {name: matching.loss(real, g(z), training=False).numpy()
                for name, g in (("trained", model.generator), ("untrained", untrained))}
    assert distance["trained"] < 0.2 * distance["untrained"], distance


def test_feature_matching_composes_with_denoising_feature_matching():
    """dfm's G loss: lambda_adv * (the feature-matching term in place of D's) + its own term."""
    model = build("dfm", data.info("ring8"), dict(TINY, feature_matching=True))
    model.compile(*model.default_optimizers())
    real = tf.random.stateless_normal([8, 2], [0, 1])
    with tf.GradientTape():
        loss, logs = model.generator_objective(real, tf.constant(8))
    assert "feature_matching" in logs and np.isfinite(loss.numpy())


# ------------------------------------------------------------- historical averaging
def test_historical_average_is_the_mean_of_past_parameters_and_the_penalty_the_formula():
    model = tiny_gan(seed=1, historical_averaging={"d_weight": 0.5, "g_weight": 2.0})
    history = {"d": [], "g": []}

    class Record(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):   # the values before each update
            history["d"].append([v.numpy().copy() for v in model.discriminator.trainable_variables])
            history["g"].append([v.numpy().copy() for v in model.generator.trainable_variables])

    model.fit(data.load("ring8", batch_size=32), steps_per_epoch=7, epochs=1, verbose=0,
              callbacks=[Record()])
    for key, network, weight in (("d", model.discriminator, 0.5), ("g", model.generator, 2.0)):
        average = model.addon("historical_averaging").averages[key]
        assert average.count.numpy() == 7
        for i, stored in enumerate(average.averages):
            np.testing.assert_allclose(stored.numpy(), np.mean([h[i] for h in history[key]], 0),
                                       rtol=1e-5, atol=1e-7)
        theta = network.trainable_variables
        expected = weight * sum(np.sum((t.numpy() - a.numpy()) ** 2)
                                for t, a in zip(theta, average.averages))
        with tf.GradientTape() as tape:
            penalty = average.penalty(theta)
        np.testing.assert_allclose(penalty.numpy(), expected, rtol=1e-5)
        assert expected > 0
        for grad, t, a in zip(tape.gradient(penalty, theta), theta, average.averages):
            np.testing.assert_allclose(grad.numpy(), 2 * weight * (t.numpy() - a.numpy()),
                                       rtol=1e-5, atol=1e-9)


def test_historical_averages_are_checkpointed(tmp_path):
    overrides = dict(TINY, historical_averaging={"g_weight": 0})
    trainer.train("gan", "ring8", str(tmp_path), steps=6, overrides=overrides,
                  checkpoint_every=6, verbose=0)
    restored = trainer.load_run(str(tmp_path))
    averages = restored.addon("historical_averaging").averages
    assert set(averages) == {"d"}
    average = averages["d"]
    assert average.count.numpy() == 6 and not average.trainable_weights
    assert all(np.abs(a.numpy()).sum() > 0 for a in average.averages)
    with pytest.raises(ValueError, match="needs the skeleton's train_step.*g_weight"):
        build("dfm", data.info("ring8"), dict(TINY, historical_averaging=True))
    with pytest.raises(ValueError, match="historical_averaging must be true or a dict"):
        build("gan", data.info("ring8"), dict(TINY, historical_averaging=0.5))


# ------------------------------------------------------------ one-sided label smoothing
def test_one_sided_label_smoothing_matches_a_hand_computed_loss():
    real, fake = np.array([2.0, -1.0], np.float32), np.array([0.5, -0.3], np.float32)
    # -[0.9 log D + 0.1 log(1 - D)] on real, -log(1 - D) on fake, D = sigmoid(logit).
    d_real, d_fake = 1 / (1 + np.exp(-real)), 1 / (1 + np.exp(-fake))
    by_hand = (-(0.9 * np.log(d_real) + 0.1 * np.log(1 - d_real)).mean()
               - np.log(1 - d_fake).mean())
    got = label_smoothing.smoothed_discriminator_loss(real, fake, 0.9).numpy()
    np.testing.assert_allclose(got, by_hand, rtol=1e-6)
    model = tiny_gan(one_sided_label_smoothing=0.9)
    np.testing.assert_allclose(model.discriminator_loss(None, None, real, fake).numpy(), by_hand,
                               rtol=1e-6)
    np.testing.assert_allclose(model.generator_loss(None, fake).numpy(),   # G's is unchanged
                               softplus(-fake).mean(), rtol=1e-6)
    smoothing = tiny_gan(one_sided_label_smoothing=True).addon("one_sided_label_smoothing")
    assert smoothing.options == 0.9
    for loss in ("wasserstein", "hinge", "least_squares"):
        with pytest.raises(ValueError, match=f"loss '{loss}' has no labels to smooth"):
            tiny_gan(loss=loss, one_sided_label_smoothing=0.9)
    with pytest.raises(ValueError, match="real target in \\(0, 1\\].*got 1.5"):
        tiny_gan(one_sided_label_smoothing=1.5)
    with pytest.raises(ValueError, match="VGAN's discriminator_loss replaces"):
        build("vgan", data.info("ring8"), dict(TINY, one_sided_label_smoothing=0.9))


def test_label_smoothing_caps_ds_confidence_on_real_data():
    """D trained against a fixed G (200 updates, Adam 1e-2): on the real batch D's outputs
    reach 1 without smoothing; with real targets 0.9, D's best answer is 0.9 and they stop
    short of it (measured max 1.0 vs 0.94, mean 0.95 vs 0.85)."""
    confidence = {}
    real = next(iter(data.load("ring8", batch_size=256, seed=2)))
    for target in (None, 0.9):
        model = tiny_gan(seed=2, one_sided_label_smoothing=target, learning_rate=1e-2,
                         discriminator_hidden=[32, 32])
        update = tf.function(lambda: model.discriminator_update(real, None, tf.constant(256), 0))
        for _ in range(200):
            update()
        confidence[target] = tf.sigmoid(model.discriminator(real)).numpy()
    assert confidence[None].max() > 0.99 and confidence[None].mean() > 0.92
    assert confidence[0.9].max() < 0.96 and confidence[0.9].mean() < 0.9


# ------------------------------------------------------------ virtual batch normalization
def numpy_vbn(reference, examples, eps, spatial_axes):
    n = len(reference)
    axes = (0,) + spatial_axes
    ref_mean, ref_square = reference.mean(axes), (reference ** 2).mean(axes)
    own_mean = examples.mean(spatial_axes, keepdims=True) if spatial_axes else examples
    own_square = ((examples ** 2).mean(spatial_axes, keepdims=True) if spatial_axes
                  else examples ** 2)
    mean = (n * ref_mean + own_mean) / (n + 1)
    variance = (n * ref_square + own_square) / (n + 1) - mean ** 2
    return (examples - mean) / np.sqrt(variance + eps)


@pytest.mark.parametrize("shape,spatial", [((5,), ()), ((3, 3, 2), (1, 2))])
def test_vbn_normalizes_with_the_reference_and_the_example_only(shape, spatial):
    rng = np.random.default_rng(3)
    layer = virtual_batch_norm.VirtualBatchNormalization(reference_size=4, epsilon=1e-3)
    reference = rng.normal(1.0, 2.0, size=(4,) + shape).astype(np.float32)
    batch = rng.normal(size=(3,) + shape).astype(np.float32)
    out = layer(np.concatenate([reference, batch])).numpy()
    np.testing.assert_allclose(out[4:], numpy_vbn(reference, batch, 1e-3, spatial),
                               rtol=1e-4, atol=1e-5)
    # The reference rows are normalized by their own statistics.
    axes = (0,) + spatial
    np.testing.assert_allclose(
        out[:4], (reference - reference.mean(axes)) / np.sqrt(reference.var(axes) + 1e-3),
        rtol=1e-4, atol=1e-5)
    # One example's output does not change when the rest of its batch does.
    alone = layer(np.concatenate([reference, batch[:1]])).numpy()[4:]
    np.testing.assert_allclose(alone[0], out[4], rtol=1e-5, atol=1e-6)


def test_vbn_generator_samples_each_example_independently_of_its_batch(tmp_path):
    info = data.info("fashion_mnist")
    overrides = dict(TINY_DCGAN, virtual_batch_norm={"reference_size": 8})
    model = build("dcgan", info, overrides, seed=4)
    generator = model.generator
    assert not any(isinstance(l, keras.layers.BatchNormalization)
                   for l in generator.get_layer("generator").layers)
    layer = virtual_batch_norm.reference_layer(generator)
    assert layer.reference in generator.non_trainable_weights
    np.testing.assert_array_equal(   # chosen once from the model's own seed and noise
        layer.reference.numpy(),
        model.sample_generator_inputs(8, tf.constant([4, virtual_batch_norm.REFERENCE_STREAM],
                                                     tf.int64)).numpy())
    z = tf.random.stateless_normal([6, 16], [5, 5])
    other = tf.concat([z[:1], tf.random.stateless_normal([9, 16], [6, 6])], axis=0)
    for training in (True, False):
        np.testing.assert_allclose(generator(z, training=training)[0],
                                   generator(other, training=training)[0], atol=1e-5)
    with pytest.raises(ValueError, match="has none"):
        build("gan", data.info("ring8"), dict(TINY, virtual_batch_norm=True))


def test_vbn_reference_is_saved_and_exported(tmp_path):
    run_dir = str(tmp_path / "run")
    overrides = dict(TINY_DCGAN, virtual_batch_norm={"reference_size": 8})
    result = train_and_export("dcgan", "fashion_mnist", run_dir, steps=2, overrides=overrides,
                              verbose=0, seed=4, final_metrics=False)
    restored = trainer.load_run(run_dir)
    fresh = build("dcgan", data.info("fashion_mnist"), overrides, seed=4)
    np.testing.assert_array_equal(
        virtual_batch_norm.reference_layer(restored.generator).reference.numpy(),
        virtual_batch_norm.reference_layer(fresh.generator).reference.numpy())
    z = tf.random.stateless_normal([3, 16], [7, 7])
    served = tf.saved_model.load(result.export_path).signatures["serving_default"](z=z)
    np.testing.assert_allclose(served["images"], restored.generator(z, training=False),
                               atol=1e-5)


# ---------------------------------------------------------- every option, every variant
def test_every_option_composes_with_the_aan_and_the_dcgan():
    options = dict(feature_matching=True, minibatch_discrimination={"num_kernels": 4},
                   historical_averaging=True, one_sided_label_smoothing=0.9)
    aan = build("aan", data.info("ring8"),
                dict(options, feature_units=4, rbm_hidden=4, feature_hidden=[8], head_hidden=[8],
                     generator_hidden=[8], batch_size=32))
    aan.compile(*aan.default_optimizers())
    history = fit(aan, 3)
    assert {"d_historical_penalty", "g_historical_penalty", "rbm_loss"} <= set(history)
    dcgan = build("dcgan", data.info("fashion_mnist"),
                  dict(options, virtual_batch_norm={"reference_size": 4}, **TINY_DCGAN))
    dcgan.compile(*dcgan.default_optimizers())
    history = fit(dcgan, 3, "fashion_mnist", batch_size=16)
    for logs in (history,):
        assert all(np.isfinite(v).all() for v in logs.values()), logs
    clone = GAN.from_config(dcgan.get_config())
    assert clone.addon("one_sided_label_smoothing").options == 0.9
    assert clone.addon("feature_matching").matching is not None
    assert set(clone.addon("historical_averaging").averages) == {"d", "g"}


MIRRORED = textwrap.dedent("""
    import numpy as np
    from zoo import strategies
    strategies.split_cpu(2)
    import keras
    import tensorflow as tf
    from zoo import data
    from zoo.models import build

    batch = next(iter(data.load("ring8", batch_size=16, seed=1)))
    options = dict(generator_hidden=[8], discriminator_hidden=[8], feature_matching=True,
                   historical_averaging=True, one_sided_label_smoothing=0.9)

    def train(strategy):
        with strategy.scope():
            keras.utils.set_random_seed(0)
            model = build("gan", data.info("ring8"), options, seed=0)
            model.compile(*model.default_optimizers())
        model.fit(tf.data.Dataset.from_tensors(batch).repeat(), steps_per_epoch=3, epochs=1,
                  verbose=0, shuffle=False)
        return [w.numpy() for w in model.weights]

    single = train(tf.distribute.get_strategy())
    mirrored = train(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    for a, b in zip(single, mirrored):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    print("same", len(single))
""")


def test_two_replicas_train_as_one_device_with_the_options():
    """Feature means all-reduced over replicas, the historical averages kept in sync: a
    MirroredStrategy step over 2 CPUs equals the one-device step, averages included."""
    result = subprocess.run([sys.executable, "-c", MIRRORED], cwd=REPO_ROOT,
                            env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1].startswith("same")
