"""A Keras callback that measures the generator every N steps during `fit`.

Every `every_n_steps` generator steps it draws samples with `model.generate` (the same seed each
time, so the curve follows the model rather than the draw), computes the metrics, writes each
number as a TensorBoard scalar `metrics/NAME` at that step (`tf.summary` in `log_dir`) and appends
{"step": N, NAME: value, ...} to `history`, the list a run's metrics.json can hold as its
"history" (with `history_path`, the file {"protocol": ..., "history": [...]} is rewritten
atomically after each measurement).

Default metrics: the dataset's own, from the zoo's one measurement `zoo.metrics.report.measure`
(without the AAN's costly RBM log-likelihood): the mixtures' PacGAN protocol on 2,500 samples
(the numbers of metrics.json); Fashion-MNIST's FCD, classifier score, KCD, precision, recall
against the 10,000 test images; other image datasets' FID/IS/KID given Inception-v3 weights.
Otherwise pass `metrics_fn(model) -> dict`.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

import keras
import tensorflow as tf

from zoo.callbacks import training_step
from zoo.metrics import report
from zoo.metrics.images import DEFAULT_NUM_SAMPLES
from zoo.metrics.mixture import MIXTURE_SAMPLES
from zoo.rundir import write_json_atomically

logger = logging.getLogger(__name__)

MetricsFn = Callable[[keras.Model], dict]


def default_metrics(info: Any, num_samples: int | None = None,
                    seed: int | None = None) -> MetricsFn:
    """`zoo.metrics.report.measure` on `info`'s dataset (module docstring), as model -> dict.

    `num_samples` and `seed` default to the protocol's (for mixtures, metrics.json's sampling
    seed; for images, 10,000 samples and seed 0). The image feature extractor is loaded once,
    here: a dataset without one (Inception-v3 weights not provided) is refused.
    """
    options: dict = dict(rbm_likelihood=False)
    if info.kind == "mixture":
        if num_samples not in (None, MIXTURE_SAMPLES):
            raise ValueError(f"the mixture protocol draws {MIXTURE_SAMPLES} samples; "
                             f"got num_samples={num_samples}")
        if seed is not None:
            options["mixture_seed"] = seed
    else:
        try:
            options["extractor"] = report.image_extractor(info.name)
        except FileNotFoundError as err:
            raise ValueError(f"no default metrics for dataset {info.name!r} ({err}); "
                             "pass metrics_fn") from err
        options.update(num_samples=num_samples or DEFAULT_NUM_SAMPLES,
                       seed=0 if seed is None else seed)
    return lambda model: report.measure(model, info.name, **options)


class MetricsCallback(keras.callbacks.Callback):
    """Measures `model.generate` samples every `every_n_steps` generator steps (module docstring).

    Args:
      info: the dataset's `zoo.data.info`, which picks the default metrics.
      every_n_steps: measure when the generator step count is a multiple of this.
      log_dir: TensorBoard directory for the `metrics/NAME` scalars (None: no summaries).
      history_path: JSON file rewritten after each measurement (None: `history` only).
      num_samples: samples per measurement (default: the metrics' protocol's).
      seed: the generator's sampling seed, the same at every measurement (default: the
        protocol's).
      metrics_fn: model -> dict replacing the defaults; its numbers are logged, its other
        values (protocol strings) kept once as the history's "protocol" (a "protocol" dict,
        as `measure` returns, is merged into it).
    """

    def __init__(self, info: Any, every_n_steps: int, log_dir: str | None = None,
                 history_path: str | None = None, num_samples: int | None = None,
                 seed: int | None = None, metrics_fn: MetricsFn | None = None):
        super().__init__()
        if int(every_n_steps) <= 0:
            raise ValueError(f"every_n_steps must be positive, got {every_n_steps}")
        self.every_n_steps = int(every_n_steps)
        self.metrics_fn = metrics_fn or default_metrics(info, num_samples, seed)
        self.writer = tf.summary.create_file_writer(log_dir) if log_dir else None
        self.history_path = history_path
        self.history: list[dict] = []
        self.protocol: dict = {}
        self._last_step: int | None = None

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        step = training_step(self.model)
        if step % self.every_n_steps == 0 and step != self._last_step:
            self._last_step = step
            self.measure(step)

    def measure(self, step: int) -> dict:
        """Computes, logs and records the metrics at `step`; returns the numbers."""
        metrics = self.metrics_fn(self.model)
        numbers = {key: value for key, value in metrics.items()
                   if isinstance(value, (int, float)) and not isinstance(value, bool)}
        described = {k: v for k, v in metrics.items() if k not in numbers}
        if isinstance(described.get("protocol"), dict):  # measure's {GROUP: description}
            self.protocol.update(described.pop("protocol"))
        self.protocol.update(described)
        if self.writer is not None:
            # record_if(True): Keras' TensorBoard callback, when present, records only
            # every `update_freq` steps while it trains.
            with self.writer.as_default(), tf.summary.record_if(True):
                for key, value in numbers.items():
                    tf.summary.scalar(f"metrics/{key}", float(value), step=step)
            self.writer.flush()
        self.history.append(dict(numbers, step=step))
        if self.history_path:
            write_json_atomically(self.history_path,
                                  dict(protocol=self.protocol, history=self.history))
        logger.info("step %d: %s", step, ", ".join(f"{k}={v:.4g}" for k, v in numbers.items()))
        return numbers
