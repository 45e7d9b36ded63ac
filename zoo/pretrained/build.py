"""`python -m zoo.pretrained build NAME`: trains a manifest entry and records its weights.

For the entry's model, dataset, seed and overrides it
  1. trains the run from scratch in `work_dir` (`zoo.trainer.train`; a directory that already
     holds a run is refused: a resumed run reshuffles its data, so it would not reproduce),
  2. copies the trained weights into the uncompiled variant and saves them as
     OUTPUT_DIR/NAME.weights.h5 (`model.save_weights`: model weights only),
  3. loads that file back with `zoo.pretrained.load` and measures it
     (`zoo.metrics.report.measure`), so the recorded metrics are those of the shipped file,
  4. writes weights, sha256, size, metrics, training facts and the command into the manifest.

`measure(name)` repeats step 3 alone for a shipped entry (its file verified against its
sha256 first): for when the way samples are drawn or measured changes and the weights do not.
"""
from __future__ import annotations

import logging
import os

import keras
import tensorflow as tf

from zoo import trainer
from zoo.metrics import report
from zoo.pretrained import manifest
from zoo.pretrained.loading import build_variant, load
from zoo.pretrained.checksum import sha256_of

logger = logging.getLogger(__name__)


def save_weights(trained: keras.Model, entry: manifest.Entry, path: str) -> None:
    """Saves the weights of `trained` (a run of `entry`) without optimizer state."""
    model = build_variant(entry)
    model.set_weights(trained.get_weights())
    model.save_weights(path)


def build(name: str, work_dir: str, output_dir: str = manifest.DIRECTORY,
          manifest_path: str = manifest.MANIFEST) -> manifest.Entry:
    """Trains, saves, measures and records the entry `name` (module docstring); returns it."""
    entry = manifest.get(name, manifest_path)
    if os.path.exists(os.path.join(work_dir, trainer.CONFIG_FILE)):
        raise FileExistsError(f"{work_dir!r} already holds a run; build {name!r} in a new "
                              "work_dir so that it trains from scratch")
    result = trainer.train(entry.model, entry.dataset, work_dir, seed=entry.seed,
                           overrides=entry.overrides, verbose=0,
                           final_metrics=False)  # measured below, on the shipped file
    weights = f"{name}.weights.h5"
    path = os.path.join(output_dir, weights)
    trained = trainer.load_run(work_dir)
    save_weights(trained, entry, path)
    entry.weights, entry.sha256, entry.size = weights, sha256_of(path), os.path.getsize(path)
    entry.config = trained.config.to_dict()
    entry.metrics = report.measure(load(name, path, manifest_path=manifest_path), entry.dataset)
    entry.training = dict(steps=result.steps, seconds=round(result.seconds, 1),
                          tensorflow=tf.__version__, keras=keras.__version__)
    entry.command = f"python -m zoo.pretrained build {name}"
    manifest.update(entry, manifest_path)
    logger.info("%s: %s (%d bytes, sha256 %s)", name, path, entry.size, entry.sha256)
    return entry


def measure(name: str, manifest_path: str = manifest.MANIFEST,
            cache_dir: str | None = None) -> manifest.Entry:
    """Measures the entry's verified weights again and records the metrics (module docstring)."""
    entry = manifest.get(name, manifest_path)
    entry.metrics = report.measure(load(name, manifest_path=manifest_path, cache_dir=cache_dir),
                                   entry.dataset)
    manifest.update(entry, manifest_path)
    logger.info("%s: measured again: %s", name, {k: v for k, v in entry.metrics.items()
                                                 if k != "protocol"})
    return entry
