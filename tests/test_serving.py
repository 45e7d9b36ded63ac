"""The model server through TF Serving's clients: REST (JSON) and the official gRPC stubs."""
import base64
import json
import os

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2
from tensorflow.core.framework import tensor_shape_pb2
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import model_service_pb2_grpc
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

from conftest import rest_call
from serving import Limits, ModelServer
from serving.config import parse_model_config

LIMITS = Limits(max_batch_rows=64, max_body_bytes=64 * 1024, max_gibbs_steps=50)
SEEDS = [3, 1, 4, 1, 5]
AVAILABLE = {"version": "1", "state": "AVAILABLE",
             "status": {"error_code": "OK", "error_message": ""}}


@pytest.fixture(scope="module")
def server(served_models):
    configs = parse_model_config(f"""
        model_config_list {{
          config {{ name: "digits" base_path: "{served_models}/digits" }}
          config {{ name: "ring" base_path: "{served_models}/ring"
                   version_labels {{ key: "stable" value: 1 }} }}
          config {{ name: "gibbs" base_path: "{served_models}/gibbs"
                   model_platform: "tensorflow" }}
          config {{ name: "aan" base_path: "{served_models}/aan" }}
        }}""")
    with ModelServer(configs, grpc_port=0, rest_port=0, poll_wait_seconds=0,
                     limits=LIMITS) as running:
        yield running


@pytest.fixture(scope="module")
def channel(server):
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as opened:
        yield opened


@pytest.fixture(scope="module")
def predictions(channel):
    return prediction_service_pb2_grpc.PredictionServiceStub(channel)


@pytest.fixture(scope="module")
def model_service(channel):
    return model_service_pb2_grpc.ModelServiceStub(channel)


@pytest.fixture(scope="module")
def in_process(served_models):
    """The same SavedModels loaded here: {model name: signatures}."""
    return {name: tf.saved_model.load(os.path.join(served_models, name, "1")).signatures
            for name in ("digits", "ring", "gibbs", "aan")}


def predict_request(model, inputs, signature="sample", version=None, label=None):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    if label is not None:
        request.model_spec.version_label = label
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(
            value if isinstance(value, tensor_pb2.TensorProto) else tf.make_tensor_proto(value))
    return request


def grpc_outputs(response):
    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}


def assert_still_serving(server, predictions):
    status, body = rest_call(server.rest_port, "POST", "/v1/models/ring:predict",
                             {"signature_name": "sample", "instances": [1]})
    assert status == 200 and len(body["predictions"]) == 1, body
    response = predictions.Predict(predict_request("ring", {"seed": np.array([1])}), 30)
    assert grpc_outputs(response)["samples"].shape == (1, 2)


def test_status_and_metadata_over_rest_and_grpc(server, predictions, model_service):
    port = server.rest_port
    for path in ("/v1/models/ring", "/v1/models/ring/versions/1", "/v1/models/ring/labels/stable",
                 "/V1/MODELS/ring"):
        assert rest_call(port, "GET", path) == (200, {"model_version_status": [AVAILABLE]}), path
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "digits"
    (status,) = model_service.GetModelStatus(request, 30).model_version_status
    assert (status.version, status.state, status.status.error_code) == (
        1, get_model_status_pb2.ModelVersionStatus.AVAILABLE, 0)

    code, metadata = rest_call(port, "GET", "/v1/models/gibbs/metadata")
    assert code == 200, metadata
    assert metadata["model_spec"] == {"name": "gibbs", "signature_name": "", "version": "1"}
    defs = metadata["metadata"]["signature_def"]["signature_def"]
    assert defs["sample"]["inputs"]["gibbs_steps"]["dtype"] == "DT_INT32"
    assert defs["sample"]["inputs"]["seed"]["tensor_shape"]["dim"] == [{"size": "-1", "name": ""}]
    assert defs["serving_default"]["method_name"] == "tensorflow/serving/predict"
    assert set(defs["serving_default"]["inputs"]) == {"visible"}

    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = "digits"
    response = predictions.GetModelMetadata(request, 30)
    assert (response.model_spec.name, response.model_spec.version.value) == ("digits", 1)
    signature_defs = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(signature_defs)
    assert set(signature_defs.signature_def["sample"].outputs) == {"images", "images_png_bytes"}


