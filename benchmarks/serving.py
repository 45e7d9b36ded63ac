"""Serving throughput and latency: REST and gRPC against the SavedModel called in-process.

    python -m benchmarks.serving [--model_base_path=DIR --model_name=NAME] [--requests=200]

For each batch size (1 and 64 images per request by default) one client sends the
`sample` signature's requests in turn to (a) the SavedModel loaded in this process,
(b) the REST API and (c) the gRPC API of a `python -m serving` process on 127.0.0.1,
round-robin, so that the three are measured side by side under the same conditions.
It reports p50/p99 latency, throughput (images/s) and each API's ratio to in-process,
and the machine it ran on. Client-side encoding and decoding (JSON, TensorProtos) count
in the latency. Without --model_base_path a tiny DCGAN (Fashion-MNIST) is trained for
a few steps and exported to a temporary folder.
"""
from __future__ import annotations

import gc
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Callable

import numpy as np
from absl import app
from absl import flags

from benchmarks.machine import machine

FLAGS = flags.FLAGS
flags.DEFINE_string("model_base_path", None, "Folder of exported models (default: train and "
                    "export a tiny DCGAN).")
flags.DEFINE_string("model_name", "digits", "The model to serve from --model_base_path.")
flags.DEFINE_list("batch_sizes", ["1", "64"], "Images per request.")
flags.DEFINE_integer("requests", 200, "Timed requests per API and batch size.", lower_bound=1)
flags.DEFINE_integer("warmup", 10, "Untimed requests per API and batch size first.",
                     lower_bound=0)
flags.DEFINE_integer("startup_seconds", 180, "Longest wait for the server to answer.")

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIGNATURE = "sample"
APIS = ("in-process", "REST", "gRPC")

Call = Callable[[np.ndarray], np.ndarray]


def tiny_model(base_path: str) -> None:
    """Trains a 2-step DCGAN (width 8) on Fashion-MNIST and exports it as `digits`."""
    from export import export_generator
    from zoo import trainer

    run_dir = os.path.join(base_path, "run")
    trainer.train("dcgan", "fashion_mnist", run_dir, steps=2, batch_size=8,
                  overrides={"width": 8, "latent_dim": 16}, verbose=0)
    export_generator(trainer.load_run(run_dir), base_path, "digits")


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(model_dir: str, grpc_port: int, rest_port: int, max_rows: int,
                 log_path: str) -> subprocess.Popen:
    """`python -m serving` for one model, logging to `log_path`."""
    with open(log_path, "w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "serving", f"--model_name={FLAGS.model_name}",
             f"--model_base_path={model_dir}", f"--port={grpc_port}",
             f"--rest_api_port={rest_port}", "--file_system_poll_wait_seconds=0",
             f"--max_batch_rows={max_rows}", f"--max_body_bytes={64 << 20}"],
            cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)


def wait_until_serving(process: subprocess.Popen, rest_port: int, log_path: str) -> None:
    deadline = time.time() + FLAGS.startup_seconds
    while time.time() < deadline:
        if process.poll() is not None:
            with open(log_path) as log:
                raise RuntimeError(f"the server exited:\n{log.read()[-3000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", rest_port, timeout=5)
            connection.request("GET", f"/v1/models/{FLAGS.model_name}")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server did not answer in {FLAGS.startup_seconds}s ({log_path})")


def in_process_call(version_dir: str) -> Call:
    import tensorflow as tf

    sample = tf.saved_model.load(version_dir).signatures[SIGNATURE]
    return lambda seeds: sample(seed=tf.constant(seeds))["images"].numpy()


def rest_call(rest_port: int) -> Call:
    connection = http.client.HTTPConnection("127.0.0.1", rest_port, timeout=120)
    path = f"/v1/models/{FLAGS.model_name}:predict"

    def call(seeds: np.ndarray) -> np.ndarray:
        connection.request("POST", path, json.dumps(
            {"signature_name": SIGNATURE, "inputs": {"seed": seeds.tolist()}}),
            {"Content-Type": "application/json"})
        response = connection.getresponse()
        body = json.loads(response.read())
        if response.status != 200:
            raise RuntimeError(f"REST {response.status}: {body}")
        return np.asarray(body["outputs"]["images"], np.float32)
    return call


