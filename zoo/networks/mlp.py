"""Fully connected networks for the low-dimensional mixtures (ring8, grid25, ...)."""
from __future__ import annotations

from typing import Any, Sequence

import keras
from keras import layers


def generator(latent_dim: int, output_dim: int, hidden: Sequence[int] = (128, 128, 128),
              batch_norm: bool = False, name: str = "generator") -> keras.Model:
    """z in R^latent_dim -> x in R^output_dim through ReLU layers and a linear output."""
    z = keras.Input((latent_dim,), name="z")
    h = z
    for units in hidden:
        h = layers.Dense(units)(h)
        if batch_norm:
            h = layers.BatchNormalization()(h)
        h = layers.ReLU()(h)
    x = layers.Dense(output_dim, name="sample")(h)
    return keras.Model(z, x, name=name)


FEATURE_NORMALIZATIONS = (None, "layer")


def feature_layer(h: Any, units: int, activation: str = "tanh",
                  normalization: str | None = None) -> Any:
    """Dense(units, activation), the AAN's tanh layer; with `normalization="layer"` the
    pre-activations are layer-normalized first (mean 0, variance 1 per sample, then a
    learned scale and shift), which keeps the tanh out of saturation on wide-range data."""
    if normalization not in FEATURE_NORMALIZATIONS:
        raise ValueError(f"feature normalization must be one of {FEATURE_NORMALIZATIONS}, "
                         f"got {normalization!r}")
    if normalization is None:
        return layers.Dense(units, activation=activation, name="feature_layer")(h)
    h = layers.LayerNormalization(name="feature_norm")(layers.Dense(units, name="feature_pre")(h))
    return layers.Activation(activation, name="feature_layer")(h)


def feature_extractor(input_dim: int, hidden: Sequence[int] = (128, 128),
                      feature_units: int | None = None, feature_activation: str = "tanh",
                      name: str = "features",
                      feature_normalization: str | None = None) -> keras.Model:
    """x -> Phi(x): LeakyReLU layers, then (optionally) a `feature_units` layer.

    With `feature_units`, the last layer is `feature_layer` (Dense(feature_units,
    feature_activation), optionally layer-normalized): the AAN's tanh layer whose
    distribution the RBM learns.
    """
    x = keras.Input((input_dim,), name="x")
    h = x
    for units in hidden:
        h = layers.LeakyReLU(0.2)(layers.Dense(units)(h))
    if feature_units is not None:
        h = feature_layer(h, feature_units, feature_activation, feature_normalization)
    return keras.Model(x, h, name=name)


def head(feature_dim: int, hidden: Sequence[int] = (), name: str = "head") -> keras.Model:
    """Phi(x) -> one logit: optional LeakyReLU layers, then a linear unit."""
    f = keras.Input((feature_dim,), name="features")
    h = f
    for units in hidden:
        h = layers.LeakyReLU(0.2)(layers.Dense(units)(h))
    return keras.Model(f, layers.Dense(1, name="logit")(h), name=name)


def discriminator(input_dim: int, hidden: Sequence[int] = (128, 128, 128),
                  name: str = "discriminator") -> keras.Model:
    """x -> logit: LeakyReLU(0.2) layers and a linear output unit."""
    features = feature_extractor(input_dim, hidden)
    return compose(features, head(features.output.shape[-1]), name=name)


def compose(features: keras.Model, head_model: keras.Model,
            name: str = "discriminator") -> keras.Model:
    """D = C(F(x)) as one functional model sharing F's and C's weights."""
    x = keras.Input(features.input.shape[1:], name="x")
    return keras.Model(x, head_model(features(x)), name=name)
