"""The conditional GAN: the label wrappers' math, labels through training, export and serving."""
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import rest_call, train_and_export
from export import export_generator
from zoo import data, trainer
from zoo.metrics.mixture import nearest_modes
from zoo.models import build
from zoo.networks import conditional, dcgan, mlp

TINY = dict(generator_hidden=[16], discriminator_hidden=[16], batch_size=32)


def test_generator_wrapper_concatenates_the_label_embedding_to_z():
    body = mlp.generator(2 + 3, 2, [8], name="generator_body")
    generator = conditional.generator(body, latent_dim=2, num_classes=4)
    z = np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32)
    labels = np.array([0, 3, 1, 3, 2], np.int32)
    table = generator.get_layer("label_embedding").get_weights()[0]
    assert table.shape == (4, 3)
    expected = body(np.concatenate([z, table[labels]], axis=1))
    np.testing.assert_allclose(generator([z, labels]), expected, rtol=1e-5, atol=1e-6)


def test_image_discriminator_sees_the_label_as_a_map_channel():
    body = dcgan.discriminator(8, 1 + 1, 4, name="discriminator_body")
    discriminator = conditional.discriminator(body, (8, 8, 1), num_classes=3)
    images = np.random.default_rng(1).uniform(-1, 1, size=(2, 8, 8, 1)).astype(np.float32)
    labels = np.array([2, 0], np.int32)
    table = discriminator.get_layer("label_embedding").get_weights()[0]
    assert table.shape == (3, 64)
    maps = table[labels].reshape(2, 8, 8, 1)
    expected = body(np.concatenate([images, maps], axis=-1), training=False)
    np.testing.assert_allclose(discriminator([images, labels], training=False), expected,
                               rtol=1e-5, atol=1e-6)


def test_bad_wrappers_and_configs_name_the_value():
    with pytest.raises(ValueError, match="more than latent_dim=4"):
        conditional.generator(mlp.generator(4, 2), latent_dim=4, num_classes=3)
    with pytest.raises(ValueError, match="more than 1 values on the last axis"):
        conditional.discriminator(dcgan.discriminator(8, 1, 4), (8, 8, 1), num_classes=3)
    with pytest.raises(ValueError, match="num_classes must be a positive int, got 0"):
        conditional.generator(mlp.generator(5, 2), latent_dim=2, num_classes=0)
    with pytest.raises(ValueError, match="label_embeding"):
        build("cgan", data.info("ring8"), {"label_embeding": 4})
    gan = build("gan", data.info("ring8"), TINY)
    with pytest.raises(ValueError, match="GAN is not conditional"):
        gan.generate(3, labels=[0, 1, 2])


def test_labels_are_checked_and_unlabeled_batches_refused():
    model = build("cgan", data.info("ring8"), TINY)
    model.compile(*model.default_optimizers())
    with pytest.raises(ValueError, match=r"labels must be in \[0, 8\), got values from 0 to 8"):
        model.generate(2, labels=[0, 8])
    with pytest.raises(ValueError, match="labels must be 3 ints"):
        model.generate(3, labels=[0, 1])
    with pytest.raises(ValueError, match="with_labels=True"):
        model.fit(data.load("ring8", batch_size=32), steps_per_epoch=1, epochs=1, verbose=0)
    # Default labels are drawn from the seed: reproducible, and every class appears.
    np.testing.assert_array_equal(model.generate(50, seed=4), model.generate(50, seed=4))
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels must be < num_classes"):
        model.sample_from_seeds(tf.constant([1, 2], tf.int64), labels=tf.constant([1, 9]))


