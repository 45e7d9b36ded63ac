"""The files of a zoo run directory, with no TensorFlow and no upward imports.

Design: the trainer, the metrics callback, `zoo.evaluate`, `export` and the benchmarks all
read or write these files, so they live below all of them (standard library only) and none
of those modules has to import another to reach them.

  config.json            {"spec": the run's identity, "config": its full run config};
  metrics.json           the final measurement (`measurement_record`) and its "history";
  metrics_history.json   {"protocol": ..., "history": [...]} of the metrics callback.
"""
from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Mapping

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
METRICS_HISTORY_FILE = "metrics_history.json"
CHECKPOINTS_DIR = "checkpoints"


def write_json_atomically(path: str, payload: Mapping[str, Any]) -> None:
    """Writes JSON to a temporary file beside `path`, then renames it into place (mode 0644,
    not the temporary file's private 0600)."""
    directory = os.path.dirname(path) or "."
    with tempfile.NamedTemporaryFile("w", dir=directory, delete=False, suffix=".tmp") as handle:
        json.dump(payload, handle, indent=2, sort_keys=True)
    os.chmod(handle.name, 0o644)
    os.replace(handle.name, path)


def read_spec(run_dir: str) -> dict:
    """The model, dataset, seed and overrides of the run in `run_dir` (its config.json)."""
    path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: {run_dir!r} is not a zoo run directory")
    with open(path) as handle:
        return json.load(handle)["spec"]


def write_config(run_dir: str, spec: Mapping[str, Any], config: Mapping[str, Any]) -> None:
    """Writes RUN_DIR/config.json: the run's identity and its full run config."""
    write_json_atomically(os.path.join(run_dir, CONFIG_FILE), dict(spec=spec, config=config))


def read_history(run_dir: str) -> dict:
    """RUN_DIR/metrics_history.json ({"protocol": {}, "history": []} when absent)."""
    path = os.path.join(run_dir, METRICS_HISTORY_FILE)
    if not os.path.exists(path):
        return dict(protocol={}, history=[])
    with open(path) as handle:
        kept = json.load(handle)
    return dict(protocol=kept.get("protocol", {}), history=kept.get("history", []))


# The identity fields of a measurement record; the rest are metrics and their protocol.
RECORD_KEYS = ("model", "dataset", "seed", "overrides", "run_dir", "steps", "protocol",
               "history")


def measurement_record(spec: Mapping[str, Any], run_dir: str, steps: int,
                       measured: Mapping[str, Any]) -> dict:
    """The one schema of metrics.json and evaluation.json: the run's identity (model, dataset,
    seed, overrides), its absolute run_dir, the generator step measured, then each metric of
    `zoo.metrics.report.measure` (flat numbers) and its "protocol" ({GROUP: description})."""
    return dict(spec, run_dir=os.path.abspath(run_dir), steps=int(steps), **measured)
