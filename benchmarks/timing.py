"""Training steps per second and peak memory of the process, as the benchmarks measure them."""
from __future__ import annotations

import resource
import sys
import time

import keras


class StepTimer(keras.callbacks.Callback):
    """Times `fit`'s training steps: the intervals between consecutive `on_train_batch_end`s
    within an epoch, after the first `warmup` steps of the fit (the first step, which traces
    the step function, is never an interval: nothing ends before it). With
    `steps_per_execution` > 1 an interval holds that many steps (the batch indices say how
    many).

    Epoch-end work (checkpoints, sample pictures) falls between epochs and is not counted.
    Each batch end reads one logged value back, so that asynchronous devices (GPUs) are timed
    on finished steps rather than on dispatched ones.
    """

    def __init__(self, warmup: int = 1):
        super().__init__()
        if int(warmup) < 1:
            raise ValueError(f"warmup must be at least 1 step, got {warmup}")
        self.warmup = int(warmup)
        self.steps = 0  # timed steps
        self.seconds = 0.0  # their seconds
        self.batches_seen = 0
        self._last: float | None = None
        self._last_batch = -1

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._last = None
        self._last_batch = -1

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if logs:
            float(next(iter(logs.values())))  # waits for the step to finish
        now = time.perf_counter()
        ran = batch - self._last_batch  # steps in this execution (`steps_per_execution`)
        self._last_batch = batch
        self.batches_seen += ran
        if self._last is not None and self.batches_seen - ran >= self.warmup:
            self.steps += ran
            self.seconds += now - self._last
        self._last = now

    @property
    def steps_per_second(self) -> float | None:
        """Timed steps / their seconds; None when no step was timed."""
        return self.steps / self.seconds if self.steps and self.seconds > 0 else None


def peak_host_rss_bytes() -> int:
    """The process's peak resident set size so far: VmHWM of /proc/self/status on Linux,
    else getrusage's maxrss.

    Linux's getrusage maxrss starts a child at its parent's peak (inherited through fork and
    kept across exec), so a worker started by a parent that holds TensorFlow and the matmul
    peak's arrays reported the parent's 1,069 MiB for every variant; VmHWM is this process's
    own high-water mark.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


def reset_gpu_peak() -> None:
    """Resets the first GPU's peak-memory counter (nothing without a GPU)."""
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        tf.config.experimental.reset_memory_stats("GPU:0")


def peak_gpu_bytes() -> int | None:
    """Peak bytes TensorFlow allocated on the first GPU since the last reset; None without one."""
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        return None
    return int(tf.config.experimental.get_memory_info("GPU:0")["peak"])


def configure_threads(threads: int) -> None:
    """Sets TensorFlow's intra- and inter-op thread pools to `threads` each (0: TF's default).

    Call before TensorFlow runs its first op.
    """
    import tensorflow as tf

    if int(threads) < 0:
        raise ValueError(f"threads must be >= 0, got {threads}")
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf.config.threading.set_inter_op_parallelism_threads(int(threads))
