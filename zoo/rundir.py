"""Files of a run directory written safely; the standard library only, so that the trainer,
its callbacks, `zoo.evaluate` and the benchmarks share it without importing each other."""
from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Mapping


def write_json_atomically(path: str, payload: Mapping[str, Any]) -> None:
    """Writes JSON to a temporary file beside `path`, then renames it into place (mode 0644,
    not the temporary file's private 0600)."""
    directory = os.path.dirname(path) or "."
    with tempfile.NamedTemporaryFile("w", dir=directory, delete=False, suffix=".tmp") as handle:
        json.dump(payload, handle, indent=2, sort_keys=True)
    os.chmod(handle.name, 0o644)
    os.replace(handle.name, path)
