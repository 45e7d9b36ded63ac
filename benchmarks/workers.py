"""What the benchmarks share: which variants take which datasets, and worker processes.

Each measurement of `benchmarks.quality` and `benchmarks.speed` runs in its own Python
process (`python -m benchmarks.quality_run` / `benchmarks.speed_run`) so that runs do not
share TensorFlow state, threads or peak-memory counters; `Workers` starts them with their
thread counts set and can kill those still running on an interrupt.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import threading
import time
from typing import Any, Iterable

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def registered_variants(names: Iterable[str]) -> list[str]:
    """`names` (all registered variants when empty), each checked: an unknown name fails
    loudly, listing the valid ones."""
    from zoo.models import MODELS

    variants = list(names) or MODELS.names()
    for name in variants:
        MODELS.get(name)
    return variants


def not_applicable(variants: Iterable[str], datasets: Iterable[str]) -> dict[tuple[str, str], str]:
    """(dataset, variant) -> why the variant's `run_config` rejects the dataset
    (e.g. dcgan on a mixture); pairs that build are absent."""
    from zoo import data
    from zoo.models import MODELS

    reasons = {}
    for dataset in datasets:
        info = data.info(dataset)
        for variant in variants:
            try:
                MODELS.get(variant).run_config(info)
            except ValueError as error:
                reasons[(dataset, variant)] = str(error)
    return reasons


def config_diffs(text: str, variants: Iterable[str], datasets: Iterable[str],
                 skip: dict[tuple[str, str], str]) -> dict[str, dict]:
    """variant -> its config diff, from `text`, JSON {"variant": {"key": value}} ("" for none).

    Each diff is checked where it will run: a variant that is not being run, or a key that
    its defaults for a dataset lack, fails loudly here rather than in a worker process.
    """
    from zoo import data
    from zoo.models import MODELS

    if not text.strip():
        return {}
    try:
        diffs = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"--config is not JSON ({error}): {text!r}") from None
    if not isinstance(diffs, dict) or not all(isinstance(d, dict) for d in diffs.values()):
        raise ValueError(f'--config must map variants to config diffs, '
                         f'e.g. {{"sngan": {{"width": 32}}}}; got {text!r}')
    variants = list(variants)
    unknown = sorted(set(diffs) - set(variants))
    if unknown:
        raise ValueError(f"--config names variants that are not being run: {unknown}; "
                         f"running: {variants}")
    for variant, diff in diffs.items():
        for dataset in datasets:
            if (dataset, variant) not in skip:
                try:
                    MODELS.get(variant).run_config(data.info(dataset), diff)
                except ValueError as error:
                    raise ValueError(f"--config {variant} on {dataset}: {error}") from None
    return {v: d for v, d in diffs.items() if d}


def dataset_layout(datasets: Iterable[str]) -> dict[str, dict]:
    """name -> {"kind": "mixture" | "image", "num_modes": M or None} of each dataset."""
    from zoo import data

    layout = {}
    for name in datasets:
        info = data.info(name)
        layout[name] = dict(kind=info.kind, num_modes=(len(info.centers)
                                                       if info.kind == "mixture" else None))
    return layout


def command_line(module: str, flag_values: Any, names: Iterable[str]) -> str:
    """`python -m MODULE` with the flags among `names` that were given (not at default)."""
    given = [flag_values[name].serialize() for name in names
             if not flag_values[name].using_default_value]
    return shlex.join(["python", "-m", module] + given)


def environment(threads: int) -> dict:
    """A worker's environment: TensorFlow/OpenMP threads (0: their defaults), GPU memory
    growth on (workers may share a GPU), quiet start-up, this checkout importable."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_FORCE_GPU_ALLOW_GROWTH="true")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO_ROOT, env.get("PYTHONPATH")]))
    if threads:
        env.update(TF_NUM_INTRAOP_THREADS=str(threads), TF_NUM_INTEROP_THREADS=str(threads),
                   OMP_NUM_THREADS=str(threads))
    return env


class Workers:
    """Runs `python -m MODULE --flags` processes, each writing a JSON record; thread-safe."""

    def __init__(self, threads: int, timeout: int | None = None):
        self.env = environment(threads)
        self.timeout = timeout or None
        self._running: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self.stopping = False

    def run(self, module: str, flags: list[str], result: str, log_path: str) -> dict:
        """Runs the worker with `--result=RESULT` and returns its record plus `wall_seconds`;
        a crash or timeout gives {"status": "error", "error": exit status and the log's tail}."""
        if os.path.exists(result):
            os.remove(result)
        command = [sys.executable, "-m", module, *flags, f"--result={result}"]
        started = time.time()
        with open(log_path, "w") as log:
            with self._lock:
                if self.stopping:
                    return dict(status="error", error="interrupted before it started",
                                wall_seconds=0.0)
                process = subprocess.Popen(command, cwd=REPO_ROOT, env=self.env, stdout=log,
                                           stderr=subprocess.STDOUT)
                self._running.add(process)
            try:
                process.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            finally:
                with self._lock:
                    self._running.discard(process)
        wall = time.time() - started
        if process.returncode == 0 and os.path.exists(result):
            with open(result) as handle:
                record = json.load(handle)
            record.setdefault("status", "ok")
        else:
            with open(log_path) as log:
                tail = log.read()[-2000:]
            record = dict(status="error", error=f"exit status {process.returncode}: {tail}")
        return dict(record, wall_seconds=wall)

    def stop(self) -> None:
        """Kills the workers still running (this object's own processes, by their handles)."""
        with self._lock:
            self.stopping = True
            for process in self._running:
                process.kill()
