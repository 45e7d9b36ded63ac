"""The server's request limits, and the checks of request tensors against a signature.

Every refusal is INVALID_ARGUMENT (HTTP 400) with a message naming the input and,
for a limit, the flag that sets it.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable, Mapping, Sequence

import numpy as np
import tensorflow as tf

from serving.errors import invalid_argument

GIBBS_STEPS_INPUT = "gibbs_steps"


@dataclasses.dataclass(frozen=True)
class Limits:
    """Per-request limits (flags `--max_batch_rows`, `--max_body_bytes`, `--max_gibbs_steps`,
    `--max_json_depth`) and `--predict_chunk_rows`, the rows computed between checks of a
    request's deadline or cancellation."""

    max_batch_rows: int = 256
    max_body_bytes: int = 4 * 1024 * 1024
    max_gibbs_steps: int = 1000
    max_json_depth: int = 64
    predict_chunk_rows: int = 16

    def check_body_size(self, size: int) -> None:
        if size > self.max_body_bytes:
            raise invalid_argument(
                f"request body of {size} bytes exceeds the server's limit of "
                f"{self.max_body_bytes} bytes (--max_body_bytes)")


def format_shape(shape: tf.TensorShape | Sequence[int | None]) -> str:
    """[-1, 16] style, -1 for a dimension of any size (as TF Serving prints shapes)."""
    dims = tf.TensorShape(shape)
    if dims.rank is None:
        return "[?]"
    return "[" + ", ".join("-1" if d is None else str(d) for d in dims.as_list()) + "]"


def check_shape(name: str, shape: Sequence[int], spec: tf.TensorSpec, limits: Limits) -> None:
    """Refuses a shape the signature input `spec` cannot take or the batch limit forbids.

    Called on a gRPC TensorProto's declared shape before its values are materialised.
    """
    if any(int(d) < 0 for d in shape):
        raise invalid_argument(f"input {name!r} has a negative dimension: {list(shape)}")
    if not spec.shape.is_compatible_with(shape):
        raise invalid_argument(f"input {name!r} has shape {format_shape(shape)} but the "
                               f"signature expects {format_shape(spec.shape)}")
    if spec.shape.rank and shape[0] > limits.max_batch_rows:
        raise invalid_argument(
            f"input {name!r} has a batch of {shape[0]} rows, more than the server's limit "
            f"of {limits.max_batch_rows} (--max_batch_rows)")


def check_names(signature_name: str, specs: Mapping[str, tf.TensorSpec],
                names: Iterable[str]) -> None:
    """Refuses a request whose input names are not exactly the signature's."""
    names = set(names)
    missing, extra = sorted(specs.keys() - names), sorted(names - specs.keys())
    if missing or extra:
        raise invalid_argument(
            f"signature {signature_name!r} takes inputs {sorted(specs)}; "
            + "; ".join(filter(None, [missing and f"missing: {missing}",
                                      extra and f"unknown: {extra}"])))


def check_inputs(signature_name: str, specs: Mapping[str, tf.TensorSpec],
                 inputs: Mapping[str, np.ndarray], limits: Limits) -> None:
    """Refuses inputs that do not match the signature's names, shapes and batch, or the limits."""
    check_names(signature_name, specs, inputs.keys())
    batches = {}
    for name, array in inputs.items():
        check_shape(name, array.shape, specs[name], limits)
        if array.ndim:
            batches[name] = array.shape[0]
        if name == GIBBS_STEPS_INPUT:
            _check_gibbs_steps(array, limits)
    if len(set(batches.values())) > 1:
        raise invalid_argument(f"inputs must have the same number of rows, got {batches}")


def _check_gibbs_steps(steps: np.ndarray, limits: Limits) -> None:
    if steps.size == 0:
        return
    if steps.min() < 0:
        raise invalid_argument(f"{GIBBS_STEPS_INPUT} must be non-negative, got {steps.min()}")
    if steps.max() > limits.max_gibbs_steps:
        raise invalid_argument(
            f"{GIBBS_STEPS_INPUT} of {steps.max()} exceeds the server's limit of "
            f"{limits.max_gibbs_steps} (--max_gibbs_steps)")
