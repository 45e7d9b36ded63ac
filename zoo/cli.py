"""What the zoo's command lines share before TensorFlow loads: flag parsing and a quiet import.

Design: standard library and absl only, so that `--help` and usage errors answer at once;
TensorFlow is imported by the command itself, through `import_tensorflow_quietly`.
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from typing import Iterator

from absl import flags

HELP_ARGS = frozenset({"-h", "-help", "--help", "-?", "--helpshort", "--helpfull"})
# Lines TensorFlow's C++ start-up writes on a CPU-only machine; TF_CPP_MIN_LOG_LEVEL does not
# reach them (written before absl::InitializeLog), so they are filtered by pattern.
NOISE = re.compile(
    r"All log messages before absl::InitializeLog|cudart_stub\.cc|cuda_platform\.cc.*cuInit|"
    r"failed call to cuInit|cuda_executor\.cc|cpu_feature_guard\.cc|"
    r"To enable the following instructions|oneDNN custom operations are on|"
    r"TF_ENABLE_ONEDNN_OPTS=0|Unable to register cu(DNN|FFT|BLAS) factory|"
    r"computation placer already registered")


def parse_flags(argv: list[str]) -> list[str]:
    """absl's flag parsing for `app.run(main, flags_parser=parse_flags)`, answering `--help`
    with the main module's flags (exit 0) and a usage error with one line naming the flag
    (exit 2), instead of absl's exit 1."""
    if any(arg in HELP_ARGS for arg in argv[1:]):
        main_module = sys.modules["__main__"]
        print((main_module.__doc__ or "").strip() + "\n")
        print(flags.FLAGS.module_help(main_module) or flags.FLAGS.main_module_help())
        sys.exit(0)
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        reasons = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
        print(f"usage error: {reasons}", file=sys.stderr)
        sys.exit(2)


@contextlib.contextmanager
def filtered_stderr(noise: re.Pattern = NOISE) -> Iterator[None]:
    """Collects what is written to file descriptor 2 (C++ included) meanwhile, then writes
    back every line that is not `noise`."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode(errors="replace").splitlines(True)
                    if not noise.search(line)]
            sys.stderr.write("".join(kept))
            sys.stderr.flush()


def import_tensorflow_quietly() -> None:
    """Imports TensorFlow and lists its devices (the CUDA probe) without the start-up noise
    lines; other output, warnings and errors pass. TF_CPP_MIN_LOG_LEVEL=1 drops the C++ INFO
    lines that obey it; oneDNN stays as configured (TF_ENABLE_ONEDNN_OPTS changes numerics)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    with filtered_stderr():
        import tensorflow as tf

        tf.config.list_physical_devices()
