"""Virtual batch normalization (Salimans et al., 2016, section 3.5).

Batch normalization makes each output depend on the other inputs of its minibatch. VBN
normalizes each example x with the statistics of a *reference batch* of N examples,
chosen once at the start of training and fixed, combined with x itself, as if x were
one more member of the reference batch (weight 1 / (N + 1)). At a layer with
activations a, per channel (the mean over the spatial axes too, for images):

    mu_ref  = mean of a over the reference batch,   s_ref = mean of a^2 over it
    mu(x)   = N/(N+1) mu_ref + 1/(N+1) mean(a(x)),  s(x) = N/(N+1) s_ref + 1/(N+1) mean(a(x)^2)
    VBN(a(x)) = gamma (a(x) - mu(x)) / sqrt(s(x) - mu(x)^2 + eps) + beta

(for a [batch, units] layer mean(a(x)) is a(x) itself). The reference batch's activations
are computed with the *current* parameters at every step, so VBN runs the network on two
batches (the reason the paper uses it in the generator only), and the reference examples
are themselves normalized with their own statistics mu_ref, s_ref at each layer (as in the
reference implementation of VBN by Goodfellow). An example's output thus depends only on
the reference batch and on itself, never on the rest of its batch, in training and in
inference alike: VBN has no moving averages.

Here the reference batch is a batch of G's *inputs* (its noise z), kept in a
non-trainable variable of a `ReferenceBatch` layer, so it is saved in checkpoints and in
an exported SavedModel. `with_virtual_batch_norm(G)` wraps a generator as

    z -> ReferenceBatch (rows [z_ref; z]) -> G with every BatchNormalization replaced by
         VirtualBatchNormalization -> DropReference (rows of z only)

and `choose_reference_batch(model)` draws z_ref once, from the model's own
`sample_generator_inputs` and seed, before training (the run config's `virtual_batch_norm`
does both for any variant whose generator has batch normalization, e.g. the DCGAN's).

Measured (`benchmarks/techniques.py`, seed 0, 5,000 steps): the mixtures' MLP generator
given batch norm after each hidden layer covers ring8's 8 modes at 42% high quality, and
with VBN (N = 64) at 79% (the GAN without normalization: 97%); on grid25, 24 of 25 modes
at 38% and 24 at 37% (without: 23 at 72%).
"""
from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from zoo.addons import Addon, register

DEFAULT_OPTIONS = dict(reference_size=64)
# The second half of the stateless seed of the reference batch's draw (training draws
# use non-negative step-based values; `generate` uses 0).
REFERENCE_STREAM = -1


def _check_size(reference_size: Any) -> int:
    if isinstance(reference_size, bool) or int(reference_size) != reference_size \
            or int(reference_size) <= 0:
        raise ValueError(f"reference_size must be a positive int, got {reference_size!r}")
    return int(reference_size)


@keras.saving.register_keras_serializable("zoo")
class VirtualBatchNormalization(keras.layers.Layer):
    """VBN over the last (channel) axis of rows [reference (N); examples].

    Its input's first `reference_size` rows are the reference batch's activations, the
    rest the examples'; both come out normalized (see the module docstring).

    Args:
      reference_size: N.
      epsilon, center, scale: as in `keras.layers.BatchNormalization` (gamma, beta).
    """

    def __init__(self, reference_size: int, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.reference_size = _check_size(reference_size)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)

    def build(self, input_shape: tuple) -> None:
        channels = int(input_shape[-1])
        self.gamma = (self.add_weight(shape=(channels,), initializer="ones", name="gamma")
                      if self.scale else None)
        self.beta = (self.add_weight(shape=(channels,), initializer="zeros", name="beta")
                     if self.center else None)

    def _normalize(self, x: tf.Tensor, mean: tf.Tensor, mean_square: tf.Tensor) -> tf.Tensor:
        variance = tf.maximum(mean_square - tf.square(mean), 0.0)
        y = (x - mean) * tf.math.rsqrt(variance + self.epsilon)
        if self.gamma is not None:
            y = y * self.gamma
        return y + self.beta if self.beta is not None else y

    def call(self, inputs: tf.Tensor, training: Any = None, mask: Any = None) -> tf.Tensor:
        """The same in training and inference (no moving statistics); `training` and `mask`
        are accepted as BatchNormalization's call takes them."""
        x = tf.cast(inputs, self.compute_dtype)
        n = self.reference_size
        reference, examples = x[:n], x[n:]
        all_but_channels = list(range(len(x.shape) - 1))
        spatial = all_but_channels[1:]
        reference_mean = tf.reduce_mean(reference, axis=all_but_channels)
        reference_square = tf.reduce_mean(tf.square(reference), axis=all_but_channels)
        own_mean, own_square = examples, tf.square(examples)
        if spatial:
            own_mean = tf.reduce_mean(own_mean, axis=spatial, keepdims=True)
            own_square = tf.reduce_mean(own_square, axis=spatial, keepdims=True)
        new = 1.0 / (n + 1.0)
        mean = new * own_mean + (1.0 - new) * reference_mean
        mean_square = new * own_square + (1.0 - new) * reference_square
        return tf.concat([self._normalize(reference, reference_mean, reference_square),
                          self._normalize(examples, mean, mean_square)], axis=0)

    def get_config(self) -> dict:
        return dict(super().get_config(), reference_size=self.reference_size,
                    epsilon=self.epsilon, center=self.center, scale=self.scale)


