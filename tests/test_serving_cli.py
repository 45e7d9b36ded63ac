"""`python -m serving` as tensorflow_model_server is run: flags, config file, ports, signals."""
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import model_service_pb2_grpc
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

from conftest import REPO_ROOT, free_port, rest_call, subprocess_env
from serving import ModelConfig, ModelServer

STARTUP_SECONDS = 120


def start_server(log_path, *flags):
    log = open(log_path, "w")
    process = subprocess.Popen([sys.executable, "-m", "serving", *flags], cwd=REPO_ROOT,
                               env=subprocess_env(), stdout=log, stderr=subprocess.STDOUT)
    log.close()
    return process


def wait_for_log(process, log_path, line):
    deadline = time.time() + STARTUP_SECONDS
    while True:
        with open(log_path) as handle:
            log = handle.read()
        if line in log:
            return log
        assert process.poll() is None, f"the server exited ({process.returncode}):\n{log}"
        assert time.time() < deadline, f"no {line!r} in time:\n{log}"
        time.sleep(0.1)


def stop(process):
    """SIGTERM, as `docker stop` sends; returns the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


def test_model_config_file_both_apis_and_sigterm(served_models, tmp_path):
    config = tmp_path / "models.config"
    config.write_text(f"""
        model_config_list {{
          config {{ name: "digits" base_path: "{served_models}/digits"
                   model_platform: "tensorflow" }}
          config {{ name: "ring" base_path: "{served_models}/ring"
                   model_version_policy {{ specific {{ versions: 1 }} }} }}
        }}""")
    grpc_port, rest_port = free_port(), free_port()
    log_path = tmp_path / "server.log"
    process = start_server(log_path, f"--model_config_file={config}", f"--port={grpc_port}",
                           f"--rest_api_port={rest_port}", "--file_system_poll_wait_seconds=0.5")
    try:
        log = wait_for_log(process, log_path, f"Exporting HTTP/REST API at:127.0.0.1:{rest_port}")
        assert f"Running gRPC ModelServer at 127.0.0.1:{grpc_port}" in log
        code, body = rest_call(rest_port, "POST", "/v1/models/ring:predict",
                               {"signature_name": "sample", "instances": [1, 2]})
        assert code == 200 and np.array(body["predictions"]).shape == (2, 2), body

        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            request = predict_pb2.PredictRequest()
            request.model_spec.name, request.model_spec.signature_name = "digits", "sample"
            request.inputs["seed"].CopyFrom(tf.make_tensor_proto(np.array([5], np.int64)))
            response = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(
                request, 30)
        expected = tf.saved_model.load(os.path.join(served_models, "digits", "1")).signatures[
            "sample"](seed=tf.constant([5], tf.int64))["images"]
        np.testing.assert_allclose(tf.make_ndarray(response.outputs["images"]), expected,
                                   atol=1e-6)
    finally:
        code = stop(process)
    assert code == 0, log_path.read_text()[-3000:]
    assert "shutting down" in log_path.read_text()


def test_model_name_and_base_path_flags_serve_grpc_only_by_default(served_models, tmp_path):
    grpc_port = free_port()
    log_path = tmp_path / "server.log"
    process = start_server(log_path, "--model_name=ring",
                           f"--model_base_path={served_models}/ring", f"--port={grpc_port}")
    try:
        log = wait_for_log(process, log_path, f"Running gRPC ModelServer at 127.0.0.1:{grpc_port}")
        assert "HTTP/REST" not in log  # --rest_api_port=0 (the default) disables REST
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            request = get_model_status_pb2.GetModelStatusRequest()
            request.model_spec.name = "ring"
            response = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(request, 30)
        assert [s.version for s in response.model_version_status] == [1]
    finally:
        assert stop(process) == 0


def test_flags_must_name_the_models_one_way(served_models, tmp_path):
    done = subprocess.run([sys.executable, "-m", "serving", f"--model_base_path={served_models}",
                           f"--model_config_file={tmp_path}/models.config"], cwd=REPO_ROOT,
                          env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "give exactly one of --model_base_path" in done.stderr


def test_a_taken_port_is_an_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for ports in ({"grpc_port": port, "rest_port": None}, {"grpc_port": 0, "rest_port": port}):
            server = ModelServer([ModelConfig("none", str(tmp_path))], poll_wait_seconds=0.1,
                                 **ports)
            with pytest.raises(OSError):
                server.start()


METRIC_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')


def parse_prometheus(text):
    """{(name, frozenset of (label, value))): value} and {name: type} of a text-format scrape;
    asserts every line is well formed."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
            continue
        if not line or line.startswith("# HELP "):
            continue
        match = METRIC_LINE.match(line)
        assert match, f"not a Prometheus sample: {line!r}"
        name, labels, value = match.groups()
        pairs = LABEL.findall(labels or "")
        assert ",".join(f'{k}="{v}"' for k, v in pairs) == (labels or ""), line
        samples[(name, frozenset(pairs))] = float(value)
    return samples, types


