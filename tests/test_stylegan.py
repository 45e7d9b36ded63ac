"""StyleGAN: AdaIN, R1, the mapping's learning-rate multiplier, noise, style mixing, truncation,
w_avg; a tiny run that learns (FCD), restores w_avg, exports and serves `sample` with psi."""
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import train_and_export

from zoo import data, losses, trainer
from zoo.metrics.images import fashion_mnist_scores
from zoo.models import build
from zoo.models.base import SEED_GENERATOR
from zoo.networks import stylegan as nets

TINY = dict(latent_dim=16, w_dim=16, mapping_depth=2, width=4, max_width=8, d_width=8)
LAYERS = 8  # style layers at 32x32: two per resolution 4, 8, 16, 32


def tiny_generator(seed=0):
    keras.utils.set_random_seed(seed)
    return nets.generator(16, 16, 32, 1, widths=[8, 8, 8, 8], mapping_depth=2)


def inputs(generator, z, z_mix=None, mix_from=LAYERS, psi=1.0, noise_seed=0, shared_noise=False):
    """G's input list for latents z [n, 16]; noise ~ N(0, 1), the same for every row if shared."""
    n = len(z)
    rng = np.random.default_rng(noise_seed)
    noise = [rng.normal(size=(1 if shared_noise else n,) + tuple(t.shape[1:])).astype(np.float32)
             for t in generator.inputs[4:]]
    noise = [np.repeat(x, n, axis=0) if shared_noise else x for x in noise]
    z_mix = z if z_mix is None else z_mix
    return [np.asarray(z, np.float32), np.asarray(z_mix, np.float32),
            np.full(n, mix_from, np.int32), np.full(n, psi, np.float32)] + noise


# ------------------------------------------------------------------ the defining pieces
def test_adain_gives_each_map_the_styles_mean_and_std():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(2, 6, 5, 3)) * [0.5, 2.0, 7.0] + [1.0, -3.0, 0.2]).astype(np.float32)
    y_scale = np.array([[2.0, -0.5, 1.0], [0.3, 1.5, 4.0]], np.float32)
    y_bias = np.array([[0.0, 1.0, -2.0], [5.0, 0.1, 0.0]], np.float32)
    out = nets.AdaIN()([x, np.concatenate([y_scale, y_bias], axis=1)]).numpy()
    # Eq. (1) by hand, statistics over each map's 30 positions.
    mu, sigma = x.mean(axis=(1, 2), keepdims=True), x.std(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(out, y_scale[:, None, None] * (x - mu) / sigma
                               + y_bias[:, None, None], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out.mean(axis=(1, 2)), y_bias, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(1, 2)), np.abs(y_scale), rtol=1e-4)


def test_style_affine_starts_around_the_identity_scale():
    keras.utils.set_random_seed(0)
    affine = nets.StyleAffine(4)
    y = affine(tf.random.stateless_normal([4000, 16], [0, 1])).numpy()
    np.testing.assert_array_equal(affine.bias.numpy(), [1, 1, 1, 1, 0, 0, 0, 0])
    # y = w (c W) + b with w ~ N(0, I): mean b, std the norm of each column of c W, which
    # has He's scale with gain 1: E||c W_j||^2 = 16 / 16 = 1.
    np.testing.assert_allclose(y[:, :4].mean(axis=0), 1.0, atol=0.1)
    np.testing.assert_allclose(y[:, 4:].mean(axis=0), 0.0, atol=0.1)
    columns = np.linalg.norm((affine.kernel * affine.scale).numpy(), axis=0)
    np.testing.assert_allclose(y.std(axis=0), columns, rtol=0.05)
    assert np.mean(columns ** 2) == pytest.approx(1.0, abs=0.3)


def test_r1_penalty_of_known_critics_and_its_double_backprop():
    a = np.array([3.0, -4.0, 0.0, 12.0], np.float32)  # ||a||^2 = 169
    x = tf.random.stateless_normal([5, 4], [1, 2])
    assert float(losses.r1_penalty(lambda v: tf.reduce_sum(v * a, axis=1), x)) == pytest.approx(169)
    # D(x) = c/2 ||x||^2: grad = c x, penalty = c^2 E||x||^2, d/dc = 2 c E||x||^2.
    c = tf.Variable(0.7)
    with tf.GradientTape() as tape:
        penalty = losses.r1_penalty(lambda v: 0.5 * c * tf.reduce_sum(v * v, axis=1), x)
    mean_sq = float(tf.reduce_mean(tf.reduce_sum(x * x, axis=1)))
    assert float(penalty) == pytest.approx(0.49 * mean_sq, rel=1e-5)
    assert float(tape.gradient(penalty, c)) == pytest.approx(1.4 * mean_sq, rel=1e-5)


def test_discriminator_loss_adds_gamma_over_two_r1():
    model = build("stylegan", data.info("fashion_mnist"), dict(TINY, r1_gamma=4.0))
    real = tf.random.stateless_uniform([4, 32, 32, 1], [0, 1], -1, 1)
    fake = tf.random.stateless_uniform([4, 32, 32, 1], [0, 2], -1, 1)
    real_out, fake_out = model.discriminator(real), model.discriminator(fake)
    plain = losses.get("non_saturating").discriminator(real_out, fake_out)
    r1 = losses.r1_penalty(model.discriminator, real)
    assert float(r1) > 0
    assert float(model.discriminator_loss(real, fake, real_out, fake_out)) == pytest.approx(
        float(plain + 2.0 * r1), rel=1e-5)


