"""The Keras model contract, one shared test per registered variant (like KerasHub's
`run_backbone_test` / `run_serialization_test`): what a Keras user does with a
`keras.Model` works with every zoo variant.

Each variant is built by hand from its own networks at a tiny size, then: `compile()` with no
arguments; `fit` on a finite dataset ends its epochs; `evaluate` reports D's and G's losses
without moving a weight; `predict` on z and on a dataset of z; `get_config` / `from_config`;
`model.save("m.keras")` and `keras.models.load_model` with no `custom_objects` giving the same
samples, then `fit` continuing both optimizers' iteration counts; `model.export` writing the
servable SavedModel that `python -m export` writes.
"""
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo  # noqa: F401  (registers every variant with Keras)
from zoo import data
from zoo.models import registry

IMAGE_TINY = dict(width=8, latent_dim=8, batch_size=4, d_steps=1)  # one D update: short traces
TINY = {  # the smallest networks each variant builds (images at 8x8 or 16x16 where it allows)
    "aan": dict(feature_units=6, rbm_hidden=4, feature_hidden=(8,), head_hidden=(8,),
                generator_hidden=(8,), gibbs_steps=2, batch_size=8),
    "biggan": dict(IMAGE_TINY, d_width=8, shared_embedding=4, image_size=8),
    "projection": dict(IMAGE_TINY, d_width=8, image_size=8),
    "sagan": dict(IMAGE_TINY, d_width=8, image_size=16, attention_resolution=8),
    "sngan": dict(IMAGE_TINY, d_width=8, image_size=8),
    "stylegan": dict(IMAGE_TINY, w_dim=8, mapping_depth=1, max_width=8, d_width=8,
                     image_size=16),
    "dcgan": dict(IMAGE_TINY),
}
MIXTURE_TINY = dict(generator_hidden=(8,), discriminator_hidden=(8,), batch_size=8, d_steps=1)


def tiny_model(name: str):
    """(model built by hand from the variant's networks, dataset name, its config)."""
    cls = registry.MODELS.get(name)
    dataset = "ring8" if "mixture" in cls.data_kinds else "fashion_mnist"
    info = data.info(dataset)
    config = cls.run_config(info, TINY.get(name, MIXTURE_TINY))
    networks = cls.build_networks(info.sized(config.get("image_size")), config)
    keras.utils.set_random_seed(0)
    return cls(**networks, config=config, seed=3), dataset, config


def finite_data(model, dataset: str, batches: int) -> tf.data.Dataset:
    return data.load(dataset, batch_size=model.config.batch_size, repeat=False,
                     with_labels=model.conditional,
                     image_size=model.config.get("image_size")).take(batches)


def sample(model) -> np.ndarray:
    return model.generate(4, seed=11)


@pytest.mark.parametrize("name", registry.MODELS.names())
def test_keras_contract(name, tmp_path):
    model, dataset, config = tiny_model(name)

    # compile() with no arguments takes the variant's default optimizers.
    model.compile()
    expected = model.default_optimizers()
    for got, want in zip((model.d_optimizer, model.g_optimizer), expected):
        assert type(got) is type(want)
        assert float(got.learning_rate.numpy()) == pytest.approx(
            float(want.learning_rate.numpy()))

    # fit on a finite dataset ends its epochs (2 epochs of 2 batches).
    history = model.fit(finite_data(model, dataset, 2), epochs=2, verbose=0)
    assert len(history.history["d_loss"]) == 2
    assert int(model.g_optimizer.iterations.numpy()) == 4 * getattr(model, "generator_steps", 1)
    d_iterations = int(model.d_optimizer.iterations.numpy())

    # evaluate reports D's and G's losses on the data and moves no weight.
    before = [w.copy() for w in model.get_weights()]
    result = model.evaluate(finite_data(model, dataset, 2), return_dict=True, verbose=0)
    assert set(result) == {"d_loss", "g_loss"} and all(np.isfinite(list(result.values())))
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)

    # predict on z (G's own inputs) and on a dataset of z.
    z = model.inference_generator.inputs
    if len(z) == 1:
        rows = np.random.default_rng(0).standard_normal(
            (5,) + tuple(z[0].shape[1:])).astype("float32")
        direct = model.inference_generator(rows, training=False).numpy()
        np.testing.assert_allclose(model.predict(rows, verbose=0), direct, rtol=1e-5, atol=1e-5)
        batches = model.predict(tf.data.Dataset.from_tensor_slices(rows).batch(2), verbose=0)
        np.testing.assert_allclose(batches, direct, rtol=1e-5, atol=1e-5)

    # get_config / from_config rebuild the same model.
    clone = type(model).from_config(model.get_config())
    assert clone.config == model.config
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(sample(clone), sample(model), rtol=1e-5, atol=1e-5)

    # .keras: load_model with no custom_objects gives the same samples, fit continues.
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(model) and loaded.config == model.config
    np.testing.assert_allclose(sample(loaded), sample(model), rtol=1e-5, atol=1e-5)
    assert int(loaded.g_optimizer.iterations.numpy()) == int(model.g_optimizer.iterations.numpy())
    assert int(loaded.d_optimizer.iterations.numpy()) == d_iterations
    loaded.fit(finite_data(loaded, dataset, 1), epochs=1, verbose=0)
    assert int(loaded.d_optimizer.iterations.numpy()) > d_iterations

    # export writes the servable SavedModel (`python -m export` writes it through
    # `model.export`), its `sample` signature computing what the model does in process.
    exported = model.export(os.path.join(tmp_path, "saved"))
    restored = tf.saved_model.load(exported)
    assert {"serving_default", "sample"} <= set(restored.signatures)
    seeds = tf.constant([1, 2], tf.int64)
    extras = {k: tf.constant([1, 1], v.dtype) for k, v in model.sample_extras.items()}
    served = restored.signatures["sample"](seed=seeds, **extras)
    key = "images" if "images" in served else "samples"
    np.testing.assert_allclose(served[key].numpy(),
                               model.sample_from_seeds(seeds, **extras).numpy(), atol=1e-4)
