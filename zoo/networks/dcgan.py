"""DCGAN networks (Radford et al., 2016) for square images of any size in 28, 32, 48, 64, ...

Generator: project z, reshape to base x base, then stride-2 5x5 transposed
convolutions with batch norm and ReLU, halving the width each time, and a tanh
output. Discriminator: stride-2 5x5 convolutions with LeakyReLU(0.2), batch norm on
every layer but the first, and a linear logit. The number of stride-2 stages
follows from the image size (`stages_for`), so no per-resolution table is needed.
"""
from __future__ import annotations

import keras
from keras import layers

from zoo.networks.mlp import compose, feature_layer

NORMALIZATIONS = ("batch", "layer", None)


def stages_for(image_size: int, min_base: int = 4) -> tuple[int, int]:
    """(base, stages) with image_size = base * 2**stages, halving while the result stays >= min_base.

    28 -> (7, 2), 32 -> (4, 3), 48 -> (6, 3), 64 -> (4, 4).
    """
    if image_size < min_base:
        raise ValueError(f"image_size must be >= {min_base}, got {image_size}")
    base, stages = image_size, 0
    while base % 2 == 0 and base // 2 >= min_base:
        base, stages = base // 2, stages + 1
    if stages == 0:
        raise ValueError(
            f"image_size {image_size} cannot be reached by stride-2 stages from a base >= {min_base}")
    return base, stages


def generator(latent_dim: int = 100, image_size: int = 64, channels: int = 3, width: int = 64,
              name: str = "generator") -> keras.Model:
    """z -> image in [-1, 1] of shape (image_size, image_size, channels)."""
    base, stages = stages_for(image_size)
    z = keras.Input((latent_dim,), name="z")
    depth = width * 2 ** (stages - 1)
    h = layers.Dense(base * base * depth, use_bias=False)(z)
    h = layers.ReLU()(layers.BatchNormalization()(h))
    h = layers.Reshape((base, base, depth))(h)
    for stage in range(stages - 1):
        depth = width * 2 ** (stages - 2 - stage)
        h = layers.Conv2DTranspose(depth, 5, strides=2, padding="same", use_bias=False)(h)
        h = layers.ReLU()(layers.BatchNormalization()(h))
    x = layers.Conv2DTranspose(channels, 5, strides=2, padding="same", activation="tanh",
                               name="image")(h)
    return keras.Model(z, x, name=name)


def feature_extractor(image_size: int = 64, channels: int = 3, width: int = 64,
                      feature_units: int | None = None, feature_activation: str = "tanh",
                      name: str = "features", normalization: str | None = "batch",
                      feature_normalization: str | None = None) -> keras.Model:
    """image -> Phi(image): the strided convolutions, flattened.

    With `feature_units`, `mlp.feature_layer` follows (Dense(feature_units,
    feature_activation), layer-normalized with `feature_normalization="layer"`): the AAN's
    tanh layer whose distribution its RBM learns. `normalization` after every
    convolution but the first: "batch" (DCGAN's), "layer" (for a critic whose output on
    one sample must not depend on the rest of the batch, as WGAN-GP's gradient penalty
    needs) or None.
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    _, stages = stages_for(image_size)
    x = keras.Input((image_size, image_size, channels), name="x")
    h = x
    for stage in range(stages):
        h = layers.Conv2D(width * 2 ** stage, 5, strides=2, padding="same")(h)
        if stage > 0 and normalization == "batch":
            h = layers.BatchNormalization()(h)
        elif stage > 0 and normalization == "layer":
            h = layers.LayerNormalization(axis=[1, 2, 3])(h)
        h = layers.LeakyReLU(0.2)(h)
    h = layers.Flatten()(h)
    if feature_units is not None:
        h = feature_layer(h, feature_units, feature_activation, feature_normalization)
    return keras.Model(x, h, name=name)


def discriminator(image_size: int = 64, channels: int = 3, width: int = 64,
                  name: str = "discriminator", normalization: str | None = "batch"
                  ) -> keras.Model:
    """image -> logit (`normalization` as in `feature_extractor`)."""
    features = feature_extractor(image_size, channels, width, normalization=normalization)
    f = keras.Input(features.output.shape[1:], name="features")
    head = keras.Model(f, layers.Dense(1, name="logit")(f), name="head")
    return compose(features, head, name=name)
