"""What a benchmark ran on: CPU model, cores, GPUs, OS, Python and TensorFlow versions."""
from __future__ import annotations

import os
import platform
import shutil
import subprocess


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (else what `platform` knows)."""
    try:
        with open("/proc/cpuinfo") as handle:
            return next(line.split(":", 1)[1].strip() for line in handle
                        if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def gpu_names() -> list[str]:
    """The GPUs TensorFlow sees, by name (with memory and driver from nvidia-smi if present)."""
    import tensorflow as tf

    if shutil.which("nvidia-smi"):
        try:
            listing = subprocess.run(
                ["nvidia-smi", "--query-gpu=name,memory.total,driver_version",
                 "--format=csv,noheader"], capture_output=True, text=True, timeout=30,
                check=True).stdout
            names = [f"{line.strip()} (nvidia-smi: name, memory, driver)"
                     for line in listing.splitlines() if line.strip()]
            if names:
                return names
        except (OSError, subprocess.SubprocessError):
            pass
    return [tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
            for gpu in tf.config.list_physical_devices("GPU")]


def machine() -> str:
    """CPU model, cores, accelerators, Python and TensorFlow versions."""
    import tensorflow as tf

    return (f"{platform.node()}: {cpu_model()}, {os.cpu_count()} cores, "
            f"GPUs: {', '.join(gpu_names()) or 'none'}; {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}, "
            f"TensorFlow {tf.__version__}")