@pytest.mark.parametrize("model", ["digits", "ring"])
def test_sample_agrees_across_grpc_rest_and_in_process(server, predictions, in_process, model):
    expected = {name: value.numpy() for name, value in
                in_process[model]["sample"](seed=tf.constant(SEEDS, tf.int64)).items()}
    response = predictions.Predict(predict_request(model, {"seed": np.array(SEEDS)}), 30)
    assert (response.model_spec.name, response.model_spec.version.value,
            response.model_spec.signature_name) == (model, 1, "sample")
    by_grpc = grpc_outputs(response)

    port = server.rest_port
    code, row = rest_call(port, "POST", f"/v1/models/{model}:predict",
                          {"signature_name": "sample", "instances": SEEDS})
    assert code == 200, row
    code, columnar = rest_call(port, "POST", f"/v1/models/{model}/versions/1:predict",
                               {"signature_name": "sample", "inputs": {"seed": SEEDS}})
    assert code == 200, columnar
    if model == "ring":
        results = [by_grpc["samples"], np.array(row["predictions"], np.float32),
                   np.array(columnar["outputs"], np.float32)]
        for result in results:
            np.testing.assert_array_equal(result, expected["samples"])
        return
    assert [sorted(p) for p in row["predictions"]] == [["images", "images_png_bytes"]] * 5
    for images in (by_grpc["images"],
                   np.array([p["images"] for p in row["predictions"]], np.float32),
                   np.array(columnar["outputs"]["images"], np.float32)):
        np.testing.assert_array_equal(images, expected["images"])
    for pngs in (by_grpc["images_png_bytes"],
                 [base64.b64decode(p["images_png_bytes"]["b64"]) for p in row["predictions"]],
                 [base64.b64decode(p["b64"]) for p in columnar["outputs"]["images_png_bytes"]]):
        assert list(pngs) == list(expected["images_png_bytes"])


def test_generator_inputs_and_sample_extras_agree(server, predictions, in_process):
    visible = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    expected = in_process["gibbs"]["serving_default"](visible=visible)["samples"].numpy()
    code, body = rest_call(server.rest_port, "POST", "/v1/models/gibbs:predict",
                           {"instances": visible.tolist()})
    assert code == 200, body
    np.testing.assert_array_equal(np.array(body["predictions"], np.float32), expected)
    response = predictions.Predict(
        predict_request("gibbs", {"visible": visible}, signature="serving_default"), 30)
    np.testing.assert_array_equal(grpc_outputs(response)["samples"], expected)

    seeds, steps = np.array([1, 1, 2]), np.array([0, 5, 5], np.int32)
    expected = in_process["gibbs"]["sample"](seed=tf.constant(seeds),
                                             gibbs_steps=tf.constant(steps))["samples"].numpy()
    instances = [{"seed": int(s), "gibbs_steps": int(g)} for s, g in zip(seeds, steps)]
    code, body = rest_call(server.rest_port, "POST", "/v1/models/gibbs:predict",
                           {"signature_name": "sample", "instances": instances})
    assert code == 200, body
    np.testing.assert_array_equal(np.array(body["predictions"], np.float32), expected)
    response = predictions.Predict(
        predict_request("gibbs", {"seed": seeds, "gibbs_steps": steps}), 30)
    np.testing.assert_array_equal(grpc_outputs(response)["samples"], expected)


def test_aan_images_agree_across_grpc_rest_and_in_process(server, predictions, in_process):
    seeds, steps = np.array([4, 4, 9]), np.array([1, 1, 7], np.int32)
    expected = {name: value.numpy() for name, value in in_process["aan"]["sample"](
        seed=tf.constant(seeds), gibbs_steps=tf.constant(steps)).items()}
    assert expected["images"].shape == (3, 28, 28, 1)
    np.testing.assert_array_equal(expected["images"][0], expected["images"][1])
    assert not np.array_equal(expected["images"][0], expected["images"][2])
    by_grpc = grpc_outputs(predictions.Predict(
        predict_request("aan", {"seed": seeds, "gibbs_steps": steps}), 30))
    instances = [{"seed": int(s), "gibbs_steps": int(g)} for s, g in zip(seeds, steps)]
    code, body = rest_call(server.rest_port, "POST", "/v1/models/aan:predict",
                           {"signature_name": "sample", "instances": instances})
    assert code == 200, body
    for images in (by_grpc["images"], np.array([p["images"] for p in body["predictions"]],
                                               np.float32)):
        np.testing.assert_array_equal(images, expected["images"])
    pngs = [base64.b64decode(p["images_png_bytes"]["b64"]) for p in body["predictions"]]
    assert pngs == list(expected["images_png_bytes"])


