"""Stateless randomness and replica slicing, shared by the skeleton, its variants and add-ons.

Every random draw of a training step is a pure function of the model's `seed`, the
generator optimizer's iteration count and the draw's purpose (`step_seed`), so a seeded run
is reproducible and a resumed run continues the same stream. Under a distribution strategy
a draw is made for the global batch and each replica takes its own rows (`local_slice`), so
N replicas see exactly the noise one device would.
"""
from __future__ import annotations

from typing import Any

import tensorflow as tf

# Purposes of random draws within one training step; the discriminator's d-th update of a
# step uses SEED_DISCRIMINATOR + d.
SEED_GENERATOR = 0
SEED_EXTRA = 1
SEED_PENALTY = 2
SEED_HEAT = 3
SEED_DENOISER = 4
SEED_EVALUATE = 5
SEED_DISCRIMINATOR = 16
SEEDS_PER_STEP = 64
MAX_D_STEPS = SEEDS_PER_STEP - SEED_DISCRIMINATOR


def step_seed(seed: int, step: Any, purpose: int) -> tf.Tensor:
    """Stateless seed [2] for one purpose of training step `step` of a run seeded `seed`."""
    step = tf.cast(step, tf.int64)
    return tf.stack([tf.constant(seed, tf.int64), step * SEEDS_PER_STEP + purpose])


def replica_info() -> tuple[tf.Tensor | int, int]:
    """(replica id, number of replicas) of the current replica context; (0, 1) outside one."""
    context = tf.distribute.get_replica_context()
    if context is None:
        return 0, 1
    return context.replica_id_in_sync_group, context.num_replicas_in_sync


def local_slice(global_inputs: Any, local_batch: tf.Tensor) -> Any:
    """This replica's rows of a draw made for the whole global batch."""
    replica_id, num_replicas = replica_info()
    if num_replicas == 1:
        return global_inputs
    start = tf.cast(replica_id, tf.int32) * local_batch
    return tf.nest.map_structure(lambda t: t[start:start + local_batch], global_inputs)


def global_normal(like: tf.Tensor, local_batch: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """N(0, I) noise shaped like `like` (this replica's batch), this replica's slice of one
    draw for the global batch."""
    _, num_replicas = replica_info()
    shape = tf.concat([[local_batch * num_replicas], tf.shape(like)[1:]], axis=0)
    return local_slice(tf.random.stateless_normal(shape, seed), local_batch)
