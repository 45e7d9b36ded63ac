"""The transition generator of variational contrastive divergence (Zhai et al., 2016, section 6).

An encoder maps x to a bottleneck h = Enc(x) in (-1, 1)^d (a tanh layer); a binary mask
m ~ Bernoulli(0.5)^d and noise z ~ U[-1, 1]^d (the range of h) give

    h~ = m * z + (1 - m) * h,

and the same decoder maps h~ to the sample x~ = Dec(h~), a draw from p_g(x~ | x). With the
mask all zeros the network is the plain autoencoder, x_bar = Dec(Enc(x)); with it all ones
the input is ignored and x~ = Dec(z).

The network is one functional model with three named inputs, `x`, `mask` and `noise`, so
that the zoo's skeleton (and the exported `serving_default` signature) call it as any
generator; its `encoder` and `decoder` are nested models of those names.
"""
from __future__ import annotations

from typing import Sequence

import keras
from keras import layers

from zoo.networks import dcgan, mlp


def transition_generator(encoder: keras.Model, decoder: keras.Model,
                         name: str = "generator") -> keras.Model:
    """[x, mask, noise] -> Dec(mask * noise + (1 - mask) * Enc(x)).

    `encoder` maps samples to the bottleneck of width d, `decoder` maps d-vectors back.
    """
    width = int(encoder.output.shape[-1])
    if int(decoder.inputs[0].shape[-1]) != width:
        raise ValueError(f"the decoder must take the encoder's bottleneck of width {width}, "
                         f"got {decoder.inputs[0].shape[-1]}")
    x = keras.Input(encoder.inputs[0].shape[1:], name="x")
    mask = keras.Input((width,), name="mask")
    noise = keras.Input((width,), name="noise")
    h = encoder(x)
    # h + m * (z - h) = m * z + (1 - m) * h, from serializable merge layers.
    mixed = layers.Add(name="mixed_code")(
        [h, layers.Multiply()([mask, layers.Subtract()([noise, h])])])
    return keras.Model([x, mask, noise], decoder(mixed), name=name)


def mlp_transition(input_dim: int, bottleneck: int, hidden: Sequence[int] = (128, 128, 128),
                   name: str = "generator") -> keras.Model:
    """For the mixtures: an MLP encoder (LeakyReLU layers, a tanh bottleneck) and an MLP
    decoder (`mlp.generator`, ReLU layers and a linear output) of the same hidden widths."""
    encoder = mlp.feature_extractor(input_dim, hidden, bottleneck, name="encoder")
    decoder = mlp.generator(bottleneck, input_dim, tuple(reversed(hidden)), name="decoder")
    return transition_generator(encoder, decoder, name=name)


def dcgan_transition(image_size: int, channels: int, width: int, bottleneck: int,
                     name: str = "generator") -> keras.Model:
    """For images: `dcgan.feature_extractor` with a tanh bottleneck as the encoder and the
    DCGAN generator (batch norm, tanh output) from the bottleneck as the decoder."""
    encoder = dcgan.feature_extractor(image_size, channels, width, bottleneck, name="encoder")
    decoder = dcgan.generator(bottleneck, image_size, channels, width, name="decoder")
    return transition_generator(encoder, decoder, name=name)
