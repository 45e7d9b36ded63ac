"""The generator-EMA add-on (`generator_ema`, `zoo.addons.ema`): the exact average, inference,
checkpoints and the exported SavedModel."""
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import train_and_export

from zoo import data, trainer
from zoo.addons import ema
from zoo.models import GAN, build
from zoo.networks import mlp

DECAY = 0.8
TINY = dict(generator_hidden=[16], discriminator_hidden=[16], batch_size=32)


def bn_gan(**kwargs):
    """A point GAN whose generator has batch norm: its moving statistics are averaged too."""
    keras.utils.set_random_seed(4)
    model = GAN(mlp.generator(2, 2, [8], batch_norm=True), mlp.discriminator(2, [8]),
                latent_dim=2, seed=4, **kwargs)
    model.compile(keras.optimizers.Adam(0.05), keras.optimizers.Adam(0.05))
    return model


def test_average_is_the_closed_form_after_n_steps():
    """w_ema(N) = d^N w_0 + (1 - d) sum_k d^(N - k) w_k, for every variable of G, BN's
    moving mean and variance included."""
    model = bn_gan(addons={"generator_ema": DECAY})
    trajectory = [[w.copy() for w in model.generator.get_weights()]]
    batches = data.load("ring8", batch_size=16, seed=2)
    for _ in range(5):
        model.fit(batches, steps_per_epoch=1, epochs=1, verbose=0, shuffle=False)
        trajectory.append([w.copy() for w in model.generator.get_weights()])
    n = len(trajectory) - 1
    assert len(model.generator.non_trainable_weights) == 2  # moving mean and variance
    averaged = model.addon("generator_ema").average.average.get_weights()
    for index, got in enumerate(averaged):
        expected = DECAY ** n * trajectory[0][index] + (1 - DECAY) * sum(
            DECAY ** (n - k) * trajectory[k][index] for k in range(1, n + 1))
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
        assert not np.allclose(got, trajectory[-1][index])  # an average, not a copy
    assert all(not v.trainable for v in model.addon("generator_ema").average.average.weights)
    assert model.trainable_weights == (model.generator.trainable_weights
                                       + model.discriminator.trainable_weights)


@pytest.mark.parametrize("name", ["gan", "dfm"])
def test_each_generator_update_moves_the_average_once(name):
    """DFM applies G's gradient in its own train_step: it moves the average as well."""
    model = build(name, data.info("ring8"), dict(TINY, generator_ema=0.5), seed=1)
    model.compile(*model.default_optimizers())
    start = [w.copy() for w in model.generator.get_weights()]
    model.fit(data.load("ring8", batch_size=32, seed=1), steps_per_epoch=1, epochs=1,
              verbose=0, shuffle=False)
    for got, before, after in zip(model.addon("generator_ema").average.average.get_weights(), start,
                                  model.generator.get_weights()):
        np.testing.assert_allclose(got, 0.5 * before + 0.5 * after, rtol=1e-5, atol=1e-7)


def test_inference_samples_from_the_average():
    model = bn_gan(addons={"generator_ema": DECAY})
    model.fit(data.load("ring8", batch_size=16, seed=2), steps_per_epoch=5, epochs=1, verbose=0,
              shuffle=False)
    averaged, raw = model.addon("generator_ema").average.average, model.generator
    assert model.inference_generator is averaged
    z = model.sample_generator_inputs(6, tf.constant([7, 0], tf.int64))
    np.testing.assert_allclose(model.generate(6, seed=7), averaged(z, training=False), rtol=1e-6)
    assert not np.allclose(model.generate(6, seed=7), raw(z, training=False), atol=1e-3)
    seeds = tf.constant([3, 5], tf.int64)
    np.testing.assert_allclose(model.sample_from_seeds(seeds),
                               averaged(model.generator_inputs_from_seeds(seeds),
                                        training=False), rtol=1e-6)
    plain = bn_gan()  # off: G itself samples
    assert plain.addon("generator_ema") is None and plain.inference_generator is plain.generator


@pytest.mark.parametrize("bad", [1.0, -0.1, "fast", [0.9]])
def test_bad_decay_is_named(bad):
    with pytest.raises(ValueError, match=r"generator_ema must be a decay in \[0, 1\)"):
        build("gan", data.info("ring8"), dict(TINY, generator_ema=bad))


def test_config_round_trip_keeps_the_decay():
    model = build("gan", data.info("ring8"), dict(TINY, generator_ema=0.99))
    assert model.get_config()["config"]["addons"]["generator_ema"] == 0.99
    assert GAN.from_config(model.get_config()).addon("generator_ema").average.decay == 0.99
    plain = build("gan", data.info("ring8"), TINY).get_config()
    assert "generator_ema" not in plain["config"]["addons"]


def test_checkpoint_and_export_serve_the_average(tmp_path):
    """A run with the add-on checkpoints the average (load_run restores it) and exports it:
    both signatures of the SavedModel serve the averaged generator, not G."""
    run_dir = str(tmp_path / "run")
    overrides = dict(TINY, generator_ema=0.9)
    train_and_export("gan", "ring8", run_dir, steps=20, overrides=overrides, checkpoint_every=10,
                     verbose=0)
    model = trainer.load_run(run_dir)
    averaged = model.addon("generator_ema").average.average
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(os.path.join(run_dir,
                                                                              "checkpoints")))
    saved = [reader.get_tensor(f"weights/{i}/.ATTRIBUTES/VARIABLE_VALUE")
             for i in range(len(model.weights))]
    restored = next(i for i, w in enumerate(model.weights) if w is averaged.weights[0])
    for offset, variable in enumerate(averaged.weights):
        np.testing.assert_array_equal(saved[restored + offset], variable.numpy())
    assert not np.allclose(averaged.get_weights()[0], model.generator.get_weights()[0])

    version = os.path.join(run_dir, "export", "gan_ring8", "1")
    served = tf.saved_model.load(version)
    z = tf.random.stateless_normal([5, 2], seed=[1, 2])
    np.testing.assert_allclose(served.signatures["serving_default"](z=z)["samples"],
                               averaged(z, training=False), rtol=1e-5, atol=1e-6)
    assert not np.allclose(served.signatures["serving_default"](z=z)["samples"],
                           model.generator(z, training=False), atol=1e-4)
    seeds = tf.constant([0, 9, 4], tf.int64)
    np.testing.assert_allclose(served.signatures["sample"](seed=seeds)["samples"],
                               model.sample_from_seeds(seeds), rtol=1e-5, atol=1e-6)
    with open(os.path.join(run_dir, "config.json")) as handle:
        assert json.load(handle)["config"]["addons"]["generator_ema"] == 0.9


def test_clone_failure_is_a_clear_error():
    class Opaque(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, z):
            return self.dense(z)

    generator = Opaque()
    generator(tf.zeros([1, 2]))
    with pytest.raises(ValueError, match="generator_ema needs a generator"):
        ema.GeneratorAverage(generator, 0.9)
