"""Keeps every configured model's versions loaded as its version policy and the disk say.

Like TF Serving's file-system source with its availability-preserving policy: every
poll lists the integer-named version folders under each base path, loads the
versions the policy aspires to (newest first), and unloads the others only once an
aspired version is available, so the version being served stays up until its
successor serves. A version that fails to load is reported as END with its error
(and retried on later polls, `max_num_load_retries` times); it never takes down the
version being served. Once its retries are spent, it is tried again whenever its folder
changes (a file added, removed, resized or rewritten: e.g. the version was completed
later). Requests without a version get the newest available one.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import re
import threading
from typing import Sequence

from tensorflow_serving.apis import get_model_status_pb2

from serving import errors
from serving.batching import BatchingParameters
from serving.config import ModelConfig
from serving.servable import Servable

State = get_model_status_pb2.ModelVersionStatus.State
_VERSION_NAME = re.compile(r"[0-9]+")


@dataclasses.dataclass(frozen=True)
class VersionStatus:
    """A version's state (`ModelVersionStatus.State`) and, after a failed load, the error."""

    version: int
    state: int
    error: errors.ServingError | None = None


def versions_on_disk(base_path: str) -> list[int]:
    """The integer-named folders under `base_path`, ascending (TF Serving's versions)."""
    try:
        names = os.listdir(base_path)
    except OSError:
        return []
    return sorted(int(name) for name in names if _VERSION_NAME.fullmatch(name)
                  and os.path.isdir(os.path.join(base_path, name)))


