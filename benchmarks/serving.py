"""Serving throughput and latency: REST and gRPC against the SavedModel called in-process.

    python -m benchmarks.serving [--model_base_path=DIR --model_name=NAME] [--requests=200]
        [--clients=8] [--out=benchmarks/SERVING.md]

For each batch size (1 and 64 images per request by default) one client sends the
`sample` signature's requests in turn to (a) the SavedModel loaded in this process,
(b) the REST API, (c) the REST API asking for `images_png_bytes` alone (`output_filter`)
and (d) the gRPC API of a `python -m serving` process on 127.0.0.1, round-robin, so that
they are measured side by side under the same conditions. It reports p50/p99 latency,
throughput (images/s) and each API's ratio to in-process. Client-side encoding and decoding
(the standard library's JSON and base64, TensorProtos) count in the latency.

Then --clients client processes send 1-image requests at once, to that server and to a second one
started with --enable_batching, alternating rounds: the throughput of each and their ratio.
Writes --out (Markdown, with the machine) and its numbers beside it (.json). Without
--model_base_path the shipped --pretrained entry (the DCGAN on Fashion-MNIST, the model a
user serves) is exported to a temporary folder.
"""
from __future__ import annotations

import gc
import http.client
import json
import os
import base64
import datetime
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
flags.DEFINE_string("model_base_path", None, "Folder of exported models (default: export "
                    "--pretrained).")
flags.DEFINE_string("pretrained", "dcgan-fashion_mnist", "The shipped entry exported and "
                    "served without --model_base_path ('': a tiny DCGAN trained for 2 steps).")
flags.DEFINE_string("model_name", "digits", "The model to serve from --model_base_path.")
flags.DEFINE_list("batch_sizes", ["1", "64"], "Images per request.")
flags.DEFINE_integer("requests", 200, "Timed requests per API and batch size.", lower_bound=1)
flags.DEFINE_integer("warmup", 10, "Untimed requests per API and batch size first.",
                     lower_bound=0)
flags.DEFINE_integer("startup_seconds", 180, "Longest wait for the server to answer.")
flags.DEFINE_integer("clients", 8, "Concurrent clients of the batching comparison (0: skip it).",
                     lower_bound=0)
flags.DEFINE_integer("batch_timeout_micros", 0, "The batching server's "
                     "BatchingParameters.batch_timeout_micros.", lower_bound=0)
flags.DEFINE_integer("concurrent_rounds", 3, "Alternating rounds of the batching comparison.",
                     lower_bound=1)
flags.DEFINE_string("out", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                        "SERVING.md"), "The Markdown report ('' : none).")

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIGNATURE = "sample"
APIS = ("in-process", "REST", "REST png", "gRPC")
CONCURRENT_APIS = ("REST", "REST png", "gRPC")

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
                 log_path: str, batching: str | None = None) -> subprocess.Popen:
    """`python -m serving` for one model, logging to `log_path`; `batching`: a
    BatchingParameters file, with --enable_batching."""
    with open(log_path, "w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "serving", f"--model_name={FLAGS.model_name}",
             f"--model_base_path={model_dir}", f"--port={grpc_port}",
             f"--rest_api_port={rest_port}", "--file_system_poll_wait_seconds=0",
             f"--max_batch_rows={max_rows}", f"--max_body_bytes={64 << 20}"]
            + (["--enable_batching", f"--batching_parameters_file={batching}"]
               if batching else []),
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


def rest_call(rest_port: int, png: bool = False) -> Call:
    """A REST client (the standard library's HTTP and JSON); `png`: asks for
    `images_png_bytes` alone and returns the PNG files' bytes, one row each."""
    connection = http.client.HTTPConnection("127.0.0.1", rest_port, timeout=120)
    path = f"/v1/models/{FLAGS.model_name}:predict"
    extra = {"output_filter": ["images_png_bytes"]} if png else {}

    def call(seeds: np.ndarray) -> np.ndarray:
        connection.request("POST", path, json.dumps(
            {"signature_name": SIGNATURE, "inputs": {"seed": seeds.tolist()}, **extra}),
            {"Content-Type": "application/json"})
        response = connection.getresponse()
        body = json.loads(response.read())
        if response.status != 200:
            raise RuntimeError(f"REST {response.status}: {body}")
        if png:
            return np.array([base64.b64decode(item["b64"]) for item in body["outputs"]],
                            dtype=object)
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
        result = call(seeds)
        if result.dtype == object:  # PNG files
            assert len(result) == batch and all(r.startswith(b"\x89PNG") for r in result), name
        else:
            np.testing.assert_allclose(result, reference, atol=1e-5, err_msg=name)
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