@keras.saving.register_keras_serializable("zoo")
class ReferenceBatch(keras.layers.Layer):
    """Prepends the fixed reference batch (a non-trainable variable) to its input rows."""

    def __init__(self, reference_size: int, **kwargs):
        super().__init__(**kwargs)
        self.reference_size = _check_size(reference_size)

    def build(self, input_shape: tuple) -> None:
        self.reference = self.add_weight(
            shape=(self.reference_size,) + tuple(int(d) for d in input_shape[1:]),
            initializer="zeros", trainable=False, name="reference_batch")

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        reference = tf.cast(self.reference, inputs.dtype)
        return tf.concat([reference, inputs], axis=0)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (None,) + tuple(input_shape[1:])

    def get_config(self) -> dict:
        return dict(super().get_config(), reference_size=self.reference_size)


@keras.saving.register_keras_serializable("zoo")
class DropReference(keras.layers.Layer):
    """Drops the first `reference_size` rows (the reference batch's)."""

    def __init__(self, reference_size: int, **kwargs):
        super().__init__(**kwargs)
        self.reference_size = _check_size(reference_size)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        return inputs[self.reference_size:]

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (None,) + tuple(input_shape[1:])

    def get_config(self) -> dict:
        return dict(super().get_config(), reference_size=self.reference_size)


def with_virtual_batch_norm(generator: keras.Model, reference_size: int = 64) -> keras.Model:
    """G with each BatchNormalization replaced by VBN over a stored reference batch.

    The copy has fresh weights (call it on an untrained generator) and a zero reference
    batch until `choose_reference_batch` (or `set_reference_batch`) fills it. The wrapper
    keeps G's name and its input's name (`z`: the exported signature's input).
    """
    reference_size = _check_size(reference_size)
    if len(generator.inputs) != 1:
        raise ValueError("virtual_batch_norm needs a generator with one input (the noise), "
                         f"got {len(generator.inputs)} inputs")
    norms = [layer for layer in generator.layers
             if isinstance(layer, keras.layers.BatchNormalization)]
    if not norms:
        raise ValueError(f"virtual_batch_norm replaces batch normalization, and generator "
                         f"{generator.name!r} has none: its layers are "
                         f"{[layer.name for layer in generator.layers]}")
    for norm in norms:
        if norm.axis not in (-1, len(norm.input.shape) - 1):
            raise ValueError(f"virtual_batch_norm normalizes the last axis; {norm.name!r} "
                             f"normalizes axis {norm.axis}")

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, keras.layers.BatchNormalization):
            return VirtualBatchNormalization(reference_size, epsilon=layer.epsilon,
                                             center=layer.center, scale=layer.scale,
                                             name=f"virtual_{layer.name}")
        return type(layer).from_config(layer.get_config())

    body = keras.models.clone_model(generator, clone_function=clone)
    z = keras.Input(generator.inputs[0].shape[1:], name=generator.inputs[0].name)
    rows = ReferenceBatch(reference_size, name="reference_batch")(z)
    samples = DropReference(reference_size, name="drop_reference")(body(rows))
    return keras.Model(z, samples, name=generator.name)


def reference_layer(generator: keras.Model) -> ReferenceBatch | None:
    """The generator's `ReferenceBatch` layer; None when it has no VBN."""
    for layer in generator.layers:
        if isinstance(layer, ReferenceBatch):
            return layer
    return None


def set_reference_batch(generator: keras.Model, inputs: Any) -> None:
    """Stores `inputs` (G's inputs, [N, ...]) as the reference batch of a VBN generator."""
    layer = reference_layer(generator)
    if layer is None:
        raise ValueError(f"generator {generator.name!r} has no virtual batch normalization")
    inputs = tf.convert_to_tensor(inputs, tf.float32)
    if tuple(inputs.shape) != tuple(layer.reference.shape):
        raise ValueError(f"the reference batch must have shape {tuple(layer.reference.shape)}, "
                         f"got {tuple(inputs.shape)}")
    layer.reference.assign(inputs)


def choose_reference_batch(model: keras.Model) -> None:
    """Draws the reference batch once, before training: `model.sample_generator_inputs`
    of N rows from the stateless seed (model.seed, REFERENCE_STREAM), stored in G and in
    any copy of G that samples instead (`inference_generator`, e.g. `generator_ema`'s
    average). No-op without VBN."""
    layer = reference_layer(model.generator)
    if layer is None:
        return
    seed = tf.constant([model.seed, REFERENCE_STREAM], tf.int64)
    inputs = model.sample_generator_inputs(layer.reference_size, seed)
    copies = {id(model.generator): model.generator}
    sampler = getattr(model, "inference_generator", model.generator)
    copies.setdefault(id(sampler), sampler)
    for generator in copies.values():
        if reference_layer(generator) is not None:
            set_reference_batch(generator, inputs)


@register
class VirtualBatchNorm(Addon):
    """Run-config key `virtual_batch_norm` (true or {"reference_size": N}): G's batch norm
    replaced by VBN when the networks are built; the reference batch drawn in `attach`."""

    key = "virtual_batch_norm"
    DEFAULT_OPTIONS = DEFAULT_OPTIONS

    @classmethod
    def adapt_networks(cls, options: Any, networks: dict) -> dict:
        if reference_layer(networks["generator"]) is not None:
            return networks
        options = cls.normalize(options, None)
        return dict(networks, generator=with_virtual_batch_norm(networks["generator"],
                                                                options["reference_size"]))

    def attach(self, model: keras.Model) -> None:
        super().attach(model)
        if reference_layer(model.generator) is None:
            raise ValueError("virtual_batch_norm needs a generator built with it: "
                             "zoo.addons.virtual_batch_norm.with_virtual_batch_norm(G) or "
                             "GAN.for_dataset")
        choose_reference_batch(model)
