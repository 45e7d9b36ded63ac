"""`export_generator`: a zoo model's generator as a self-contained, versioned SavedModel;
`export_run_result`: the step `python -m zoo.train` takes after a run."""
from __future__ import annotations

import logging
import os
from typing import Any

from export import layout
from zoo import data, signatures

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
                                lambda target: signatures.write(model, target, kind), version)
    logger.info("exported %s generator to %s", kind, path)
    return path



def export_run_result(result: Any) -> str:
    """Exports a `zoo.trainer.RunResult`'s trained model as the next version of
    RUN_DIR/export/MODEL_DATASET (what `python -m zoo.train` does after the run) and records
    the path on the result."""
    result.export_path = export_generator(
        result.model, os.path.join(result.run_dir, "export"),
        f"{result.model_name}_{result.dataset}", kind=data.info(result.dataset).kind)
    return result.export_path
