"""The annealing schedule and beta-GAN: exact schedule, heated data, resume, and learning."""
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo import data, trainer
from zoo.addons import annealing
from zoo.metrics import report
from zoo.models import build

TINY = dict(generator_hidden=[16], discriminator_hidden=[16], batch_size=32)


def test_schedule_values_are_exactly_geometric():
    schedule = annealing.AnnealingSchedule(beta_0=0.5, beta_inf=5e4, stages=5, steps_per_stage=10)
    betas = schedule.betas()
    assert len(betas) == 6 and betas[0] == 0.5 and betas[-1] == 5e4
    np.testing.assert_allclose(betas[1:] / betas[:-1], schedule.alpha, rtol=1e-12)
    np.testing.assert_allclose(schedule.alpha, (5e4 / 0.5) ** (1 / 5), rtol=1e-15)
    steps = np.arange(80)
    got = np.array([schedule.beta(int(t)).numpy() for t in steps])
    np.testing.assert_array_equal(got, betas[np.minimum(steps // 10, 5)].astype(np.float32))
    assert schedule.beta(49).numpy() == np.float32(betas[4])  # the last cooling step
    assert schedule.beta(50).numpy() == np.float32(5e4)       # beta_inf from K n on
    np.testing.assert_allclose(schedule.noise_std(0).numpy(), 1 / np.sqrt(0.5), rtol=1e-6)


def test_options_split_the_run_and_fail_loudly():
    schedule = annealing.AnnealingSchedule.from_options({"stages": 4}, total_steps=1000)
    assert schedule.steps_per_stage == 200 and schedule.beta_0 == 1.0
    assert schedule.beta(999).numpy() == np.float32(schedule.beta_inf)  # beta_inf at the end
    assert schedule.beta(799).numpy() < schedule.beta_inf
    with pytest.raises(ValueError, match="unknown annealing option.*beta_zero"):
        annealing.AnnealingSchedule.from_options({"beta_zero": 1.0}, 100)
    with pytest.raises(ValueError, match="beta_inf must be a number >= beta_0"):
        annealing.AnnealingSchedule(1.0, 0.5, 3, 10)


def tiny_beta_gan(**annealing_options):
    model = build("beta_gan", data.info("ring8"),
                  dict(TINY, steps=60, annealing=annealing_options), seed=3)
    model.compile(*model.default_optimizers())
    return model


def test_heated_samples_have_variance_one_over_beta():
    model = tiny_beta_gan(beta_0=4.0, beta_inf=1e4, stages=2, steps_per_stage=10)
    real = tf.fill([20000, 2], 0.7)
    for step, beta in [(0, 4.0), (15, 200.0), (25, 1e4)]:
        model.g_optimizer.iterations.assign(step)
        heated, logs = model.transform_real(real, tf.constant(20000))
        heated = heated.numpy()
        np.testing.assert_allclose(heated.mean(axis=0), 0.7, atol=4 / np.sqrt(beta * 20000))
        np.testing.assert_allclose(heated.var(axis=0), 1 / beta, rtol=0.05)
        np.testing.assert_allclose(logs["beta"].numpy(), beta, rtol=1e-6)


def test_a_gan_without_annealing_sees_the_data_unchanged():
    model = build("gan", data.info("ring8"), TINY)
    model.compile(*model.default_optimizers())
    real = tf.ones([4, 2])
    heated, logs = model.transform_real(real, tf.constant(4))
    assert heated is real and logs == {}


def test_fit_logs_beta_and_reaches_beta_inf():
    model = tiny_beta_gan(beta_0=1.0, beta_inf=100.0, stages=2, steps_per_stage=20)
    history = model.fit(data.load("ring8", batch_size=32), steps_per_epoch=20, epochs=3,
                        verbose=0, shuffle=False)
    assert set(history.history) == {"d_loss", "g_loss", "beta"}
    np.testing.assert_allclose(history.history["beta"], [1.0, 10.0, 100.0], rtol=1e-6)


def test_resume_keeps_the_schedule(tmp_path):
    run_dir = str(tmp_path / "run")
    overrides = dict(TINY, annealing={"stages": 3, "steps_per_stage": 20})
    trainer.train("beta_gan", "ring8", run_dir, steps=40, overrides=overrides,
                  checkpoint_every=20, verbose=0)
    halfway = trainer.load_run(run_dir)
    schedule = halfway.addon("annealing").schedule
    assert schedule == annealing.AnnealingSchedule(1.0, 1e6, 3, 20)
    assert schedule.beta(halfway.g_optimizer.iterations).numpy() == np.float32(1e4)
    result = trainer.train("beta_gan", "ring8", run_dir, steps=80, overrides=overrides,
                           checkpoint_every=20, verbose=0)
    assert result.steps == 80
    resumed = trainer.load_run(run_dir)
    schedule = resumed.addon("annealing").schedule
    assert schedule.beta(resumed.g_optimizer.iterations).numpy() == np.float32(1e6)
    # The heating noise is a pure function of (seed, step): a resumed run draws what an
    # uninterrupted one would.
    fresh = tiny_beta_gan(stages=3, steps_per_stage=20)
    fresh.seed = resumed.seed
    for model in (fresh, resumed):
        model.g_optimizer.iterations.assign(50)
    real = tf.zeros([8, 2])
    np.testing.assert_array_equal(fresh.transform_real(real, tf.constant(8))[0].numpy(),
                                  resumed.transform_real(real, tf.constant(8))[0].numpy())
    with open(os.path.join(run_dir, "config.json")) as handle:
        assert json.load(handle)["config"]["addons"]["annealing"]["steps_per_stage"] == 20


def test_beta_gan_learns_ring8():
    """Default networks and schedule, 3,000 steps (seed 1 of benchmarks/annealing.py, which
    measured 8 modes at 92% high quality): at least 7 of 8 modes, most samples good."""
    keras.utils.set_random_seed(1)
    info = data.info("ring8")
    model = build("beta_gan", info, {"steps": 3000}, seed=1)
    model.compile(*model.default_optimizers())
    model.fit(data.load("ring8", batch_size=256, seed=1), steps_per_epoch=3000, epochs=1,
              verbose=0, shuffle=False)
    metrics = report.measure(model, info.name)
    assert metrics["modes_covered"] >= 7, metrics
    assert metrics["high_quality_fraction"] >= 0.6, metrics
