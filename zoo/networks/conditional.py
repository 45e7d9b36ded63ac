"""Class-conditional wrappers (Mirza & Osindero, 2014) around any generator or discriminator.

The paper feeds the label y to both networks beside their usual input: G(z | y) and
D(x | y). Here a wrapper adds a label input (int32 [batch], named `labels`) to an existing
network built for a wider input, and fills the extra width with a learned embedding of y
(equivalent to a dense layer on the one-hot label):

- generator: G(z, y) = G'([z, e(y)]); e(y) is as wide as G' takes beyond z;
- discriminator on points: D(x, y) = D'([x, e(y)]);
- discriminator on images: D(x, y) = D'(x with label maps): e(y) has H * W values per
  extra channel D' takes and is reshaped into those channels, one plane per channel.

So the zoo's `mlp` and `dcgan` builders make the bodies, built one input wider.
"""
from __future__ import annotations

from typing import Sequence

import keras
from keras import layers

LABELS = "labels"


def _check_classes(num_classes: int) -> int:
    if isinstance(num_classes, bool) or int(num_classes) < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    return int(num_classes)


def label_input() -> keras.KerasTensor:
    """The int32 [batch] class labels input, named `labels`."""
    return keras.Input((), dtype="int32", name=LABELS)


def generator(body: keras.Model, latent_dim: int, num_classes: int,
              name: str = "generator") -> keras.Model:
    """[z, labels] -> body([z, e(labels)]), e a learned embedding as wide as body's input
    beyond `latent_dim`."""
    num_classes = _check_classes(num_classes)
    width = int(body.inputs[0].shape[-1]) - int(latent_dim)
    if width <= 0:
        raise ValueError(f"the generator body must take more than latent_dim={latent_dim} "
                         f"inputs (z and the label embedding), got {body.inputs[0].shape[-1]}")
    z = keras.Input((int(latent_dim),), name="z")
    labels = label_input()
    embedded = layers.Embedding(num_classes, width, name="label_embedding")(labels)
    return keras.Model([z, labels], body(layers.Concatenate()([z, embedded])), name=name)


def discriminator(body: keras.Model, sample_shape: Sequence[int], num_classes: int,
                  name: str = "discriminator") -> keras.Model:
    """[x, labels] -> body(x joined with an embedding of labels): concatenated features for
    points [D], label-map channels for images [H, W, C] (see the module docstring)."""
    num_classes = _check_classes(num_classes)
    sample_shape = tuple(int(d) for d in sample_shape)
    body_shape = tuple(int(d) for d in body.inputs[0].shape[1:])
    if len(body_shape) != len(sample_shape) or body_shape[:-1] != sample_shape[:-1]:
        raise ValueError(f"the discriminator body takes {body_shape}, which does not extend "
                         f"samples of shape {sample_shape} along the last axis")
    extra = body_shape[-1] - sample_shape[-1]
    if extra <= 0:
        raise ValueError(f"the discriminator body must take more than {sample_shape[-1]} "
                         f"values on the last axis (samples and labels), got {body_shape[-1]}")
    x = keras.Input(sample_shape, name="x")
    labels = label_input()
    spatial = sample_shape[:-1]
    size = extra
    for dim in spatial:
        size *= dim
    embedded = layers.Embedding(num_classes, size, name="label_embedding")(labels)
    if spatial:
        embedded = layers.Reshape(spatial + (extra,), name="label_maps")(embedded)
    return keras.Model([x, labels], body(layers.Concatenate()([x, embedded])), name=name)