def test_aan_refuses_zero_gibbs_steps_and_keeps_serving(server):
    body = {"signature_name": "sample", "instances": [{"seed": 1, "gibbs_steps": 0}]}
    code, reply = rest_call(server.rest_port, "POST", "/v1/models/aan:predict", body)
    assert code == 400 and "gibbs steps must be positive" in reply["error"], reply
    body["instances"][0]["gibbs_steps"] = 2
    code, reply = rest_call(server.rest_port, "POST", "/v1/models/aan:predict", body)
    assert code == 200, reply


def sample_body(**changes):
    return json.dumps(dict({"signature_name": "sample", "instances": [1, 2]}, **changes))


BAD_REST_REQUESTS = [
    # (case, method, path, body, HTTP status, part of the error message)
    ("malformed JSON", "POST", "/v1/models/ring:predict", '{"instances": [1,', 400,
     "JSON Parse error"),
    ("not an object", "POST", "/v1/models/ring:predict", "[1, 2]", 400, "Is not object"),
    ("empty body", "POST", "/v1/models/ring:predict", "", 400, "document is empty"),
    ("both instances and inputs", "POST", "/v1/models/ring:predict",
     sample_body(inputs={"seed": [1]}), 400, "only one of 'inputs' or 'instances'"),
    ("neither instances nor inputs", "POST", "/v1/models/ring:predict",
     '{"signature_name": "sample"}', 400, "Missing 'inputs' or 'instances' key"),
    ("empty instances", "POST", "/v1/models/ring:predict", sample_body(instances=[]), 400,
     "No values in 'instances'"),
    ("unknown model", "POST", "/v1/models/nope:predict", sample_body(), 404,
     "Servable not found for request: Latest(nope)"),
    ("unknown version", "POST", "/v1/models/ring/versions/9:predict", sample_body(), 404,
     "Servable not found for request: Specific(ring, 9)"),
    ("unknown label", "POST", "/v1/models/ring/labels/beta:predict", sample_body(), 400,
     "Unrecognized servable version label: beta"),
    ("unknown signature", "POST", "/v1/models/ring:predict", sample_body(signature_name="nope"),
     400, 'Serving signature name: "nope" not found in signature def'),
    ("signature name not a string", "POST", "/v1/models/ring:predict",
     sample_body(signature_name=3), 400, "'signature_name' key must be a string"),
    ("string for int64", "POST", "/v1/models/ring:predict", sample_body(instances=["a"]), 400,
     'JSON Value: "a" Type: String is not of expected type: int64'),
    ("float for int64", "POST", "/v1/models/ring:predict", sample_body(instances=[1.5]), 400,
     "is not of expected type: int64"),
    ("bool for int64", "POST", "/v1/models/ring:predict", sample_body(instances=[True]), 400,
     "Type: Boolean is not of expected type: int64"),
    ("int64 overflow", "POST", "/v1/models/ring:predict", sample_body(instances=[2 ** 70]),
     400, "out of range for int64"),
    ("string for float", "POST", "/v1/models/ring:predict", '{"instances": [["a", "b"]]}', 400,
     "is not of expected type: float32"),
    ("wrong shape", "POST", "/v1/models/ring:predict", '{"instances": [[0.5]]}', 400,
     "input 'z' has shape [1, 1] but the signature expects [-1, 2]"),
    ("wrong rank", "POST", "/v1/models/ring:predict", sample_body(instances=[[1, 2]]), 400,
     "input 'seed' has shape [1, 2] but the signature expects [-1]"),
    ("ragged rows", "POST", "/v1/models/ring:predict", '{"inputs": [[0.1, 0.2], [0.3]]}', 400,
     "a tensor must be rectangular"),
    ("missing named input", "POST", "/v1/models/ring:predict",
     '{"signature_name": "sample", "inputs": {"seeds": [1]}}', 400,
     "Missing named input: seed in 'inputs' object."),
    ("plain instances for two inputs", "POST", "/v1/models/gibbs:predict", sample_body(), 400,
     "each instance must be an object with one key per input"),
    ("rows disagree", "POST", "/v1/models/gibbs:predict",
     '{"signature_name": "sample", "inputs": {"seed": [1, 2], "gibbs_steps": [1]}}', 400,
     "inputs must have the same number of rows"),
    ("batch over the limit", "POST", "/v1/models/ring:predict",
     sample_body(instances=list(range(65))), 400,
     "batch of 65 rows, more than the server's limit of 64 (--max_batch_rows)"),
    ("too many Gibbs steps", "POST", "/v1/models/gibbs:predict",
     sample_body(instances=[{"seed": 1, "gibbs_steps": 51}]), 400,
     "gibbs_steps of 51 exceeds the server's limit of 50 (--max_gibbs_steps)"),
    ("negative Gibbs steps", "POST", "/v1/models/gibbs:predict",
     sample_body(instances=[{"seed": 1, "gibbs_steps": -1}]), 400,
     "gibbs_steps must be non-negative"),
    ("status of an unknown model", "GET", "/v1/models/nope", None, 404,
     "Could not find any versions of model nope"),
    ("status of an unknown version", "GET", "/v1/models/ring/versions/9", None, 404,
     "Could not find version 9 of model ring"),
    ("metadata of an unknown version", "GET", "/v1/models/ring/versions/9/metadata", None, 404,
     "Servable not found for request: Specific(ring, 9)"),
    ("malformed path", "GET", "/v1/nonsense", None, 400, "Malformed request: GET /v1/nonsense"),
    ("outside the API", "GET", "/index.html", None, 404, "the API is under /v1/models/"),
    ("classify", "POST", "/v1/models/ring:classify", sample_body(), 501, "not supported"),
    # Limits met while parsing, and what used to be a 500.
    ("nested too deeply", "POST", "/v1/models/ring:predict",
     '{"instances": ' + "[" * 70 + "]" * 70 + "}", 400,
     "nested deeper than the server's limit of 64 levels (--max_json_depth)"),
    ("nested too deeply in an ignored key", "POST", "/v1/models/ring:predict",
     sample_body()[:-1] + ', "extra": ' + '{"a": ' * 70 + "1" + "}" * 70 + "}", 400,
     "(--max_json_depth)"),
    ("brackets in strings do not nest", "POST", "/v1/models/ring:predict",
     sample_body(signature_name='[{\\"' + "[" * 70), 400, "not found in signature def"),
    ("a tensor of too many dimensions", "POST", "/v1/models/ring:predict",
     '{"inputs": ' + "[" * 40 + "1" + "]" * 40 + "}", 400, "more than 32 dimensions"),
    ("a version of over 4300 digits", "POST", "/v1/models/ring/versions/" + "9" * 5000
     + ":predict", sample_body(), 400, "is not a valid version number"),
    ("status of a version over int64", "GET", "/v1/models/ring/versions/" + "1" * 20, None, 400,
     "is not a valid version number (an int64)"),
    ("an integer of over 4300 digits", "POST", "/v1/models/ring:predict",
     '{"instances": [' + "9" * 5000 + "]}", 400, "JSON Parse error: Exceeds the limit"),
    ("rows over the limit, more following", "POST", "/v1/models/ring:predict",
     sample_body(instances=list(range(1000))), 400,
     "'instances' has a batch of at least 65 rows, more than the server's limit of 64"),
    ("columnar rows over the limit", "POST", "/v1/models/ring:predict",
     sample_body(instances=None)[:-1].replace('"instances": null', '"inputs": {"seed": '
                                               + json.dumps(list(range(65))) + "}}"), 400,
     "input 'seed' has a batch of 65 rows, more than the server's limit of 64"),
    ("columnar unknown key", "POST", "/v1/models/ring:predict",
     '{"signature_name": "sample", "inputs": {"seed": [1], "z": [[0.5, 0.5]]}}', 400,
     "'inputs' has unknown keys ['z']; the signature takes inputs ['seed']"),
    # Methods: every answer is TF Serving's JSON error.
    ("GET on predict", "GET", "/v1/models/ring:predict", None, 405,
     "Method GET is not allowed on /v1/models/ring:predict; use POST"),
    ("POST on status", "POST", "/v1/models/ring", sample_body(), 405, "use GET"),
    ("PUT on predict", "PUT", "/v1/models/ring:predict", sample_body(), 405, "use POST"),
    ("DELETE on metadata", "DELETE", "/v1/models/ring/metadata", None, 405, "use GET"),
    ("PATCH outside the API", "PATCH", "/index.html", "{}", 404, "the API is under /v1/models/"),
    ("an unknown method", "BREW", "/v1/models/ring", None, 501, "Unsupported method ('BREW')"),
]


