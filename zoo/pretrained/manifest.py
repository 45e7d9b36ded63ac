"""The manifest of pretrained generators: `zoo/pretrained/manifest.json`.

A JSON object {"entries": [ENTRY, ...]}. What `python -m zoo.pretrained build NAME` needs of an
entry is one line:

    {"name": "aan-ring8", "model": "aan", "dataset": "ring8", "seed": 0, "overrides": {}}

(`overrides`: the run config's diff over the variant's defaults, `steps` and `batch_size`
included). The build trains the run, writes the weights and fills in the rest:
    config    the full resolved run config the weights were trained with (`RunConfig.to_dict`,
              as KerasHub presets keep config.json beside the weights): a built entry is
              rebuilt from it, so changing a variant's default never changes a shipped entry

    weights   file name of the weights (`NAME.weights.h5`), shipped in zoo/pretrained/ or, with
              `url`, fetched into the cache directory
    url       where to fetch the weights when they do not ship with the package (optional)
    sha256    hex SHA-256 of the weights file; size: its length in bytes
    metrics   the metrics measured on the saved weights, with their protocol
              (`zoo.metrics.report.measure`)
    training  steps, seconds, TensorFlow and Keras versions of the training run
    command   the command that reproduces the entry
"""
from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from typing import Any

DIRECTORY = os.path.dirname(os.path.abspath(__file__))
MANIFEST = os.path.join(DIRECTORY, "manifest.json")


@dataclasses.dataclass
class Entry:
    """One pretrained generator (module docstring)."""

    name: str
    model: str
    dataset: str
    seed: int = 0
    overrides: dict = dataclasses.field(default_factory=dict)
    config: dict = dataclasses.field(default_factory=dict)
    weights: str | None = None
    url: str | None = None
    sha256: str | None = None
    size: int | None = None
    metrics: dict = dataclasses.field(default_factory=dict)
    training: dict = dataclasses.field(default_factory=dict)
    command: str | None = None

    @property
    def built(self) -> bool:
        """Whether the entry names a weights file with its checksum."""
        return bool(self.weights and self.sha256 and self.size)


def read(path: str = MANIFEST) -> dict[str, Entry]:
    """The manifest's entries by name (unknown fields fail loudly)."""
    with open(path) as handle:
        raw = json.load(handle)["entries"]
    fields = {field.name for field in dataclasses.fields(Entry)}
    entries = {}
    for item in raw:
        unknown = set(item) - fields
        if unknown:
            raise ValueError(f"{path}: entry {item.get('name')!r} has unknown fields "
                             f"{sorted(unknown)}; valid: {sorted(fields)}")
        entries[item["name"]] = Entry(**item)
    return entries


def get(name: str, path: str = MANIFEST) -> Entry:
    """The entry `name`; an unknown name lists the valid ones."""
    entries = read(path)
    if name not in entries:
        raise ValueError(f"unknown pretrained model {name!r}; valid names: "
                         f"{', '.join(sorted(entries))}")
    return entries[name]


def update(entry: Entry, path: str = MANIFEST) -> None:
    """Replaces (or appends) `entry` in the manifest, keeping the others' order; the file is
    written beside the manifest and renamed over it (imports nothing of the trainer, which
    imports this package through `zoo.metrics` and `zoo.classifiers`)."""
    with open(path) as handle:
        raw = json.load(handle)["entries"]
    replacement = dataclasses.asdict(entry)
    names = [item["name"] for item in raw]
    if entry.name in names:
        raw[names.index(entry.name)] = replacement
    else:
        raw.append(replacement)
    with tempfile.NamedTemporaryFile("w", dir=os.path.dirname(os.path.abspath(path)),
                                     delete=False, suffix=".tmp") as handle:
        json.dump(dict(entries=raw), handle, indent=2)
        handle.write("\n")
    os.chmod(handle.name, 0o644)  # a temporary file is created 0600
    os.replace(handle.name, path)


def _headline(metrics: dict[str, Any]) -> str:
    numbers = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in numbers.items())


def table(entries: dict[str, Entry]) -> str:
    """A plain-text table: name, model, dataset, size, sha256 prefix, headline metrics."""
    rows = [("name", "model", "dataset", "size", "sha256", "metrics")]
    for entry in entries.values():
        size = f"{entry.size / 1e6:.2f} MB" if entry.size else "-"
        rows.append((entry.name, entry.model, entry.dataset, size,
                     (entry.sha256 or "not built")[:12], _headline(entry.metrics)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  "
                     + row[-1] for row in rows)
