"""The self-attention layer of SAGAN (Zhang et al., ICML 2019, Section 3).

For a feature map x with C channels at N = H * W positions x_1..x_N, three 1x1 convolutions
f(x) = W_f x, g(x) = W_g x, h(x) = W_h x map to C' = C / 8 channels, and

    s_ij = f(x_i)^T g(x_j),   beta_{j,i} = exp(s_ij) / sum_{i=1}^N exp(s_ij),        eq. (1)

the attention position j pays to position i (row j of the map is a softmax over all
positions i, so it sums to 1);

    o_j = v( sum_{i=1}^N beta_{j,i} h(x_i) ),   v(x) = W_v x,                         eq. (2)

a last 1x1 convolution v back to C channels; and the layer's output

    y_i = gamma * o_i + x_i,                                                          eq. (3)

with a learnable scalar gamma initialised at 0: the layer starts as the identity and learns
how much non-local evidence to add. As in the paper, the four convolutions have no bias and
are spectrally normalised in both G and D (`spectral_norm`).
"""
from __future__ import annotations

import keras
from keras import layers, ops

from zoo.networks.spectral import maybe_normalize

KEY_REDUCTION = 8


@keras.saving.register_keras_serializable("zoo")
class SelfAttention(keras.layers.Layer):
    """y = gamma * o + x over a [batch, H, W, C] feature map (module docstring).

    Args:
      key_reduction: C' = max(1, C // key_reduction) channels for f, g and h (the paper: 8).
      spectral_norm: spectrally normalise f, g, h and v (`zoo.networks.spectral`).
    """

    def __init__(self, key_reduction: int = KEY_REDUCTION, spectral_norm: bool = True,
                 **kwargs):
        super().__init__(**kwargs)
        if isinstance(key_reduction, bool) or not isinstance(key_reduction, int) \
                or key_reduction <= 0:
            raise ValueError(f"key_reduction must be a positive integer, got {key_reduction!r}")
        self.key_reduction = key_reduction
        self.spectral_norm = bool(spectral_norm)

    def build(self, input_shape) -> None:
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(f"SelfAttention takes [batch, H, W, C] feature maps with a known C, "
                             f"got {input_shape}")
        channels = int(input_shape[-1])
        self.key_channels = max(1, channels // self.key_reduction)
        spatial = tuple(input_shape[:-1])

        def conv(units: int, in_channels: int, name: str) -> keras.layers.Layer:
            layer = maybe_normalize(layers.Conv2D(units, 1, use_bias=False, name=name),
                                    self.spectral_norm)
            layer.build(spatial + (in_channels,))
            return layer

        self.f = conv(self.key_channels, channels, "f")
        self.g = conv(self.key_channels, channels, "g")
        self.h = conv(self.key_channels, channels, "h")
        self.v = conv(channels, self.key_channels, "v")
        self.gamma = self.add_weight(shape=(), initializer="zeros", name="gamma")

    def attention_map(self, x, training: bool = False):
        """beta [batch, N, N], row j the softmax over positions i of s_ij, eq. (1)."""
        batch = ops.shape(x)[0]
        fx = ops.reshape(self.f(x, training=training), (batch, -1, self.key_channels))
        gx = ops.reshape(self.g(x, training=training), (batch, -1, self.key_channels))
        scores = ops.matmul(gx, ops.transpose(fx, (0, 2, 1)))  # [b, j, i] = f(x_i).g(x_j)
        return ops.softmax(scores, axis=-1)

    def call(self, x, training: bool = False):
        """y = gamma * v(beta h(x)) + x, eqs. (2)-(3)."""
        beta = self.attention_map(x, training=training)
        batch, height, width = ops.shape(x)[0], x.shape[1], x.shape[2]
        hx = ops.reshape(self.h(x, training=training), (batch, -1, self.key_channels))
        attended = ops.reshape(ops.matmul(beta, hx),  # [b, j, :] = sum_i beta_ji h(x_i)
                               (batch, height, width, self.key_channels))
        return self.gamma * self.v(attended, training=training) + x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return dict(super().get_config(), key_reduction=self.key_reduction,
                    spectral_norm=self.spectral_norm)
