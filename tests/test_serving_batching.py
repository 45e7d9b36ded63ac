"""Server-side batching (`--enable_batching`), REST's output_filter and its JSON writer."""
import concurrent.futures
import json
import threading

import numpy as np
import pytest
import tensorflow as tf

from conftest import rest_call
from serving import ModelServer, rest_json
from serving.batching import Batcher, BatchingParameters, read_batching_parameters
from serving.config import from_flags


def test_concurrent_requests_run_as_one_call_each_getting_its_own_rows():
    calls, release = [], threading.Event()

    def call(inputs, wanted):
        calls.append({k: v.copy() for k, v in inputs.items()})
        release.wait(5)
        if (inputs["x"] < 0).any():
            raise ValueError("negative input")
        return {"double": inputs["x"] * 2, "same": inputs["x"]}

    batcher = Batcher(call, BatchingParameters(max_batch_size=6, batch_timeout_micros=300_000))
    requests = [np.array([i, i + 10]) for i in range(4)]  # 2 rows each: 3 fit in 6
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(batcher.run, {"x": x}, ["double"], 2) for x in requests]
        release.set()
        results = [f.result(timeout=30) for f in futures]
    for x, result in zip(requests, results):
        assert set(result) == {"double"}
        np.testing.assert_array_equal(result["double"], x * 2)
    assert sorted(len(c["x"]) for c in calls) == [2, 6]  # max_batch_size splits them
    # Other shapes are never concatenated together; a failure reaches its batch alone.
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        wide = pool.submit(batcher.run, {"x": np.ones([1, 3])}, ["same"], 1)
        bad = pool.submit(batcher.run, {"x": np.array([-1])}, ["same"], 1)
        assert wide.result(timeout=30)["same"].shape == (1, 3)
        with pytest.raises(ValueError, match="negative input"):
            bad.result(timeout=30)
    batcher.stop()
    np.testing.assert_array_equal(batcher.run({"x": np.array([7])}, ["same"], 1)["same"], [7])


def test_batching_parameters_file(tmp_path):
    path = tmp_path / "batching.config"
    path.write_text("max_batch_size { value: 32 }\nbatch_timeout_micros { value: 500 }\n")
    assert read_batching_parameters(str(path)) == BatchingParameters(32, 500, 1)
    path.write_text("max_enqueued_batches { value: 3 }")
    with pytest.raises(ValueError, match="max_enqueued_batches"):
        read_batching_parameters(str(path))


def test_batched_server_answers_each_client_as_unbatched(served_models):
    sample = tf.saved_model.load(f"{served_models}/digits/1").signatures["sample"]
    with ModelServer(from_flags("digits", f"{served_models}/digits"), grpc_port=0, rest_port=0,
                     poll_wait_seconds=0,
                     batching=BatchingParameters(batch_timeout_micros=200_000)) as server:
        def ask(seed):
            return rest_call(server.rest_port, "POST", "/v1/models/digits:predict",
                             {"signature_name": "sample", "instances": [seed],
                              "output_filter": ["images"]})

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(ask, range(8)))
        batcher = server.manager.servable("digits", None).batchers["sample"]
        assert batcher.batches < 8  # at least two requests shared a call
    for seed, (code, body) in enumerate(answers):
        assert code == 200, body
        expected = sample(seed=tf.constant([seed], tf.int64))["images"].numpy()
        # A batch of eight takes other kernels than a batch of one: rounding-level differences.
        np.testing.assert_allclose(np.array(body["predictions"], np.float32), expected,
                                   rtol=1e-4, atol=1e-6)


def test_rest_output_filter(tiny_dcgan_run, served_models):
    with ModelServer(from_flags("digits", f"{served_models}/digits"), grpc_port=0, rest_port=0,
                     poll_wait_seconds=0) as server:
        path = "/v1/models/digits:predict"
        code, body = rest_call(server.rest_port, "POST", path, {
            "signature_name": "sample", "inputs": {"seed": [1, 2]},
            "output_filter": ["images_png_bytes"]})
        assert code == 200 and len(body["outputs"]) == 2
        assert all(set(item) == {"b64"} for item in body["outputs"])
        code, body = rest_call(server.rest_port, "POST", path, {
            "signature_name": "sample", "instances": [1], "output_filter": ["logits"]})
        assert code == 400 and "output_filter names ['logits']" in body["error"]
        code, body = rest_call(server.rest_port, "POST", path, {
            "signature_name": "sample", "instances": [1], "output_filter": "images"})
        assert code == 400 and "'output_filter' must be a list" in body["error"]


def test_json_replies_are_exact_and_write_non_finite_values_as_tf_serving():
    images = np.random.default_rng(0).random([3, 4, 4, 1], dtype=np.float32)
    text = rest_json.dumps(rest_json.encode_outputs({"images": images}, rest_json.COLUMNAR))
    np.testing.assert_array_equal(np.array(json.loads(text)["outputs"], np.float32), images)
    special = rest_json.encode_outputs(
        {"x": np.array([np.nan, np.inf, 1.0], np.float32)}, rest_json.COLUMNAR)
    assert rest_json.dumps(special) == b'{"outputs":[NaN,Infinity,1.0]}'
    scalar = rest_json.encode_outputs({"x": np.array(-np.inf)}, rest_json.COLUMNAR)
    assert rest_json.dumps(scalar) == b'{"outputs":-Infinity}'
    halves = rest_json.encode_outputs({"x": np.array([0.5], np.float16)}, rest_json.COLUMNAR)
    assert rest_json.dumps(halves) == b'{"outputs":[0.5]}'
