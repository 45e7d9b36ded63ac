"""TF Serving's gRPC services on the model manager.

`PredictionService`: `Predict` and `GetModelMetadata` (Classify, Regress and
MultiInference answer UNIMPLEMENTED); `ModelService`: `GetModelStatus`. Errors are
gRPC status codes with TF Serving's messages (NOT_FOUND for an unknown model or
version, INVALID_ARGUMENT for a bad request, ...).
"""
from __future__ import annotations

import time
from typing import Callable

import grpc
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.apis import model_service_pb2_grpc
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

from serving import protos
from serving.errors import ServingError, invalid_argument
from serving.manager import ModelManager
from serving.metrics import Metrics
from serving.servable import Signature
from serving.validation import Limits, check_names, check_shape


def requested_version(manager: ModelManager, spec: model_pb2.ModelSpec) -> int | None:
    """The version a ModelSpec asks for: its version, its label's version, or None (latest)."""
    choice = spec.WhichOneof("version_choice")
    if choice == "version":
        return spec.version.value
    if choice == "version_label":
        return manager.version_for_label(spec.name, spec.version_label)
    return None


def tensor_to_array(name: str, tensor: tensor_pb2.TensorProto, signature: Signature,
                    limits: Limits) -> np.ndarray:
    """A request TensorProto as an array, its dtype and declared shape checked first."""
    spec = signature.inputs[name]
    if tensor.dtype != spec.dtype.as_datatype_enum:
        try:
            given = tf.dtypes.as_dtype(tensor.dtype).name
        except TypeError:
            given = f"enum {tensor.dtype}"
        raise invalid_argument(f"input {name!r} has dtype {given} but signature "
                               f"{signature.name!r} expects {spec.dtype.name}")
    if tensor.tensor_shape.unknown_rank:
        raise invalid_argument(f"input {name!r} has no shape")
    check_shape(name, [dim.size for dim in tensor.tensor_shape.dim], spec, limits)
    try:
        return tf.make_ndarray(tensor)
    except Exception as error:  # A malformed proto is the client's error, whatever TF raises.
        raise invalid_argument(f"input {name!r} is not a valid TensorProto: {error}") from None


def stop_check(context: grpc.ServicerContext) -> Callable[[], None]:
    """For the computation: raises once the RPC's deadline passes or the client cancels it."""
    def check() -> None:
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            raise ServingError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
        if not context.is_active():
            raise ServingError(grpc.StatusCode.CANCELLED, "the client cancelled the request")
    return check


class _Observed:
    """Times one RPC into the metrics: its API, model (if configured) and final status."""

    def __init__(self, metrics: Metrics | None, manager: ModelManager, api: str, model: str):
        self._metrics = metrics
        self._api = api
        self._model = model if manager.has_model(model) else ""
        self._started = time.monotonic()

    def __enter__(self) -> "_Observed":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if self._metrics is None:
            return
        if kind is None:
            code = grpc.StatusCode.OK
        elif isinstance(error, ServingError):
            code = error.code
        else:  # context.abort's own exception, or a failure gRPC reports as UNKNOWN
            code = grpc.StatusCode.UNKNOWN
        self._metrics.observe(self._model, self._api, "GRPC", code.name,
                              time.monotonic() - self._started)


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict and GetModelMetadata."""

    def __init__(self, manager: ModelManager, limits: Limits, metrics: Metrics | None = None):
        self._manager = manager
        self._limits = limits
        self._metrics = metrics

    def Predict(self, request: predict_pb2.PredictRequest,
                context: grpc.ServicerContext) -> predict_pb2.PredictResponse:
        spec = request.model_spec
        try:
            with _Observed(self._metrics, self._manager, "predict", spec.name):
                response = self._predict(request, context)
        except ServingError as error:
            context.abort(error.code, error.message)
        return response

    def _predict(self, request: predict_pb2.PredictRequest,
                 context: grpc.ServicerContext) -> predict_pb2.PredictResponse:
        spec = request.model_spec
        servable = self._manager.servable(spec.name, requested_version(self._manager, spec))
        signature = servable.signature(spec.signature_name)
        check_names(signature.name, signature.inputs, request.inputs.keys())
        inputs = {name: tensor_to_array(name, tensor, signature, self._limits)
                  for name, tensor in request.inputs.items()}
        outputs = servable.predict(signature, inputs, self._limits, request.output_filter,
                                   stop=stop_check(context))
        response = predict_pb2.PredictResponse(
            model_spec=protos.model_spec(servable.name, servable.version, signature.name))
        for name, array in outputs.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(array))
        return response

    def GetModelMetadata(self, request: get_model_metadata_pb2.GetModelMetadataRequest,
                         context: grpc.ServicerContext
                         ) -> get_model_metadata_pb2.GetModelMetadataResponse:
        try:
            with _Observed(self._metrics, self._manager, "GetModelMetadata",
                           request.model_spec.name):
                if not request.metadata_field:
                    raise invalid_argument(
                        "GetModelMetadataRequest must specify at least one metadata_field")
                for field in request.metadata_field:
                    if field != protos.SIGNATURE_DEF_FIELD:
                        raise invalid_argument(f"Metadata field {field} is not supported")
                spec = request.model_spec
                servable = self._manager.servable(spec.name,
                                                  requested_version(self._manager, spec))
        except ServingError as error:
            context.abort(error.code, error.message)
        return protos.metadata_response(servable)


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    """GetModelStatus (HandleReloadConfigRequest answers UNIMPLEMENTED)."""

    def __init__(self, manager: ModelManager, metrics: Metrics | None = None):
        self._manager = manager
        self._metrics = metrics

    def GetModelStatus(self, request: get_model_status_pb2.GetModelStatusRequest,
                       context: grpc.ServicerContext
                       ) -> get_model_status_pb2.GetModelStatusResponse:
        try:
            spec = request.model_spec
            with _Observed(self._metrics, self._manager, "GetModelStatus", spec.name):
                statuses = self._manager.status(spec.name,
                                                requested_version(self._manager, spec))
        except ServingError as error:
            context.abort(error.code, error.message)
        return protos.status_response(statuses)


def add_services(server: grpc.Server, manager: ModelManager, limits: Limits,
                 metrics: Metrics | None = None) -> None:
    """Registers both services on a gRPC server."""
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionService(manager, limits, metrics), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(manager, metrics),
                                                              server)
