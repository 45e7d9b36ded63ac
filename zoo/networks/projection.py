"""The projection term of a class-conditional discriminator (Miyato & Koyama, ICLR 2018).

The optimal discriminator's logit in the conditional GAN game is the log density ratio of
the data q and the generator p, which splits as (section 3)

    f*(x, y) = log q(y | x) / p(y | x) + log q(x) / p(x) = r(y | x) + r(x).

Modelling each conditional as log-linear in a feature vector phi(x), p(y = c | x)
proportional to exp(v_c^T phi(x)), makes r(y | x) linear in phi(x) for each class, and the
discriminator becomes

    f(x, y) = y^T V phi(x) + psi(phi(x)),                                           eq. (3)

with y the one-hot label, V the class embedding matrix (row v_y for class y), phi(x) the
network's features (the ResNet's global sum pool) and psi a linear map to a scalar (the
unconditional logit). Unlike concatenating the label to the input (`cgan`), the label enters
by an inner product with the features at the end of the network. As in the authors' code,
V is spectrally normalised like every other layer of D (their `SNEmbedID`).
"""
from __future__ import annotations

import keras
from keras import layers, ops

from zoo.networks.spectral import maybe_normalize


@keras.saving.register_keras_serializable("zoo")
class ClassProjection(keras.layers.Layer):
    """[phi [batch, C], labels [batch]] -> y^T V phi [batch, 1], the projection term of eq. (3).

    V [num_classes, C] is the kernel of a dense layer applied to one_hot(y) (so its row y is
    v_y), Glorot-uniform as in the authors' code.

    Args:
      num_classes: the number of labels.
      spectral_norm: spectrally normalise V (`zoo.networks.spectral`).
    """

    def __init__(self, num_classes: int, spectral_norm: bool = True, **kwargs):
        super().__init__(**kwargs)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
        self.num_classes = num_classes
        self.spectral_norm = bool(spectral_norm)

    def build(self, input_shape: list) -> None:
        features_shape = tuple(input_shape[0])
        if len(features_shape) != 2 or features_shape[-1] is None:
            raise ValueError(f"ClassProjection takes features [batch, C] with a known C, got "
                             f"{features_shape}")
        self.embedding = maybe_normalize(
            layers.Dense(int(features_shape[-1]), use_bias=False, name="class_embedding"),
            self.spectral_norm)
        self.embedding.build((None, self.num_classes))

    def call(self, inputs: list, training: bool = False):
        features, labels = inputs
        one_hot = ops.one_hot(ops.cast(labels, "int32"), self.num_classes)
        v_y = self.embedding(one_hot, training=training)  # row y of V
        return ops.sum(v_y * features, axis=-1, keepdims=True)

    def class_embeddings(self):
        """V [num_classes, C] as inference calls use it (W / sigma(W) at the stored u with
        spectral normalization)."""
        if self.spectral_norm:
            return self.embedding.normalized_kernel()
        return self.embedding.kernel

    def compute_output_shape(self, input_shape: list) -> tuple:
        return (input_shape[0][0], 1)

    def get_config(self) -> dict:
        return dict(super().get_config(), num_classes=self.num_classes,
                    spectral_norm=self.spectral_norm)
