"""Exports a trained run's generator for serving.

    python -m export --run_dir=runs/dcgan --model_base_path=/models --model_name=dcgan

Prints the new version directory.
"""
from __future__ import annotations

import logging

from absl import app
from absl import flags
from absl import logging as absl_logging

from zoo import cli

FLAGS = flags.FLAGS
flags.DEFINE_string("run_dir", None, "A zoo run directory (config.json + checkpoints/).")
flags.DEFINE_string("model_base_path", None, "Directory holding one folder per served model.")
flags.DEFINE_string("model_name", None, "Name of the served model (its folder's name).")
flags.DEFINE_integer("version", None, "Version number; default: one more than the largest "
                     "present (1 for a new model).", lower_bound=0)


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    # Imported here so that `--help` does not pay for TensorFlow; its start-up noise filtered.
    cli.import_tensorflow_quietly()
    absl_logging.set_verbosity(absl_logging.WARNING)
    logging.getLogger("tensorflow").setLevel(logging.WARNING)
    from export.exporter import export_generator
    from zoo import data, rundir, trainer

    dataset = rundir.read_spec(FLAGS.run_dir)["dataset"]
    model = trainer.load_run(FLAGS.run_dir)
    print(export_generator(model, FLAGS.model_base_path, FLAGS.model_name, FLAGS.version,
                           kind=data.info(dataset).kind))


if __name__ == "__main__":
    # Required here, so that importing the module parses anywhere.
    flags.mark_flags_as_required(["run_dir", "model_base_path", "model_name"])
    app.run(main, flags_parser=cli.parse_flags)
