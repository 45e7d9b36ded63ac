"""One cell of the quality benchmark: one variant, one dataset, one seed, in this process.

    python -m benchmarks.quality_run --model=gan --dataset=ring8 --seed=0 \
        --run_dir=runs/benchmarks/quality/gan_ring8_seed0 --result=cell.json [--steps=N]
        [--config='{"width": 32}']

Trains with `zoo.trainer.train` (the variant's defaults for the dataset, updated by the
--config diff; --steps overrides their length), timing the training steps with
`benchmarks.timing.StepTimer`, then measures the trained generator with
`zoo.metrics.report.measure` and writes one JSON record to --result: status ("ok" or
"diverged"), steps, steps per second, training and measuring seconds, the metrics and
their protocol. An existing --run_dir is resumed from its last
checkpoint (the timing then covers the steps trained here). `python -m benchmarks.quality`
runs one of these per worker process.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402
from absl import logging as absl_logging  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "Variant name.")
flags.DEFINE_string("dataset", None, "Dataset name.")
flags.DEFINE_integer("seed", 0, "Training seed.")
flags.DEFINE_integer("steps", None, "Generator steps (default: the variant's for the dataset).")
flags.DEFINE_string("config", "", "A config diff over the variant's defaults, as a JSON object.")
flags.DEFINE_string("run_dir", None, "Run directory (resumed when it exists).")
flags.DEFINE_string("result", None, "Where to write the JSON record.")
flags.DEFINE_integer("threads", 1, "TensorFlow intra- and inter-op threads (0: TF's default).")
flags.DEFINE_integer("num_samples", 10_000, "Generated images for the image metrics.")
flags.DEFINE_integer("checkpoint_every", 500, "Steps between checkpoints.")
flags.mark_flags_as_required(["model", "dataset", "run_dir", "result"])


def numbers_only(metrics: dict) -> dict:
    """The int/float entries of a metrics dict (the table's numbers)."""
    return {k: v for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


def run_cell(model_name: str, dataset: str, seed: int, run_dir: str, steps: int | None,
             num_samples: int, checkpoint_every: int = 500,
             config: dict | None = None) -> dict:
    """Trains and measures one cell; returns its record (see the module docstring)."""
    from benchmarks.timing import StepTimer
    from zoo import trainer
    from zoo.metrics import report

    timer = StepTimer()
    started = time.time()
    try:
        result = trainer.train(model_name, dataset, run_dir, steps=steps, seed=seed,
                               overrides=config,
                               checkpoint_every=checkpoint_every, verbose=0,
                               extra_callbacks=[timer],
                               final_metrics=False)  # measured below, restored
    except trainer.TrainingDiverged as error:
        return dict(status="diverged", error=str(error), train_seconds=time.time() - started,
                    steps_trained_here=timer.batches_seen,
                    steps_per_second=timer.steps_per_second)
    train_seconds = time.time() - started
    started = time.time()
    measured = report.measure(trainer.load_run(run_dir), dataset, num_samples=num_samples)
    protocol = measured.pop("protocol")
    return dict(status="ok", steps=result.steps, steps_trained_here=timer.batches_seen,
                steps_per_second=timer.steps_per_second, timed_steps=timer.steps,
                train_seconds=train_seconds, measure_seconds=time.time() - started,
                metrics=numbers_only(measured), protocol=protocol)


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    absl_logging.set_verbosity(absl_logging.WARNING)
    from benchmarks.timing import configure_threads

    configure_threads(FLAGS.threads)
    record = run_cell(FLAGS.model, FLAGS.dataset, FLAGS.seed, FLAGS.run_dir, FLAGS.steps,
                      FLAGS.num_samples, FLAGS.checkpoint_every,
                      json.loads(FLAGS.config) if FLAGS.config else None)
    from zoo.rundir import write_json_atomically

    write_json_atomically(FLAGS.result, record)
    print(json.dumps({k: v for k, v in record.items() if k != "protocol"}))
    return 0


if __name__ == "__main__":
    sys.exit(app.run(main))