@pytest.mark.parametrize("case, method, path, body, status, message", BAD_REST_REQUESTS,
                         ids=[case[0] for case in BAD_REST_REQUESTS])
def test_bad_rest_requests_get_tf_serving_codes(server, predictions, case, method, path, body,
                                                status, message):
    code, reply = rest_call(server.rest_port, method, path, body)
    assert (code, list(reply)) == (status, ["error"]), reply
    assert message in reply["error"]
    assert_still_serving(server, predictions)


def test_an_oversized_body_is_refused_unread(server, predictions):
    body = sample_body(padding="x" * LIMITS.max_body_bytes)
    code, reply = rest_call(server.rest_port, "POST", "/v1/models/ring:predict", body)
    assert code == 400
    assert reply["error"] == (f"request body of {len(body)} bytes exceeds the server's limit "
                              f"of {LIMITS.max_body_bytes} bytes (--max_body_bytes)")
    with pytest.raises(grpc.RpcError) as raised:
        predictions.Predict(predict_request(
            "ring", {"seed": np.zeros(LIMITS.max_body_bytes // 8 + 1, np.int64)}), 30)
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert_still_serving(server, predictions)


def shape_only(dtype, *dims):
    """A TensorProto that declares a shape and carries no values."""
    return tensor_pb2.TensorProto(dtype=dtype, tensor_shape=tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in dims]))


BAD_GRPC_PREDICTS = [
    # (case, request, code, part of the message)
    ("unknown model", predict_request("nope", {"seed": np.array([1])}),
     grpc.StatusCode.NOT_FOUND, "Servable not found for request: Latest(nope)"),
    ("unknown version", predict_request("ring", {"seed": np.array([1])}, version=9),
     grpc.StatusCode.NOT_FOUND, "Specific(ring, 9)"),
    ("unknown label", predict_request("ring", {"seed": np.array([1])}, label="beta"),
     grpc.StatusCode.INVALID_ARGUMENT, "Unrecognized servable version label: beta"),
    ("unknown signature", predict_request("ring", {"seed": np.array([1])}, signature="nope"),
     grpc.StatusCode.INVALID_ARGUMENT, 'Serving signature name: "nope" not found'),
    ("float seeds", predict_request("ring", {"seed": np.array([1.0])}),
     grpc.StatusCode.INVALID_ARGUMENT, "input 'seed' has dtype float64 but signature 'sample' "
                                       "expects int64"),
    ("wrong shape", predict_request("ring", {"seed": np.ones([2, 2], np.int64)}),
     grpc.StatusCode.INVALID_ARGUMENT, "has shape [2, 2] but the signature expects [-1]"),
    ("negative batch", predict_request("ring", {"seed": shape_only(tf.int64.as_datatype_enum,
                                                                   -3)}),
     grpc.StatusCode.INVALID_ARGUMENT, "input 'seed' has a negative dimension"),
    ("huge declared batch", predict_request("ring", {"seed": shape_only(
        tf.int64.as_datatype_enum, 10 ** 12)}),
     grpc.StatusCode.INVALID_ARGUMENT, "(--max_batch_rows)"),
    ("missing input", predict_request("gibbs", {"seed": np.array([1])}),
     grpc.StatusCode.INVALID_ARGUMENT, "missing: ['gibbs_steps']"),
    ("unknown input", predict_request("ring", {"seed": np.array([1]), "z": np.zeros([1, 2])}),
     grpc.StatusCode.INVALID_ARGUMENT, "unknown: ['z']"),
    ("too many Gibbs steps", predict_request(
        "gibbs", {"seed": np.array([1]), "gibbs_steps": np.array([500], np.int32)}),
     grpc.StatusCode.INVALID_ARGUMENT, "(--max_gibbs_steps)"),
]


@pytest.mark.parametrize("case, request_, code, message", BAD_GRPC_PREDICTS,
                         ids=[case[0] for case in BAD_GRPC_PREDICTS])
def test_bad_grpc_requests_get_status_codes(server, predictions, case, request_, code, message):
    with pytest.raises(grpc.RpcError) as raised:
        predictions.Predict(request_, 30)
    assert raised.value.code() == code, raised.value.details()
    assert message in raised.value.details()
    assert_still_serving(server, predictions)


def test_grpc_output_filter_metadata_and_status_errors(predictions, model_service):
    request = predict_request("digits", {"seed": np.array([1])})
    request.output_filter.append("images_png_bytes")
    assert set(predictions.Predict(request, 30).outputs) == {"images_png_bytes"}
    request.output_filter.append("logits")
    with pytest.raises(grpc.RpcError, match="output_filter names \\['logits'\\]"):
        predictions.Predict(request, 30)

    metadata = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["graph"])
    metadata.model_spec.name = "ring"
    with pytest.raises(grpc.RpcError) as raised:
        predictions.GetModelMetadata(metadata, 30)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details() == "Metadata field graph is not supported"

    status = get_model_status_pb2.GetModelStatusRequest()
    status.model_spec.name = "ring"
    status.model_spec.version.value = 4
    with pytest.raises(grpc.RpcError) as raised:
        model_service.GetModelStatus(status, 30)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert raised.value.details() == "Could not find version 4 of model ring"


def raw_http(port, data, timeout=30):
    """(status, headers, body bytes) of the reply to raw request bytes."""
    import http.client
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock, method="HEAD" if data.startswith(b"HEAD")
                                            else None)
        response.begin()
        return response.status, dict(response.getheaders()), response.read()