def grpc_call(grpc_port: int) -> Call:
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(
        f"127.0.0.1:{grpc_port}", options=[("grpc.max_receive_message_length", -1)]))

    def call(seeds: np.ndarray) -> np.ndarray:
        request = predict_pb2.PredictRequest()
        request.model_spec.name = FLAGS.model_name
        request.model_spec.signature_name = SIGNATURE
        request.inputs["seed"].CopyFrom(tf.make_tensor_proto(seeds))
        return tf.make_ndarray(stub.Predict(request, 120).outputs["images"])
    return call


def measure(calls: dict[str, Call], batch: int) -> dict[str, np.ndarray]:
    """Seconds per request of each call, taken round-robin; checks that they agree."""
    import keras

    seeds = np.arange(batch, dtype=np.int64)
    reference = calls["in-process"](seeds)
    for name, call in calls.items():
        for _ in range(FLAGS.warmup):
            result = call(seeds)
        np.testing.assert_allclose(call(seeds), reference, atol=1e-5, err_msg=name)
    seconds = {name: [] for name in calls}
    progress = keras.utils.Progbar(FLAGS.requests, unit_name="round")
    for step in range(FLAGS.requests):
        for name, call in calls.items():
            started = time.perf_counter()
            result = call(seeds)
            seconds[name].append(time.perf_counter() - started)
        assert result.shape[0] == batch
        progress.update(step + 1)
    return {name: np.array(values) for name, values in seconds.items()}


def report(results: dict[int, dict[str, np.ndarray]]) -> str:
    lines = [f"{'images/req':>10} {'API':>10} {'p50 ms':>9} {'p99 ms':>9} {'images/s':>10} "
             f"{'throughput vs in-process':>25} {'p50 vs in-process':>18}"]
    for batch, seconds in results.items():
        base = seconds["in-process"]
        for name, values in seconds.items():
            throughput = batch * len(values) / values.sum()
            base_throughput = batch * len(base) / base.sum()
            lines.append(
                f"{batch:>10} {name:>10} {np.percentile(values, 50) * 1e3:>9.2f} "
                f"{np.percentile(values, 99) * 1e3:>9.2f} {throughput:>10.0f} "
                f"{throughput / base_throughput:>25.3f} "
                f"{np.percentile(values, 50) / np.percentile(base, 50):>17.2f}x")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    batch_sizes = [int(size) for size in FLAGS.batch_sizes]
    print(f"machine: {machine()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="serving_benchmark_") as scratch:
        base_path = FLAGS.model_base_path
        if base_path is None:
            print("training and exporting a tiny DCGAN ...", flush=True)
            base_path = scratch
            tiny_model(base_path)
        from export import layout

        model_dir = os.path.join(base_path, FLAGS.model_name)
        version_dir = os.path.join(model_dir, str(max(layout.versions(model_dir))))
        grpc_port, rest_port = free_port(), free_port()
        log_path = os.path.join(scratch, "server.log")
        server = start_server(model_dir, grpc_port, rest_port, max(batch_sizes), log_path)
        try:
            wait_until_serving(server, rest_port, log_path)
            calls = dict(zip(APIS, (in_process_call(version_dir), rest_call(rest_port),
                                    grpc_call(grpc_port))))
            gc.freeze()  # as the server does: TensorFlow's objects out of the collector's way
            results = {}
            for batch in batch_sizes:
                print(f"{batch} image(s) per request, {FLAGS.requests} rounds of "
                      f"{' / '.join(APIS)}:", flush=True)
                results[batch] = measure(calls, batch)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
    print(f"\nmodel: {version_dir} (signature {SIGNATURE!r}); one client, sequential "
          "requests; server: python -m serving on 127.0.0.1")
    print(report(results))


if __name__ == "__main__":
    app.run(main)
