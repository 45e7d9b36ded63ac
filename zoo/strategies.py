"""`tf.distribute` strategies by name, for the command line.

Design: TensorFlow is imported when a strategy is made, not with the module, so that the
command line can define its --strategy flag (and answer --help) before TensorFlow loads.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tensorflow as tf

logger = logging.getLogger(__name__)

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")


def split_cpu(logical_cpus: int) -> None:
    """Splits the CPU into `logical_cpus` logical devices (before TensorFlow initialises them)."""
    import tensorflow as tf

    if logical_cpus < 1:
        raise ValueError(f"logical_cpus must be >= 1, got {logical_cpus}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(logical_cpus)])


def make_strategy(name: str, logical_cpus: int | None = None) -> tf.distribute.Strategy:
    """The strategy `name` (one of STRATEGIES).

    `mirrored` mirrors over every GPU, or over the logical CPUs made by `logical_cpus`
    when there is no GPU; `multi_worker` reads the cluster from `TF_CONFIG`; `tpu`
    resolves a TPU and fails with a clear error where none exists.
    """
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; valid names: {', '.join(STRATEGIES)}")
    if logical_cpus and logical_cpus > 1:
        if name != "mirrored":
            raise ValueError(f"logical_cpus={logical_cpus} only applies to --strategy=mirrored, "
                             f"not {name!r}")
        split_cpu(logical_cpus)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if tf.config.list_physical_devices("GPU"):
            return tf.distribute.MirroredStrategy()
        devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        logger.info("mirrored strategy over CPU devices %s", devices)
        return tf.distribute.MirroredStrategy(devices)
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise RuntimeError(
            f"--strategy=tpu needs a TPU, and none was found ({error}). Run on a TPU VM or "
            "set TPU_NAME, or choose --strategy=default|mirrored|multi_worker.") from error
    return tf.distribute.TPUStrategy(resolver)
