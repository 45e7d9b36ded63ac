"""Nothing lost, nothing surprising: checkpoint recovery, exact resume and run-directory rules.

Fault injection on a tiny `gan` on ring8 (checkpoints every 10 steps, the newest 3 kept): the
state file garbled or deleted, the newest checkpoint truncated, bit-flipped or without its
index, every checkpoint damaged, a save killed midway. Each resumes from the newest intact
checkpoint, overwrites nothing older, and ends with the weights of the uninterrupted run.
"""
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

import zoo.data
from conftest import REPO_ROOT, subprocess_env
from zoo import checkpoints, trainer
from zoo.models import build

TINY = dict(generator_hidden=[16], discriminator_hidden=[16], batch_size=32)
IMAGES = dict(width=8, latent_dim=16, batch_size=8)


def run(run_dir, steps, model="gan", dataset="ring8", overrides=TINY, **kwargs):
    return trainer.train(model, dataset, str(run_dir), steps=steps, overrides=overrides,
                         checkpoint_every=kwargs.pop("checkpoint_every", 10), verbose=0,
                         final_metrics=kwargs.pop("final_metrics", False),
                         **kwargs)


def weights(run_dir):
    return [w.numpy() for w in trainer.load_run(str(run_dir)).weights]


def assert_same_weights(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """{steps: weights} of one uninterrupted 50-step run, read at 40 and at 50 steps."""
    root = tmp_path_factory.mktemp("uninterrupted")
    run(root / "to40", 40)
    run(root / "to50", 50)
    return {40: weights(root / "to40"), 50: weights(root / "to50")}


def checkpoint_dir(run_dir):
    return os.path.join(str(run_dir), "checkpoints")


def data_file(run_dir, step):
    directory = checkpoint_dir(run_dir)
    return os.path.join(directory, next(n for n in os.listdir(directory)
                                        if n.startswith(f"ckpt-{step}.data")))


def test_a_resumed_run_ends_with_the_uninterrupted_runs_weights_and_metrics(tmp_path,
                                                                             uninterrupted):
    run(tmp_path, 20)
    result = run(tmp_path, 50)
    assert result.steps == 50
    assert_same_weights(weights(tmp_path), uninterrupted[50])
    assert checkpoints.steps_on_disk(checkpoint_dir(tmp_path)) == [30, 40, 50]  # 3 kept


def test_an_image_run_resumes_exactly_too(tmp_path):
    run(tmp_path / "whole", 4, "dcgan", "fashion_mnist", IMAGES, checkpoint_every=2)
    run(tmp_path / "parts", 2, "dcgan", "fashion_mnist", IMAGES, checkpoint_every=2)
    run(tmp_path / "parts", 4, "dcgan", "fashion_mnist", IMAGES, checkpoint_every=2)
    assert_same_weights(weights(tmp_path / "parts"), weights(tmp_path / "whole"))


class _StopAtEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


@pytest.mark.parametrize("model,dataset,overrides", [("gan", "ring8", TINY),
                                                     ("vgan", "ring8", TINY),
                                                     ("dcgan", "fashion_mnist", IMAGES)])
def test_backup_and_restore_in_your_own_fit_resumes_exactly(tmp_path, model, dataset,
                                                            overrides):
    """A user's `fit` with `keras.callbacks.BackupAndRestore`, interrupted after 2 of 4 epochs
    and started again, ends with the uninterrupted fit's weights: the model is restored in
    `on_train_begin`, and `zoo.data.load(start=model)` reads where its stream continues."""
    config = {k: v for k, v in overrides.items() if k != "batch_size"}
    if model == "vgan":
        config["generator_steps"] = 2

    def fit(callbacks):
        keras.utils.set_random_seed(0)
        gan = build(model, zoo.data.info(dataset), config, seed=0)
        gan.compile()
        data = zoo.data.load(dataset, overrides["batch_size"], start=gan)
        gan.fit(data, steps_per_epoch=3, epochs=4, verbose=0, callbacks=callbacks)
        return gan

    whole = fit([])
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    with pytest.raises(KeyboardInterrupt):
        fit([backup, _StopAtEpoch(2)])
    resumed = fit([keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))])
    assert int(resumed.batches_trained()) == 12
    assert_same_weights([w.numpy() for w in resumed.weights], [w.numpy() for w in whole.weights])


@pytest.mark.parametrize("damage", ["garbled", "deleted"])
def test_a_lost_state_file_loses_no_work(tmp_path, uninterrupted, damage, caplog):
    run(tmp_path, 40)
    state = os.path.join(checkpoint_dir(tmp_path), "checkpoint")
    kept = {s: os.path.getmtime(data_file(tmp_path, s)) for s in (20, 30, 40)}
    if damage == "garbled":
        with open(state, "w") as handle:
            handle.write("garbage {{{\n")
    else:
        os.remove(state)
    assert_same_weights(weights(tmp_path), uninterrupted[40])  # readers find it too
    assert os.path.exists(state) == (damage == "garbled")  # and write nothing
    result = run(tmp_path, 50)
    assert result.steps == 50
    assert_same_weights(weights(tmp_path), uninterrupted[50])
    for step in (30, 40):  # nothing older overwritten (ckpt-20 aged out: 3 kept)
        assert os.path.getmtime(data_file(tmp_path, step)) == kept[step]


