"""Command line for a trained run's Markov chain from data (see `zoo.evaluation.save_walk`):
the AAN's Gibbs walks (its paper's Figure 3) or the VCD's transition chain (Figure 5).

    python -m zoo.gibbs_walk --run_dir=DIR [--num_images=8] [--steps=10] [--output=PATH]
"""
from __future__ import annotations

import os

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("run_dir", None, "Run directory of a trained AAN or VCD.")
flags.DEFINE_integer("num_images", 8, "Chains (rows).")
flags.DEFINE_integer("steps", 10, "Moves of the chain: Gibbs sweeps or transitions (columns after the data).")
flags.DEFINE_integer("seed", 0, "Seed of the test examples and the chains.")
flags.DEFINE_string("output", None, "PNG path (default: RUN_DIR/samples/ and the model's picture name).")


def main(argv: list[str]) -> None:
    del argv
    from zoo import data, evaluation, trainer

    model = trainer.load_run(FLAGS.run_dir)
    info = data.info(trainer.read_spec(FLAGS.run_dir)["dataset"])
    if not hasattr(model, "walk"):
        raise app.UsageError(f"{FLAGS.run_dir} holds a {type(model).__name__}, which has no "
                             "Markov chain to walk (an AAN or a VCD has)")
    output = FLAGS.output or os.path.join(FLAGS.run_dir, "samples", model.walk_file)
    print(evaluation.save_walk(model, info, output, FLAGS.num_images, FLAGS.steps, FLAGS.seed))


if __name__ == "__main__":
    flags.mark_flag_as_required("run_dir")  # here, so that importing the module parses
    app.run(main)