def folder_fingerprint(path: str) -> tuple:
    """Every file and folder under `path` with its size and mtime: what a change would alter.

    Cheap next to a load, and taken only for versions that failed to load.
    """
    entries = []
    for root, folders, files in os.walk(path):
        for name in folders + files:
            full = os.path.join(root, name)
            try:
                stat = os.stat(full)
            except OSError:
                continue
            entries.append((os.path.relpath(full, path), stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(entries))


class _Model:
    """What the manager knows of one model; guarded by the manager's lock."""

    def __init__(self, config: ModelConfig):
        self.config = config
        self.statuses: dict[int, VersionStatus] = {}
        self.servables: dict[int, Servable] = {}
        self.failed_loads: dict[int, int] = {}
        self.failed_fingerprints: dict[int, tuple] = {}
        self.seen_on_disk: list[int] | None = None


class ModelManager:
    """Loads, serves and unloads the versions of `configs`; polls the disk every few seconds.

    `poll_wait_seconds` > 0 polls periodically after the first poll in `start()`;
    0 polls only once (TF Serving's `--file_system_poll_wait_seconds`).
    """

    def __init__(self, configs: Sequence[ModelConfig], poll_wait_seconds: float = 1.0,
                 max_num_load_retries: int = 5, batching: BatchingParameters | None = None):
        self._batching = batching
        self._models = {config.name: _Model(config) for config in configs}
        self._poll_wait_seconds = poll_wait_seconds
        self._max_num_load_retries = max_num_load_retries
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._poller: threading.Thread | None = None

    # --------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Loads what is on disk now, then keeps polling in a background thread."""
        self.poll()
        if self._poll_wait_seconds > 0:
            self._poller = threading.Thread(target=self._poll_loop, name="model-poller",
                                            daemon=True)
            self._poller.start()

    def stop(self) -> None:
        """Stops polling (the loaded versions stay until the manager is dropped)."""
        self._stopping.set()
        if self._poller is not None:
            self._poller.join()

    def _poll_loop(self) -> None:
        while not self._stopping.wait(self._poll_wait_seconds):
            self.poll()

    def poll(self) -> None:
        """One pass over every model: load aspired versions, unload retired ones."""
        for model in self._models.values():
            try:
                self._sync(model)
            except Exception:  # A broken model folder must not stop the others' polling.
                logging.exception("polling model %s failed", model.config.name)

    # ------------------------------------------------------------ transitions
    def _sync(self, model: _Model) -> None:
        config = model.config
        on_disk = versions_on_disk(config.base_path)
        if on_disk != model.seen_on_disk:
            if on_disk:
                logging.info("model %s: versions %s under %s", config.name, on_disk,
                             config.base_path)
            else:
                logging.warning("model %s: no versions found under %s", config.name,
                                config.base_path)
            model.seen_on_disk = on_disk
        aspired = config.policy.aspired(on_disk)
        for version in sorted(aspired, reverse=True):
            if self._stopping.is_set():
                return
            if version in model.servables:
                continue
            if model.failed_loads.get(version, 0) > self._max_num_load_retries:
                path = os.path.join(config.base_path, str(version))
                if folder_fingerprint(path) == model.failed_fingerprints.get(version):
                    continue
                logging.info("model %s version %d changed since it failed to load; retrying",
                             config.name, version)
                model.failed_loads[version] = 0
            self._load(model, version)
        with self._lock:
            serving_aspired = any(version in model.servables for version in aspired)
            retired = [version for version in model.servables
                       if version not in on_disk or (serving_aspired and version not in aspired)]
            for version in retired:
                model.servables.pop(version).close()
                model.statuses[version] = VersionStatus(version, State.END)
        for version in retired:
            logging.info("unloaded model %s version %d", config.name, version)

    def _load(self, model: _Model, version: int) -> None:
        name = model.config.name
        path = os.path.join(model.config.base_path, str(version))
        with self._lock:
            model.statuses[version] = VersionStatus(version, State.LOADING)
        fingerprint = folder_fingerprint(path)  # before loading: a change during it retries
        try:
            servable = Servable(name, version, path, self._batching)
        except Exception as exception:
            error = errors.from_exception(exception)
            with self._lock:
                model.failed_loads[version] = model.failed_loads.get(version, 0) + 1
                model.failed_fingerprints[version] = fingerprint
                model.statuses[version] = VersionStatus(version, State.END, error)
            logging.error("failed to load model %s version %d (attempt %d): %s", name, version,
                          model.failed_loads[version], error.message)
            return
        with self._lock:
            model.servables[version] = servable
            model.statuses[version] = VersionStatus(version, State.AVAILABLE)
        logging.info("loaded model %s version %d: signatures %s", name, version,
                     sorted(servable.signatures))

    # ---------------------------------------------------------------- lookups
    def has_model(self, name: str) -> bool:
        """Whether `name` is a configured model."""
        return name in self._models

    def version_for_label(self, name: str, label: str) -> int:
        """The version a label of the model's config names (INVALID_ARGUMENT if none)."""
        model = self._models.get(name)
        version = model.config.version_for_label(label) if model else None
        if version is None:
            raise errors.invalid_argument(f"Unrecognized servable version label: {label}")
        return version

    def servable(self, name: str, version: int | None = None) -> Servable:
        """The given version of a model, or its newest available one (NOT_FOUND if none)."""
        model = self._models.get(name)
        with self._lock:
            servables = model.servables if model else {}
            if version is None:
                if not servables:
                    raise errors.not_found(f"Servable not found for request: Latest({name})")
                return servables[max(servables)]
            if version not in servables:
                raise errors.not_found(
                    f"Servable not found for request: Specific({name}, {version})")
            return servables[version]

    def status(self, name: str, version: int | None = None) -> list[VersionStatus]:
        """The states of a model's versions, newest first, or of one version."""
        model = self._models.get(name)
        with self._lock:
            statuses = dict(model.statuses) if model else {}
        if version is None:
            if not statuses:
                raise errors.not_found(f"Could not find any versions of model {name}")
            return [statuses[v] for v in sorted(statuses, reverse=True)]
        if version not in statuses:
            raise errors.not_found(f"Could not find version {version} of model {name}")
        return [statuses[version]]
