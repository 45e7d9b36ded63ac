"""Command line: `python -m zoo.pretrained list | build NAME | measure NAME`.

`list` prints the manifest's table (name, model, dataset, size, sha256, headline metrics);
`build NAME` trains the entry (in --work_dir, default runs/pretrained/NAME), saves its weights
in zoo/pretrained/ and records sha256, size, metrics and command in the manifest
(`zoo.pretrained.build`); `measure NAME` measures the shipped weights again and records the
metrics (when sampling or a metric's protocol changed, not the weights).
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import logging  # noqa: E402
import sys  # noqa: E402

from absl import app, flags  # noqa: E402
from absl import logging as absl_logging  # noqa: E402

from zoo.pretrained import manifest  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("work_dir", None, "Run directory of `build` (default runs/pretrained/NAME).")
flags.DEFINE_string("output_dir", manifest.DIRECTORY, "Where `build` writes NAME.weights.h5.")
flags.DEFINE_string("manifest", manifest.MANIFEST, "The manifest to read and update.")

USAGE = "usage: python -m zoo.pretrained list | build NAME | measure NAME"


def main(argv: list[str]) -> int:
    command = argv[1:]
    if command == ["list"]:
        print(manifest.table(manifest.read(FLAGS.manifest)))
        return 0
    if len(command) == 2 and command[0] in ("build", "measure"):
        # TensorFlow's saver chatter goes through absl logging; the zoo's INFO lines stay.
        absl_logging.set_verbosity(absl_logging.WARNING)
        logging.getLogger("zoo").setLevel(logging.INFO)
        name = command[1]
        from zoo.pretrained import build as builder  # Keras and TensorFlow: only here

        if command[0] == "build":
            entry = builder.build(name, FLAGS.work_dir or os.path.join("runs", "pretrained",
                                                                       name),
                                  FLAGS.output_dir, FLAGS.manifest)
        else:
            entry = builder.measure(name, FLAGS.manifest)
        print(manifest.table({name: entry}))
        return 0
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(app.run(main))
