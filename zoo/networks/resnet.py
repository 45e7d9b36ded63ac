"""The ResNet generator and discriminator of Miyato et al. (2018), Table 4 (32x32 images).

    G: z in R^128 ~ N(0, I) -> dense, 4 x 4 x 256 -> 3 x ResBlock up 256
       -> BN, ReLU, 3x3 conv to the image's channels -> tanh
    D: image -> ResBlock down 128 -> ResBlock down 128 -> ResBlock 128 -> ResBlock 128
       -> ReLU -> global sum pooling -> dense -> 1 logit

Blocks (Gulrajani et al., 2017; Miyato et al., Figure 8; their Chainer code):
    G block:  BN, ReLU, 2x nearest upsampling, 3x3 conv, BN, ReLU, 3x3 conv;
              shortcut: upsampling, 1x1 conv.
    D block:  ReLU, 3x3 conv, ReLU, 3x3 conv, 2x2 average pooling when down;
              shortcut: 1x1 conv, then average pooling, when down or the width changes
              (else the identity). D's first block sees the image itself: no ReLU before its
              first conv, and its shortcut pools before the 1x1 conv.
Every layer of D is spectrally normalised (`zoo.networks.spectral`), and G's too with
`spectral_norm=True` (SAGAN). Widths, the image size and where a self-attention layer goes
(`attention_resolution`, `zoo.networks.attention`) are arguments, so tests and CPU runs can
use tiny networks: G starts at the `zoo.networks.dcgan.stages_for` base (4x4 for 32, 7x7 for
28) and up-samples once per stage; D down-samples `down_blocks` times. 3x3 convs of the blocks
start Glorot-uniform with gain sqrt(2), as in Miyato et al.'s code; the rest Glorot-uniform.

Class-conditional versions (`num_classes`), for `projection` and `biggan`: G takes [z, labels]
and the two BNs of each block become conditional BNs (`zoo.networks.conditional_bn`), on
c = one_hot(y) (Miyato & Koyama, 2018) or, with `shared_embedding`, on c = [e(y), z_k], a
shared class embedding and the block's chunk of a hierarchical z (Brock et al., 2019; the
dense layer then takes the first chunk); the last BN stays unconditional, as in both papers'
code. D takes [x, labels] and adds the projection term y^T V phi(x) to its logit
(`zoo.networks.projection`), phi(x) being the global sum pool.
"""
from __future__ import annotations

import keras
from keras import layers, ops

from zoo.networks.attention import SelfAttention
from zoo.networks.conditional import label_input
from zoo.networks.conditional_bn import ConditionalBatchNormalization, LatentChunks
from zoo.networks.dcgan import stages_for
from zoo.networks.projection import ClassProjection
from zoo.networks.spectral import maybe_normalize


@keras.saving.register_keras_serializable("zoo")
class GlobalSumPooling2D(keras.layers.Layer):
    """[batch, H, W, C] -> [batch, C]: the sum over positions (Miyato et al.'s D)."""

    def call(self, x):
        return ops.sum(x, axis=(1, 2))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


def _conv(filters: int, size: int, spectral_norm: bool,
          residual: bool = True) -> keras.layers.Layer:
    # Glorot-uniform, with gain sqrt(2) for the blocks' 3x3 convs (Miyato et al.'s code).
    init = keras.initializers.VarianceScaling(2.0 if residual and size == 3 else 1.0,
                                              "fan_avg", "uniform")
    return maybe_normalize(layers.Conv2D(filters, size, padding="same", kernel_initializer=init),
                           spectral_norm)


def _batch_norm(x: keras.KerasTensor, condition: keras.KerasTensor | None,
                spectral_norm: bool) -> keras.KerasTensor:
    if condition is None:
        return layers.BatchNormalization()(x)
    return ConditionalBatchNormalization(spectral_norm=spectral_norm)([x, condition])


def generator_block(x: keras.KerasTensor, width: int, spectral_norm: bool = False,
                    condition: keras.KerasTensor | None = None) -> keras.KerasTensor:
    """G's up-sampling ResBlock: 2H x 2W x width from H x W x C; its BNs conditional on
    `condition` [batch, K] where given."""
    h = layers.ReLU()(_batch_norm(x, condition, spectral_norm))
    h = _conv(width, 3, spectral_norm)(layers.UpSampling2D(2)(h))
    h = layers.ReLU()(_batch_norm(h, condition, spectral_norm))
    h = _conv(width, 3, spectral_norm)(h)
    shortcut = _conv(width, 1, spectral_norm)(layers.UpSampling2D(2)(x))
    return layers.Add()([h, shortcut])


def discriminator_block(x: keras.KerasTensor, width: int, downsample: bool,
                        first: bool = False, spectral_norm: bool = True) -> keras.KerasTensor:
    """D's ResBlock; `first` for the block that sees the image (no leading ReLU)."""
    h = x if first else layers.ReLU()(x)
    h = _conv(width, 3, spectral_norm)(h)
    h = _conv(width, 3, spectral_norm)(layers.ReLU()(h))
    if downsample:
        h = layers.AveragePooling2D(2)(h)
    if first:
        shortcut = _conv(width, 1, spectral_norm)(
            layers.AveragePooling2D(2)(x) if downsample else x)
    elif downsample or x.shape[-1] != width:
        shortcut = _conv(width, 1, spectral_norm)(x)
        if downsample:
            shortcut = layers.AveragePooling2D(2)(shortcut)
    else:
        shortcut = x
    return layers.Add()([h, shortcut])