def test_cgan_puts_each_label_on_its_own_mode():
    """Learning: on ring8 with labels = mode index, 800 steps (measured: 100% of the samples
    of each label nearest its own mode at step 600; an untrained G ~ 1/8): >= 90%. G itself
    samples here: the default EMA of G (decay 0.999) still holds 45% of the initial weights
    after 800 steps."""
    keras.utils.set_random_seed(0)
    info = data.info("ring8")
    model = build("cgan", info, {"steps": 800, "generator_ema": None}, seed=0)
    model.compile(*model.default_optimizers())
    labels = np.repeat(np.arange(8), 50)
    nearest, _ = nearest_modes(model.generate(400, seed=1, labels=labels), info.centers,
                               info.std)
    before = np.mean(nearest == labels)
    history = model.fit(data.load("ring8", batch_size=256, seed=0, with_labels=True),
                        steps_per_epoch=800, epochs=1, verbose=0, shuffle=False)
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    nearest, _ = nearest_modes(model.generate(400, seed=1, labels=labels), info.centers,
                               info.std)
    per_label = [np.mean(nearest[labels == k] == k) for k in range(8)]
    print("label on its mode: before", before, "after", per_label)
    assert before < 0.5
    assert min(per_label) >= 0.9, per_label


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory):
    """A 30-step cgan on ring8 through the trainer, exported as version 1."""
    run_dir = str(tmp_path_factory.mktemp("cgan_run"))
    result = train_and_export("cgan", "ring8", run_dir, steps=30, batch_size=64,
                           overrides={"generator_hidden": [16], "discriminator_hidden": [16]},
                           verbose=0)
    return result


def test_trainer_loads_labels_and_exports_a_labels_input(cgan_run):
    assert cgan_run.steps == 30 and cgan_run.metrics["protocol"]["mixture"]["num_samples"] == 2500
    loaded = tf.saved_model.load(cgan_run.export_path)
    sample = loaded.signatures["sample"]
    assert set(sample.structured_input_signature[1]) == {"seed", "labels"}
    assert sample.structured_input_signature[1]["labels"].dtype == tf.int32
    default = loaded.signatures["serving_default"]
    assert set(default.structured_input_signature[1]) == {"z", "labels"}
    model = trainer.load_run(cgan_run.run_dir)
    seeds, labels = tf.constant([5, 5, 6], tf.int64), tf.constant([1, 7, 1])
    served = sample(seed=seeds, labels=labels)["samples"].numpy()
    np.testing.assert_allclose(served, model.sample_from_seeds(seeds, labels=labels), atol=1e-5)
    assert not np.allclose(served[0], served[1])  # same seed, another label: another sample
    z = np.zeros((2, 2), np.float32)
    np.testing.assert_allclose(default(z=z, labels=tf.constant([0, 3]))["samples"],
                               model.inference_generator([z, np.array([0, 3])], training=False),
                               atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels must be < num_classes"):
        sample(seed=seeds[:1], labels=tf.constant([8]))


def test_served_cgan_samples_the_requested_labels(cgan_run, tmp_path):
    from serving import ModelServer
    from serving.config import parse_model_config

    base = str(tmp_path)
    export_generator(trainer.load_run(cgan_run.run_dir), base, "cring")
    expected = tf.saved_model.load(os.path.join(base, "cring", "1")).signatures["sample"](
        seed=tf.constant([1, 2], tf.int64), labels=tf.constant([4, 0]))["samples"].numpy()
    configs = parse_model_config(
        f'model_config_list {{ config {{ name: "cring" base_path: "{base}/cring" }} }}')
    with ModelServer(configs, grpc_port=0, rest_port=0, poll_wait_seconds=0) as server:
        body = {"signature_name": "sample",
                "instances": [{"seed": 1, "labels": 4}, {"seed": 2, "labels": 0}]}
        code, reply = rest_call(server.rest_port, "POST", "/v1/models/cring:predict", body)
        assert code == 200, reply
        np.testing.assert_allclose(np.array(reply["predictions"], np.float32), expected,
                                   atol=1e-6)
        body["instances"][1]["labels"] = 8
        code, reply = rest_call(server.rest_port, "POST", "/v1/models/cring:predict", body)
        assert code == 400 and "labels must be < num_classes" in reply["error"], reply


def test_cgan_trains_on_fashion_mnist_with_a_label_map():
    model = build("cgan", data.info("fashion_mnist"), dict(width=8, latent_dim=16,
                                                           batch_size=16))
    model.compile(*model.default_optimizers())
    assert model.discriminator.get_layer("discriminator_body").inputs[0].shape[-1] == 2
    history = model.fit(data.load("fashion_mnist", batch_size=16, with_labels=True),
                        steps_per_epoch=3, epochs=1, verbose=0, shuffle=False)
    assert all(np.isfinite(v[0]) for v in history.history.values())
    images = model.generate(10, labels=np.arange(10))
    assert images.shape == (10, 28, 28, 1) and np.abs(images).max() <= 1
    clone = type(model).from_config(model.get_config())
    assert clone.num_classes == 10
