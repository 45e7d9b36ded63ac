"""Training speed and peak memory of every variant per batch size, side by side: SPEED.md.

    python -m benchmarks.speed [--variants=gan,aan] [--datasets=ring8,fashion_mnist]
        [--batch_sizes=64,256] [--precisions=float32,mixed] [--steps=50] [--warmup=5]
        [--repeats=3] [--baseline=gan]

The anchors, side by side: every measurement also times, in its own process and interleaved
with the variant, the plain keras.io-style loop on float32 copies of the same networks
(`benchmarks.plain_loop`); the run starts by timing the machine's float32 and bfloat16
(float16 on a GPU) matmul peak, and each row gives the step's FLOPs (TensorFlow's profiler)
and the share of that peak they reach. `mixed` in --precisions is mixed_float16 on a GPU,
mixed_bfloat16 elsewhere.

Each measurement is one `python -m benchmarks.speed_run` process (one at a time, so that
they do not compete): the variant with its defaults for the dataset at one batch size,
--warmup untimed training steps, then --steps timed ones (`benchmarks.timing.StepTimer`),
the process's peak host RSS (VmHWM) and the GPU's peak allocation
(`tf.config.experimental.get_memory_info`, on a GPU). The measurements go round-robin:
--repeats rounds, each over every (variant, dataset, batch size) in a rotated order, so
that the variants are timed under the same conditions; the table gives the median
steps/s over rounds and the median of each round's ratio to --baseline at the same
dataset and batch size. Writes --out (SPEED.md) and its raw measurements beside it
(SPEED.json) after every measurement.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import datetime  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402

from benchmarks.speed_table import render, rounds  # noqa: E402
from benchmarks.workers import (Workers, command_line, not_applicable,  # noqa: E402
                                registered_variants)

FLAGS = flags.FLAGS
flags.DEFINE_list("variants", [], "Variants to time (default: every registered one).")
flags.DEFINE_list("datasets", ["ring8", "fashion_mnist"], "Datasets.")
flags.DEFINE_list("batch_sizes", ["64", "256"], "Batch sizes.")
flags.DEFINE_list("precisions", ["float32", "mixed"], "Precisions (`zoo.precision`; mixed: "
                  "mixed_float16 on a GPU, else mixed_bfloat16).")
flags.DEFINE_integer("steps", 50, "Timed training steps per measurement.", lower_bound=1)
flags.DEFINE_integer("warmup", 5, "Untimed steps before them.", lower_bound=1)
flags.DEFINE_integer("repeats", 3, "Rounds over every configuration.", lower_bound=1)
flags.DEFINE_string("baseline", "gan", "The variant the ratios are relative to.")
flags.DEFINE_integer("threads", 0, "TensorFlow threads per measurement (0: TF's default, "
                     "every core).", lower_bound=0)
flags.DEFINE_string("out", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                        "SPEED.md"), "The Markdown report.")
flags.DEFINE_integer("timeout", 0, "Seconds before a measurement is killed (0: none).",
                     lower_bound=0)

OWN_FLAGS = ("variants", "datasets", "batch_sizes", "precisions", "steps", "warmup", "repeats", "baseline",
             "threads", "out", "timeout")
logger = logging.getLogger(__name__)

def header(machine: str, threads: int, steps: int, warmup: int, repeats: int,
           baseline: str, seconds: float) -> list[str]:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return [
        f"`{command_line('benchmarks.speed', FLAGS, OWN_FLAGS)}` ({now}, {seconds / 60:.1f} min)",
        "",
        f"Machine: {machine}",
        "",
        "Protocol: each measurement is one `python -m benchmarks.speed_run` process, run one "
        f"at a time with {threads or 'TensorFlow-default (all cores)'} intra-/inter-op "
        "threads: the variant with its defaults for the dataset (`zoo.trainer.build_model`, "
        f"seed 0) at the batch size, `model.fit` on the dataset's stream, {warmup} untimed "
        f"steps (the first traces the step) then {steps} timed steps "
        "(`benchmarks.timing.StepTimer`: intervals between batch ends, each waiting for its "
        "step's logs). One step is one generator update with the variant's discriminator "
        "updates and extras (d_steps, RBM, denoiser...). "
        f"{repeats} round(s), every configuration once per round in a rotated order; "
        f"steps/s is the median over rounds, `vs {baseline}` the median of each round's "
        f"ratio to {baseline} at the same dataset, batch size and precision (> 1: faster). "
        "The variant runs `steps_per_execution` steps per call as `zoo.train` does. `vs plain "
        "loop`: each process times the variant and then as many steps of a plain keras.io-style "
        "loop (`benchmarks.plain_loop`: a Python loop over a `tf.function` step, two tapes, "
        "Adam, the non-saturating loss, float32 copies of the variant's own G and D), twice, "
        "and this is the median of the two ratios (— where D takes more than samples or G "
        "more than one input). "
        "GFLOP/step: TensorFlow's profiler on the variant's train_step graph; share of peak: "
        "GFLOP/step x steps/s over the matmul peak in the precision's compute type. Peak host RSS: "
        "the process's own high-water mark after training (VmHWM; TensorFlow and the data "
        "included; in brackets before training), the largest over rounds; peak GPU: "
        "`tf.config.experimental.get_memory_info('GPU:0')['peak']` during training (— on "
        "CPU). Parameters: trainable weights of every network of the model.",
    ]


def resolve_precisions(names: list[str]) -> list[str]:
    """--precisions with `mixed` resolved for this machine, each checked."""
    import tensorflow as tf

    from zoo.precision import PRECISIONS

    mixed = "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"
    resolved = [mixed if name == "mixed" else name for name in names]
    for name in resolved:
        if name not in PRECISIONS:
            raise app.UsageError(f"--precisions: {name!r} is not one of {PRECISIONS} or mixed")
    return list(dict.fromkeys(resolved))


def matmul_peaks() -> dict[str, float]:
    """GFLOP/s of a 4096 x 4096 matmul in float32 and bfloat16 (and float16 on a GPU)."""
    import tensorflow as tf

    from benchmarks.plain_loop import matmul_peak

    dtypes = ["float32", "bfloat16"] + (["float16"] if tf.config.list_physical_devices("GPU")
                                        else [])
    return {dtype: matmul_peak(dtype) for dtype in dtypes}


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    import keras

    from benchmarks.machine import machine
    from zoo.rundir import write_json_atomically

    variants = registered_variants(FLAGS.variants)
    if FLAGS.baseline not in variants:
        variants = registered_variants([FLAGS.baseline]) + variants
    try:
        batches = [int(b) for b in FLAGS.batch_sizes]
    except ValueError:
        raise app.UsageError(f"--batch_sizes must be integers, got {FLAGS.batch_sizes}")
    if any(b <= 0 for b in batches):
        raise app.UsageError(f"--batch_sizes must be positive, got {batches}")
    skip = not_applicable(variants, FLAGS.datasets)
    precisions = resolve_precisions(FLAGS.precisions)
    configs = [(v, d, b, p) for d in FLAGS.datasets for b in batches for p in precisions
               for v in variants if (d, v) not in skip]
    order = rounds(configs, FLAGS.repeats)
    workers = Workers(FLAGS.threads, FLAGS.timeout)
    this_machine = machine()
    peaks = matmul_peaks()
    os.makedirs(os.path.dirname(os.path.abspath(FLAGS.out)), exist_ok=True)
    json_path = os.path.splitext(FLAGS.out)[0] + ".json"
    measurements: list[dict] = []
    started = time.time()
    progress = keras.utils.Progbar(len(order), unit_name="measurement")
    with tempfile.TemporaryDirectory(prefix="speed_") as scratch:
        try:
            for done, (r, (variant, dataset, batch, precision)) in enumerate(order, 1):
                flags_ = [f"--model={variant}", f"--dataset={dataset}", f"--batch_size={batch}",
                          f"--precision={precision}",
                          f"--steps={FLAGS.steps}", f"--warmup={FLAGS.warmup}",
                          f"--threads={FLAGS.threads}"]
                record = workers.run("benchmarks.speed_run", flags_,
                                     os.path.join(scratch, "result.json"),
                                     os.path.join(scratch, "worker.log"))
                measurements.append(dict(record, variant=variant, dataset=dataset, batch=batch,
                                         precision=precision, round=r))
                write_json_atomically(json_path, dict(machine=this_machine, peaks=peaks,
                                                      measurements=measurements))
                report = render(measurements, variants, FLAGS.datasets, batches, skip,
                                header(this_machine, FLAGS.threads, FLAGS.steps, FLAGS.warmup,
                                       FLAGS.repeats, FLAGS.baseline, time.time() - started),
                                FLAGS.baseline, precisions, peaks)
                with open(FLAGS.out + ".tmp", "w") as handle:
                    handle.write(report)
                os.replace(FLAGS.out + ".tmp", FLAGS.out)
                progress.update(done)
        except KeyboardInterrupt:
            workers.stop()
            raise
    print(f"\nwritten {FLAGS.out} and {json_path}")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sys.exit(app.run(main))
