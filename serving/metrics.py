"""TF Serving's Prometheus monitoring: `--monitoring_config_file` and the metrics it exposes.

The config file is TF Serving's `MonitoringConfig` in protobuf text format:

    prometheus_config { enable: true, path: "/monitoring/prometheus/metrics" }

(`path` is optional; that is the default). The metrics are served in Prometheus's text
format on the REST port, under TF Serving's names:

    :tensorflow:serving:request_count{model_name, API, entrypoint, status}   counter
    :tensorflow:serving:request_latency{model_name, API, entrypoint}         histogram (us)
"""
from __future__ import annotations

import bisect
import dataclasses
import threading

from google.protobuf import descriptor_pb2
from google.protobuf import descriptor_pool
from google.protobuf import message_factory
from google.protobuf import text_format

DEFAULT_PATH = "/monitoring/prometheus/metrics"
REQUEST_COUNT = ":tensorflow:serving:request_count"
REQUEST_LATENCY = ":tensorflow:serving:request_latency"
# TF Serving's request_latency buckets: 10 us * 1.8^i, 33 of them (10 us .. ~1.5 h).
LATENCY_BUCKETS_US = tuple(10 * 1.8 ** i for i in range(33))


def _monitoring_config_class() -> type:
    """TF Serving's MonitoringConfig, built here: tensorflow-serving-api does not ship it."""
    proto = descriptor_pb2.FileDescriptorProto(
        name="gan_zoo_serving/monitoring_config.proto", package="tensorflow.serving",
        syntax="proto3")
    prometheus = proto.message_type.add(name="PrometheusConfig")
    field = descriptor_pb2.FieldDescriptorProto
    prometheus.field.add(name="enable", number=1, type=field.TYPE_BOOL,
                         label=field.LABEL_OPTIONAL)
    prometheus.field.add(name="path", number=2, type=field.TYPE_STRING,
                         label=field.LABEL_OPTIONAL)
    monitoring = proto.message_type.add(name="MonitoringConfig")
    monitoring.field.add(name="prometheus_config", number=1, type=field.TYPE_MESSAGE,
                         type_name=".tensorflow.serving.PrometheusConfig",
                         label=field.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("tensorflow.serving.MonitoringConfig"))


_MonitoringConfig = _monitoring_config_class()


def parse_monitoring_config(text: str) -> str | None:
    """The metrics path a MonitoringConfig text proto enables, or None if it enables none."""
    try:
        config = text_format.Parse(text, _MonitoringConfig())
    except text_format.ParseError as error:
        raise ValueError(f"invalid monitoring config: {error}") from error
    prometheus = config.prometheus_config
    if not prometheus.enable:
        return None
    path = prometheus.path or DEFAULT_PATH
    if not path.startswith("/") or path.lower().startswith("/v1/"):
        raise ValueError(f"invalid monitoring path {path!r}: it must start with / and not "
                         "be under /v1/")
    return path


def read_monitoring_config_file(path: str) -> str | None:
    """`parse_monitoring_config` of a file."""
    with open(path) as handle:
        return parse_monitoring_config(handle.read())


@dataclasses.dataclass
class _Histogram:
    buckets: list[int]
    total: float = 0.0
    count: int = 0


class Metrics:
    """Request counts and latencies, thread-safe; `text()` is the Prometheus scrape.

    Label values come from the server (configured model names, its API names), never
    verbatim from a request, so a client cannot grow the label sets.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str, str, str], int] = {}
        self._latencies: dict[tuple[str, str, str], _Histogram] = {}

    def observe(self, model: str, api: str, entrypoint: str, status: str,
                seconds: float) -> None:
        """One finished request: its model, API ("predict", ...), "REST"/"GRPC", status."""
        micros = seconds * 1e6
        bucket = bisect.bisect_left(LATENCY_BUCKETS_US, micros)
        with self._lock:
            key = (model, api, entrypoint, status)
            self._counts[key] = self._counts.get(key, 0) + 1
            histogram = self._latencies.get((model, api, entrypoint))
            if histogram is None:
                histogram = _Histogram([0] * (len(LATENCY_BUCKETS_US) + 1))
                self._latencies[(model, api, entrypoint)] = histogram
            histogram.buckets[bucket] += 1
            histogram.total += micros
            histogram.count += 1

    def text(self) -> str:
        """The Prometheus text exposition format (version 0.0.4)."""
        with self._lock:
            counts = sorted(self._counts.items())
            latencies = sorted((key, _Histogram(list(h.buckets), h.total, h.count))
                               for key, h in self._latencies.items())
        lines = [f"# HELP {REQUEST_COUNT} The number of requests, by model, API and status.",
                 f"# TYPE {REQUEST_COUNT} counter"]
        for (model, api, entrypoint, status), count in counts:
            labels = _labels(model_name=model, API=api, entrypoint=entrypoint, status=status)
            lines.append(f"{REQUEST_COUNT}{{{labels}}} {count}")
        lines += [f"# HELP {REQUEST_LATENCY} Distribution of wall time (in microseconds) for "
                  "requests.", f"# TYPE {REQUEST_LATENCY} histogram"]
        for (model, api, entrypoint), histogram in latencies:
            labels = _labels(model_name=model, API=api, entrypoint=entrypoint)
            cumulative = 0
            for bound, count in zip([*LATENCY_BUCKETS_US, float("inf")], histogram.buckets):
                cumulative += count
                le = "+Inf" if bound == float("inf") else f"{bound:.6g}"
                lines.append(f'{REQUEST_LATENCY}_bucket{{{labels},le="{le}"}} {cumulative}')
            lines.append(f"{REQUEST_LATENCY}_sum{{{labels}}} {histogram.total:.17g}")
            lines.append(f"{REQUEST_LATENCY}_count{{{labels}}} {histogram.count}")
        return "\n".join(lines) + "\n"


def _labels(**labels: str) -> str:
    def escaped(value: str) -> str:
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return ",".join(f'{name}="{escaped(value)}"' for name, value in labels.items())
