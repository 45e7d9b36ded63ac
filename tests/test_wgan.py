"""WGAN (weight clipping), WGAN-GP (gradient penalty) and LSGAN: the defining math, the
randomness of the penalty, replicas, and learning on ring8."""
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from conftest import REPO_ROOT, subprocess_env
from zoo import data, losses
from zoo.metrics.mixture import nearest_modes
from zoo.models import build
from zoo.models.base import SEED_DISCRIMINATOR

RING8 = data.info("ring8")
TINY = dict(generator_hidden=[32, 32], discriminator_hidden=[32, 32])


def compiled(name, **overrides):
    keras.utils.set_random_seed(0)
    model = build(name, RING8, overrides, seed=0)
    model.compile(*model.default_optimizers())
    return model


def fit(model, steps, seed=0):
    return model.fit(data.load("ring8", batch_size=model.config["batch_size"], seed=seed),
                     steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)


def mean_distance_to_ring(model):
    """Mean std-normalised distance of 1,000 samples to their nearest mode."""
    return float(nearest_modes(model.generate(1000, seed=1), RING8.centers, RING8.std)[1].mean())


# ------------------------------------------------------------------------------------ WGAN
def test_wgan_defaults_are_the_papers():
    model = compiled("wgan")
    config = model.config
    assert (config["loss"], config["d_steps"], config["clip_value"], config["batch_size"]) == (
        "wasserstein", 5, 0.01, 64)
    assert isinstance(model.d_optimizer, keras.optimizers.RMSprop)
    assert np.isclose(float(model.d_optimizer.learning_rate), 5e-5)
    with pytest.raises(ValueError, match="unknown .*beta_1"):  # RMSProp takes no betas
        build("wgan", RING8, {"beta_1": 0.5})
    with pytest.raises(ValueError, match="clip_value must be positive, got -1"):
        build("wgan", RING8, {"clip_value": -1})


def test_every_critic_weight_is_in_the_box_after_an_update():
    model = compiled("wgan", **TINY)
    rng = np.random.default_rng(0)
    for variable in model.discriminator.trainable_variables:  # start far outside [-c, c]
        variable.assign(rng.uniform(-1, 1, variable.shape).astype(np.float32))
    real = next(iter(data.load("ring8", batch_size=16)))
    model.discriminator_update(real, None, tf.constant(16), 0)
    weights = [v.numpy() for v in model.discriminator.trainable_variables]
    assert max(np.abs(w).max() for w in weights) <= 0.01
    assert all(np.isclose(np.abs(w).max(), 0.01) for w in weights)  # the clip was active
    assert max(np.abs(w).max() for w in model.generator.get_weights()) > 0.1  # G unclipped


def test_wgan_learns_ring8():
    """Default networks at 10x the paper's rate (RMSProp 5e-4) so that 400 steps show it:
    G's samples move from the origin towards the ring (measured: 80 -> 40 std from the
    nearest mode), and the critic's estimate of the distance, averaged per 100 steps,
    rises as the critic learns, then falls from its peak as G does (the paper's Figure 3;
    measured 2.4e-4, 1.0e-3, 2.1e-4, 1.1e-4)."""
    model = compiled("wgan", learning_rate=5e-4)
    before = mean_distance_to_ring(model)
    history = model.fit(data.load("ring8", batch_size=64, seed=0), steps_per_epoch=100,
                        epochs=4, verbose=0, shuffle=False).history
    after = mean_distance_to_ring(model)
    estimates = history["wasserstein_estimate"]
    print("distance", before, after, "estimates", estimates)
    assert after < 0.6 * before
    assert estimates[-1] < 0.5 * max(estimates)


# --------------------------------------------------------------------------------- WGAN-GP
def test_wgan_gp_defaults():
    """Images: the paper's lambda 10, Adam(1e-4, 0, 0.9) and a critic without batch norm
    (layer norm); mixtures: the authors' toy lambda 0.1 and beta_1 0.5."""
    image = build("wgan_gp", data.info("fashion_mnist"), {"width": 8})
    config = image.config
    assert (config["penalty_weight"], config["learning_rate"], config["beta_1"],
            config["beta_2"], config["d_steps"], config["batch_size"]) == (10.0, 1e-4, 0.0,
                                                                           0.9, 5, 64)
    layers = [type(layer).__name__ for model in image.discriminator.layers
              for layer in getattr(model, "layers", [model])]  # D = head(features(x))
    assert "LayerNormalization" in layers and "BatchNormalization" not in layers
    mixture = build("wgan_gp", RING8).config
    assert (mixture["penalty_weight"], mixture["beta_1"]) == (0.1, 0.5)


