"""Command line: `python -m zoo.train --model=NAME --dataset=NAME --steps=N ...`.

With no flags it runs the main job: the flagship model on `ring8`, in minutes on a CPU.
Trains with `zoo.trainer.train`, then (the chief only, unless --noexport) exports the
generator with `export.export_run_result`: design: exporting is the command line's step after
the run, so that the trainer library never imports `export` (which imports the trainer).
"""
from __future__ import annotations

import os

# Before TensorFlow loads: its C++ start-up INFO lines are noise on the command line.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402

from absl import app, flags  # noqa: E402
from absl import logging as absl_logging  # noqa: E402

from zoo import catalog, cli, strategies  # noqa: E402  (none imports TensorFlow)

FLAGSHIP = "aan"

FLAGS = flags.FLAGS
flags.DEFINE_string("model", FLAGSHIP, "Variant name (see --list).")
flags.DEFINE_string("dataset", "ring8", "Dataset name.")
flags.DEFINE_integer("steps", None, "Generator steps (default: the variant's for the dataset).",
                     lower_bound=1)
flags.DEFINE_integer("batch_size", None, "Global batch size (default: the variant's).",
                     lower_bound=1)
flags.DEFINE_string("run_dir", None, "Run directory (default: runs/MODEL_DATASET); "
                    "an existing one is resumed.")
flags.DEFINE_enum("strategy", "default", list(strategies.STRATEGIES), "tf.distribute strategy.")
flags.DEFINE_integer("logical_cpus", None,
                     "Split the CPU into N logical devices (for --strategy=mirrored without GPUs).")
flags.DEFINE_integer("seed", 0, "Seed of every random draw in training.")
flags.DEFINE_multi_string("set", [], "Config override KEY=VALUE (VALUE parsed as JSON when it "
                          "can be), e.g. --set=learning_rate=1e-4 --set='generator_hidden=[64,64]'.")
flags.DEFINE_integer("checkpoint_every", 500, "Steps between checkpoints (and sample pictures).",
                     lower_bound=1)
flags.DEFINE_integer("keep_checkpoints", 3, "Newest checkpoints kept in RUN_DIR/checkpoints.",
                     lower_bound=1)
flags.DEFINE_bool("restart", False, "Set the run's checkpoints aside (RUN_DIR/checkpoints."
                  "set-aside-TIME) and train from step 0; without it a run resumes from its "
                  "newest intact checkpoint and never starts over existing ones.")
flags.DEFINE_integer("verbose", 1, "Keras progress: 0 silent, 1 progress bar, 2 one line per epoch.")
flags.DEFINE_bool("export", True, "Export the trained generator as a SavedModel for TF "
                  "Serving under RUN_DIR/export/ (--noexport to skip).")
flags.DEFINE_integer("metrics_every", None, "Measure the dataset's metrics (modes covered, "
                     "FCD, ...) every N steps: TensorBoard metrics/NAME and metrics.json's "
                     "history.", lower_bound=1)
flags.DEFINE_bool("final_metrics", True, "Measure the trained model at the end into "
                  "metrics.json (`zoo.metrics.report.measure`: mixture metrics; FCD, "
                  "classifier score, precision and recall for images); --nofinal_metrics "
                  "to skip.")
flags.DEFINE_integer("final_metrics_samples", None, "Generated images of the final image "
                     "metrics (default 10,000).", lower_bound=1)
flags.DEFINE_bool("list", False, "List the variants and datasets, then exit.")


def parse_overrides(pairs: list[str]) -> dict:
    """['a=1', 'b=[2,3]', 'c=text'] -> {'a': 1, 'b': [2, 3], 'c': 'text'}."""
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {pair!r}")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}", exitcode=2)
    if FLAGS.list:  # answered from the catalog, before TensorFlow loads
        print("models:  ", ", ".join(catalog.MODELS))
        print("datasets:", ", ".join(catalog.DATASETS))
        return 0
    for flag, known in (("model", catalog.MODELS), ("dataset", catalog.DATASETS)):
        if FLAGS[flag].value not in known:
            print(f"usage error: --{flag}={FLAGS[flag].value!r} is not one of: "
                  f"{', '.join(known)}", file=sys.stderr)
            return 2
    cli.import_tensorflow_quietly()
    strategy = strategies.make_strategy(FLAGS.strategy, FLAGS.logical_cpus)
    # Imported after the devices are configured (splitting the CPU must come first).
    import tensorflow as tf

    from export import export_run_result
    from zoo import checkpoints, trainer

    # TensorFlow's own INFO chatter (saver, fingerprint) goes through absl logging; the
    # zoo's INFO messages (e.g. "resumed from ...") stay visible.
    absl_logging.set_verbosity(absl_logging.WARNING)
    for package in ("zoo", "export"):
        logging.getLogger(package).setLevel(logging.INFO)
    tf.get_logger().setLevel(logging.WARNING)

    run_dir = FLAGS.run_dir or f"runs/{FLAGS.model}_{FLAGS.dataset}"
    try:
        result = trainer.train(
            FLAGS.model, FLAGS.dataset, run_dir, steps=FLAGS.steps, batch_size=FLAGS.batch_size,
            seed=FLAGS.seed, overrides=parse_overrides(FLAGS.set), strategy=strategy,
            checkpoint_every=FLAGS.checkpoint_every, verbose=FLAGS.verbose,
            metrics_every=FLAGS.metrics_every, final_metrics=FLAGS.final_metrics,
            final_metrics_samples=FLAGS.final_metrics_samples,
            keep_checkpoints=FLAGS.keep_checkpoints, restart=FLAGS.restart)
    except (ValueError, trainer.TrainingDiverged, checkpoints.NoIntactCheckpoint,
            OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if FLAGS.export and trainer.is_chief(strategy) and not result.finished_before:
        export_run_result(result)
    print(result.summary())
    return 0


if __name__ == "__main__":
    app.run(main, flags_parser=cli.parse_flags)
