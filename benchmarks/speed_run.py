"""One measurement of the speed benchmark: a variant's training steps at one batch size.

    python -m benchmarks.speed_run --model=gan --dataset=ring8 --batch_size=256 \
        --steps=50 --warmup=5 --result=speed.json

Builds the variant with its defaults for the dataset (`zoo.trainer.build_model`, seed 0,
--batch_size overriding the default), then runs `model.fit` on the dataset's stream for
--warmup + --steps steps with `benchmarks.timing.StepTimer` timing the last --steps, and
writes a JSON record: steps per second, the parameter count, the process's peak host RSS
before training (TensorFlow, model, data) and after, and the GPU's peak allocation during
training (none on CPU). `python -m benchmarks.speed` runs one of these per process.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import sys  # noqa: E402

from absl import app, flags  # noqa: E402
from absl import logging as absl_logging  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "Variant name.")
flags.DEFINE_string("dataset", None, "Dataset name.")
flags.DEFINE_integer("batch_size", None, "Batch size (default: the variant's).")
flags.DEFINE_integer("steps", 50, "Timed training steps.", lower_bound=1)
flags.DEFINE_integer("warmup", 5, "Untimed steps first (the first traces the step).",
                     lower_bound=1)
flags.DEFINE_integer("threads", 0, "TensorFlow intra- and inter-op threads (0: TF's default).")
flags.DEFINE_string("result", None, "Where to write the JSON record.")
flags.mark_flags_as_required(["model", "dataset", "result"])


def measure(model_name: str, dataset: str, batch_size: int | None, steps: int,
            warmup: int) -> dict:
    """Times `steps` training steps after `warmup` ones (module docstring); returns the record."""
    import numpy as np

    from benchmarks import timing
    from zoo import data as zoo_data
    from zoo import trainer

    overrides = {} if batch_size is None else {"batch_size": int(batch_size)}
    spec = dict(model=model_name, dataset=dataset, seed=0, overrides=overrides)
    model = trainer.build_model(spec, dict(overrides, steps=warmup + steps))
    config = model.config
    stream = zoo_data.load(dataset, batch_size=int(config["batch_size"]), seed=0,
                           with_labels=getattr(model, "conditional", False),
                           image_size=config.get("image_size"))
    rss_before = timing.peak_host_rss_bytes()
    timing.reset_gpu_peak()
    timer = timing.StepTimer(warmup=warmup)
    model.fit(stream, steps_per_epoch=warmup + steps, epochs=1, callbacks=[timer], verbose=0,
              shuffle=False)
    return dict(steps_per_second=timer.steps_per_second, timed_steps=timer.steps,
                timed_seconds=timer.seconds, batch_size=int(config["batch_size"]),
                parameters=int(sum(np.prod(v.shape) for v in model.trainable_weights)),
                peak_rss_before_training_bytes=rss_before,
                peak_rss_bytes=timing.peak_host_rss_bytes(),
                peak_gpu_bytes=timing.peak_gpu_bytes())


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    absl_logging.set_verbosity(absl_logging.WARNING)
    from benchmarks.timing import configure_threads

    configure_threads(FLAGS.threads)
    record = measure(FLAGS.model, FLAGS.dataset, FLAGS.batch_size, FLAGS.steps, FLAGS.warmup)
    from zoo.rundir import write_json_atomically

    write_json_atomically(FLAGS.result, record)
    return 0


if __name__ == "__main__":
    sys.exit(app.run(main))
