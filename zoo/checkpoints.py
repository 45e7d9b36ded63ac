"""A run's checkpoints, restored so that no work is lost.

A checkpoint directory holds `ckpt-N.index` and `ckpt-N.data-*` (N: the generator step of
the save) and TensorFlow's state file `checkpoint`, which names the latest. Design choices:
- the state file is a hint, never the truth: `restore_newest_intact` lists the checkpoints
  from their own `.index` files, so a deleted or garbled state file loses nothing;
- a checkpoint that does not read back whole (truncated, bit-flipped: TensorFlow checks
  each tensor's CRC, index missing) is reported in one line and the one before it is tried;
- a directory with checkpoints of which none is intact is an error (`NoIntactCheckpoint`),
  never a silent start from step 0 over them; `set_aside` moves them out of the way when a
  user asks for a fresh start;
- after a recovery the state file is written again (atomically) with the intact ones, so
  `tf.train.CheckpointManager` keeps counting and deleting the right files;
- folders a kill left behind mid-save (`ckpt-N_temp*`) are removed (`clean_leftovers`).
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time

import tensorflow as tf

logger = logging.getLogger(__name__)

STATE_FILE = "checkpoint"
_INDEX = re.compile(r"^ckpt-(\d+)\.index$")
_LEFTOVER = re.compile(r"^ckpt-\d+_temp")


# What a damaged checkpoint raises on restore (the reader raises IndexError for a file cut
# short, OpErrors such as DataLossError for a bad CRC, AssertionError for missing objects).
_UNREADABLE = (tf.errors.OpError, ValueError, AssertionError, IndexError, KeyError, OSError)


class NoIntactCheckpoint(RuntimeError):
    """Raised when a directory holds checkpoints but none of them reads back whole."""


def steps_on_disk(directory: str) -> list[int]:
    """The steps N of every `ckpt-N.index` in `directory`, oldest first ([] if none)."""
    if not os.path.isdir(directory):
        return []
    return sorted(int(m.group(1)) for m in map(_INDEX.match, os.listdir(directory)) if m)


def prefix(directory: str, step: int) -> str:
    return os.path.join(directory, f"ckpt-{step}")


def clean_leftovers(directory: str) -> list[str]:
    """Removes the temporary folders and files of saves a kill interrupted; returns them."""
    if not os.path.isdir(directory):
        return []
    removed = []
    for name in sorted(os.listdir(directory)):
        if _LEFTOVER.match(name):
            path = os.path.join(directory, name)
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
            removed.append(path)
    if removed:
        logger.info("removed %d leftover(s) of an interrupted save in %s", len(removed),
                    directory)
    return removed


def write_state(directory: str, steps: list[int]) -> None:
    """Writes the state file naming `steps` (oldest first; the last is the latest)."""
    lines = [f'model_checkpoint_path: "ckpt-{steps[-1]}"']
    lines += [f'all_model_checkpoint_paths: "ckpt-{step}"' for step in steps]
    with tempfile.NamedTemporaryFile("w", dir=directory, prefix=".checkpoint.",
                                     delete=False) as handle:
        handle.write("\n".join(lines) + "\n")
    os.replace(handle.name, os.path.join(directory, STATE_FILE))


def _state_steps(directory: str) -> list[int] | None:
    """The steps the state file lists, or None if it is missing or unreadable."""
    try:
        state = tf.train.get_checkpoint_state(directory)
    except Exception:  # noqa: BLE001 (any unreadable state file is only a lost hint)
        return None
    if state is None:
        return None
    found = [_INDEX.match(os.path.basename(p) + ".index") for p in state.all_model_checkpoint_paths]
    return [int(m.group(1)) for m in found if m] or None


def restore_newest_intact(checkpoint: tf.train.Checkpoint, directory: str, *,
                          repair: bool = True) -> int | None:
    """Restores the newest checkpoint in `directory` that reads back whole into `checkpoint`
    and returns its step (None for a directory without checkpoints).

    With `repair` (the training run that owns the directory), leftovers of killed saves are
    removed and the state file is rewritten after a recovery; without it (a reader such as
    `zoo.trainer.load_run`, possibly while the run trains) nothing is written and values of
    the checkpoint that `checkpoint` does not use are not warned about.

    Raises `NoIntactCheckpoint` if there are checkpoints but none is intact.
    """
    if repair:
        clean_leftovers(directory)
    steps = steps_on_disk(directory)
    damaged = []
    for step in reversed(steps):
        try:
            status = checkpoint.restore(prefix(directory, step))
            status.assert_existing_objects_matched()
            if not repair:
                status.expect_partial()
        except _UNREADABLE as error:
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:160]
            logger.warning("checkpoint %s is damaged (%s); trying the one before it",
                           prefix(directory, step), reason)
            damaged.append(step)
            continue
        intact = [s for s in steps if s <= step and s not in damaged]
        if repair and _state_steps(directory) != intact:
            write_state(directory, intact)
            logger.warning("checkpoint state file of %s rewritten from the files on disk "
                           "(latest ckpt-%d)", directory, step)
        return step
    if steps:
        raise NoIntactCheckpoint(
            f"none of the {len(steps)} checkpoints in {directory} reads back whole "
            f"(steps {steps}); nothing was overwritten: move them away, or start again with "
            "--restart to set them aside and train from step 0")
    return None


def set_aside(directory: str) -> str | None:
    """Moves a checkpoint directory to DIRECTORY.set-aside-TIME (for a fresh start);
    returns the new path, None if there was nothing to move."""
    if not os.path.isdir(directory) or not os.listdir(directory):
        return None
    target = f"{directory}.set-aside-{time.strftime('%Y%m%d-%H%M%S')}"
    os.replace(directory, target)
    logger.warning("checkpoints set aside in %s; training starts at step 0", target)
    return target