def _client_process(api: str, ports: tuple[int, int], model_name: str, requests: int,
                    offset: int, go, results) -> None:
    """One concurrent client (its own process, as separate clients are): `requests`
    1-image requests in turn once `go` is set; puts its seconds on `results`."""
    FLAGS(["client"], known_only=True)  # a spawned process: flags at their defaults
    FLAGS.model_name = model_name
    grpc_port, rest_port = ports
    call = (grpc_call(grpc_port) if api == "gRPC" else rest_call(rest_port, png=api == "REST png"))
    call(np.zeros([1], np.int64))  # connected and warm
    results.put(None)
    go.wait()
    began = time.perf_counter()
    for i in range(requests):
        call(np.array([offset * requests + i], np.int64))
    results.put(time.perf_counter() - began)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process `pid` has used (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def concurrent_throughput(api: str, ports: tuple[int, int], server_pid: int, clients: int,
                          requests: int) -> tuple[float, float]:
    """(images/s, server CPU ms per request) of `clients` client processes each sending
    `requests` 1-image requests at once."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    go, results = context.Event(), context.Queue()
    processes = [context.Process(target=_client_process, daemon=True, args=(
        api, ports, FLAGS.model_name, requests, n, go, results)) for n in range(clients)]
    for process in processes:
        process.start()
    for _ in processes:
        results.get(timeout=300)  # every client connected and warm
    cpu = process_cpu_seconds(server_pid)
    began = time.perf_counter()
    go.set()
    for _ in processes:
        results.get(timeout=600)
    elapsed = time.perf_counter() - began
    cpu = process_cpu_seconds(server_pid) - cpu
    for process in processes:
        process.join(timeout=60)
    return clients * requests / elapsed, cpu * 1e3 / (clients * requests)


def rows(results: dict[int, dict[str, np.ndarray]]) -> list[dict]:
    """One record per (images per request, API): p50, p99, images/s, ratios to in-process."""
    records = []
    for batch, seconds in results.items():
        base = seconds["in-process"]
        for name, values in seconds.items():
            records.append(dict(
                batch=batch, api=name, p50_ms=float(np.percentile(values, 50) * 1e3),
                p99_ms=float(np.percentile(values, 99) * 1e3),
                images_per_second=float(batch * len(values) / values.sum()),
                p50_vs_in_process=float(np.percentile(values, 50) / np.percentile(base, 50))))
    return records


def report(records: list[dict], concurrent: list[dict], protocol: str) -> str:
    lines = ["# Serving latency and throughput", "", protocol, "",
             "| images/request | API | p50 ms | p99 ms | images/s | p50 vs in-process |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['batch']} | {r['api']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
              f"{r['images_per_second']:.0f} | {r['p50_vs_in_process']:.2f}x |" for r in records]
    if concurrent:
        lines += ["", f"## {FLAGS.clients} concurrent clients, 1 image per request", "",
                  "| API | round | images/s without batching | with --enable_batching | "
                  "ratio | server CPU ms/request without | with |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {c['api']} | {c['round']} | {c['without']:.0f} | {c['with']:.0f} | "
                  f"{c['with'] / c['without']:.2f}x | {c['server_cpu_ms_without']:.2f} | "
                  f"{c['server_cpu_ms_with']:.2f} |" for c in concurrent]
        for api in CONCURRENT_APIS:
            ratios = [c["with"] / c["without"] for c in concurrent if c["api"] == api]
            if ratios:
                lines.append(f"| {api} | median | | | {float(np.median(ratios)):.2f}x | | |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    batch_sizes = [int(size) for size in FLAGS.batch_sizes]
    this_machine = machine()
    print(f"machine: {this_machine}", flush=True)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="serving_benchmark_") as scratch:
        base_path = FLAGS.model_base_path
        if base_path is None:
            base_path = scratch
            if FLAGS.pretrained:
                from export import export_generator
                from zoo import pretrained

                print(f"exporting the pretrained {FLAGS.pretrained} ...", flush=True)
                export_generator(pretrained.load(FLAGS.pretrained), base_path, FLAGS.model_name)
            else:
                print("training and exporting a tiny DCGAN ...", flush=True)
                tiny_model(base_path)
        from export import layout

        model_dir = os.path.join(base_path, FLAGS.model_name)
        version_dir = os.path.join(model_dir, str(max(layout.versions(model_dir))))
        servers = []
        try:
            ports = {}
            for batching in ((False, True) if FLAGS.clients else (False,)):
                grpc_port, rest_port = free_port(), free_port()
                log_path = os.path.join(scratch, f"server_{batching}.log")
                parameters = None
                if batching:
                    parameters = os.path.join(scratch, "batching.config")
                    with open(parameters, "w") as handle:
                        handle.write(f"batch_timeout_micros {{ value: "
                                     f"{FLAGS.batch_timeout_micros} }}\n")
                servers.append(start_server(model_dir, grpc_port, rest_port, max(batch_sizes),
                                            log_path, parameters))
                wait_until_serving(servers[-1], rest_port, log_path)
                ports[batching] = (grpc_port, rest_port)
            grpc_port, rest_port = ports[False]
            calls = dict(zip(APIS, (in_process_call(version_dir), rest_call(rest_port),
                                    rest_call(rest_port, png=True), grpc_call(grpc_port))))
            gc.freeze()  # as the server does: TensorFlow's objects out of the collector's way
            results = {}
            for batch in batch_sizes:
                print(f"{batch} image(s) per request, {FLAGS.requests} rounds of "
                      f"{' / '.join(APIS)}:", flush=True)
                results[batch] = measure(calls, batch)
            concurrent = []
            pids = dict(zip((False, True), (server.pid for server in servers)))
            for round_ in range(FLAGS.concurrent_rounds if FLAGS.clients else 0):
                for api in CONCURRENT_APIS:
                    rates = {batching: concurrent_throughput(
                        api, ports[batching], pids[batching], FLAGS.clients,
                        FLAGS.requests // 2) for batching in (False, True)}
                    concurrent.append({"api": api, "round": round_ + 1,
                                       "without": rates[False][0], "with": rates[True][0],
                                       "server_cpu_ms_without": rates[False][1],
                                       "server_cpu_ms_with": rates[True][1]})
                    print(f"{FLAGS.clients} clients, {api}: {rates[False][0]:.0f} images/s, "
                          f"{rates[True][0]:.0f} with batching (server CPU per request "
                          f"{rates[False][1]:.2f} / {rates[True][1]:.2f} ms)", flush=True)
        finally:
            for server in servers:
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=60)
    served = (FLAGS.model_base_path and os.path.basename(model_dir)) or (
        f"the pretrained `{FLAGS.pretrained}`" if FLAGS.pretrained else "a tiny DCGAN (width 8)")
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    protocol = (
        f"`{' '.join(['python -m benchmarks.serving'] + sys.argv[1:])}` ({now}, {(time.time() - started) / 60:.1f} min)\n\nMachine: {this_machine}\n\n"
        f"Protocol: model {served} (signature {SIGNATURE!r}); one client "
        f"sends {FLAGS.requests} requests per API and batch size after {FLAGS.warmup} untimed "
        "ones, the APIs round-robin; server: `python -m serving` on 127.0.0.1. REST: the "
        "client encodes and decodes with the standard library's json (and base64 for `REST "
        "png`, which asks for `images_png_bytes` alone with `output_filter`); gRPC: "
        "tensorflow-serving-api's stub and `tf.make_ndarray`. In-process: the SavedModel's "
        "signature called in the benchmark's process. Concurrent: "
        f"{FLAGS.clients} client processes (each its own Python, as separate clients are) "
        f"each send {FLAGS.requests // 2} 1-image requests at once to a server without "
        "batching and to one with `--enable_batching` (BatchingParameters: max_batch_size "
        f"1000, batch_timeout_micros {FLAGS.batch_timeout_micros}), alternating; the clients share the "
        "machine's cores with the server; server CPU is its process's user + system time.")
    text = report(rows(results), concurrent, protocol)
    print("\n" + text)
    if FLAGS.out:
        with open(FLAGS.out, "w") as handle:
            handle.write(text)
        with open(os.path.splitext(FLAGS.out)[0] + ".json", "w") as handle:
            json.dump(dict(machine=this_machine, rows=rows(results), concurrent=concurrent),
                      handle, indent=1)
        print(f"written {FLAGS.out}")


if __name__ == "__main__":
    app.run(main)
