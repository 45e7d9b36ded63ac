"""One loaded version of a model: its SavedModel signatures, callable with numpy inputs."""
from __future__ import annotations

import dataclasses
import os
from typing import Callable, Iterable, Mapping

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import message
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow.core.protobuf import saved_model_pb2

from serving import errors
from serving.batching import Batcher, BatchingParameters
from serving.validation import Limits, check_inputs

DEFAULT_SIGNATURE = "serving_default"
_SERVE_TAG = "serve"


@dataclasses.dataclass(frozen=True)
class Signature:
    """A signature's named input and output specs and its function."""

    name: str
    inputs: dict[str, tf.TensorSpec]
    outputs: dict[str, tf.TensorSpec]
    function: Callable[..., Mapping[str, tf.Tensor]]


def read_meta_graph(path: str) -> meta_graph_pb2.MetaGraphDef:
    """The MetaGraphDef tagged "serve" of the SavedModel in `path`."""
    saved_model = saved_model_pb2.SavedModel()
    pb_path = os.path.join(path, "saved_model.pb")
    if not os.path.exists(pb_path):
        raise errors.not_found(f"no saved_model.pb in {path}")
    with open(pb_path, "rb") as handle:
        try:
            saved_model.ParseFromString(handle.read())
        except message.DecodeError as error:
            raise errors.ServingError(grpc.StatusCode.DATA_LOSS,
                                      f"cannot parse {pb_path}: {error}") from error
    for meta_graph in saved_model.meta_graphs:
        if _SERVE_TAG in meta_graph.meta_info_def.tags:
            return meta_graph
    raise errors.not_found(f"no MetaGraph tagged {_SERVE_TAG!r} in {path}")


class Servable:
    """Model `name` at `version`, loaded from the SavedModel in `path`."""

    def __init__(self, name: str, version: int, path: str,
                 batching: BatchingParameters | None = None):
        self.name = name
        self.version = version
        self.path = path
        self.signature_defs = dict(read_meta_graph(path).signature_def)
        self._loaded = tf.saved_model.load(path, tags=[_SERVE_TAG])
        self.signatures = {
            key: Signature(key, dict(function.structured_input_signature[1]),
                           dict(function.structured_outputs), function)
            for key, function in self._loaded.signatures.items()}
        # --enable_batching: one Batcher per signature (`serving.batching`).
        self.batchers = {} if batching is None else {
            key: Batcher(lambda inputs, wanted, signature=signature:
                         self._call(signature, inputs, wanted), batching)
            for key, signature in self.signatures.items()}

    def close(self) -> None:
        """Stops the batching threads (requests already queued are answered first)."""
        for batcher in self.batchers.values():
            batcher.stop()

    def signature(self, name: str) -> Signature:
        """The signature called `name` (`serving_default` when empty), as TF Serving finds it."""
        name = name or DEFAULT_SIGNATURE
        if name not in self.signatures:
            raise errors.invalid_argument(
                f'Serving signature name: "{name}" not found in signature def')
        return self.signatures[name]

    def predict(self, signature: Signature, inputs: Mapping[str, np.ndarray], limits: Limits,
                output_filter: Iterable[str] = (),
                stop: Callable[[], None] | None = None) -> dict[str, np.ndarray]:
        """Runs `signature` on checked inputs; returns its outputs (or those in `output_filter`).

        The batch runs in chunks of `limits.predict_chunk_rows` rows (each batched with other
        requests' under --enable_batching), with `stop()` called before each, so that a cancelled or expired request stops within a chunk's time
        (a SavedModel call itself cannot be interrupted). The chunking is the same with or
        without `stop`, so a request's outputs do not depend on its deadline.
        """
        check_inputs(signature.name, signature.inputs, inputs, limits)
        wanted = list(output_filter) or list(signature.outputs)
        unknown = sorted(set(wanted) - set(signature.outputs))
        if unknown:
            raise errors.invalid_argument(
                f"output_filter names {unknown}, not outputs of signature {signature.name!r} "
                f"(which has {sorted(signature.outputs)})")
        rows = _batch_rows(signature, inputs, wanted)
        step = limits.predict_chunk_rows
        starts = range(0, rows, step) if rows is not None and rows > step else [None]
        pieces = []
        for start in starts:
            if stop is not None:
                stop()
            chunk = inputs if start is None else {
                name: value[start:start + step] for name, value in inputs.items()}
            batcher = self.batchers.get(signature.name) if rows is not None else None
            if batcher is not None:
                chunk_rows = rows if start is None else min(step, rows - start)
                pieces.append(batcher.run(chunk, wanted, chunk_rows))
            else:
                pieces.append(self._call(signature, chunk, wanted))
        if len(pieces) == 1:
            return pieces[0]
        return {name: np.concatenate([piece[name] for piece in pieces]) for name in wanted}

    def _call(self, signature: Signature, inputs: Mapping[str, np.ndarray],
              wanted: list[str]) -> dict[str, np.ndarray]:
        try:
            tensors = {name: tf.convert_to_tensor(value, signature.inputs[name].dtype)
                       for name, value in inputs.items()}
            outputs = signature.function(**tensors)
            return {name: outputs[name].numpy() for name in wanted}
        except Exception as error:  # TF's own errors keep their codes; the rest are INTERNAL.
            raise errors.from_exception(error) from error


def _batch_rows(signature: Signature, inputs: Mapping[str, np.ndarray],
                wanted: list[str]) -> int | None:
    """The rows of a batch that can be split: every input and wanted output has a leading
    batch dimension of any size (None: run it whole)."""
    specs = [signature.inputs[name] for name in inputs] + [signature.outputs[n] for n in wanted]
    if not inputs or any(not spec.shape.rank or spec.shape[0] is not None for spec in specs):
        return None
    if any(np.ndim(value) == 0 for value in inputs.values()):
        return None
    return int(next(iter(inputs.values())).shape[0])
