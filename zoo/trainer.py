"""Runs a variant on a dataset in a run directory; the model owns its training step.

A run directory holds:
  config.json      the model, dataset, seed and the full config (defaults + overrides);
  checkpoints/     `tf.train.Checkpoint`s of the model and both optimizers;
  logs/            TensorBoard event files: train/ (losses), metrics/ (measurements);
  samples/         pictures of samples (scatter plots or image grids) at every epoch end;
  metrics.json     the final measurement (`zoo.metrics.report.measure`, the schema of
                   evaluation.json: `zoo.rundir.measurement_record`) and its "history";
  export/          the generator as a SavedModel in TF Serving's layout, written by the
                   command line after the run (`zoo.train`; see `export`).
Starting again with the same run directory resumes from its last checkpoint.

`train` runs four phases, each a function of its own: `prepare_run_dir` (the spec, checked
against a resumed run's), `build_and_restore` (model, config.json, checkpoint manager, restore),
`fit_run` (callbacks, data, `fit` or the multi-worker loop) and `finish_run` (final metrics,
pictures, metrics.json). Design: the trainer imports neither `export` nor the command line;
the run-directory files live in `zoo.rundir`, below everything that reads them.
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
from zoo import checkpoints
from zoo import data as zoo_data
from zoo import evaluation
from zoo import rundir
from zoo.callbacks_metrics import MetricsCallback
from zoo.config import RunConfig
from zoo.metrics import report
from zoo.models import registry
# Re-exported: callers name the run-directory files and readers through the trainer.
from zoo.rundir import (CONFIG_FILE, METRICS_FILE, METRICS_HISTORY_FILE,  # noqa: F401
                        read_spec, write_json_atomically)

logger = logging.getLogger(__name__)

DEFAULT_CHECKPOINT_EVERY = 500
DEFAULT_KEEP_CHECKPOINTS = 3
LOSS_SUMMARY_EVERY = 100  # steps between the losses' TensorBoard scalars (logs/train)


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
    export_path: str | None = None  # set by the command line once it has exported
    model: keras.Model | None = dataclasses.field(default=None, repr=False, compare=False)
    finished_before: bool = False  # the run had reached its steps: nothing was done

    def summary(self) -> str:
        """One line: what ran, for how long, and its headline metrics."""
        shown = {k: v for k, v in self.metrics.items()
                 if isinstance(v, (int, float)) and not isinstance(v, bool)}
        figures = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in shown.items())
        exported = f"; exported to {self.export_path}" if self.export_path else ""
        if self.finished_before:
            return (f"{self.model_name} on {self.dataset}: finished at step {self.steps}; "
                    f"nothing to do (ask for more --steps to continue); {figures}; "
                    f"run_dir={self.run_dir}")
        return (f"{self.model_name} on {self.dataset}: {self.steps} steps in "
                f"{self.seconds:.1f}s{'; ' + figures if figures else ''}; run_dir={self.run_dir}"
                f"{exported}")


def run_spec(run_dir: str, model_name: str, dataset: str, seed: int,
             overrides: Mapping[str, Any]) -> dict:
    """The run's identity, checked against config.json when resuming.

    A run directory with checkpoints belongs to one model, dataset and seed; `steps` may
    grow on resume, every other override must match. (Without checkpoints there is nothing
    to lose: a start with other settings replaces a failed one's config.json.)
    """
    spec = dict(model=model_name, dataset=dataset, seed=seed,
                overrides={k: v for k, v in overrides.items() if k != "steps"})
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise ValueError(f"run_dir {run_dir!r} is a file, not a directory")
    has_checkpoints = checkpoints.steps_on_disk(os.path.join(run_dir, rundir.CHECKPOINTS_DIR))
    if has_checkpoints and os.path.exists(os.path.join(run_dir, rundir.CONFIG_FILE)):
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


def load_run(run_dir: str) -> keras.Model:
    """Rebuilds a run's model in code from config.json and restores its newest intact
    checkpoint, as a resumed run would (`zoo.checkpoints`), writing nothing.

    (A subclassed model's `train_step` does not survive a saved file; the code is the
    model, the checkpoint only its weights.)
    """
    spec = read_spec(run_dir)
    model = build_model(spec, spec["overrides"])
    restored = checkpoints.restore_newest_intact(
        checkpoint_for(model), os.path.join(run_dir, rundir.CHECKPOINTS_DIR), repair=False)
    if restored is None:
        raise FileNotFoundError(f"no checkpoint in {run_dir!r}/checkpoints")
    return model


def run_settings(model: keras.Model) -> RunConfig:
    """The model's resolved run config (`zoo.config.RunConfig`: steps, batch_size,
    image_size, ...): the one place the trainer reads it."""
    return model.config


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run directory (the chief, or worker 0 without one)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    return resolver.task_type in (None, "chief") or (
        resolver.task_type == "worker" and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict())


def prepare_run_dir(run_dir: str, model_name: str, dataset: str, seed: int,
                    overrides: Mapping[str, Any]) -> dict:
    """Phase 1: the run's spec, checked against the config.json of a run already there
    (`run_spec`). Nothing is written yet: `build_and_restore` creates the directory and its
    config.json once the model (and so every setting) is validated."""
    return run_spec(run_dir, model_name, dataset, seed, overrides)


@dataclasses.dataclass
class BuiltRun:
    """What phase 2 hands on: the model, its checkpoint manager and the facts of the run."""
    run_dir: str
    spec: dict
    info: Any
    strategy: tf.distribute.Strategy
    chief: bool
    model: keras.Model
    settings: RunConfig
    manager: tf.train.CheckpointManager

    @property
    def done(self) -> int:
        """Generator steps done so far (restored ones included)."""
        return zoo_callbacks.training_step(self.model)


def build_and_restore(run_dir: str, spec: dict, overrides: Mapping[str, Any],
                      strategy: tf.distribute.Strategy, *,
                      keep_checkpoints: int = DEFAULT_KEEP_CHECKPOINTS,
                      restart: bool = False) -> BuiltRun:
    """Phase 2: builds the model in `strategy`'s scope (validating every setting), then
    creates the run directory, writes config.json (chief only) and restores the newest intact
    checkpoint (`zoo.checkpoints.restore_newest_intact`; a worker other than the chief keeps
    its own under workers/worker_N/). `restart` sets existing checkpoints aside first and
    starts at step 0; the newest `keep_checkpoints` are kept.

    Raises `zoo.checkpoints.NoIntactCheckpoint` when checkpoints exist but none reads back.
    """
    chief = is_chief(strategy)
    with strategy.scope():
        model = build_model(spec, overrides)
        checkpoint = checkpoint_for(model)
    settings = run_settings(model)
    checkpoint_dir = os.path.join(run_dir, rundir.CHECKPOINTS_DIR) if chief else os.path.join(
        run_dir, "workers", f"worker_{strategy.cluster_resolver.task_id}",
        rundir.CHECKPOINTS_DIR)
    os.makedirs(run_dir, exist_ok=True)
    if chief:
        rundir.write_config(run_dir, spec, settings.to_dict())
    if restart:
        checkpoints.set_aside(checkpoint_dir)
    restored = checkpoints.restore_newest_intact(checkpoint, checkpoint_dir)
    if restored is not None:
        logger.info("resumed from %s", checkpoints.prefix(checkpoint_dir, restored))
    manager = tf.train.CheckpointManager(checkpoint, checkpoint_dir, max_to_keep=keep_checkpoints)
    return BuiltRun(run_dir, spec, zoo_data.info(spec["dataset"]), strategy, chief, model,
                    settings, manager)


def fit_run(run: BuiltRun, *, checkpoint_every: int, verbose: int,
            extra_callbacks: Sequence[keras.callbacks.Callback] = (),
            metrics_every: int | None = None) -> MetricsCallback | None:
    """Phase 3: trains up to the run's `steps` with the trainer's callbacks (fault guard, step
    budget, checkpoints; on the chief TensorBoard, sample pictures and the metrics callback)
    plus `extra_callbacks`; returns the metrics callback (None without `metrics_every`).

    Raises `TrainingDiverged` (after keeping the last good checkpoint) if a loss
    becomes NaN or infinite.
    """
    total_steps = int(run.settings["steps"])
    done = run.done
    guard = zoo_callbacks.NonFiniteLossGuard()
    steps_per_epoch = min(checkpoint_every, total_steps)
    run.model.steps_per_execution = execution_steps(
        int(run.settings.get("steps_per_execution", 1)), run.strategy,
        (steps_per_epoch, total_steps, done, metrics_every or 0))
    run.model.train_function = None  # rebuilt for the new steps_per_execution
    callbacks = [guard, zoo_callbacks.StopAtStep(total_steps),
                 zoo_callbacks.CheckpointEveryEpoch(run.manager, guard)]
    if run.chief:
        info = run.info
        callbacks += [
            zoo_callbacks.LossSummaries(os.path.join(run.run_dir, "logs", "train"),
                                        every_n_steps=LOSS_SUMMARY_EVERY),
            zoo_callbacks.SamplePictures(
                os.path.join(run.run_dir, "samples"),
                lambda m, path, title: evaluation.save_samples_picture(m, info, path, title)),
        ]
    history = metrics_history(run.run_dir, run.info, metrics_every, done) if run.chief else None
    callbacks += ([history] if history else []) + list(extra_callbacks)
    if done < total_steps:
        data = zoo_data.load(run.spec["dataset"], batch_size=int(run.settings["batch_size"]),
                             seed=run.spec["seed"], start=batches_done(run.model),
                             with_labels=getattr(run.model, "conditional", False),
                             image_size=run.settings.get("image_size"))
        fit = fit_custom_loop if isinstance(
            run.strategy, tf.distribute.MultiWorkerMirroredStrategy) else fit_keras
        fit(run.model, data, run.strategy, callbacks, steps_per_epoch=steps_per_epoch,
            initial_epoch=done // steps_per_epoch,
            epochs=math.ceil(total_steps / steps_per_epoch),
            verbose=verbose if run.chief else 0)
    if guard.failed_step is not None:
        raise TrainingDiverged(
            f"{run.spec['model']} on {run.spec['dataset']}: {guard.message} "
            f"({run.manager.latest_checkpoint or 'no checkpoint yet'})")
    return history


def execution_steps(wanted: int, strategy: tf.distribute.Strategy,
                    counts: Sequence[int]) -> int:
    """The `steps_per_execution` `fit` runs with: the largest divisor of `wanted` that also
    divides each of `counts` (steps per epoch, the step budget, the steps already done, the
    metrics interval; zeros ignored), so that every epoch, measurement and the end of training
    falls on an execution's last step; 1 with more than one replica in sync (Keras 3.15's
    `fit` fails there otherwise) and under MultiWorkerMirroredStrategy (the custom loop)."""
    if wanted < 1:
        raise ValueError(f"steps_per_execution must be positive, got {wanted}")
    if strategy.num_replicas_in_sync > 1 or isinstance(
            strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return 1
    common = math.gcd(*[int(c) for c in counts if c]) if any(counts) else wanted
    return max(d for d in range(1, wanted + 1) if wanted % d == 0 and common % d == 0)


def batches_done(model: keras.Model) -> int:
    """Batches a run has consumed: one per training step, which makes `generator_steps`
    generator updates in a variant that has k > 1 (vgan). A resumed run's data stream starts
    there, so it continues the stream an uninterrupted run would have read."""
    return int(model.batches_trained())


def finished_result(run: BuiltRun) -> RunResult | None:
    """The result of a run that already reached its `steps` and wrote metrics.json (so a
    second start trains, measures and exports nothing); None if there is work to do.

    Raises ValueError if the run is past the `steps` asked for.
    """
    total, done = int(run.settings["steps"]), run.done
    if done > total:
        raise ValueError(f"run_dir {run.run_dir!r} holds a run at step {done}, past the "
                         f"steps={total} asked for; ask for more steps or use another run_dir")
    path = os.path.join(run.run_dir, rundir.METRICS_FILE)
    if done < total or not os.path.exists(path):
        return None
    with open(path) as handle:
        metrics = json.load(handle)
    shown = {k: v for k, v in metrics.items() if k not in rundir.RECORD_KEYS}
    return RunResult(run.run_dir, run.spec["model"], run.spec["dataset"], done, 0.0, shown,
                     model=run.model, finished_before=True)


def final_measurement(model: keras.Model, dataset: str, *, final_metrics: bool = True,
                      num_samples: int | None = None) -> dict:
    """The run's final metrics: `zoo.metrics.report.measure` (image metrics on `num_samples`
    samples, default its 10,000), without the AAN's costly RBM log-likelihood
    (`python -m zoo.evaluate` adds it); with `final_metrics` False, none, and the reason."""
    if not final_metrics:
        return dict(protocol=dict(final_metrics="skipped: final_metrics=False"))
    sampled = {} if num_samples is None else dict(num_samples=int(num_samples))
    return report.measure(model, dataset, rbm_likelihood=False, **sampled)


def finish_run(run: BuiltRun, history: MetricsCallback | None, seconds: float, *,
               final_metrics: bool = True, final_metrics_samples: int | None = None) -> RunResult:
    """Phase 4 (chief only; elsewhere just the result): measures the model
    (`final_measurement`), draws samples/final.png (and the model's walk, if it has one) and
    writes metrics.json: `zoo.rundir.measurement_record`, plus the callback's "history"."""
    spec, model = run.spec, run.model
    steps = run.done
    if not run.chief:
        return RunResult(run.run_dir, spec["model"], spec["dataset"], steps, seconds, {},
                         model=model)
    metrics = final_measurement(model, spec["dataset"], final_metrics=final_metrics,
                                num_samples=final_metrics_samples)
    samples_dir = os.path.join(run.run_dir, "samples")
    evaluation.save_samples_picture(model, run.info, os.path.join(samples_dir, "final.png"),
                                    title=f"{spec['model']} on {spec['dataset']}, step {steps}")
    if hasattr(model, "walk"):
        evaluation.save_walk(model, run.info, os.path.join(samples_dir, model.walk_file))
    record = rundir.measurement_record(spec, run.run_dir, steps, metrics)
    if history:
        record["history"] = history.history
    rundir.write_json_atomically(os.path.join(run.run_dir, rundir.METRICS_FILE), record)
    return RunResult(run.run_dir, spec["model"], spec["dataset"], steps, seconds, metrics,
                     model=model)


def train(model_name: str, dataset: str, run_dir: str, *, steps: int | None = None,
          batch_size: int | None = None, seed: int = 0,
          overrides: Mapping[str, Any] | None = None,
          strategy: tf.distribute.Strategy | None = None,
          checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY, verbose: int = 1,
          extra_callbacks: Sequence[keras.callbacks.Callback] = (),
          metrics_every: int | None = None, final_metrics: bool = True,
          final_metrics_samples: int | None = None,
          keep_checkpoints: int = DEFAULT_KEEP_CHECKPOINTS, restart: bool = False) -> RunResult:
    """Trains `model_name` on `dataset` in `run_dir`, resuming from its last checkpoint.

    The four phases of the module docstring, in turn. `extra_callbacks` join the trainer's
    own in `fit` (e.g. a step timer). With `metrics_every`, the dataset's metrics are measured
    every that many steps (`zoo.callbacks_metrics.MetricsCallback`), logged to TensorBoard
    as `metrics/NAME`, kept in `metrics_history.json` across resumes and written into
    metrics.json as its "history". `final_metrics` (False: skip) and `final_metrics_samples`
    (generated images of the image metrics, default 10,000) set metrics.json's measurement.
    The result's `seconds` are the training's, the final measurement not included; its
    `model` is the trained model (for the command line's export). A run that already
    reached `steps` returns at once (`RunResult.finished_before`); the newest
    `keep_checkpoints` checkpoints are kept; `restart` sets existing checkpoints aside and
    trains from step 0 (nothing else ever starts over them: `zoo.checkpoints`).

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
    if keep_checkpoints <= 0:
        raise ValueError(f"keep_checkpoints must be positive, got {keep_checkpoints}")
    spec = prepare_run_dir(run_dir, model_name, dataset, seed, overrides)
    run = build_and_restore(run_dir, spec, overrides, strategy,
                            keep_checkpoints=keep_checkpoints, restart=restart)
    finished = finished_result(run)
    if finished is not None:
        logger.info("%s", finished.summary())
        return finished
    started = time.time()
    history = fit_run(run, checkpoint_every=checkpoint_every, verbose=verbose,
                      extra_callbacks=extra_callbacks, metrics_every=metrics_every)
    return finish_run(run, history, time.time() - started, final_metrics=final_metrics,
                      final_metrics_samples=final_metrics_samples)


def metrics_history(run_dir: str, info: Any, every: int | None,
                    done: int) -> MetricsCallback | None:
    """The metrics callback of a run (None without `every`), continuing the history that
    `RUN_DIR/metrics_history.json` kept up to step `done`."""
    if every is None:
        return None
    callback = MetricsCallback(info, every, log_dir=os.path.join(run_dir, "logs", "metrics"),
                               history_path=os.path.join(run_dir, rundir.METRICS_HISTORY_FILE))
    kept = rundir.read_history(run_dir)
    callback.protocol = kept["protocol"]
    callback.history = [row for row in kept["history"] if row["step"] <= done]
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
