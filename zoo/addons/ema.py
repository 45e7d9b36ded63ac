"""A generator's exponential moving average, an add-on (run-config key `generator_ema`: the decay).

Samples are drawn from a running average of G's weights rather than from G itself
(Yazici et al., 2019, "The Unusual Effectiveness of Averaging in GAN Training"; Karras
et al., 2018). After every generator update, each of G's variables w has a shadow

    w_ema <- decay * w_ema + (1 - decay) * w,

started at G's initial weights w_0 (so no bias correction is needed), so that after N
generator updates, with w_k the weights after the k-th,

    w_ema(N) = decay^N w_0 + (1 - decay) sum_{k=1..N} decay^(N - k) w_k.

What is averaged: *every* floating-point variable of G, its batch-norm moving statistics
included, as BigGAN-PyTorch's `ema` averages the whole state dict (integer variables, such
as a dropout layer's seed state, are copied). The statistics are themselves running
averages of batch statistics under recent weights, so averaging them too keeps them on the
averaged weights' time scale; copying G's current statistics instead would pair averaged
weights with statistics of the latest ones. Neither is exact for the averaged network
(recomputing "standing statistics" through it would be); on BN-free generators (the
mixtures' MLPs) the question does not arise.

The shadow is a clone of G (`GeneratorAverage.average`, same architecture, its variables
non-trainable), so it samples as G does: `GAN.inference_generator` is the clone when the
add-on is on, and `generate`, `sample_from_seeds`, the pictures, the metrics and the
exported SavedModel all use it. Its variables are part of the model's weights, so
checkpoints save and restore them. Keras optimizers' own `use_ema` averages the trainable
variables only and overwrites the model's weights with the average
(`finalize_variable_values`), which would end training from the average on resume: hence
this separate copy.

Under a `tf.distribute` strategy every replica holds the same G after its update and
computes the same average, so the update needs no communication.
"""
from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from zoo.addons import Addon, enabled, register
from zoo.config import RunConfig


def check_decay(decay: Any) -> float:
    """`decay` as a float in [0, 1), or a ValueError naming it."""
    try:
        value = float(decay)
    except (TypeError, ValueError):
        raise ValueError(
            f"generator_ema must be a decay in [0, 1) or None, got {decay!r}") from None
    if not 0.0 <= value < 1.0:
        raise ValueError(f"generator_ema must be a decay in [0, 1) or None, got {decay!r}")
    return value


def clone_generator(generator: keras.Model) -> keras.Model:
    """A new model with G's architecture and a copy of its current weights."""
    try:
        clone = keras.models.clone_model(generator)
    except Exception as error:  # subclassed models without a usable get_config
        raise ValueError(f"generator_ema needs a generator that keras.models.clone_model can "
                         f"copy (a functional or Sequential model); {generator.name!r} "
                         f"could not be cloned: {error}") from error
    sources, targets = generator.weights, clone.weights
    if [tuple(v.shape) for v in sources] != [tuple(v.shape) for v in targets]:
        raise ValueError(f"the clone of {generator.name!r} does not have its variables; "
                         "generator_ema needs a generator that clone_model copies exactly")
    for target, source in zip(targets, sources):
        target.assign(source)
    return clone


class GeneratorAverage(keras.layers.Layer):
    """The shadow generator: a clone of G whose weights track an EMA of G's (see module).

    Args:
      generator: G (only read; the average keeps no reference to it).
      decay: in [0, 1); 0 copies G after every update.
    """

    def __init__(self, generator: keras.Model, decay: float, **kwargs):
        super().__init__(trainable=False, **kwargs)
        self.decay = check_decay(decay)
        self.average = clone_generator(generator)
        self.average.trainable = False
        self.built = True

    def update(self, generator: keras.Model) -> None:
        """w_ema <- decay * w_ema + (1 - decay) * w for each of G's float variables w
        (the others copied); call after each generator update."""
        for shadow, variable in zip(self.average.weights, generator.weights):
            value = tf.convert_to_tensor(variable)
            if keras.backend.is_float_dtype(shadow.dtype):
                shadow.assign(self.decay * shadow + (1.0 - self.decay) * value)
            else:
                shadow.assign(value)

    def call(self, inputs: Any, training: bool = False) -> tf.Tensor:
        """The averaged generator's samples (always in inference mode)."""
        return self.average(inputs, training=False)


@register
class GeneratorEMA(Addon):
    """Keeps `GeneratorAverage` of G, updated after each G update; it samples at inference."""

    key = "generator_ema"

    @classmethod
    def normalize(cls, value: Any, config: RunConfig) -> float | None:
        return check_decay(value) if enabled(value) else None  # None and False: off

    def attach(self, model: keras.Model) -> None:
        super().attach(model)
        self.average = GeneratorAverage(model.generator, self.options, name="generator_average")

    def after_generator_update(self, model: keras.Model) -> None:
        self.average.update(model.generator)

    def sampler(self) -> keras.Model:
        return self.average.average