def linear_critic_model(a):
    """wgan_gp (the paper's lambda = 10) with the critic f(x) = a.x: its gradient is a."""
    keras.utils.set_random_seed(0)
    model = build("wgan_gp", RING8, dict(TINY, penalty_weight=10.0), seed=0)
    x = keras.Input((2,))
    critic = keras.Model(x, keras.layers.Dense(1, use_bias=False)(x))
    critic.layers[-1].kernel.assign(np.array(a, np.float32)[:, None])
    model.discriminator = critic
    model.compile(*model.default_optimizers())
    return model


def test_penalty_of_a_linear_critic_is_exact():
    """Eq. (3) with f(x) = a.x: E[f(G(z))] - E[f(x)] + 10 (||a|| - 1)^2, whatever eps."""
    a = [3.0, 4.0]
    model = linear_critic_model(a)
    real = tf.constant(np.random.default_rng(1).normal(size=(32, 2)), tf.float32)
    fake = tf.constant(np.random.default_rng(2).normal(size=(32, 2)), tf.float32)
    real_out, fake_out = model.discriminator(real), model.discriminator(fake)
    expected = (fake.numpy() @ a).mean() - (real.numpy() @ a).mean() + 10.0 * (5.0 - 1.0) ** 2
    np.testing.assert_allclose(model.discriminator_loss(real, fake, real_out, fake_out),
                               expected, rtol=1e-5)
    unit = linear_critic_model([0.6, 0.8])  # ||a|| = 1: no penalty
    np.testing.assert_allclose(
        unit.discriminator_loss(real, fake, unit.discriminator(real), unit.discriminator(fake)),
        (fake.numpy() @ [0.6, 0.8]).mean() - (real.numpy() @ [0.6, 0.8]).mean(), atol=1e-5)


def test_penalty_differentiates_through_the_gradient_norm():
    """d/da of 10 (||a|| - 1)^2 = 20 (||a|| - 1) a / ||a||: the critic's update sees the
    penalty (second-order gradients), here with identical real and fake batches."""
    model = linear_critic_model([3.0, 4.0])
    batch = tf.ones([8, 2])
    kernel = model.discriminator.trainable_variables[0]
    with tf.GradientTape() as tape:
        loss = model.discriminator_loss(batch, batch, model.discriminator(batch),
                                        model.discriminator(batch))
    grad = tape.gradient(loss, kernel).numpy()[:, 0]
    np.testing.assert_allclose(grad, 20 * (5 - 1) * np.array([3.0, 4.0]) / 5, rtol=1e-5)


def test_interpolation_weights_are_uniform_and_new_for_each_critic_update():
    model = compiled("wgan_gp", **TINY)
    n = 20000
    first = model.interpolation_weights(tf.constant(n)).numpy()
    assert first.min() >= 0.0 and first.max() <= 1.0
    np.testing.assert_allclose([first.mean(), first.var()], [0.5, 1 / 12], atol=0.01)
    deciles = np.histogram(first, bins=10, range=(0, 1))[0] / n
    np.testing.assert_allclose(deciles, 0.1, atol=0.01)  # flat, not a bell
    np.testing.assert_array_equal(first, model.interpolation_weights(tf.constant(n)).numpy())
    model.d_optimizer.iterations.assign_add(1)  # the next critic update draws anew
    assert not np.allclose(first, model.interpolation_weights(tf.constant(n)).numpy())
    with pytest.raises(ValueError, match="exactly one of seed and weights"):
        losses.gradient_penalty(lambda x: x, tf.ones([2, 2]), tf.ones([2, 2]))


def test_penalty_uses_the_given_weights():
    """x^ = eps x + (1 - eps) x~ with the weights given (a replica's slice)."""
    seen = []

    def critic(x):
        seen.append(x)
        return tf.reduce_sum(x, axis=1)

    eps = tf.constant([0.0, 0.25, 1.0])
    losses.gradient_penalty(critic, tf.ones([3, 2]), tf.zeros([3, 2]), weights=eps)
    np.testing.assert_allclose(seen[0].numpy(), [[0, 0], [0.25, 0.25], [1, 1]])


def exact_w1(x, y):
    """W1 between two equal-size empirical distributions: the optimal assignment's mean cost."""
    cost = cdist(x, y)
    rows, cols = linear_sum_assignment(cost)
    return cost[rows, cols].mean()


