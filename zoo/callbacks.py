"""Keras callbacks the trainer composes: fault guard, step budget, checkpoints, pictures."""
from __future__ import annotations

import logging
import math
import os

import keras
import numpy as np
import tensorflow as tf

logger = logging.getLogger(__name__)


def training_step(model: keras.Model) -> int:
    """Generator updates done so far (the run's step count, restored with the optimizer)."""
    return int(model.g_optimizer.iterations.numpy())


class NonFiniteLossGuard(keras.callbacks.Callback):
    """Stops training at the first NaN or infinite logged value, naming the step.

    Checkpoint callbacks consult `failed_step` so that the last good checkpoint is kept.
    With `steps_per_execution` > 1 it sees each execution's last step (a step whose
    gradients were not finite leaves the weights, and so every later loss, non-finite).
    """

    def __init__(self):
        super().__init__()
        self.failed_step: int | None = None
        self.message: str | None = None

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        for key, value in (logs or {}).items():
            if not math.isfinite(float(value)):
                self.failed_step = training_step(self.model)
                self.message = (f"non-finite {key}={float(value)} at step {self.failed_step}; "
                                "training stopped, the last good checkpoint is kept")
                logger.error(self.message)
                self.model.stop_training = True
                return


class StopAtStep(keras.callbacks.Callback):
    """Ends training once the generator has made `total_steps` updates (resumed runs included)."""

    def __init__(self, total_steps: int):
        super().__init__()
        self.total_steps = total_steps

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if training_step(self.model) >= self.total_steps:
            self.model.stop_training = True


class CheckpointEveryEpoch(keras.callbacks.Callback):
    """Saves a `tf.train.CheckpointManager` at every epoch end and at the end of training.

    TensorFlow writes each checkpoint's files under a temporary name and only then
    rewrites the `checkpoint` index file atomically, so an interrupted save never
    becomes the checkpoint a resumed run restores.
    """

    def __init__(self, manager: tf.train.CheckpointManager, guard: NonFiniteLossGuard):
        super().__init__()
        self.manager = manager
        self.guard = guard

    def _save(self) -> None:
        if self.guard.failed_step is not None:
            return
        step = training_step(self.model)
        if self.manager.latest_checkpoint != self._path(step):
            self.manager.save(checkpoint_number=step)

    def _path(self, step: int) -> str:
        return os.path.join(self.manager.directory, f"ckpt-{step}")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._save()

    def on_train_end(self, logs: dict | None = None) -> None:
        self._save()


class LossSummaries(keras.callbacks.Callback):
    """TensorBoard scalars `loss/NAME` of the logged values, at the generator step, whenever
    a batch end passes a multiple of `every_n_steps` (at execution ends when `fit` runs
    several steps per execution; a resumed run continues the same step axis)."""

    def __init__(self, log_dir: str, every_n_steps: int = 100):
        super().__init__()
        if int(every_n_steps) <= 0:
            raise ValueError(f"every_n_steps must be positive, got {every_n_steps}")
        self.log_dir = log_dir
        self.every_n_steps = int(every_n_steps)
        self._writer = None
        self._last: int | None = None

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        step = training_step(self.model)
        last = self._last if self._last is not None else step - 1
        self._last = step
        if not logs or step // self.every_n_steps == last // self.every_n_steps:
            return
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        with self._writer.as_default(), tf.summary.record_if(True):
            for key, value in logs.items():
                tf.summary.scalar(f"loss/{key}", float(value), step=step)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._writer is not None:
            self._writer.flush()


class SamplePictures(keras.callbacks.Callback):
    """Writes a picture of the generator's samples at every epoch end: `samples/step_N.png`."""

    def __init__(self, directory: str, draw: "callable"):
        super().__init__()
        self.directory = directory
        self.draw = draw

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        step = training_step(self.model)
        self.draw(self.model, os.path.join(self.directory, f"step_{step:07d}.png"),
                  title=f"step {step}")


def as_floats(logs: dict) -> dict:
    """Logged tensors as plain floats (for metrics.json and summaries)."""
    return {key: float(np.asarray(value)) for key, value in logs.items()}
