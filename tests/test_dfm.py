"""Denoising feature matching: the denoiser's meaning, the losses, the model, and the add-on."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo import data
from zoo.metrics import report
from zoo.models import GAN, build
from zoo.addons import denoising_feature_matching as dfm
from zoo.networks import mlp

TINY = dict(generator_hidden=[16], discriminator_hidden=[16], batch_size=32)


def test_trained_denoiser_approaches_the_optimal_h_over_two():
    """For h ~ N(0, I) and sigma = 1, E[h | h + eps] = (h + eps) / 2: r(h) -> h / 2, and
    r(h) - h -> -h / 2 = sigma^2 grad log N(h; 0, 2I), the score of the corrupted density."""
    keras.utils.set_random_seed(0)
    component = dfm.DenoisingFeatureMatching({"depth": 2, "width": 32}, feature_dim=4)
    optimizer = keras.optimizers.Adam(3e-3)

    @tf.function
    def step(seed):
        features = tf.random.stateless_normal([256, 4], seed)
        noise = tf.random.stateless_normal([256, 4], seed + 1)
        with tf.GradientTape() as tape:
            loss = component.denoiser_loss(features, noise)
        variables = component.network.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    h = tf.random.stateless_normal([4000, 4], [7, 7]) * 1.2
    before = float(tf.reduce_mean(tf.square(component(h) - h / 2)))
    losses = [float(step(tf.constant([i, 0]))) for i in range(1500)]
    after = float(tf.reduce_mean(tf.square(component(h) - h / 2)))
    # The optimal denoiser's loss is E||h - (h + eps) / 2||^2 / n = 1/2 per feature.
    assert np.mean(losses[-100:]) == pytest.approx(0.5, abs=0.03)
    assert after < 0.01 and after < before / 20, (before, after)


@pytest.mark.parametrize("weighting,adversarial,distance", [
    ("paper_text", 1.0, 0.03), ("reimplementation", 0.03, 1.0)])
def test_generator_term_holds_the_denoiser_constant(weighting, adversarial, distance):
    component = dfm.DenoisingFeatureMatching({"weighting": weighting}, feature_dim=3)
    assert (component.adversarial_weight, component.distance_weight) == (adversarial, distance)
    features = tf.random.stateless_normal([5, 3], [1, 2])
    with tf.GradientTape() as tape:
        tape.watch(features)
        term = component.matching_term(features)
    target = component(features, training=False)
    np.testing.assert_allclose(term, distance * np.mean(np.square(features - target)), rtol=1e-5)
    # r(Phi(G(z))) is a constant: d term / d h = 2 w (h - r(h)) / (batch n_h).
    np.testing.assert_allclose(tape.gradient(term, features),
                               2 * distance * (features - target) / 15, rtol=1e-4, atol=1e-7)


def test_bad_denoisers_name_the_value():
    with pytest.raises(ValueError, match="width must be >= the feature size 8, got 4"):
        dfm.denoiser(8, width=4)
    with pytest.raises(ValueError, match="weighting must be one of .*got 'both'"):
        dfm.DenoisingFeatureMatching({"weighting": "both"}, feature_dim=3)
    with pytest.raises(ValueError, match="d_steps must be 1"):
        build("dfm", data.info("ring8"), dict(TINY, d_steps=2))
    plain = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)], name="plain")
    with pytest.raises(ValueError, match="composed as head\\(features\\(x\\)\\)"):
        GAN(mlp.generator(2, 2), plain, latent_dim=2, addons={"denoising_feature_matching": True})


def test_dfm_updates_all_three_networks_from_one_state():
    model = build("dfm", data.info("ring8"), TINY, seed=2)
    model.compile(*model.default_optimizers())
    assert set(model.optimizers()) == {"d_optimizer", "g_optimizer", "denoiser_optimizer"}
    denoiser = model.addon("denoising_feature_matching").network
    before = [v.numpy().copy() for v in denoiser.trainable_variables]
    history = model.fit(data.load("ring8", batch_size=32), steps_per_epoch=10, epochs=1,
                        verbose=0, shuffle=False)
    assert set(history.history) == {"d_loss", "g_loss", "denoiser_loss", "feature_matching"}
    assert all(int(o.iterations.numpy()) == 10 for o in model.optimizers().values())
    assert not all(np.allclose(b, v.numpy()) for b, v in
                   zip(before, denoiser.trainable_variables))
    clone = type(model).from_config(model.get_config())
    assert (clone.addon("denoising_feature_matching").weighting
            == model.addon("denoising_feature_matching").weighting)


def test_dfm_learns_ring8():
    """Default networks and weighting (Adam 1e-4), 3,000 steps, seed 0 (measured: 8 modes,
    53% high quality; an untrained G covers ~1 mode at ~0%): at least 7 of 8 modes."""
    keras.utils.set_random_seed(0)
    info = data.info("ring8")
    model = build("dfm", info, {"steps": 3000}, seed=0)
    model.compile(*model.default_optimizers())
    model.fit(data.load("ring8", batch_size=256, seed=0), steps_per_epoch=3000, epochs=1,
              verbose=0, shuffle=False)
    metrics = report.measure(model, info.name)
    assert metrics["modes_covered"] >= 7, metrics
    assert metrics["high_quality_fraction"] >= 0.3, metrics


def test_feature_matching_is_an_option_of_dcgan():
    model = build("dcgan", data.info("fashion_mnist"),
                  dict(width=8, latent_dim=16, batch_size=16,
                       denoising_feature_matching={"weighting": "paper_text", "depth": 1}))
    model.compile(*model.default_optimizers())
    assert model.addon("denoising_feature_matching").feature_dim == 7 * 7 * 16
    history = model.fit(data.load("fashion_mnist", batch_size=16), steps_per_epoch=3, epochs=1,
                        verbose=0, shuffle=False)
    assert {"denoiser_loss", "feature_matching"} <= set(history.history)
    assert all(np.isfinite(v[0]) for v in history.history.values())
