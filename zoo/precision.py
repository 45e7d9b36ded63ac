"""Mixed precision, a run option of every variant: `precision` in the config
(`--set=precision=mixed_bfloat16`).

    float32         layers compute in float32 (the default)
    mixed_bfloat16  layers compute in bfloat16, variables stay float32 (CPUs with AVX-512
                    BF16 or AMX, TPUs, recent GPUs); no loss scaling needed (float32's range)
    mixed_float16   layers compute in float16, variables stay float32, and every optimizer of
                    a network that computes in float16 scales the loss (GPUs)

`GAN.for_dataset` builds the networks under the policy (`policy`), then `float32_outputs`
makes the layers that produce each network's outputs compute in float32. What stays float32,
and why, one line each:
- every network's outputs (D's logits, G's samples, D's feature layer: what the AAN's RBM
  learns and feature matching compares), so every loss, penalty (gradient penalty, R1,
  orthogonal), metric and monitor is computed from float32 tensors (Keras' own advice: the
  last layer in float32);
- batch normalization's statistics: Keras computes them in float32 for half inputs;
- spectral normalization's power iteration: it runs on the float32 kernel variable and u;
  only the normalised kernel is cast where the wrapped layer computes;
- what the model creates itself (the AAN's RBM, its Gibbs chains and CD update, the
  generator EMA, every add-on's own state) is created outside the policy: float32;
- variables are float32 under every policy: checkpoints and `.keras` files hold the same
  weights, and a mixed run's weights load into a float32 build of the same config.
An exported generator computes in its run's precision and returns float32 samples.

Loss scaling (`mixed_float16`): `LossScaleOptimizer` is Keras' dynamic loss scaling with one
change: a step whose gradients are not finite (skipped, the scale halved) still counts as a
step, so the step counter, which keys every random draw and the data stream, stays one per
batch. Networks you build yourself compute in the precision you built them with: build them
under `policy(name)` and call `float32_outputs` to get the zoo's behaviour.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import keras

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


@contextlib.contextmanager
def policy(name: str) -> Iterator[None]:
    """Layers created inside compute in precision `name` (Keras' global dtype policy, restored
    on exit)."""
    if name not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {name!r}")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def float32_outputs(network: Any) -> None:
    """Makes the layers that produce `network`'s outputs, and those of every model nested in
    it, compute in float32 (their variables are float32 already: nothing is rebuilt); a
    network that is a single layer (the AAN's RBM) computes in float32 whole."""
    if not isinstance(network, keras.Model):
        _float32(network)
        return
    if not getattr(network, "outputs", None):
        return
    for tensor in keras.tree.flatten(network.outputs):
        _float32(tensor._keras_history.operation)
    for layer in network.layers:
        if isinstance(layer, keras.Model):
            float32_outputs(layer)


def _float32(layer: Any) -> None:
    if not isinstance(layer, keras.layers.Layer):
        return
    layer.dtype_policy = "float32"
    if isinstance(layer, keras.Model):
        float32_outputs(layer)
    inner = getattr(layer, "layer", None)  # a wrapper (spectral normalization)
    if isinstance(inner, keras.layers.Layer):
        _float32(inner)


@keras.saving.register_keras_serializable("zoo")
class LossScaleOptimizer(keras.optimizers.LossScaleOptimizer):
    """Keras' dynamic loss scaling whose skipped steps still count (the module docstring)."""

    def _stateful_handle_non_finite_grads(self) -> None:
        super()._stateful_handle_non_finite_grads()
        self.inner_optimizer.iterations.assign_add(1)


def loss_scaled(optimizer: keras.optimizers.Optimizer, precision: str
                ) -> keras.optimizers.Optimizer:
    """`optimizer` with loss scaling under mixed_float16 (itself if it scales already or
    under another precision)."""
    if precision != "mixed_float16" or isinstance(optimizer,
                                                  keras.optimizers.LossScaleOptimizer):
        return optimizer
    return LossScaleOptimizer(optimizer)
