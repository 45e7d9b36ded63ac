"""Conditional batch normalization and BigGAN's hierarchical latent, for class-conditional G.

Conditional batch normalization (de Vries et al., 2017; Dumoulin et al., 2017), as the
class-conditional generators of Miyato & Koyama (2018) and Brock et al. (2019) use it in
every residual block: the per-channel gain and bias of batch normalization become functions
of a condition vector c,

    CBN(x, c) = (1 + gamma(c)) * (x - mu_B) / sqrt(sigma_B^2 + eps) + beta(c),

with gamma(c) = c W_gamma and beta(c) = c W_beta linear maps to the C channels. The gain is
parameterised as 1 + gamma(c), not gamma(c): with W_gamma = W_beta = 0 the layer is plain
batch normalization (unit gain, zero bias), and a weight penalty or small initial weights
pull the gain towards 1 rather than towards 0, which would silence the block.

- Class-conditional BN (Miyato & Koyama): c = one_hot(y), so row y of W_gamma is gamma(y),
  a per-class embedding; the maps start at zero, so G starts with plain BN.
- BigGAN (Brock et al., section 3 and appendix B): c = [e(y), z_k], a class embedding e
  shared by every block, concatenated with the block's own chunk z_k of the latent
  (`LatentChunks`: z split into one chunk for G's input layer and one per block, the
  "hierarchical latent space"); the maps are spectrally normalised linear layers without
  bias, started orthogonal (a zero matrix has no W / sigma(W)).

The statistics mu_B, sigma_B^2 are the batch's in training and the moving averages at
inference, as in Keras's `BatchNormalization` (whose momentum and epsilon are the defaults
here, so a zero-initialised layer is exactly the `BatchNormalization()` it replaces).
"""
from __future__ import annotations

import keras
from keras import layers, ops

from zoo.networks.spectral import maybe_normalize


@keras.saving.register_keras_serializable("zoo")
class ConditionalBatchNormalization(keras.layers.Layer):
    """[x [batch, H, W, C], c [batch, K]] -> (1 + gamma(c)) * BN(x) + beta(c) (module docstring).

    Args:
      spectral_norm: spectrally normalise gamma and beta (`zoo.networks.spectral`; BigGAN),
        which then start orthogonal; without it they start at zero (plain BN).
      momentum, epsilon: of the batch normalization (Keras's defaults).
    """

    def __init__(self, spectral_norm: bool = False, momentum: float = 0.99,
                 epsilon: float = 1e-3, **kwargs):
        super().__init__(**kwargs)
        self.spectral_norm = bool(spectral_norm)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)

    def build(self, input_shape: list) -> None:
        x_shape, condition_shape = (tuple(shape) for shape in input_shape)
        if len(x_shape) != 4 or x_shape[-1] is None or len(condition_shape) != 2 \
                or condition_shape[-1] is None:
            raise ValueError(f"ConditionalBatchNormalization takes [x [batch, H, W, C], "
                             f"c [batch, K]] with known C and K, got {x_shape} and "
                             f"{condition_shape}")
        channels = int(x_shape[-1])
        self.normalize = layers.BatchNormalization(momentum=self.momentum, epsilon=self.epsilon,
                                                   center=False, scale=False, name="normalize")
        self.normalize.build(x_shape)
        initializer = "orthogonal" if self.spectral_norm else "zeros"

        def linear(name: str) -> keras.layers.Layer:
            layer = maybe_normalize(layers.Dense(channels, use_bias=False, name=name,
                                                 kernel_initializer=initializer),
                                    self.spectral_norm)
            layer.build(condition_shape)
            return layer

        self.gamma = linear("gamma")
        self.beta = linear("beta")

    def call(self, inputs: list, training: bool = False):
        x, condition = inputs
        gain = 1.0 + self.gamma(condition, training=training)
        bias = self.beta(condition, training=training)
        normalized = self.normalize(x, training=training)
        return normalized * gain[:, None, None, :] + bias[:, None, None, :]

    def compute_output_shape(self, input_shape: list) -> tuple:
        return tuple(input_shape[0])

    def get_config(self) -> dict:
        return dict(super().get_config(), spectral_norm=self.spectral_norm,
                    momentum=self.momentum, epsilon=self.epsilon)


@keras.saving.register_keras_serializable("zoo")
class LatentChunks(keras.layers.Layer):
    """z [batch, D] -> `num_chunks` consecutive slices of z, BigGAN's hierarchical latent.

    The chunks are as equal as D allows (the first D mod num_chunks chunks one wider);
    BigGAN-PyTorch instead requires D to be a multiple of the number of chunks.
    """

    def __init__(self, num_chunks: int, **kwargs):
        super().__init__(**kwargs)
        if isinstance(num_chunks, bool) or not isinstance(num_chunks, int) or num_chunks < 1:
            raise ValueError(f"num_chunks must be a positive integer, got {num_chunks!r}")
        self.num_chunks = num_chunks

    def sizes(self, dim: int) -> list[int]:
        """The widths of the chunks of a D = `dim` latent."""
        if dim < self.num_chunks:
            raise ValueError(f"a latent of {dim} values cannot be split into {self.num_chunks} "
                             f"chunks (one for G's input layer and one per block): raise "
                             f"latent_dim to at least {self.num_chunks}")
        return [dim // self.num_chunks + (i < dim % self.num_chunks)
                for i in range(self.num_chunks)]

    def build(self, input_shape: tuple) -> None:
        self.sizes(int(input_shape[-1]))

    def call(self, z):
        boundaries, start = [], 0
        for size in self.sizes(int(z.shape[-1]))[:-1]:
            start += size
            boundaries.append(start)
        return ops.split(z, boundaries, axis=-1)

    def compute_output_shape(self, input_shape: tuple) -> list:
        return [(input_shape[0], size) for size in self.sizes(int(input_shape[-1]))]

    def get_config(self) -> dict:
        return dict(super().get_config(), num_chunks=self.num_chunks)