def test_mapping_learning_rate_multiplier_slows_adam_100x():
    """Same init at run time (He scale), but one Adam step moves c W lr_multiplier times less."""
    x = tf.random.stateless_normal([64, 32], [3, 4])
    moves = {}
    for multiplier in (1.0, 0.01):
        keras.utils.set_random_seed(5)
        layer = nets.EqualizedDense(32, lr_multiplier=multiplier)
        layer.build((None, 32))
        before = (layer.kernel * layer.scale).numpy()
        assert before.std() == pytest.approx(np.sqrt(2 / 32), rel=0.05)
        optimizer = keras.optimizers.Adam(1e-3, epsilon=1e-12)  # first step: lr * sign(g)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(layer(x) - 1.0))
        grads = tape.gradient(loss, layer.trainable_variables)
        optimizer.apply_gradients(zip(grads, layer.trainable_variables))
        moves[multiplier] = np.abs((layer.kernel * layer.scale).numpy() - before).mean()
    assert moves[0.01] / moves[1.0] == pytest.approx(0.01, rel=0.02)


def test_noise_scaled_by_zero_leaves_the_output_deterministic():
    generator = tiny_generator()
    z = tf.random.stateless_normal([3, 16], [0, 7]).numpy()
    first = generator(inputs(generator, z, noise_seed=1)).numpy()
    np.testing.assert_array_equal(first, generator(inputs(generator, z, noise_seed=2)).numpy())
    for layer in generator.get_layer("synthesis").layers:
        if isinstance(layer, nets.NoiseInjection):
            layer.strength.assign(tf.fill(layer.strength.shape, 0.5))
    noisy = [generator(inputs(generator, z, noise_seed=s)).numpy() for s in (1, 2)]
    assert np.abs(noisy[0] - noisy[1]).mean() > 1e-3


def test_style_mixing_switches_from_w1_to_w2_at_the_crossover():
    generator = tiny_generator()
    z1 = tf.random.stateless_normal([2, 16], [1, 1]).numpy()
    z2 = tf.random.stateless_normal([2, 16], [2, 2]).numpy()
    mapping, mixing = generator.get_layer("mapping"), generator.get_layer("style_mixing")
    w1, w2 = mapping(z1).numpy(), mapping(z2).numpy()
    ws = mixing([w1, w2, np.array([3, 3], np.int32)]).numpy()
    np.testing.assert_array_equal(ws[:, :3], np.repeat(w1[:, None], 3, axis=1))
    np.testing.assert_array_equal(ws[:, 3:], np.repeat(w2[:, None], LAYERS - 3, axis=1))
    pure1 = generator(inputs(generator, z1)).numpy()
    pure2 = generator(inputs(generator, z2)).numpy()
    mixed = generator(inputs(generator, z1, z2, mix_from=3)).numpy()
    assert np.abs(mixed - pure1).mean() > 1e-3 and np.abs(mixed - pure2).mean() > 1e-3
    np.testing.assert_allclose(generator(inputs(generator, z1, z2, mix_from=0)).numpy(), pure2,
                               atol=1e-6)


def test_training_draws_mix_ninety_percent_of_batches_at_layers_1_to_7():
    model = build("stylegan", data.info("fashion_mnist"), TINY)
    crossovers = np.array([model.sample_generator_inputs(
        2, tf.constant([s, 9], tf.int64), style_mixing=0.9)[2].numpy() for s in range(300)])
    assert np.all(crossovers[:, 0] == crossovers[:, 1])  # one crossover per batch
    mixed = crossovers[:, 0][crossovers[:, 0] < LAYERS]
    assert len(mixed) / 300 == pytest.approx(0.9, abs=0.05)
    assert set(mixed) == set(range(1, LAYERS))
    plain = model.sample_generator_inputs(2, tf.constant([0, 9], tf.int64))
    assert np.all(plain[2].numpy() == LAYERS) and np.all(plain[3].numpy() == 1.0)


def test_truncation_is_eq_3_and_moves_every_w_to_w_avg_at_psi_0():
    truncation = nets.Truncation()
    ws = tf.random.stateless_normal([500, LAYERS, 16], [4, 4])
    truncation.build([ws.shape, (None,)])
    w_avg = np.linspace(-1, 1, 16).astype(np.float32)
    truncation.w_avg.assign(w_avg)
    for psi in (0.0, 0.5, 1.0):
        out = truncation([ws, tf.fill([500], psi)]).numpy()
        np.testing.assert_allclose(out, w_avg + psi * (ws.numpy() - w_avg), atol=1e-6)
        np.testing.assert_allclose(out.var(axis=0), psi ** 2 * ws.numpy().var(axis=0),
                                   rtol=1e-4, atol=1e-6)


