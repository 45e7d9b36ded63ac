"""A model server with tensorflow_model_server's command line (see serving/README.md).

    python -m serving --port=8500 --rest_api_port=8501 \
        --model_name=dcgan --model_base_path=/models/dcgan
    python -m serving --rest_api_port=8501 --model_config_file=models.config

Runs until SIGINT or SIGTERM.
"""
from __future__ import annotations

import gc
import logging
import signal
import sys
import threading

from absl import app
from absl import flags

from serving import config
from serving import metrics
from serving.batching import read_batching_parameters
from serving.server import ModelServer
from serving.validation import Limits

FLAGS = flags.FLAGS
flags.DEFINE_string("host", "127.0.0.1", "Address to bind both ports to (0.0.0.0: every "
                    "interface).")
flags.DEFINE_integer("port", 8500, "Port for the gRPC API (0: any free port).", lower_bound=0)
flags.DEFINE_integer("rest_api_port", 0, "Port for the HTTP/REST API; 0 disables it, as in "
                     "tensorflow_model_server.", lower_bound=0)
flags.DEFINE_string("model_name", "default", "Name of the model (with --model_base_path).")
flags.DEFINE_string("model_base_path", None, "Folder of the model's integer-named versions.")
flags.DEFINE_string("model_config_file", None, "A ModelServerConfig text proto with a "
                    "model_config_list (instead of --model_name/--model_base_path).")
flags.DEFINE_float("file_system_poll_wait_seconds", 1.0, "Seconds between looks for new "
                   "versions; 0 looks once, at start.", lower_bound=0)
flags.DEFINE_integer("max_num_load_retries", 5, "Further tries (one per poll) of a version "
                     "that failed to load.", lower_bound=0)
flags.DEFINE_integer("grpc_max_threads", 16, "Threads answering gRPC calls.", lower_bound=1)
flags.DEFINE_integer("max_batch_rows", 256, "Most rows one request may carry.", lower_bound=1)
flags.DEFINE_integer("max_body_bytes", 4 * 1024 * 1024, "Largest REST body or gRPC message.",
                     lower_bound=1)
flags.DEFINE_integer("max_gibbs_steps", 1000, "Largest value of an input named gibbs_steps.",
                     lower_bound=0)
flags.DEFINE_integer("max_json_depth", 64, "Deepest nesting of a REST request's JSON.",
                     lower_bound=2, upper_bound=500)
flags.DEFINE_integer("predict_chunk_rows", 16, "Rows computed between checks of a request's "
                     "deadline and cancellation.", lower_bound=1)
flags.DEFINE_integer("rest_api_timeout_in_ms", 30000, "Deadline of a whole REST request: "
                     "its arrival (head and body) and its computation.", lower_bound=1)
flags.DEFINE_integer("rest_api_max_connections", 128, "Most REST connections served at once; "
                     "beyond, a connection is answered 503.", lower_bound=1)
flags.DEFINE_bool("enable_batching", False, "Run concurrent requests of one signature as one "
                  "call (serving/batching.py).")
flags.DEFINE_string("batching_parameters_file", None, "A BatchingParameters text proto "
                    "(max_batch_size, batch_timeout_micros, num_batch_threads); with "
                    "--enable_batching.")
flags.DEFINE_string("monitoring_config_file", None, "A MonitoringConfig text proto: "
                    'prometheus_config { enable: true, path: "/monitoring/prometheus/metrics" }.')


def model_configs() -> list[config.ModelConfig]:
    """The models the flags name (exactly one of --model_base_path, --model_config_file)."""
    if bool(FLAGS.model_base_path) == bool(FLAGS.model_config_file):
        raise app.UsageError("give exactly one of --model_base_path (with --model_name) "
                             "and --model_config_file")
    if FLAGS.model_config_file:
        return config.read_model_config_file(FLAGS.model_config_file)
    return config.from_flags(FLAGS.model_name, FLAGS.model_base_path)


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    try:
        models = model_configs()
        monitoring_path = (metrics.read_monitoring_config_file(FLAGS.monitoring_config_file)
                           if FLAGS.monitoring_config_file else None)
        batching = (read_batching_parameters(FLAGS.batching_parameters_file)
                    if FLAGS.enable_batching else None)
    except (OSError, ValueError) as error:
        raise app.UsageError(str(error)) from error
    if FLAGS.batching_parameters_file and not FLAGS.enable_batching:
        raise app.UsageError("--batching_parameters_file needs --enable_batching")
    if monitoring_path and not FLAGS.rest_api_port:
        logging.warning("--monitoring_config_file: metrics are served on the REST port, "
                        "which --rest_api_port=0 disables")
    limits = Limits(max_batch_rows=FLAGS.max_batch_rows, max_body_bytes=FLAGS.max_body_bytes,
                    max_gibbs_steps=FLAGS.max_gibbs_steps, max_json_depth=FLAGS.max_json_depth,
                    predict_chunk_rows=FLAGS.predict_chunk_rows)
    server = ModelServer(models, host=FLAGS.host, grpc_port=FLAGS.port,
                         rest_port=FLAGS.rest_api_port or None,
                         poll_wait_seconds=FLAGS.file_system_poll_wait_seconds,
                         max_num_load_retries=FLAGS.max_num_load_retries, limits=limits,
                         grpc_max_threads=FLAGS.grpc_max_threads,
                         rest_timeout_seconds=FLAGS.rest_api_timeout_in_ms / 1000,
                         rest_max_connections=FLAGS.rest_api_max_connections,
                         monitoring_path=monitoring_path, batching=batching)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        server.start()
    except OSError as error:
        logging.error("%s", error)
        return 1
    # TensorFlow and the loaded models are hundreds of thousands of long-lived objects:
    # moved out of the collector's way, they no longer make every collection triggered by
    # a request's JSON slow (json.loads of a 1 MB reply: 200 ms -> 15 ms).
    gc.freeze()
    stopping.wait()
    logging.info("shutting down")
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(app.run(main))