RAW_HTTP_ERRORS = [
    # (case, request bytes, HTTP status, part of the error message)
    ("request line too long", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 414,
     "Request-URI Too Long"),
    ("header line too long", b"GET /v1/models/ring HTTP/1.1\r\nX: " + b"a" * 70000
     + b"\r\n\r\n", 431, "Line too long"),
    ("too many headers", b"GET /v1/models/ring HTTP/1.1\r\n" + b"X: 1\r\n" * 200 + b"\r\n",
     431, "Too many headers"),
    ("bad request syntax", b"NONSENSE\r\n\r\n", 400, "Bad request syntax"),
    ("bad HTTP version", b"GET /v1/models/ring HTTP/7.0\r\n\r\n", 505, "Invalid HTTP version"),
    ("POST without Content-Length", b"POST /v1/models/ring:predict HTTP/1.1\r\n\r\n", 411,
     "needs a Content-Length header"),
    ("a malformed Content-Length", b"POST /v1/models/ring:predict HTTP/1.1\r\n"
     b"Content-Length: 1_0\r\n\r\n0123456789", 400, "invalid Content-Length: '1_0'"),
]


@pytest.mark.parametrize("case, data, status, message", RAW_HTTP_ERRORS,
                         ids=[case[0] for case in RAW_HTTP_ERRORS])
