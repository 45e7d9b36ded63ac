"""Tests of MetricsCallback: measurements every N steps, TensorBoard scalars, the history file."""
from __future__ import annotations

import glob
import json

import keras
import pytest
import tensorflow as tf

import zoo.data
import zoo.pretrained
from zoo.callbacks_metrics import MetricsCallback
from zoo.metrics import report
from zoo.models import build

RING = zoo.data.info("ring8")


def scalars(log_dir: str) -> dict:
    """{tag: {step: value}} of the scalar summaries in `log_dir`'s event files."""
    found: dict = {}
    for path in glob.glob(f"{log_dir}/events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                found.setdefault(value.tag, {})[event.step] = float(
                    tf.make_ndarray(value.tensor))
    return found


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """A ring8 GAN fit for 10 steps, measured every 4: (model, callback, log dir, history)."""
    directory = tmp_path_factory.mktemp("metrics_callback")
    keras.utils.set_random_seed(0)
    model = build("gan", RING, dict(batch_size=64))
    model.compile(*model.default_optimizers())
    callback = MetricsCallback(RING, every_n_steps=4, log_dir=str(directory / "logs"),
                               history_path=str(directory / "history.json"))
    model.fit(zoo.data.load("ring8", batch_size=64), steps_per_epoch=10, epochs=1,
              callbacks=[callback], shuffle=False, verbose=0)
    return model, callback, str(directory / "logs"), str(directory / "history.json")


def test_measures_every_n_steps(measured):
    _, callback, _, _ = measured
    assert [entry["step"] for entry in callback.history] == [4, 8]
    assert set(callback.history[0]) == {"step", "modes_covered", "high_quality_fraction",
                                        "reverse_kl"}
    assert isinstance(callback.history[0]["modes_covered"], int)


def test_a_measurement_is_what_measure_gives_for_the_same_weights():
    # The pretrained ring8 GAN, trained 2 more steps: metrics far from the trivial ones.
    model = zoo.pretrained.load("gan-ring8")
    callback = MetricsCallback(RING, every_n_steps=2)
    model.fit(zoo.data.load("ring8", batch_size=256), steps_per_epoch=2, epochs=1,
              callbacks=[callback], shuffle=False, verbose=0)
    expected = report.measure(model, "ring8")
    assert expected["modes_covered"] == 8
    numbers = {k: v for k, v in expected.items() if k != "protocol"}
    assert callback.history == [dict(numbers, step=2)]
    assert callback.protocol == expected["protocol"]


def test_writes_tensorboard_scalars(measured):
    _, callback, log_dir, _ = measured
    found = scalars(log_dir)
    assert set(found["metrics/reverse_kl"]) == {4, 8}
    assert found["metrics/high_quality_fraction"][8] == pytest.approx(
        callback.history[1]["high_quality_fraction"])


def test_writes_the_history_with_its_protocol(measured):
    _, callback, _, history_path = measured
    with open(history_path) as handle:
        saved = json.load(handle)
    assert saved["history"] == callback.history
    assert saved["protocol"]["mixture"]["protocol"].startswith("PacGAN protocol")
    assert saved["protocol"]["mixture"]["num_samples"] == 2500


def test_custom_metrics_and_bad_arguments(monkeypatch):
    monkeypatch.delenv("GAN_ZOO_INCEPTION_WEIGHTS", raising=False)
    keras.utils.set_random_seed(0)
    model = build("gan", RING, dict(batch_size=32))
    model.compile(*model.default_optimizers())
    callback = MetricsCallback(RING, 2, metrics_fn=lambda m: {
        "mean_x": float(m.generate(100, seed=0)[:, 0].mean()), "note": "x"})
    model.fit(zoo.data.load("ring8", batch_size=32), steps_per_epoch=4, epochs=1,
              callbacks=[callback], shuffle=False, verbose=0)
    assert [entry["step"] for entry in callback.history] == [2, 4]
    assert callback.history[-1]["mean_x"] == pytest.approx(model.generate(100, seed=0)[:, 0].mean())
    assert callback.protocol == {"note": "x"}
    with pytest.raises(ValueError, match="positive"):
        MetricsCallback(RING, 0)
    with pytest.raises(ValueError, match="2500"):
        MetricsCallback(RING, 5, num_samples=100)
    with pytest.raises(ValueError, match="mnist.*Inception-v3 weights.*pass metrics_fn"):
        MetricsCallback(zoo.data.info("mnist"), 5)


def test_fashion_mnist_default_metrics_use_the_zoo_classifier():
    info = zoo.data.info("fashion_mnist")
    keras.utils.set_random_seed(0)
    model = build("dcgan", info, dict(width=8, latent_dim=16, batch_size=8))
    model.compile(*model.default_optimizers())
    callback = MetricsCallback(info, every_n_steps=2, num_samples=100)
    model.fit(zoo.data.load("fashion_mnist", batch_size=8), steps_per_epoch=2, epochs=1,
              callbacks=[callback], shuffle=False, verbose=0)
    assert [entry["step"] for entry in callback.history] == [2]
    assert callback.history[0]["frechet_classifier_distance"] > 0
    assert callback.protocol["fashion_mnist_scores"]["num_samples"] == 100
    assert callback.protocol["fashion_mnist_scores"]["feature_extractor"]["name"] == \
        "zoo.classifiers.fashion_mnist"


def test_trainer_measures_every_n_steps_and_keeps_the_history_across_a_resume(tmp_path):
    from zoo import trainer

    run_dir = str(tmp_path / "run")
    options = dict(batch_size=64, overrides={"generator_hidden": [16], "discriminator_hidden": [16]},
                   verbose=0, checkpoint_every=20, metrics_every=20)
    trainer.train("gan", "ring8", run_dir, steps=40, **options)
    trainer.train("gan", "ring8", run_dir, steps=60, **options)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert [row["step"] for row in metrics["history"]] == [20, 40, 60]
    assert all(0 <= row["modes_covered"] <= 8 for row in metrics["history"])
    assert metrics["history"][-1]["modes_covered"] == metrics["modes_covered"]
    assert set(scalars(f"{run_dir}/logs/metrics")["metrics/modes_covered"]) == {20, 40, 60}


def test_trainer_runs_steps_per_execution_landing_on_every_boundary(tmp_path, monkeypatch):
    """20 steps per execution wanted; checkpoints every 30 and metrics every 20 make it 10:
    checkpoints, measurements and the losses' scalars still fall on their steps."""
    from zoo import checkpoints, trainer

    monkeypatch.setattr(trainer, "LOSS_SUMMARY_EVERY", 20)
    run_dir = str(tmp_path / "run")
    result = trainer.train("gan", "ring8", run_dir, steps=60, batch_size=64, checkpoint_every=30,
                           metrics_every=20, verbose=0, final_metrics=False,
                           overrides={"generator_hidden": [16], "discriminator_hidden": [16]})
    assert result.model.steps_per_execution == 10
    assert int(result.model.g_optimizer.iterations.numpy()) == 60
    assert checkpoints.steps_on_disk(f"{run_dir}/checkpoints") == [30, 60]
    history = json.loads((tmp_path / "run" / "metrics_history.json").read_text())["history"]
    assert [row["step"] for row in history] == [20, 40, 60]
    losses = scalars(f"{run_dir}/logs/train")
    assert set(losses) == {"loss/d_loss", "loss/g_loss"}
    assert set(losses["loss/g_loss"]) == {20, 40, 60}
