"""The same model and train_step under MirroredStrategy and MultiWorkerMirroredStrategy."""
import json
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO_ROOT, subprocess_env

MIRRORED_VS_SINGLE = textwrap.dedent("""
    import sys
    import numpy as np
    from zoo import strategies
    strategies.split_cpu(2)
    import keras
    import tensorflow as tf
    from zoo import data
    from zoo.models import build

    batch = next(iter(data.load("ring8", batch_size=16, seed=1)))

    def train_one_step(strategy):
        with strategy.scope():
            keras.utils.set_random_seed(0)
            model = build("gan", data.info("ring8"), {}, seed=0)
            model.compile(*model.default_optimizers())
        initial = [w.copy() for w in model.generator.get_weights()]
        model.fit(tf.data.Dataset.from_tensors(batch).repeat(), steps_per_epoch=1, epochs=1,
                  verbose=0, shuffle=False)
        assert int(model.g_optimizer.iterations.numpy()) == 1
        return initial, model.generator.get_weights() + model.discriminator.get_weights()

    single_init, single = train_one_step(tf.distribute.get_strategy())
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert mirrored.num_replicas_in_sync == 2
    mirrored_init, two = train_one_step(mirrored)
    np.savez(sys.argv[1], *single, *two, *single_init, *mirrored_init)
    print(len(single))
""")


def test_mirrored_step_equals_single_device_step(tmp_path):
    out = tmp_path / "weights.npz"
    result = subprocess.run([sys.executable, "-c", MIRRORED_VS_SINGLE, str(out)], cwd=REPO_ROOT,
                            env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    n = int(result.stdout.strip().splitlines()[-1])
    arrays = np.load(out)
    weights = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
    single, two, initial = weights[:n], weights[n:2 * n], weights[2 * n:]
    n_generator = len(initial) // 2
    for a, b in zip(initial[:n_generator], initial[n_generator:]):
        np.testing.assert_array_equal(a, b)  # same start on both
    assert any(not np.allclose(a, b) for a, b in zip(initial[:n_generator], single))  # it moved
    for a, b in zip(single, two):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_worker_processes_train_in_lockstep(tmp_path):
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    run_dir = tmp_path / "run"
    processes = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers},
                                "task": {"type": "worker", "index": index}})
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "zoo.train", "--strategy=multi_worker", "--model=gan",
             "--dataset=ring8", "--steps=30", "--batch_size=32", "--checkpoint_every=10",
             f"--run_dir={run_dir}", "--verbose=0"],
            cwd=REPO_ROOT, env=subprocess_env(TF_CONFIG=tf_config), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True))
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=300)[0])
    finally:
        for process in processes:
            process.kill()
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-3000:]
    assert "30 steps" in outputs[0].strip().splitlines()[-1]
    chief = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(run_dir / "checkpoints")))
    other = tf.train.load_checkpoint(
        tf.train.latest_checkpoint(str(run_dir / "workers" / "worker_1" / "checkpoints")))
    keys = [k for k in chief.get_variable_to_shape_map() if k.startswith("weights/")]
    assert len(keys) == 16  # the generator's and the discriminator's kernels and biases
    for key in keys:
        np.testing.assert_allclose(chief.get_tensor(key), other.get_tensor(key), rtol=1e-6)
    assert int(chief.get_tensor("g_optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE")) == 30
    assert json.loads((run_dir / "metrics.json").read_text())["steps"] == 30


def test_tpu_strategy_without_a_tpu_is_a_clear_error():
    from zoo import strategies

    try:
        strategies.make_strategy("tpu")
    except RuntimeError as error:
        assert "--strategy=tpu needs a TPU" in str(error)
    else:  # pragma: no cover - only on a TPU host
        assert tf.config.list_logical_devices("TPU")


def test_unknown_strategy_lists_the_valid_ones():
    from zoo import strategies

    with pytest.raises(ValueError, match="default, mirrored, multi_worker, tpu"):
        strategies.make_strategy("horovod")