def _check_attention(attention_resolution: int | None, resolutions: list[int], net: str) -> None:
    if attention_resolution is not None and attention_resolution not in resolutions:
        raise ValueError(f"attention_resolution {attention_resolution!r} is not a resolution of "
                         f"the {net}'s blocks; valid: {resolutions}")


def _generator_conditions(z: keras.KerasTensor, num_classes: int | None,
                          shared_embedding: int | None, blocks: int) -> tuple:
    """(G's inputs, the dense layer's input, each block's BN condition or None)."""
    if num_classes is None:
        if shared_embedding is not None:
            raise ValueError(f"shared_embedding={shared_embedding!r} needs num_classes")
        return z, z, [None] * blocks
    labels = label_input()
    if shared_embedding is None:
        one_hot = layers.CategoryEncoding(num_classes, output_mode="one_hot")(labels)
        return [z, labels], z, [one_hot] * blocks
    chunks = LatentChunks(blocks + 1)(z)
    shared = layers.Embedding(num_classes, shared_embedding, embeddings_initializer="orthogonal",
                              name="shared_embedding")(labels)
    return [z, labels], chunks[0], [layers.Concatenate()([shared, chunk])
                                    for chunk in chunks[1:]]


def generator(latent_dim: int = 128, image_size: int = 32, channels: int = 3, width: int = 256,
              spectral_norm: bool = False, attention_resolution: int | None = None,
              num_classes: int | None = None, shared_embedding: int | None = None,
              name: str = "generator") -> keras.Model:
    """z (or [z, labels]) -> image in [-1, 1] of shape (image_size, image_size, channels)
    (module docstring).

    `attention_resolution`: a self-attention layer after the block whose output has this side.
    `num_classes`: class-conditional BN in the blocks; `shared_embedding`: the width of
    BigGAN's shared class embedding, z then split into one chunk per block plus one.
    """
    base, stages = stages_for(image_size)
    resolutions = [base * 2 ** (stage + 1) for stage in range(stages)]
    _check_attention(attention_resolution, resolutions, "generator")
    z = keras.Input((latent_dim,), name="z")
    inputs, h, conditions = _generator_conditions(z, num_classes, shared_embedding, stages)
    h = maybe_normalize(layers.Dense(base * base * width), spectral_norm)(h)
    h = layers.Reshape((base, base, width))(h)
    for resolution, condition in zip(resolutions, conditions):
        h = generator_block(h, width, spectral_norm, condition)
        if resolution == attention_resolution:
            h = SelfAttention(spectral_norm=spectral_norm)(h)
    h = layers.ReLU()(layers.BatchNormalization()(h))
    h = _conv(channels, 3, spectral_norm, residual=False)(h)
    return keras.Model(inputs, layers.Activation("tanh", name="image")(h), name=name)


def discriminator(image_size: int = 32, channels: int = 3, width: int = 128,
                  down_blocks: int = 2, plain_blocks: int = 2, spectral_norm: bool = True,
                  attention_resolution: int | None = None, num_classes: int | None = None,
                  name: str = "discriminator") -> keras.Model:
    """image (or [image, labels]) -> logit (module docstring).

    `attention_resolution`: a self-attention layer after the down-sampling block whose output
    has this side. `num_classes`: the projection discriminator, psi(phi(x)) + y^T V phi(x).
    """
    if down_blocks < 1 or plain_blocks < 0:
        raise ValueError(f"need down_blocks >= 1 and plain_blocks >= 0, got {down_blocks} and "
                         f"{plain_blocks}")
    if image_size % 2 ** down_blocks:
        raise ValueError(f"image_size {image_size} cannot be halved {down_blocks} times")
    resolutions = [image_size // 2 ** (block + 1) for block in range(down_blocks)]
    _check_attention(attention_resolution, resolutions, "discriminator")
    x = keras.Input((image_size, image_size, channels), name="x")
    h = x
    for block, resolution in enumerate(resolutions):
        h = discriminator_block(h, width, downsample=True, first=block == 0,
                                spectral_norm=spectral_norm)
        if resolution == attention_resolution:
            h = SelfAttention(spectral_norm=spectral_norm)(h)
    for _ in range(plain_blocks):
        h = discriminator_block(h, width, downsample=False, spectral_norm=spectral_norm)
    features = GlobalSumPooling2D(name="features")(layers.ReLU()(h))
    logit = maybe_normalize(layers.Dense(1, name="logit"), spectral_norm)(features)
    if num_classes is None:
        return keras.Model(x, logit, name=name)
    labels = label_input()
    projection = ClassProjection(num_classes, spectral_norm, name="projection")([features, labels])
    return keras.Model([x, labels], layers.Add(name="logit_with_projection")([logit, projection]),
                       name=name)
