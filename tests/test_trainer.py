"""Run directories: resume after a kill, stop on a non-finite loss, bad input from the CLI."""
import json
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO_ROOT, subprocess_env
from zoo import cli, trainer
from zoo.models import GAN, MODELS


def optimizer_iterations(checkpoint_path: str) -> tuple[int, int]:
    reader = tf.train.load_checkpoint(checkpoint_path)
    return tuple(int(reader.get_tensor(f"{name}/_iterations/.ATTRIBUTES/VARIABLE_VALUE"))
                 for name in ("d_optimizer", "g_optimizer"))


def train_cli(run_dir, *flags, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-m", "zoo.train", "--model=gan", "--dataset=ring8",
         f"--run_dir={run_dir}", "--verbose=0", *flags],
        cwd=REPO_ROOT, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, **kwargs)


def test_killed_run_resumes_with_both_optimizers_state(tmp_path):
    run_dir = tmp_path / "run"
    process = train_cli(run_dir, "--steps=1000000", "--checkpoint_every=100")
    checkpoints = run_dir / "checkpoints"
    deadline = time.time() + 240
    while time.time() < deadline:
        latest = tf.train.latest_checkpoint(str(checkpoints))
        if latest and int(latest.rsplit("-", 1)[1]) >= 300:
            break
        assert process.poll() is None, process.stdout.read()
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    latest = tf.train.latest_checkpoint(str(checkpoints))
    killed_at = int(latest.rsplit("-", 1)[1])
    assert optimizer_iterations(latest) == (killed_at, killed_at)

    resumed = train_cli(run_dir, f"--steps={killed_at + 200}", "--checkpoint_every=100")
    output, _ = resumed.communicate(timeout=240)
    assert resumed.returncode == 0, output
    final = tf.train.latest_checkpoint(str(checkpoints))
    assert final.endswith(f"ckpt-{killed_at + 200}")
    assert optimizer_iterations(final) == (killed_at + 200, killed_at + 200)
    summary = output.strip().splitlines()[-1]
    assert f"{killed_at + 200} steps" in summary and "modes_covered=" in summary
    assert not [line for line in output.splitlines() if cli.NOISE.search(line)], output
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["steps"] == killed_at + 200 and 0 <= metrics["modes_covered"] <= 8
    # The command line exports after the run (the killed one never got there): version 1.
    exported = run_dir / "export" / "gan_ring8" / "1"
    assert summary.endswith(f"; exported to {exported}") and (exported / "saved_model.pb").exists()
    assert not (run_dir / "export" / "gan_ring8" / "2").exists()


class NanAfterFiveSteps(GAN):
    """A GAN whose generator loss becomes NaN from the 6th step on."""

    def generator_loss(self, fake, fake_output):
        loss = super().generator_loss(fake, fake_output)
        return tf.where(self.g_optimizer.iterations >= 5, np.nan, loss)


def test_nan_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    if "nan_after_five" not in MODELS:
        MODELS.register("nan_after_five")(NanAfterFiveSteps)
    with pytest.raises(trainer.TrainingDiverged, match="g_loss=nan at step 6"):
        trainer.train("nan_after_five", "ring8", str(tmp_path), steps=50, checkpoint_every=2,
                      verbose=0)
    latest = tf.train.latest_checkpoint(str(tmp_path / "checkpoints"))
    assert latest.endswith("ckpt-4")
    reader = tf.train.load_checkpoint(latest)
    for key in reader.get_variable_to_shape_map():
        value = reader.get_tensor(key)
        if np.issubdtype(np.asarray(value).dtype, np.floating):
            assert np.all(np.isfinite(value)), key
    assert not (tmp_path / "metrics.json").exists()


def test_resuming_with_other_settings_is_refused(tmp_path):
    trainer.train("gan", "ring8", str(tmp_path), steps=2, verbose=0)
    with pytest.raises(ValueError, match="learning_rate"):
        trainer.train("gan", "ring8", str(tmp_path), steps=4, overrides={"learning_rate": 0.1},
                      verbose=0)


@pytest.mark.parametrize("flags,message", [
    (["--set=learning_rat=1"], "unknown .*learning_rat"),
    (["--set=novalue"], "KEY=VALUE"),
])
def test_cli_bad_input_is_a_clear_error(tmp_path, flags, message):
    process = train_cli(tmp_path / "run", "--steps=2", *flags)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 1
    last = output.strip().splitlines()[-1]
    assert last.startswith("error: ") and "Traceback" not in output
    assert re.search(message, last), last


def test_checkpoints_hold_non_trainable_weights(tmp_path):
    overrides = dict(width=4, latent_dim=4)
    trainer.train("dcgan", "fashion_mnist", str(tmp_path), steps=2, batch_size=4,
                  overrides=overrides, verbose=0, final_metrics=False)
    restored = trainer.load_run(str(tmp_path))
    moving = [w for w in restored.generator.weights if "moving_mean" in w.path]
    assert moving and any(np.any(w.numpy() != 0) for w in moving)  # trained statistics came back


def test_the_trainer_library_does_not_export(tmp_path):
    result = trainer.train("gan", "ring8", str(tmp_path), steps=2, verbose=0)
    assert result.export_path is None and not (tmp_path / "export").exists()
    assert "exported" not in result.summary()
    assert result.model is not None and result.steps == 2


