"""InfoGAN: the bound L_I against numpy, the codes, who trains Q, and Q learning the codes."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import train_and_export

from zoo import data, trainer
from zoo.models import build
from zoo.models.infogan import LatentCodes, information_lower_bound

TINY = dict(generator_hidden=[16], discriminator_hidden=[16], q_hidden=[8], batch_size=32)


def log_softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def test_lower_bound_matches_numpy():
    rng = np.random.default_rng(0)
    k, n, batch = 5, 2, 7
    classes = rng.integers(0, k, batch)
    one_hot = np.eye(k, dtype=np.float32)[classes]
    continuous = rng.uniform(-1, 1, (batch, n)).astype(np.float32)
    q = rng.normal(size=(batch, k + n)).astype(np.float32)
    bound = information_lower_bound(LatentCodes(tf.constant(one_hot), tf.constant(continuous)),
                                    tf.constant(q))
    # eq. (5): E[log Q(c | x)] + H(c), H = log k for the class, n log 2 for U(-1, 1)^n.
    categorical = log_softmax(q[:, :k])[np.arange(batch), classes].mean() + np.log(k)
    gaussian = -0.5 * (continuous - q[:, k:]) ** 2 - 0.5 * np.log(2 * np.pi)
    np.testing.assert_allclose(bound["categorical"], categorical, rtol=1e-5)
    np.testing.assert_allclose(bound["continuous"], gaussian.sum(1).mean() + n * np.log(2),
                               rtol=1e-5)
    np.testing.assert_allclose(bound["accuracy"], np.mean(q[:, :k].argmax(1) == classes))
    # A Q that knows the class attains I = H(c) = log k; a Q that guesses uniformly, 0.
    sure = information_lower_bound(LatentCodes(tf.constant(one_hot), tf.zeros([batch, 0])),
                                   tf.constant(50.0 * one_hot))
    np.testing.assert_allclose(sure["categorical"], np.log(k), atol=1e-5)
    guess = information_lower_bound(LatentCodes(tf.constant(one_hot), tf.zeros([batch, 0])),
                                    tf.zeros([batch, k]))
    np.testing.assert_allclose(guess["categorical"], 0.0, atol=1e-6)
    assert float(guess["continuous"]) == 0.0


def test_losses_subtract_lambda_times_the_bound():
    model = build("infogan", data.info("ring8"),
                  dict(TINY, continuous_codes=1, info_weight=0.5, continuous_weight=0.1))
    real, fake = tf.constant([[2.0], [-1.0]]), tf.constant([[0.5], [1.5]])
    bound = {"categorical": tf.constant(1.5), "continuous": tf.constant(-0.3),
             "accuracy": tf.constant(1.0)}
    softplus = lambda x: np.log1p(np.exp(x))  # noqa: E731
    d_adversarial = np.mean(softplus(-np.array([2.0, -1.0]))) + np.mean(softplus([0.5, 1.5]))
    g_adversarial = np.mean(softplus(-np.array([0.5, 1.5])))
    info = 0.5 * 1.5 + 0.1 * -0.3
    np.testing.assert_allclose(model.discriminator_loss(None, None, real, (fake, bound)),
                               d_adversarial - info, rtol=1e-5)
    np.testing.assert_allclose(model.generator_loss(None, (fake, bound)), g_adversarial - info,
                               rtol=1e-5)


def test_codes_are_drawn_as_the_prior_says():
    model = build("infogan", data.info("ring8"), dict(TINY, continuous_codes=2))
    assert (model.latent_dim, model.categories, model.continuous_codes) == (2, 8, 2)
    z = model.sample_generator_inputs(4000, tf.constant([1, 2], tf.int64))
    assert z.shape == (4000, 12)
    codes = model.codes(z)
    one_hot = codes.categorical.numpy()
    np.testing.assert_array_equal(one_hot.sum(1), 1.0)
    assert np.all(np.bincount(one_hot.argmax(1), minlength=8) > 400)  # ~500 each
    continuous = codes.continuous.numpy()
    assert continuous.min() >= -1 and continuous.max() <= 1
    np.testing.assert_allclose(continuous.var(0), 1 / 3, atol=0.03)  # U(-1, 1)
    chosen = model.sample_generator_inputs(3, tf.constant([1, 2], tf.int64),
                                           tf.constant([7, 0, 7]))
    np.testing.assert_array_equal(model.codes(chosen).categorical.numpy().argmax(1), [7, 0, 7])
    np.testing.assert_array_equal(model.generate(3, seed=1, categories=[7, 0, 7]),
                                  model.generate(3, seed=1, categories=[7, 0, 7]))


def test_bad_configs_name_the_value():
    with pytest.raises(ValueError, match="categories must be 0 or at least 2, got 1"):
        build("infogan", data.info("ring8"), dict(TINY, categories=1))
    with pytest.raises(ValueError, match="categories and continuous_codes are both 0"):
        build("infogan", data.info("ring8"), dict(TINY, categories=0))
    with pytest.raises(ValueError, match="info_weight must be >= 0, got -1"):
        build("infogan", data.info("ring8"), dict(TINY, info_weight=-1))
    model = build("infogan", data.info("ring8"), TINY)
    with pytest.raises(ValueError, match=r"categories must be 2 ints in \[0, 8\)"):
        model.generate(2, categories=[0, 8])
    with pytest.raises(ValueError, match="InfoGAN is not conditional"):
        model.generate(2, labels=[0, 1])


def test_q_trains_with_the_discriminator_optimizer():
    """Q's head is in D's variables (the authors' code); D's body gets L_I's gradient too."""
    model = build("infogan", data.info("ring8"), dict(TINY, continuous_codes=1), seed=1)
    model.compile(*model.default_optimizers())
    q_variables = model.q_head.trainable_variables
    assert {id(v) for v in q_variables} <= {id(v) for v in model.discriminator_variables()}
    assert not {id(v) for v in q_variables} & {id(v) for v in model.generator.trainable_variables}
    before = [v.numpy().copy() for v in q_variables]
    history = model.fit(data.load("ring8", batch_size=32), steps_per_epoch=5, epochs=1,
                        verbose=0, shuffle=False)
    assert set(history.history) == {"d_loss", "g_loss", "info_categorical", "info_continuous",
                                    "q_accuracy"}
    assert int(model.d_optimizer.iterations) == 5 and int(model.g_optimizer.iterations) == 5
    assert all(not np.allclose(b, v.numpy()) for b, v in zip(before, q_variables))
    clone = type(model).from_config(model.get_config())
    assert (clone.categories, clone.continuous_codes) == (8, 1)


def q_accuracy(model, seed):
    """How often argmax Q(c | G(z, c)) is c, over 2,000 fresh draws."""
    z = model.sample_generator_inputs(2000, tf.constant([seed, 7], tf.int64))
    logits = model.recognize(model.generator(z, training=False))[:, :model.categories]
    return np.mean(logits.argmax(1) == model.codes(z).categorical.numpy().argmax(1))


def test_q_recovers_the_categorical_code_on_ring8():
    """Learning: 8 categories on ring8, 600 steps of the defaults (measured: Q's accuracy
    0.98 on D's fakes at step 1,000 and 1.0 on fresh draws; chance 1/8): > 90%."""
    keras.utils.set_random_seed(0)
    model = build("infogan", data.info("ring8"), {"steps": 600}, seed=0)
    model.compile(*model.default_optimizers())
    before = q_accuracy(model, 1)
    history = model.fit(data.load("ring8", batch_size=256, seed=0), steps_per_epoch=600,
                        epochs=1, verbose=0, shuffle=False)
    after = q_accuracy(model, 1)
    print("Q accuracy before", before, "after", after, "last logs",
          {k: v[-1] for k, v in history.history.items()})
    assert before < 0.3
    assert after > 0.9
    # The bound approaches its ceiling H(c) = log 8.
    assert history.history["info_categorical"][-1] > 0.8 * np.log(8)


def test_infogan_on_images_runs_from_the_trainer_and_exports(tmp_path):
    result = train_and_export("infogan", "fashion_mnist", str(tmp_path), steps=2, batch_size=8,
                              overrides={"width": 8, "latent_dim": 6, "q_hidden": [8]},
                              verbose=0, final_metrics=False)
    model = trainer.load_run(result.run_dir)
    assert model.generator.inputs[0].shape[-1] == 6 + 10 + 2
    assert model.d_optimizer.learning_rate.numpy() == pytest.approx(2e-4)
    assert model.g_optimizer.learning_rate.numpy() == pytest.approx(1e-3)
    sample = tf.saved_model.load(result.export_path).signatures["sample"]
    seeds = tf.constant([3, 4], tf.int64)
    np.testing.assert_allclose(sample(seed=seeds)["images"], model.sample_from_seeds(seeds),
                               atol=1e-5)
