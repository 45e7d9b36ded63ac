"""`export_generator`: a zoo model's generator as a self-contained, versioned SavedModel."""
from __future__ import annotations

import logging
import os
from typing import Any

import keras

from export import layout
from zoo import signatures

logger = logging.getLogger(__name__)


def export_generator(model: Any, model_base_path: str, model_name: str,
                     version: int | None = None, *, kind: str | None = None) -> str:
    """Writes `model`'s generator to `<model_base_path>/<model_name>/<version>/`.

    Args:
      model: a zoo model (`zoo.models.GAN`): its `generator`, `sample_from_seeds` and
        `sample_extras` define the signatures (see the `export` package docstring).
      model_base_path: the directory holding one folder per served model.
      model_name: the served model's name.
      version: the version number; by default one more than the largest present.
      kind: "image" or "mixture" (`zoo.data.info(dataset).kind`); by default read off the
        generator's output rank.

    Returns:
      The path of the new version directory.
    """
    kind = kind or signatures.output_kind(model.generator)
    path = layout.write_version(os.path.join(model_base_path, model_name),
                                lambda target: write_savedmodel(model, target, kind), version)
    logger.info("exported %s generator to %s", kind, path)
    return path


def write_savedmodel(model: Any, target: str, kind: str) -> None:
    """The model's own `export` (`zoo.models.inference`) where it has one, so `model.export`
    and `python -m export` write the same SavedModel; else the same signatures here."""
    if hasattr(model, "export") and hasattr(model, "sample_from_seeds"):
        model.export(target, kind=kind)
        return
    archive = keras.export.ExportArchive()
    for name, (function, input_specs) in signatures.endpoints(model, kind).items():
        archive.add_endpoint(name, function, input_signature=[input_specs])
    archive.write_out(target, verbose=False)