def test_final_metrics_can_be_skipped(tmp_path):
    result = trainer.train("gan", "ring8", str(tmp_path), steps=2, verbose=0,
                           final_metrics=False)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert "modes_covered" not in metrics and metrics["steps"] == 2
    assert metrics["protocol"] == {"final_metrics": "skipped: final_metrics=False"}
    assert result.metrics == {"protocol": metrics["protocol"]}


def test_train_runs_its_phases_in_order(tmp_path, monkeypatch):
    calls = []
    for phase in ("prepare_run_dir", "build_and_restore", "fit_run", "finish_run"):
        original = getattr(trainer, phase)

        def traced(*args, _original=original, _phase=phase, **kwargs):
            calls.append(_phase)
            return _original(*args, **kwargs)

        monkeypatch.setattr(trainer, phase, traced)
    trainer.train("gan", "ring8", str(tmp_path), steps=2, verbose=0, final_metrics=False)
    assert calls == ["prepare_run_dir", "build_and_restore", "fit_run", "finish_run"]


def test_run_settings_is_the_one_read_of_the_models_run_config(tmp_path, monkeypatch):
    """Every setting the trainer uses comes through `run_settings` (the model's typed
    config): replacing it changes the run and its config.json."""
    original = trainer.run_settings
    monkeypatch.setattr(trainer, "run_settings", lambda model: original(model).replace(steps=3))
    result = trainer.train("gan", "ring8", str(tmp_path), steps=2, verbose=0,
                           final_metrics=False)
    assert result.steps == 3
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["config"]["train"]["steps"] == 3


def run_cli(*flags):
    started = time.time()
    done = subprocess.run([sys.executable, "-m", "zoo.train", *flags], cwd=REPO_ROOT,
                          env=subprocess_env(), capture_output=True, text=True, timeout=120)
    return done, time.time() - started


def test_cli_help_answers_at_once_before_tensorflow_loads():
    done, seconds = run_cli("--help")
    assert done.returncode == 0, done.stderr
    assert "--[no]final_metrics" in done.stdout and "--final_metrics_samples" in done.stdout
    assert seconds < 4, seconds  # importing TensorFlow alone takes longer than this
    assert done.stderr == ""


def test_cli_list_and_unknown_names_answer_before_tensorflow_loads():
    """The catalog the command line lists equals the registries, and answers at once."""
    from zoo import catalog, data
    from zoo.models import MODELS

    shipped = [n for n in MODELS.names() if MODELS.get(n).__module__.startswith("zoo.")]
    assert list(catalog.MODELS) == shipped  # (other tests register models of their own)
    assert list(catalog.DATASETS) == data.names()
    done, seconds = run_cli("--list")
    assert done.returncode == 0 and ", ".join(catalog.MODELS) in done.stdout, done.stderr
    assert seconds < 4, seconds
    for flag in ("--model=gann", "--dataset=ring9"):
        done, seconds = run_cli(flag)
        assert done.returncode == 2 and seconds < 4, (flag, seconds, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and flag.split("=")[1] in done.stderr


def test_pretrained_list_answers_before_tensorflow_loads():
    started = time.time()
    done = subprocess.run([sys.executable, "-m", "zoo.pretrained", "list"], cwd=REPO_ROOT,
                          env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "gan-ring8" in done.stdout, done.stderr
    assert time.time() - started < 4


@pytest.mark.parametrize("flag,named", [("--nope", "nope"), ("--steps=abc", "--steps"),
                                        ("--strategy=horovod", "--strategy")])
def test_cli_usage_errors_exit_2_with_one_line_naming_the_flag(flag, named):
    done, seconds = run_cli(flag)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and named in done.stderr, done.stderr
    assert seconds < 4, seconds


def test_stderr_filter_drops_tensorflow_start_up_noise_only(capfd):
    import os

    with cli.filtered_stderr():
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are "
                    b"written to STDERR\n")
        os.write(2, b"I0000 00:00:1.0 1 cudart_stub.cc:31] Could not find cuda drivers\n")
        os.write(2, b"E0000 00:00:1.0 1 cuda_platform.cc:52] failed call to cuInit: UNKNOWN\n")
        os.write(2, b"a real error\n")
    assert capfd.readouterr().err == "a real error\n"


@pytest.mark.parametrize("wanted,counts,replicas,expected", [
    (20, (500, 5000, 0, 0), 1, 20),   # the defaults: checkpoints every 500 of 5,000 steps
    (20, (50, 50, 0, 0), 1, 10),      # the largest divisor of 20 that divides 50
    (20, (30, 60, 30, 20), 1, 10),    # a resumed run with metrics every 20
    (16, (7, 7, 0, 0), 1, 1),
    (20, (500, 5000, 0, 0), 2, 1),    # two replicas: one step per execution (Keras 3.15)
])
def test_execution_steps_divide_every_boundary(wanted, counts, replicas, expected):
    class Strategy:
        num_replicas_in_sync = replicas

    assert trainer.execution_steps(wanted, Strategy(), counts) == expected


def test_execution_steps_must_be_positive():
    with pytest.raises(ValueError, match="steps_per_execution must be positive, got 0"):
        trainer.execution_steps(0, tf.distribute.get_strategy(), (10,))
