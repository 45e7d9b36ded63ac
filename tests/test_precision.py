"""Mixed precision (`precision`, `zoo.precision`): every variant trains in mixed_bfloat16 and
mixed_float16 (a few steps: finite losses, moved weights, float32 outputs, low-precision
layers inside), exports a SavedModel plain TensorFlow loads, keeps float32 weights, counts a
step that loss scaling skips, and trains under a 2-replica MirroredStrategy.

To keep the sweep short, one run in three is exported (by name and precision, so each
precision's export is exercised by a third of the variants and each variant's by one of
its two precisions or none: its float32 export is `test_contract`'s).
"""
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO_ROOT, subprocess_env
from test_contract import MIXTURE_TINY, TINY
from zoo import data, precision
from zoo.models import build, registry

LOW = {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}
NAMES = registry.MODELS.names()


def tiny(name: str, precision_name: str):
    cls = registry.MODELS.get(name)
    dataset = "ring8" if "mixture" in cls.data_kinds else "fashion_mnist"
    keras.utils.set_random_seed(0)
    model = build(name, data.info(dataset), dict(TINY.get(name, MIXTURE_TINY),
                                                 precision=precision_name), seed=3)
    model.compile()
    return model, dataset


def compute_dtypes(network) -> set:
    found = set()
    for layer in network.layers:
        found |= compute_dtypes(layer) if isinstance(layer, keras.Model) else {
            layer.compute_dtype}
    return found


@pytest.mark.parametrize("precision_name", list(LOW))
@pytest.mark.parametrize("name", NAMES)
def test_every_variant_trains_in_mixed_precision(name, precision_name, tmp_path):
    model, dataset = tiny(name, precision_name)
    assert LOW[precision_name] in compute_dtypes(model.generator)
    assert LOW[precision_name] in compute_dtypes(model.discriminator)
    assert all(v.dtype == "float32" for v in model.weights if "float" in str(v.dtype))
    assert isinstance(model.g_optimizer, keras.optimizers.LossScaleOptimizer) == (
        precision_name == "mixed_float16")
    before = [w.numpy().copy() for w in model.generator.trainable_weights]
    ds = data.load(dataset, batch_size=model.config.batch_size, with_labels=model.conditional,
                   image_size=model.config.get("image_size"))
    # float16: dynamic loss scaling starts at 2^15 and skips (still counting) the first steps
    # whose scaled gradients overflow; the stylegan skips 3 before its weights move.
    steps = 6 if precision_name == "mixed_float16" else 2
    history = model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0).history
    assert int(model.batches_trained()) == steps
    for key, values in history.items():
        assert np.all(np.isfinite(values)), (key, values)
    assert any(not np.array_equal(a, w.numpy())
               for a, w in zip(before, model.generator.trainable_weights)), "no G weight moved"
    samples = model.generate(3, seed=1)
    assert samples.dtype == np.float32 and np.all(np.isfinite(samples))
    if (NAMES.index(name) + list(LOW).index(precision_name)) % 3 == 0:
        path = model.export(str(tmp_path / "export"))
        served = tf.saved_model.load(path).signatures["serving_default"]
        outputs = served(**{k: tf.zeros([3] + spec.shape[1:], spec.dtype)
                            for k, spec in served.structured_input_signature[1].items()})
        for value in outputs.values():
            if value.dtype.is_floating:
                assert value.dtype == tf.float32 and np.all(np.isfinite(value.numpy()))


def test_mixed_weights_are_the_float32_builds_weights_and_keras_files_keep_the_policy(
        tmp_path):
    mixed, _ = tiny("dcgan", "mixed_bfloat16")
    plain, _ = tiny("dcgan", "float32")
    assert [w.shape for w in mixed.weights] == [w.shape for w in plain.weights]
    plain.set_weights(mixed.get_weights())  # same layout, float32 both
    np.testing.assert_allclose(mixed.generate(4, seed=2), plain.generate(4, seed=2),
                               atol=0.1)  # bfloat16 keeps ~3 significant digits
    mixed.save(str(tmp_path / "m.keras"))
    loaded = keras.models.load_model(str(tmp_path / "m.keras"))
    assert "bfloat16" in compute_dtypes(loaded.generator)
    np.testing.assert_array_equal(loaded.generate(4, seed=2), mixed.generate(4, seed=2))


def test_a_step_that_loss_scaling_skips_still_counts():
    variable = keras.Variable([1.0, 2.0])
    optimizer = precision.loss_scaled(keras.optimizers.SGD(0.1), "mixed_float16")
    optimizer.build([variable])
    scale = float(optimizer.dynamic_scale.numpy())
    optimizer.apply_gradients([(tf.constant([np.inf, 1.0]), variable)])
    assert int(optimizer.iterations.numpy()) == 1  # Keras' own would stay at 0
    np.testing.assert_array_equal(variable.numpy(), [1.0, 2.0])  # skipped
    assert float(optimizer.dynamic_scale.numpy()) == scale / 2
    optimizer.apply_gradients([(tf.constant([scale / 2, 0.0]), variable)])  # scaled gradient 1
    np.testing.assert_allclose(variable.numpy(), [0.9, 2.0])
    assert precision.loss_scaled(optimizer, "mixed_float16") is optimizer
    sgd = keras.optimizers.SGD(0.1)
    assert precision.loss_scaled(sgd, "mixed_bfloat16") is sgd


def test_an_unknown_precision_is_named():
    with pytest.raises(ValueError, match="precision must be one of .*'mixed_bfloat16'.*got 'float64'"):
        build("gan", data.info("ring8"), {"precision": "float64"})
    with pytest.raises(ValueError, match="precision must be one of"):
        with precision.policy("half"):
            pass
    assert keras.config.dtype_policy().name == "float32"


MIRRORED = textwrap.dedent("""
    import numpy as np
    from zoo import strategies
    strategies.split_cpu(2)
    import keras
    import tensorflow as tf
    from zoo import data
    from zoo.models import build

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    for name in ("mixed_bfloat16", "mixed_float16"):
        with strategy.scope():
            keras.utils.set_random_seed(0)
            model = build("gan", data.info("ring8"), {"precision": name}, seed=0)
            model.compile()
        before = model.generator.get_weights()
        history = model.fit(data.load("ring8", batch_size=32), steps_per_epoch=3, epochs=1,
                            verbose=0).history
        assert int(model.batches_trained()) == 3, name
        assert all(np.all(np.isfinite(v)) for v in history.values()), (name, history)
        assert any(not np.array_equal(a, b)
                   for a, b in zip(before, model.generator.get_weights())), name
        print(name, "ok")
""")


def test_mixed_precision_under_two_mirrored_replicas():
    result = subprocess.run([sys.executable, "-c", MIRRORED], cwd=REPO_ROOT,
                            env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["mixed_bfloat16", "ok", "mixed_float16", "ok"]
