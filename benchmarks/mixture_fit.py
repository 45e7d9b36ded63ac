"""One model trained by `model.fit` on a Gaussian mixture and measured: the unit of the
in-process mixture benchmarks (`benchmarks.annealing`, `benchmarks.techniques`)."""
from __future__ import annotations

import time
from typing import Any

import keras

from zoo import data
from zoo.metrics import report


def fit_and_evaluate(model: Any, dataset: str, seed: int,
                     epoch_steps: int = 100) -> tuple[dict, dict]:
    """Compiles `model` with its default optimizers, trains it for its run config's `steps`
    generator steps on `dataset` (batches of its `batch_size`, shuffled by `seed`), and returns
    the PacGAN-protocol metrics on 2,500 samples (`zoo.metrics.report.measure`, with the
    protocol's `num_modes`, plus `seconds`
    of training and measuring) and the Keras history (one entry per `epoch_steps` steps: the
    means of the model's metrics over those steps)."""
    steps = model.config.steps
    if steps % epoch_steps:
        raise ValueError(f"steps {steps} is not a multiple of epoch_steps {epoch_steps}")
    model.compile(*model.default_optimizers())
    started = time.time()
    history = model.fit(data.load(dataset, batch_size=model.config.batch_size, seed=seed),
                        steps_per_epoch=epoch_steps, epochs=steps // epoch_steps, verbose=0,
                        shuffle=False).history
    measured = report.measure(model, dataset)
    protocol = measured.pop("protocol")["mixture"]
    metrics = dict(measured, num_modes=protocol["num_modes"], protocol=protocol["protocol"],
                   seconds=time.time() - started, steps=steps)
    return metrics, history


def cells_with_progress(datasets: list[str], seeds: int, labels: list[str]):
    """Yields every (dataset, seed, contender label), seeds 0..seeds-1, with a progress bar
    that advances as each is done."""
    cells = [(dataset, seed, label) for dataset in datasets for seed in range(seeds)
             for label in labels]
    progress = keras.utils.Progbar(len(cells), unit_name="run")
    for done, cell in enumerate(cells, 1):
        yield cell
        progress.update(done)
