"""Runs a variant on a dataset in a run directory; the model owns its training step.

A run directory holds:
  config.json      the model, dataset, seed and the full config (defaults + overrides);
  checkpoints/     `tf.train.Checkpoint`s of the model and both optimizers;
  logs/            TensorBoard event files;
  samples/         pictures of samples (scatter plots or image grids) at every epoch end;
  metrics.json     the final metrics with their protocol;
  export/          the generator as a SavedModel in TF Serving's layout,
                   export/MODEL_DATASET/VERSION/ (see `export`).
Starting again with the same run directory resumes from its last checkpoint.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
from typing import Any, Mapping, Sequence

import keras
import tensorflow as tf

from zoo import callbacks as zoo_callbacks
from zoo import data as zoo_data
from zoo import evaluation
from zoo.callbacks_metrics import MetricsCallback
from zoo.models import registry
from zoo.rundir import write_json_atomically

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
METRICS_HISTORY_FILE = "metrics_history.json"
DEFAULT_CHECKPOINT_EVERY = 500


class TrainingDiverged(RuntimeError):
    """Raised when a loss became NaN or infinite; the last good checkpoint is kept."""


@dataclasses.dataclass
class RunResult:
    run_dir: str
    model_name: str
    dataset: str
    steps: int
    seconds: float
    metrics: dict
    export_path: str | None = None

    def summary(self) -> str:
        """One line: what ran, for how long, and its headline metrics."""
        shown = {k: v for k, v in self.metrics.items() if isinstance(v, (int, float))}
        figures = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in shown.items())
        exported = f"; exported to {self.export_path}" if self.export_path else ""
        return (f"{self.model_name} on {self.dataset}: {self.steps} steps in "
                f"{self.seconds:.1f}s{'; ' + figures if figures else ''}; run_dir={self.run_dir}"
                f"{exported}")


def run_spec(run_dir: str, model_name: str, dataset: str, seed: int,
             overrides: Mapping[str, Any]) -> dict:
    """The run's identity, checked against config.json when resuming.

    A run directory belongs to one model, dataset and seed; `steps` may grow on resume,
    every other override must match.
    """
    spec = dict(model=model_name, dataset=dataset, seed=seed,
                overrides={k: v for k, v in overrides.items() if k != "steps"})
    if os.path.exists(os.path.join(run_dir, CONFIG_FILE)):
        saved = read_spec(run_dir)
        for key, value in spec.items():
            if saved[key] != value:
                raise ValueError(
                    f"run_dir {run_dir!r} holds a run with {key}={saved[key]!r}, not "
                    f"{value!r}; use another --run_dir or the same settings to resume")
    return spec


def build_model(spec: Mapping[str, Any], overrides: Mapping[str, Any]) -> keras.Model:
    """The compiled variant for a run, its weights initialised from the run's seed.

    Call inside the strategy's scope.
    """
    keras.utils.set_random_seed(spec["seed"])
    info = zoo_data.info(spec["dataset"])
    model = registry.build(spec["model"], info, overrides, seed=spec["seed"])
    model.compile(*model.default_optimizers())
    return model


def checkpoint_for(model: keras.Model) -> tf.train.Checkpoint:
    """Every weight of the model (non-trainable ones such as batch-norm statistics
    included), in layer order, and the state of each of its optimizers.

    The weights are listed explicitly: `tf.train.Checkpoint(model=model)` would reach
    only the trainable ones, through the optimizers.
    """
    return tf.train.Checkpoint(weights=list(model.weights), **model.optimizers())


def read_spec(run_dir: str) -> dict:
    """The model, dataset, seed and overrides of the run in `run_dir` (its config.json)."""
    path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: {run_dir!r} is not a zoo run directory")
    with open(path) as handle:
        return json.load(handle)["spec"]


def load_run(run_dir: str) -> keras.Model:
    """Rebuilds a run's model in code from config.json and restores its latest checkpoint.

    (A subclassed model's `train_step` does not survive a saved file; the code is the
    model, the checkpoint only its weights.)
    """
    spec = read_spec(run_dir)
    model = build_model(spec, spec["overrides"])
    latest = tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints"))
    if latest is None:
        raise FileNotFoundError(f"no checkpoint in {run_dir!r}/checkpoints")
    checkpoint_for(model).restore(latest).assert_existing_objects_matched().expect_partial()
    return model


def _is_chief(strategy: tf.distribute.Strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    return resolver.task_type in (None, "chief") or (
        resolver.task_type == "worker" and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict())


def train(model_name: str, dataset: str, run_dir: str, *, steps: int | None = None,
          batch_size: int | None = None, seed: int = 0,
          overrides: Mapping[str, Any] | None = None,
          strategy: tf.distribute.Strategy | None = None,
          checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY, verbose: int = 1,
          export: bool = True,
          extra_callbacks: Sequence[keras.callbacks.Callback] = (),
          metrics_every: int | None = None) -> RunResult:
    """Trains `model_name` on `dataset` in `run_dir`, resuming from its last checkpoint.

    With `export`, the trained generator is exported as the next version of
    `run_dir/export/MODEL_DATASET` for TF Serving. `extra_callbacks` join the trainer's own
    in `fit` (e.g. a step timer). With `metrics_every`, the dataset's metrics are measured
    every that many steps (`zoo.callbacks_metrics.MetricsCallback`), logged to TensorBoard
    as `metrics/NAME`, kept in `metrics_history.json` across resumes and written into
    metrics.json as its "history".

    Raises `TrainingDiverged` (after keeping the last good checkpoint) if a loss
    becomes NaN or infinite.
    """
    strategy = strategy or tf.distribute.get_strategy()
    overrides = dict(overrides or {})
    if steps is not None:
        overrides["steps"] = int(steps)
    if batch_size is not None:
        overrides["batch_size"] = int(batch_size)
    if checkpoint_every <= 0:
        raise ValueError(f"checkpoint_every must be positive, got {checkpoint_every}")
    chief = _is_chief(strategy)
    os.makedirs(run_dir, exist_ok=True)
    spec = run_spec(run_dir, model_name, dataset, seed, overrides)
    info = zoo_data.info(dataset)
    with strategy.scope():
        model = build_model(spec, overrides)
        checkpoint = checkpoint_for(model)
    config = model.config
    total_steps, global_batch = int(config["steps"]), int(config["batch_size"])
    if chief:
        write_json_atomically(os.path.join(run_dir, CONFIG_FILE),
                              dict(spec=spec, config=config.to_dict()))
    checkpoint_dir = os.path.join(run_dir, "checkpoints") if chief else os.path.join(
        run_dir, "workers", f"worker_{strategy.cluster_resolver.task_id}", "checkpoints")
    manager = tf.train.CheckpointManager(checkpoint, checkpoint_dir, max_to_keep=3)
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        logger.info("resumed from %s", manager.latest_checkpoint)
    done = zoo_callbacks.training_step(model)
    guard = zoo_callbacks.NonFiniteLossGuard()
    steps_per_epoch = min(checkpoint_every, total_steps)
    callbacks = [guard, zoo_callbacks.StopAtStep(total_steps),
                 zoo_callbacks.CheckpointEveryEpoch(manager, guard)]
    if chief:
        callbacks += [
            keras.callbacks.TensorBoard(os.path.join(run_dir, "logs"), update_freq=100),
            zoo_callbacks.SamplePictures(
                os.path.join(run_dir, "samples"),
                lambda m, path, title: evaluation.save_samples_picture(m, info, path, title)),
        ]
    history = metrics_history(run_dir, info, metrics_every, done) if chief else None
    callbacks += ([history] if history else []) + list(extra_callbacks)
    started = time.time()
    if done < total_steps:
        data = zoo_data.load(dataset, batch_size=global_batch, seed=seed + done,
                             with_labels=getattr(model, "conditional", False),
                             image_size=config.get("image_size"))
        fit = fit_custom_loop if isinstance(
            strategy, tf.distribute.MultiWorkerMirroredStrategy) else fit_keras
        fit(model, data, strategy, callbacks, steps_per_epoch=steps_per_epoch,
            initial_epoch=done // steps_per_epoch,
            epochs=math.ceil(total_steps / steps_per_epoch), verbose=verbose if chief else 0)
    if guard.failed_step is not None:
        raise TrainingDiverged(f"{model_name} on {dataset}: {guard.message} "
                               f"({manager.latest_checkpoint or 'no checkpoint yet'})")
    metrics = evaluation.evaluate(model, info) if chief else {}
    result = RunResult(run_dir, model_name, dataset, zoo_callbacks.training_step(model),
                       time.time() - started, metrics)
    if chief:
        samples_dir = os.path.join(run_dir, "samples")
        evaluation.save_samples_picture(model, info, os.path.join(samples_dir, "final.png"),
                                        title=f"{model_name} on {dataset}, step {result.steps}")
        if hasattr(model, "walk"):
            evaluation.save_walk(model, info, os.path.join(samples_dir, model.walk_file))
        write_json_atomically(os.path.join(run_dir, METRICS_FILE),
                              dict(metrics, steps=result.steps, model=model_name,
                                   dataset=dataset, seed=seed,
                                   **(dict(history=history.history) if history else {})))
        if export:
            from export import export_generator

            result.export_path = export_generator(model, os.path.join(run_dir, "export"),
                                                  f"{model_name}_{dataset}", kind=info.kind)
    return result


def metrics_history(run_dir: str, info: Any, every: int | None,
                    done: int) -> keras.callbacks.Callback | None:
    """The metrics callback of a run (None without `every`), continuing the history that
    `RUN_DIR/metrics_history.json` kept up to step `done`."""
    if every is None:
        return None
    path = os.path.join(run_dir, METRICS_HISTORY_FILE)
    callback = MetricsCallback(info, every, log_dir=os.path.join(run_dir, "logs", "metrics"),
                               history_path=path)
    if os.path.exists(path):
        with open(path) as handle:
            kept = json.load(handle)
        callback.protocol = kept.get("protocol", {})
        callback.history = [row for row in kept.get("history", []) if row["step"] <= done]
    return callback


def fit_keras(model: keras.Model, data: tf.data.Dataset, strategy: tf.distribute.Strategy,
              callbacks: list, **fit_kwargs) -> None:
    """Plain `model.fit` (one device, MirroredStrategy, TPUStrategy)."""
    model.fit(data, callbacks=callbacks, shuffle=False, **fit_kwargs)


def fit_custom_loop(model: keras.Model, data: tf.data.Dataset,
                    strategy: tf.distribute.Strategy, callbacks: list, *, steps_per_epoch: int,
                    initial_epoch: int, epochs: int, verbose: int) -> None:
    """The same `model.train_step` under `strategy.run`, for MultiWorkerMirroredStrategy.

    Keras 3's `fit()` fails there while building the model symbolically
    (keras-team/keras#20585); this loop drives the same callbacks instead.
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    iterator = iter(strategy.experimental_distribute_dataset(data.with_options(options)))

    @tf.function
    def step(batch: Any) -> dict:
        logs = strategy.run(model.train_step, args=(batch,))
        return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
                for k, v in logs.items()}

    callback_list = keras.callbacks.CallbackList(
        callbacks, add_history=True, add_progbar=verbose > 0, model=model, verbose=verbose,
        epochs=epochs, steps=steps_per_epoch)
    model.stop_training = False
    callback_list.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        callback_list.on_epoch_begin(epoch)
        logs = {}
        for batch_index in range(steps_per_epoch):
            callback_list.on_train_batch_begin(batch_index)
            logs = zoo_callbacks.as_floats(step(next(iterator)))
            callback_list.on_train_batch_end(batch_index, logs)
            if model.stop_training:
                break
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback_list.on_train_end()