def test_monitoring_config_file_serves_prometheus_metrics_and_rest_deadline_flag(
        served_models, tmp_path):
    monitoring = tmp_path / "monitoring.config"
    monitoring.write_text('prometheus_config { enable: true, path: "/metrics/prom" }')
    grpc_port, rest_port = free_port(), free_port()
    log_path = tmp_path / "server.log"
    process = start_server(log_path, "--model_name=ring", f"--model_base_path={served_models}/ring",
                           f"--port={grpc_port}", f"--rest_api_port={rest_port}",
                           f"--monitoring_config_file={monitoring}", "--rest_api_timeout_in_ms=500")
    try:
        wait_for_log(process, log_path, f"Exporting HTTP/REST API at:127.0.0.1:{rest_port}")
        for seeds in ([1], [1, 2], "x"):
            rest_call(rest_port, "POST", "/v1/models/ring:predict",
                      {"signature_name": "sample", "instances": seeds})
        rest_call(rest_port, "GET", "/v1/models/nope")  # unknown model: no label of its own
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            request = predict_pb2.PredictRequest()
            request.model_spec.name, request.model_spec.signature_name = "ring", "sample"
            request.inputs["seed"].CopyFrom(tf.make_tensor_proto(np.array([5], np.int64)))
            prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, 30)

        connection = http.client.HTTPConnection("127.0.0.1", rest_port, timeout=30)
        connection.request("GET", "/metrics/prom")
        response = connection.getresponse()
        text = response.read().decode()
        connection.close()
        assert response.status == 200
        assert response.getheader("Content-Type").startswith("text/plain; version=0.0.4")
        samples, types = parse_prometheus(text)
        count, latency = ":tensorflow:serving:request_count", ":tensorflow:serving:request_latency"
        assert types == {count: "counter", latency: "histogram"}

        def sample(name, **labels):
            return samples[(name, frozenset(labels.items()))]

        rest = dict(model_name="ring", API="predict", entrypoint="REST")
        assert sample(count, status="OK", **rest) == 2
        assert sample(count, status="INVALID_ARGUMENT", **rest) == 1
        assert sample(count, model_name="ring", API="predict", entrypoint="GRPC",
                      status="OK") == 1
        assert sample(count, model_name="", API="GetModelStatus", entrypoint="REST",
                      status="NOT_FOUND") == 1
        buckets = sorted((float(dict(labels)["le"]), value) for (name, labels), value
                         in samples.items() if name == latency + "_bucket"
                         and dict(labels).items() >= rest.items())
        assert buckets[-1] == (float("inf"), 3) == (float("inf"), sample(latency + "_count",
                                                                          **rest))
        assert [value for _, value in buckets] == sorted(value for _, value in buckets)
        assert 0 < sample(latency + "_sum", **rest) < 3 * 30e6  # microseconds

        # --rest_api_timeout_in_ms: a request that does not arrive in 0.5 s is closed.
        with socket.create_connection(("127.0.0.1", rest_port), timeout=10) as sock:
            started = time.monotonic()
            sock.sendall(b"POST /v1/models/ring:predict HTTP/1.1\r\nContent-Length: 10\r\n\r\n")
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
            assert reply.startswith(b"HTTP/1.1 408 ") and b"500 ms" in reply
            assert 0.4 < time.monotonic() - started < 3
    finally:
        assert stop(process) == 0


def test_a_bad_monitoring_config_file_is_a_usage_error(served_models, tmp_path):
    monitoring = tmp_path / "monitoring.config"
    monitoring.write_text("prometheus_config { enable: yes please }")
    done = subprocess.run([sys.executable, "-m", "serving", f"--model_base_path={served_models}",
                           f"--monitoring_config_file={monitoring}"], cwd=REPO_ROOT,
                          env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "invalid monitoring config" in done.stderr
