"""One measurement of the speed benchmark: a variant's training steps at one batch size.

    python -m benchmarks.speed_run --model=gan --dataset=ring8 --batch_size=256 \
        --steps=50 --warmup=5 [--precision=mixed_bfloat16] [--pairs=2] --result=speed.json

Builds the variant with its defaults for the dataset (`zoo.trainer.build_model`, seed 0,
--batch_size and --precision overriding the defaults), then, --pairs times: `model.fit` on
the dataset's stream for --warmup + --steps steps as `zoo.train` runs them (its
`steps_per_execution`; both counts rounded up to whole executions) with
`benchmarks.timing.StepTimer` timing the last --steps, followed by as many steps of the plain
keras.io-style loop on float32 copies of the same networks (`benchmarks.plain_loop`, for
variants whose D takes samples alone). Writes a JSON record: the median steps per second of
each, the median of the pairs' ratios, the FLOPs of the variant's step (TensorFlow's
profiler on its graph), the parameter count, the process's peak host RSS before training
(TensorFlow, model, data) and after the first timing, and the GPU's peak allocation during
it (none on CPU). `python -m benchmarks.speed` runs one of these per process.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import functools  # noqa: E402
import logging  # noqa: E402
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
flags.DEFINE_enum("precision", "float32", ["float32", "mixed_bfloat16", "mixed_float16"],
                  "The variant's `precision` (the plain loop is always float32).")
flags.DEFINE_integer("pairs", 2, "Timings of the variant, each followed by one of the plain "
                     "loop.", lower_bound=1)
flags.mark_flags_as_required(["model", "dataset", "result"])


def measure(model_name: str, dataset: str, batch_size: int | None, steps: int,
            warmup: int, precision: str = "float32", pairs: int = 2) -> dict:
    """Times `steps` training steps after `warmup` ones (module docstring), `pairs` times,
    each followed by as many steps of the plain loop on float32 copies of the same networks
    (`benchmarks.plain_loop`); returns the record."""
    import numpy as np
    import tensorflow as tf

    from benchmarks import timing
    from benchmarks.plain_loop import PlainLoop, step_flops
    from zoo import data as zoo_data
    from zoo import trainer

    overrides = {} if batch_size is None else {"batch_size": int(batch_size)}
    spec = dict(model=model_name, dataset=dataset, seed=0, overrides=overrides)
    model = trainer.build_model(spec, dict(overrides, steps=warmup + steps, precision=precision))
    config = model.config
    # As `zoo.train` runs it: `steps_per_execution` steps per call (warmup and timed steps
    # rounded up to whole executions).
    per_call = trainer.execution_steps(int(config["steps_per_execution"]),
                                       model.distribute_strategy, ())
    warmup, steps = (-(-n // per_call) * per_call for n in (warmup, steps))
    model.steps_per_execution = per_call
    load = functools.partial(zoo_data.load, dataset, batch_size=int(config["batch_size"]),
                             seed=0, with_labels=getattr(model, "conditional", False),
                             image_size=config.get("image_size"))
    stream = load()
    batch = next(iter(stream))
    rss_before = timing.peak_host_rss_bytes()
    timing.reset_gpu_peak()
    rates, plain_rates, peak_rss, peak_gpu, plain = [], [], None, None, None
    for pair in range(pairs):
        timer = timing.StepTimer(warmup=warmup)
        model.fit(stream, steps_per_epoch=warmup + steps, epochs=1, callbacks=[timer],
                  verbose=0, shuffle=False)
        rates.append(timer.steps_per_second)
        if pair == 0:  # the variant's own memory, before the plain loop's networks exist
            peak_rss, peak_gpu = timing.peak_host_rss_bytes(), timing.peak_gpu_bytes()
            twin = model if precision == "float32" else trainer.build_model(
                spec, dict(overrides, precision="float32"))
            plain = PlainLoop.of(twin)
            plain_batches = iter(load())
        if plain is not None:
            plain_rates.append(plain.steps_per_second(plain_batches, steps, warmup))
    ratios = [a / b for a, b in zip(rates, plain_rates) if a and b]
    try:
        spec_of = tf.nest.map_structure(lambda t: tf.TensorSpec(t.shape, t.dtype), batch)
        flops = step_flops(model.train_step, spec_of)
    except Exception as error:  # noqa: BLE001 - a variant's step the profiler cannot trace
        logging.warning("no FLOP count for %s: %s", model_name, error)
        flops = None
    return dict(steps_per_second=float(np.median(rates)), rates=rates,
                plain_steps_per_second=float(np.median(plain_rates)) if plain_rates else None,
                plain_rates=plain_rates,
                plain_ratio=float(np.median(ratios)) if ratios else None,
                flops_per_step=flops, precision=precision, timed_steps=steps,
                steps_per_execution=per_call, batch_size=int(config["batch_size"]),
                parameters=int(sum(np.prod(v.shape) for v in model.trainable_weights)),
                peak_rss_before_training_bytes=rss_before,
                peak_rss_bytes=peak_rss, peak_gpu_bytes=peak_gpu)


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    absl_logging.set_verbosity(absl_logging.WARNING)
    from benchmarks.timing import configure_threads

    configure_threads(FLAGS.threads)
    record = measure(FLAGS.model, FLAGS.dataset, FLAGS.batch_size, FLAGS.steps, FLAGS.warmup,
                     FLAGS.precision, FLAGS.pairs)
    from zoo.rundir import write_json_atomically

    write_json_atomically(FLAGS.result, record)
    return 0


if __name__ == "__main__":
    sys.exit(app.run(main))