@pytest.mark.parametrize("damage", ["truncated", "bit_flip", "index_missing"])
def test_a_damaged_newest_checkpoint_falls_back_to_the_one_before(tmp_path, uninterrupted,
                                                                 damage, caplog):
    run(tmp_path, 50)
    newest = data_file(tmp_path, 50)
    if damage == "truncated":
        with open(newest, "r+b") as handle:
            handle.truncate(os.path.getsize(newest) // 2)
    elif damage == "bit_flip":
        with open(newest, "r+b") as handle:
            handle.seek(os.path.getsize(newest) // 2)
            byte = handle.read(1)
            handle.seek(-1, os.SEEK_CUR)
            handle.write(bytes([byte[0] ^ 0x10]))
    else:
        os.remove(os.path.join(checkpoint_dir(tmp_path), "ckpt-50.index"))
    with caplog.at_level("WARNING", logger="zoo.checkpoints"):
        result = run(tmp_path, 50)
    assert result.steps == 50  # retrained 40 -> 50 from ckpt-40
    if damage != "index_missing":
        warnings = [r.getMessage() for r in caplog.records if "is damaged" in r.getMessage()]
        assert len(warnings) == 1 and "ckpt-50" in warnings[0], warnings
        assert "\n" not in warnings[0]
    assert_same_weights(weights(tmp_path), uninterrupted[50])


def test_no_intact_checkpoint_is_an_error_until_restart_sets_them_aside(tmp_path):
    run(tmp_path, 20)
    for step in checkpoints.steps_on_disk(checkpoint_dir(tmp_path)):
        with open(data_file(tmp_path, step), "r+b") as handle:
            handle.truncate(3)
    before = sorted(os.listdir(checkpoint_dir(tmp_path)))
    with pytest.raises(checkpoints.NoIntactCheckpoint, match="--restart"):
        run(tmp_path, 30)
    assert sorted(os.listdir(checkpoint_dir(tmp_path))) == before  # nothing touched
    result = run(tmp_path, 10, restart=True)
    assert result.steps == 10
    aside = [n for n in os.listdir(tmp_path) if n.startswith("checkpoints.set-aside-")]
    assert len(aside) == 1 and sorted(os.listdir(tmp_path / aside[0])) == before


def test_leftovers_of_a_killed_save_are_removed(tmp_path):
    run(tmp_path, 10)
    leftover = os.path.join(checkpoint_dir(tmp_path), "ckpt-20_temp")
    os.makedirs(leftover)
    open(os.path.join(leftover, "part-00000-of-00001.data-00000-of-00001"), "w").close()
    assert run(tmp_path, 20).steps == 20
    assert not os.path.exists(leftover)


def test_a_finished_run_does_nothing_and_a_smaller_steps_is_an_error(tmp_path):
    first = run(tmp_path, 20, final_metrics=True)
    again = run(tmp_path, 20, final_metrics=True)
    assert again.finished_before and again.steps == 20
    assert again.metrics["modes_covered"] == first.metrics["modes_covered"]
    assert "finished at step 20; nothing to do" in again.summary()
    with pytest.raises(ValueError, match="at step 20, past the steps=10"):
        run(tmp_path, 10)


def test_a_refused_start_writes_nothing_and_a_corrected_one_runs(tmp_path):
    run_dir = tmp_path / "run"
    with pytest.raises(ValueError, match="batch_size"):
        run(run_dir, 10, overrides=dict(TINY, batch_size=0))
    assert not run_dir.exists()
    assert run(run_dir, 10).steps == 10
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        run(file, 10)


def cli(*flags, timeout=300):
    return subprocess.run([sys.executable, "-m", "zoo.train", *flags], cwd=REPO_ROOT,
                          env=subprocess_env(), capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("flag,names", [("--steps=0", "steps"), ("--steps=-5", "steps"),
                                        ("--batch_size=0", "batch_size"),
                                        ("--keep_checkpoints=0", "keep_checkpoints")])
def test_bad_counts_are_usage_errors_naming_the_flag(tmp_path, flag, names):
    done = cli(f"--run_dir={tmp_path}/run", flag, timeout=60)
    assert done.returncode == 2, done.stderr
    assert names in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "run").exists()


def test_kill_minus_9_mid_run_then_resume_gives_the_uninterrupted_weights(tmp_path):
    """The command line killed at a random moment (mid-step or mid-save) resumes from its
    newest intact checkpoint; a finished run started again trains and exports nothing."""
    flags = ["--model=gan", "--steps=400", "--checkpoint_every=20", "--verbose=0",
             "--set=generator_hidden=[16]", "--set=discriminator_hidden=[16]",
             "--set=batch_size=32"]
    whole = cli(f"--run_dir={tmp_path}/whole", "--noexport", *flags)
    assert whole.returncode == 0, whole.stderr[-2000:]
    parts = f"{tmp_path}/parts"
    child = subprocess.Popen([sys.executable, "-m", "zoo.train", f"--run_dir={parts}",
                              "--noexport", *flags], cwd=REPO_ROOT, env=subprocess_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not checkpoints.steps_on_disk(checkpoint_dir(parts)) and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(float(np.random.default_rng().uniform(0.0, 0.5)))
    child.send_signal(signal.SIGKILL)
    child.wait()
    resumed = cli(f"--run_dir={parts}", *flags)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "gan on ring8: 400 steps" in resumed.stdout
    assert_same_weights(weights(parts), weights(f"{tmp_path}/whole"))
    again = cli(f"--run_dir={parts}", *flags)
    assert again.returncode == 0 and "finished at step 400; nothing to do" in again.stdout
    assert os.listdir(os.path.join(parts, "export", "gan_ring8")) == ["1"]  # no second version