def test_w_avg_is_the_moving_average_of_this_steps_w():
    model = build("stylegan", data.info("fashion_mnist"), dict(TINY, w_avg_decay=0.9))
    model.compile(*model.default_optimizers())
    real = tf.zeros([8, 32, 32, 1])
    z = model.draw_generator_inputs(real, 8, model.step_seed(SEED_GENERATOR))[0]
    mean_w = model.mapping(z).numpy().mean(axis=0)
    model.extra_updates(real, None, 8)
    np.testing.assert_allclose(model.w_avg, 0.1 * mean_w, rtol=1e-5, atol=1e-7)
    model.extra_updates(real, None, 8)  # same step, same z: 0.9 * 0.1 w + 0.1 w
    np.testing.assert_allclose(model.w_avg, 0.19 * mean_w, rtol=1e-5, atol=1e-7)


def test_bad_settings_name_the_value():
    fashion = data.info("fashion_mnist")
    with pytest.raises(ValueError, match="image_size must be 4 \\* 2\\*\\*k.*got 28"):
        build("stylegan", fashion, dict(TINY, image_size=28))
    with pytest.raises(ValueError, match="stylegan needs an image dataset; 'ring8'"):
        build("stylegan", data.info("ring8"))
    with pytest.raises(ValueError, match="style_mixing .* got 1.5"):
        build("stylegan", fashion, dict(TINY, style_mixing=1.5))
    with pytest.raises(ValueError, match="widths needs one entry per resolution"):
        nets.synthesis(16, 32, 1, widths=[8, 8])
    with pytest.raises(ValueError, match="image_size is for image datasets; 'ring8'"):
        build("gan", data.info("ring8"), {"image_size": 32})
    dcgan = build("dcgan", fashion, {"image_size": 32, "width": 4, "latent_dim": 8})
    assert tuple(dcgan.generator.output.shape[1:]) == (32, 32, 1)


# ------------------------------------------------------- a tiny run: learns, saves, serves
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp("tiny_stylegan"))
    train_and_export("stylegan", "fashion_mnist", run_dir, steps=150, batch_size=16,
                     overrides=dict(TINY, learning_rate=2e-3), verbose=0, final_metrics=False)
    return run_dir


@pytest.fixture(scope="module")
def trained(tiny_run):
    return trainer.load_run(tiny_run)


def test_tiny_run_lowers_the_frechet_classifier_distance(tiny_run, trained):
    spec = trainer.read_spec(tiny_run)
    untrained = trainer.build_model(spec, spec["overrides"])
    before = fashion_mnist_scores(untrained, num_samples=500)
    after = fashion_mnist_scores(trained, num_samples=500)
    assert after["protocol"]["sample_resizing"].startswith("32x32 samples resized to 28x28")
    assert after["frechet_classifier_distance"] < 0.9 * before["frechet_classifier_distance"], (
        before["frechet_classifier_distance"], after["frechet_classifier_distance"])


def test_truncation_shrinks_sample_variance_monotonically_to_one_image(trained):
    assert np.abs(trained.w_avg).max() > 0  # restored from the checkpoint: it is saved
    generator = trained.generator
    z = tf.random.stateless_normal([64, 16], [5, 5]).numpy()
    variances = []
    for psi in (0.0, 0.25, 0.5, 0.75, 1.0):
        images = generator(inputs(generator, z, psi=psi, shared_noise=True)).numpy()
        variances.append(images.var(axis=0).mean())
    assert variances[0] < 1e-10  # psi = 0: w_avg's one image
    assert np.all(np.diff(variances) > 0), variances
    assert trained.generate(64, psi=0.0).var(axis=0).mean() < 0.2 * variances[-1]


def test_exported_sample_signature_takes_psi_and_serves_it(trained, tiny_run):
    from conftest import rest_call
    from serving import ModelServer
    from serving.config import parse_model_config

    base = os.path.join(tiny_run, "export", "stylegan_fashion_mnist")
    signature = tf.saved_model.load(os.path.join(base, "1")).signatures["sample"]
    assert signature.structured_input_signature[1]["psi"].dtype == tf.float32
    seeds, psi = np.array([3, 3, 8], np.int64), np.array([1.0, 0.0, 0.5], np.float32)
    expected = trained.sample_from_seeds(tf.constant(seeds), psi=tf.constant(psi)).numpy()
    loaded = signature(seed=tf.constant(seeds), psi=tf.constant(psi))["images"].numpy()
    np.testing.assert_allclose(loaded, expected, atol=1e-5)
    assert np.abs(expected[0] - expected[1]).mean() > 1e-3  # psi moves the sample
    configs = parse_model_config(
        f'model_config_list {{ config {{ name: "style" base_path: "{base}" }} }}')
    with ModelServer(configs, grpc_port=0, rest_port=0, poll_wait_seconds=0) as server:
        status, body = rest_call(server.rest_port, "POST", "/v1/models/style:predict", {
            "signature_name": "sample",
            "instances": [{"seed": int(s), "psi": float(p)} for s, p in zip(seeds, psi)]})
    assert status == 200, body
    served = np.array([row["images"] for row in body["predictions"]], np.float32)
    np.testing.assert_allclose(served, expected, atol=1e-5)
