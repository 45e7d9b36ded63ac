"""Command line: `python -m zoo.evaluate --run_dir=DIR` measures a finished run.

Rebuilds the run's model from its config.json and last checkpoint (`zoo.trainer.load_run`),
computes its metrics with `zoo.metrics.report.measure` (mixture metrics for mixtures; FCD,
classifier score, KCD, precision and recall for fashion_mnist; FID/IS/KID with Inception-v3
weights for other image datasets; the RBM's held-out log-likelihood for AAN runs) and writes
RUN_DIR/evaluation.json: the run's identity and step count, each metric, and each metric's
protocol (sample counts, reference split, feature extractor and weights sha256, resizing).
The last line printed summarizes it.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import sys  # noqa: E402

from absl import app, flags  # noqa: E402
from absl import logging as absl_logging  # noqa: E402

from zoo import callbacks, rundir, trainer  # noqa: E402
from zoo.metrics import report  # noqa: E402

EVALUATION_FILE = "evaluation.json"

FLAGS = flags.FLAGS
flags.DEFINE_string("run_dir", None, "A zoo run directory (config.json and checkpoints/).")
flags.DEFINE_integer("num_samples", 10_000, "Generated images for the image metrics.")
flags.DEFINE_integer("seed", 0, "Seed of the generated samples, KID subsets and AIS.")
flags.DEFINE_integer("held_out", 10_000, "Test examples for the AAN's RBM log-likelihood.")
flags.DEFINE_integer("ais_chains", 100, "AIS chains for the RBM's log Z (when not exact).")
flags.DEFINE_integer("ais_temperatures", 10_000, "AIS inverse temperatures.")
flags.DEFINE_string("inception_weights", "env", "Inception-v3 weights file for image datasets "
                    "other than fashion_mnist ('env': $GAN_ZOO_INCEPTION_WEIGHTS).")


def evaluate_run(run_dir: str, **measure_kwargs) -> dict:
    """Measures the run in `run_dir`, writes RUN_DIR/evaluation.json and returns its content.

    `measure_kwargs` go to `zoo.metrics.report.measure`; the file's schema is metrics.json's
    (`zoo.rundir.measurement_record`).
    """
    spec = rundir.read_spec(run_dir)
    model = trainer.load_run(run_dir)
    evaluation = rundir.measurement_record(
        spec, run_dir, callbacks.training_step(model),
        report.measure(model, spec["dataset"], **measure_kwargs))
    rundir.write_json_atomically(os.path.join(run_dir, EVALUATION_FILE), evaluation)
    return evaluation


def main(argv: list[str]) -> int:
    del argv
    absl_logging.set_verbosity(absl_logging.WARNING)
    evaluation = evaluate_run(
        FLAGS.run_dir, num_samples=FLAGS.num_samples, seed=FLAGS.seed,
        held_out_examples=FLAGS.held_out, ais_chains=FLAGS.ais_chains,
        ais_temperatures=FLAGS.ais_temperatures, inception_weights=FLAGS.inception_weights)
    numbers = {k: v for k, v in evaluation.items()
               if isinstance(v, (int, float)) and k not in ("seed", "steps")}
    print(f"{evaluation['model']} on {evaluation['dataset']} at step {evaluation['steps']}: "
          + ", ".join(f"{k}={v:.4g}" for k, v in numbers.items())
          + f"; written to {os.path.join(FLAGS.run_dir, EVALUATION_FILE)}")
    return 0


if __name__ == "__main__":
    flags.mark_flag_as_required("run_dir")  # here, so that importing the module parses
    sys.exit(app.run(main))