def test_wgan_gp_critic_learns_the_wasserstein_distance():
    """With G held fixed, 500 critic updates at the paper's settings (lambda 10,
    Adam(1e-4, 0, 0.9)) bring E[f(x)] - E[f(G(z))] up to the exact W1 between G's samples
    and the data (the dual's optimum over 1-Lipschitz f; measured 0.40 after 100 updates,
    0.835 after 500, against W1 = 0.82-0.85)."""
    model = compiled("wgan_gp", penalty_weight=10.0, beta_1=0.0, **TINY)
    batches = iter(data.load("ring8", batch_size=256, seed=0))
    update = tf.function(lambda real: model.discriminator_update(real, None, tf.constant(256), 0))

    def estimate_and_w1(seed):
        real, fake = next(batches).numpy(), model.generate(256, seed=seed)
        estimate = float(np.mean(model.discriminator(real)) - np.mean(model.discriminator(fake)))
        return estimate, exact_w1(fake, real)

    for _ in range(100):
        update(next(batches))
    early, w1_early = estimate_and_w1(1)
    for _ in range(400):
        update(next(batches))
    late, w1 = estimate_and_w1(2)
    print("estimates", early, late, "W1", w1_early, w1)
    assert early < 0.6 * w1_early
    assert abs(late - w1) < 0.08 * w1


MIRRORED_VS_SINGLE = textwrap.dedent("""
    import sys
    import numpy as np
    from zoo import strategies
    strategies.split_cpu(2)
    import keras
    import tensorflow as tf
    from zoo import data
    from zoo.models import build

    batch = next(iter(data.load("ring8", batch_size=16, seed=1)))
    overrides = dict(generator_hidden=[16], discriminator_hidden=[16], generator_ema=0.5,
                     d_steps=3)

    def train(name, strategy):
        with strategy.scope():
            keras.utils.set_random_seed(0)
            model = build(name, data.info("ring8"), overrides, seed=0)
            model.compile(*model.default_optimizers())
        model.fit(tf.data.Dataset.from_tensors(batch).repeat(), steps_per_epoch=2, epochs=1,
                  verbose=0, shuffle=False)
        assert int(model.d_optimizer.iterations.numpy()) == 6
        return [w.numpy() for w in model.weights]

    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    single, two = [], []
    for name in sys.argv[2:]:
        single += train(name, tf.distribute.get_strategy())
        two += train(name, mirrored)
    np.savez(sys.argv[1], *single, *two)
    print(len(single))
""")


def test_mirrored_critics_equal_single_device(tmp_path):
    """Two replicas of 8 rows each penalise the same interpolates as one device on 16 (each
    replica its own slice of the draw), and clip the same weights, so two steps of 3 critic
    updates give the same weights, the generator's average included."""
    out = tmp_path / "weights.npz"
    result = subprocess.run([sys.executable, "-c", MIRRORED_VS_SINGLE, str(out), "wgan_gp",
                             "wgan"], cwd=REPO_ROOT, env=subprocess_env(), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    n = int(result.stdout.strip().splitlines()[-1])
    arrays = np.load(out)
    weights = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
    assert n == 2 * 12  # per model: G's 4 variables, D's 4 and G's average's 4
    for a, b in zip(weights[:n], weights[n:]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------------- LSGAN
def test_lsgan_uses_least_squares_and_learns_ring8():
    """D's first loss is the hand-computed eq. (9) on its outputs, and in 300 steps G's
    samples move from the origin towards the ring (measured: 80 -> 39 std from the nearest
    mode)."""
    model = compiled("lsgan", **TINY)
    assert model.config["loss"] == "least_squares"
    real = next(iter(data.load("ring8", batch_size=256, seed=0)))
    z = model.sample_generator_inputs(256, model.step_seed(SEED_DISCRIMINATOR))
    d_real = model.discriminator(real).numpy()
    d_fake = model.discriminator(model.generator(z)).numpy()
    expected = 0.5 * np.mean((d_real - 1) ** 2) + 0.5 * np.mean(d_fake ** 2)
    before = mean_distance_to_ring(model)
    first = model.fit(data.load("ring8", batch_size=256, seed=0), steps_per_epoch=1, epochs=1,
                      verbose=0, shuffle=False).history["d_loss"][0]
    np.testing.assert_allclose(first, expected, rtol=1e-5)
    fit(model, 300)
    after = mean_distance_to_ring(model)
    print("distance", before, after)
    assert after < 0.6 * before
