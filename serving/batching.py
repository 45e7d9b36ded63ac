"""Server-side batching, as tensorflow_model_server's `--enable_batching`: concurrent requests
of one signature run as one call of it.

A `Batcher` per servable signature queues each request's (already checked) inputs; one
thread takes the first waiting request, adds those of the same input names, shapes and
dtypes that are waiting or arrive within `batch_timeout_micros`, up to `max_batch_size` rows,
concatenates them along the batch dimension, runs the signature once and hands each request
its own rows. A batch's outputs are those every request in it asked for together; a failed
call fails each of its requests with the same error.

`--batching_parameters_file` takes TF Serving's BatchingParameters text proto; the fields read
here are `max_batch_size` (default 1000, as TF Serving's), `batch_timeout_micros` (default 0:
no waiting, a batch holds what queued while the previous one ran), and `num_batch_threads`
(default 1 here: the one call already uses every core TensorFlow has). Others
(`max_enqueued_batches`, `pad_variable_length_inputs`, ...) are refused by name.
"""
from __future__ import annotations

import dataclasses
import queue
import re
import threading
import time
from typing import Callable, Mapping

import numpy as np

_FIELD = re.compile(r"(\w+)\s*\{\s*value\s*:\s*(\d+)\s*\}")
_KNOWN = ("max_batch_size", "batch_timeout_micros", "num_batch_threads")


@dataclasses.dataclass(frozen=True)
class BatchingParameters:
    max_batch_size: int = 1000
    batch_timeout_micros: int = 0
    num_batch_threads: int = 1


def read_batching_parameters(path: str | None) -> BatchingParameters:
    """The BatchingParameters text proto at `path` (the defaults when None)."""
    if path is None:
        return BatchingParameters()
    with open(path) as handle:
        text = handle.read()
    fields = dict(_FIELD.findall(text))
    leftover = _FIELD.sub("", text).strip()
    unknown = sorted(set(fields) - set(_KNOWN))
    if leftover or unknown:
        raise ValueError(f"{path}: only {', '.join(f'{k} {{ value: N }}' for k in _KNOWN)} "
                         f"are read, got {unknown or leftover[:80]!r}")
    parameters = BatchingParameters(**{k: int(v) for k, v in fields.items()})
    if parameters.max_batch_size < 1 or parameters.num_batch_threads < 1:
        raise ValueError(f"{path}: max_batch_size and num_batch_threads must be positive, "
                         f"got {parameters}")
    return parameters


@dataclasses.dataclass(eq=False)
class _Request:
    inputs: Mapping[str, np.ndarray]
    wanted: tuple[str, ...]
    rows: int
    key: tuple
    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    outputs: dict | None = None
    error: BaseException | None = None


class Batcher:
    """Runs `call(inputs, wanted) -> outputs` on batches of concurrent requests."""

    def __init__(self, call: Callable[[Mapping[str, np.ndarray], list[str]], dict],
                 parameters: BatchingParameters):
        self._call = call
        self.parameters = parameters
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._stopped = False
        self._threads = [threading.Thread(target=self._loop, daemon=True, name="batcher")
                         for _ in range(parameters.num_batch_threads)]
        for thread in self._threads:
            thread.start()
        self.batches = 0  # calls made (for tests and metrics)

    def run(self, inputs: Mapping[str, np.ndarray], wanted: list[str], rows: int) -> dict:
        """`inputs` (`rows` rows each) run in a batch; their outputs named `wanted`."""
        key = tuple(sorted((name, value.shape[1:], value.dtype.str)
                           for name, value in inputs.items()))
        request = _Request(inputs, tuple(wanted), rows, key)
        with self._lock:
            if self._stopped:  # a retired version still answering: unbatched
                return self._call(inputs, wanted)
            self._queue.put(request)
        request.done.wait()
        if request.error is not None:
            raise request.error
        return request.outputs

    def stop(self) -> None:
        """Ends the threads once the requests already queued are answered."""
        with self._lock:
            self._stopped = True
            for _ in self._threads:
                self._queue.put(None)

    def _loop(self) -> None:
        held: list[_Request] = []  # taken from the queue, not fitting the last batch
        while True:
            first = held.pop(0) if held else self._queue.get()
            if first is None:
                return
            batch, rows = [first], first.rows
            deadline = time.monotonic() + self.parameters.batch_timeout_micros / 1e6
            for waiting in list(held):
                if waiting.key == first.key and rows + waiting.rows <= self.parameters.max_batch_size:
                    held.remove(waiting)
                    batch.append(waiting)
                    rows += waiting.rows
            while rows < self.parameters.max_batch_size:
                try:
                    request = self._queue.get(timeout=max(0.0, deadline - time.monotonic())) \
                        if self.parameters.batch_timeout_micros else self._queue.get_nowait()
                except queue.Empty:
                    break
                if request is None:
                    self._queue.put(None)  # stop after this batch
                    break
                if request.key == first.key and rows + request.rows <= self.parameters.max_batch_size:
                    batch.append(request)
                    rows += request.rows
                else:
                    held.append(request)
            self._run(batch)

    def _run(self, batch: list[_Request]) -> None:
        wanted = list(dict.fromkeys(name for request in batch for name in request.wanted))
        try:
            if len(batch) == 1:
                outputs = self._call(batch[0].inputs, wanted)
                pieces = [outputs]
            else:
                inputs = {name: np.concatenate([r.inputs[name] for r in batch])
                          for name in batch[0].inputs}
                outputs = self._call(inputs, wanted)
                bounds = np.cumsum([0] + [r.rows for r in batch])
                pieces = [{name: value[start:end] for name, value in outputs.items()}
                          for start, end in zip(bounds[:-1], bounds[1:])]
            self.batches += 1
            for request, piece in zip(batch, pieces):
                request.outputs = {name: piece[name] for name in request.wanted}
        except BaseException as error:  # noqa: BLE001 - handed to every waiting request
            for request in batch:
                request.error = error
        finally:
            for request in batch:
                request.done.set()
