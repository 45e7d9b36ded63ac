"""Feature matching (Salimans et al., 2016, section 3.1).

Instead of maximising D's output on its samples, G matches the expected value of the
features f of real data on an intermediate layer of D:

    L_G = || E_{x ~ p_data} f(x) - E_{z ~ p_z(z)} f(G(z)) ||_2^2          (section 3.1)

Each expectation is estimated by its minibatch mean (the real batch and G's batch of the
step); the squared L2 norm sums over the features (the authors' released code averages
over them instead, T.mean(T.square(m1 - m2)): the same objective scaled by 1/A). f(x)
of the real batch is a constant of G's loss. D keeps its own loss and is trained as
usual, so f keeps finding the features that tell data from samples.

Which layer is f (`layer`): by default D's feature part, the input of its last layer: the
`features` model of a discriminator composed as head(features(x)) (`networks.mlp.compose`,
the zoo's MLP and DCGAN discriminators; with minibatch discrimination, the features
before it), or the output of the layer before the last one of a plain Sequential or
functional D. A name picks that layer (in the `features` model of a composed D, else in
D); an int indexes the same model's `.layers` (negative ones count from the end).

Measured (`gan`, default networks, 5,000 steps, seed 0, `benchmarks/techniques.py`): G's
loss falls (ring8: 0.051 over the first 100 steps, 0.013 over the last) and the samples
cover every ring8 mode (8 of 8 at 90% high quality; the GAN: 97%), but on grid25 matching
the mean features leaves them spread between the modes (23 of 25 at 6.5%; the GAN: 23 at
72%); the paper too found feature matching's samples poorer than minibatch
discrimination's, though it served semi-supervised learning best (section 5.1).

Under a distribution strategy the means are over the global batch (all-reduced across
replicas, gradients included), so N replicas compute the loss one device would.
"""
from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from zoo.addons import Addon, register

DEFAULT_OPTIONS = dict(layer=None)


def _is_composed(discriminator: keras.Model) -> bool:
    names = [layer.name for layer in discriminator.layers]
    return "features" in names and "head" in names


def feature_model(discriminator: keras.Model, layer: str | int | None = None) -> keras.Model:
    """x -> f(x), a model sharing D's layers (see the module docstring for `layer`)."""
    if len(discriminator.inputs) != 1:
        raise ValueError(f"feature matching needs a discriminator of one input (the samples); "
                         f"{discriminator.name!r} takes {len(discriminator.inputs)}")
    composed = _is_composed(discriminator)
    scope = discriminator.get_layer("features") if composed else discriminator
    if layer is None:
        if composed:
            return scope
        if len(discriminator.layers) < 2 or isinstance(discriminator.layers[-2],
                                                      keras.layers.InputLayer):
            raise ValueError(f"feature matching needs a hidden layer in D; {discriminator.name!r} "
                             f"has layers {[l.name for l in discriminator.layers]}")
        target = discriminator.layers[-2]
    elif isinstance(layer, bool) or not isinstance(layer, (str, int)):
        raise ValueError(f"feature_matching layer must be a layer name, an index or null, "
                         f"got {layer!r}")
    else:
        names = [l.name for l in scope.layers]
        if isinstance(layer, str) and layer not in names:
            raise ValueError(f"feature_matching layer {layer!r} is not a layer of "
                             f"{scope.name!r}; its layers: {names}")
        if isinstance(layer, int) and not -len(names) <= layer < len(names):
            raise ValueError(f"feature_matching layer index {layer} is out of range for the "
                             f"{len(names)} layers of {scope.name!r}: {names}")
        target = scope.get_layer(layer) if isinstance(layer, str) else scope.layers[layer]
    try:
        return keras.Model(scope.inputs, target.output, name="matched_features")
    except ValueError as error:
        raise ValueError(f"feature matching cannot read layer {target.name!r} of "
                         f"{scope.name!r} as a function of D's input: {error}") from error


def global_batch_mean(values: tf.Tensor) -> tf.Tensor:
    """The mean over axis 0 of the global batch: this replica's rows summed with the other
    replicas' (all-reduce, which differentiates as an all-reduce), over the global count."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return tf.reduce_mean(values, axis=0)
    total = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.reduce_sum(values, axis=0))
    count = context.all_reduce(tf.distribute.ReduceOp.SUM,
                               tf.cast(tf.shape(values)[0], values.dtype))
    return total / count


class FeatureMatching:
    """G's loss of section 3.1 on the features f of an intermediate layer of D.

    Args:
      discriminator: D (f shares its layers and weights).
      layer: which layer is f (see the module docstring); None: D's feature part.
    """

    def __init__(self, discriminator: keras.Model, layer: str | int | None = None):
        self.layer = layer
        self.features = feature_model(discriminator, layer)

    def loss(self, real: tf.Tensor, fake: tf.Tensor, training: bool = True) -> tf.Tensor:
        """||mean_i f(x_i) - mean_i f(G(z_i))||^2, summed over f's units (all axes but the
        batch); the real features are held constant."""
        real_mean = global_batch_mean(tf.stop_gradient(self.features(real, training=training)))
        fake_mean = global_batch_mean(self.features(fake, training=training))
        return tf.reduce_sum(tf.square(real_mean - fake_mean))

    def get_config(self) -> dict:
        return {"layer": self.layer}


@register
class FeatureMatchingAddon(Addon):
    """Run-config key `feature_matching` (true or {"layer": name or index}): G's adversarial
    term replaced by section 3.1's loss; D trains as usual."""

    key = "feature_matching"
    DEFAULT_OPTIONS = DEFAULT_OPTIONS
    requires = {"skeleton_generator_objective": "", "single_input_discriminator": ""}

    def attach(self, model: keras.Model) -> None:
        super().attach(model)
        self.matching = FeatureMatching(model.discriminator, self.options["layer"])

    def generator_adversarial(self, model: keras.Model, real: tf.Tensor, fake: tf.Tensor,
                              condition: Any) -> tf.Tensor:
        return self.matching.loss(real, fake)