def test_http_level_errors_are_json_not_html(server, predictions, case, data, status, message):
    code, headers, body = raw_http(server.rest_port, data)
    assert code == status, body
    assert headers["Content-Type"] == "application/json"
    reply = json.loads(body)
    assert list(reply) == ["error"] and message in reply["error"], reply
    assert_still_serving(server, predictions)


def test_head_gets_a_405_without_a_body(server):
    code, headers, body = raw_http(server.rest_port,
                                   b"HEAD /v1/models/ring HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (code, headers["Allow"], headers["Content-Type"], body) == (
        405, "GET", "application/json", b"")


ODD_BODIES = [
    '{"instances": [null]}', '{"instances": [NaN]}', '{"instances": [1e999]}',
    '{"instances": [[[[1]]]]}', '{"instances": [{"b64": "x"}]}', '{"inputs": {"b64": "@@"}}',
    '{"inputs": 5}', '{"signature_name": "sample", "inputs": []}', '{"instances": [[]]}',
    '{"signature_name": "sample", "instances": [{"seed": 1}, 2]}', '{"instances": "abc"}',
    '{"signature_name": "\\ud800", "instances": [1]}', '{"inputs": {"z": {"z": 1}}}',
    '{"instances": [1], "instances": [2, 3]}', '{"instances": [1],}', '{"instances": [1 2]}',
    '{"signature_name": "sample", "instances": [-9223372036854775809]}', "\ufeff{}",
    '{"signature_name": "sample", "inputs": {"seed": [[1, 2], [3]]}}', "{" * 10, "]" * 10,
    '{"instances": [' + "[" * 60 + "]" * 60 + "]}", '"just a string"', "null", "\x00\xff",
]


@pytest.mark.parametrize("model", ["ring", "gibbs", "digits"])
def test_no_client_input_yields_a_500(server, predictions, model):
    for body in ODD_BODIES:
        for signature in ("", "sample"):
            sent = body
            if signature and body.startswith('{"instances"'):
                sent = '{"signature_name": "sample", ' + body[1:]
            code, reply = rest_call(server.rest_port, "POST", f"/v1/models/{model}:predict",
                                    sent.encode("utf-8", "surrogatepass"))
            assert code < 500 and list(reply) in (["error"], ["predictions"], ["outputs"]), (
                sent, code, reply)
    assert_still_serving(server, predictions)
