"""`ModelServer`: the model manager behind a gRPC and an (optional) REST endpoint."""
from __future__ import annotations

import concurrent.futures
import logging
import threading
from typing import Sequence

import grpc

from serving import grpc_service
from serving.batching import BatchingParameters
from serving.config import ModelConfig
from serving.manager import ModelManager
from serving.metrics import Metrics
from serving.rest import RestApi, RestServer
from serving.validation import Limits


class ModelServer:
    """Serves `models` over gRPC (`grpc_port`) and REST (`rest_port`; None: no REST).

    Port 0 asks the system for a free port; the bound ports are `grpc_port` and
    `rest_port` once started. Use as a context manager or call `start()` / `stop()`.
    `rest_timeout_seconds` is the whole-request deadline of a REST request,
    `rest_max_connections` the most REST connections served at once, and
    `monitoring_path` (if given) where the REST port serves Prometheus metrics, and
    `batching` (if given) batches concurrent requests of a signature (`serving.batching`).
    """

    def __init__(self, models: Sequence[ModelConfig], *, host: str = "127.0.0.1",
                 grpc_port: int = 8500, rest_port: int | None = 8501,
                 poll_wait_seconds: float = 1.0, max_num_load_retries: int = 5,
                 limits: Limits = Limits(), grpc_max_threads: int = 16,
                 rest_timeout_seconds: float = 30.0, rest_max_connections: int = 128,
                 monitoring_path: str | None = None,
                 batching: BatchingParameters | None = None):
        self.host = host
        self.grpc_port = grpc_port
        self.rest_port = rest_port
        self.limits = limits
        self.manager = ModelManager(models, poll_wait_seconds, max_num_load_retries, batching)
        self.metrics = Metrics() if monitoring_path else None
        self.monitoring_path = monitoring_path
        self._rest_timeout_seconds = rest_timeout_seconds
        self._rest_max_connections = rest_max_connections
        self._grpc_max_threads = grpc_max_threads
        self._grpc: grpc.Server | None = None
        self._rest: RestServer | None = None
        self._rest_thread: threading.Thread | None = None

    def start(self) -> "ModelServer":
        """Loads the models present now, then opens the ports (OSError if one is taken)."""
        self.manager.start()
        try:
            self._start_grpc()
            if self.rest_port is not None:
                self._start_rest()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_grpc(self) -> None:
        self._grpc = grpc.server(
            concurrent.futures.ThreadPoolExecutor(self._grpc_max_threads,
                                                  thread_name_prefix="grpc"),
            options=[("grpc.max_receive_message_length", self.limits.max_body_bytes),
                     ("grpc.max_send_message_length", -1),
                     ("grpc.so_reuseport", 0)])
        grpc_service.add_services(self._grpc, self.manager, self.limits, self.metrics)
        address = f"[{self.host}]" if ":" in self.host else self.host
        try:
            self.grpc_port = self._grpc.add_insecure_port(f"{address}:{self.grpc_port}")
        except RuntimeError as error:
            raise OSError(f"cannot bind gRPC to {address}:{self.grpc_port}: {error}") from error
        self._grpc.start()
        logging.info("Running gRPC ModelServer at %s:%d ...", self.host, self.grpc_port)

    def _start_rest(self) -> None:
        self._rest = RestServer((self.host, self.rest_port),
                                RestApi(self.manager, self.limits, self.metrics),
                                max_connections=self._rest_max_connections,
                                timeout_seconds=self._rest_timeout_seconds,
                                monitoring_path=self.monitoring_path)
        self.rest_port = self._rest.server_address[1]
        self._rest_thread = threading.Thread(target=self._rest.serve_forever, name="rest",
                                             daemon=True)
        self._rest_thread.start()
        logging.info("Exporting HTTP/REST API at:%s:%d ...", self.host, self.rest_port)

    def stop(self, grace_seconds: float = 2.0) -> None:
        """Stops accepting requests, lets running ones finish, and stops polling."""
        if self._rest_thread is not None:
            self._rest.shutdown()
            self._rest_thread.join()
        if self._rest is not None:
            self._rest.server_close()
        if self._grpc is not None:
            self._grpc.stop(grace_seconds).wait()
        self.manager.stop()

    def __enter__(self) -> "ModelServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
