"""Spectral normalization (Miyato et al., ICLR 2018) as a Keras layer wrapper.

In the paper's orientation, a layer's weight W is a [units, fan_in] matrix (Keras stores
its transpose, the kernel reshaped to [fan_in, units]; both have the same singular values).
The layer computes with

    W_SN(W) = W / sigma(W),   sigma(W) = max_{h != 0} ||W h||_2 / ||h||_2,            eq. (8)

sigma(W) the largest singular value, estimated by power iteration from a persistent vector
u in R^units (Appendix A, Algorithm 1; one iteration per training call, as in the paper):

    v <- W^T u / ||W^T u||_2,   u <- W v / ||W v||_2,   sigma(W) ~= u^T W v.

u and v are held constant when differentiating, so for a loss V the weight receives

    dV/dW = (1 / sigma(W)) (dV/dW_SN - lambda u1 v1^T),  lambda = <dV/dW_SN, W_SN>,  eq. (12)

(with dV/dW_SN = E[delta h^T]): the reparametrisation's gradient, whose second term
penalises the first singular direction.

`SpectralNormalization` is `keras.layers.SpectralNormalization` (its build, power iteration,
non-trainable `vector_u` weight and config) with one change, in `call`. The Keras layer
assigns W / sigma to the wrapped layer's kernel variable on every training call, then runs
the layer on that variable: a projection after each step, whose gradient is dV/dW_SN alone,
without eq. (12)'s second term (and D's trainable weights are rewritten during G's update,
too). Here the kernel variable keeps the unnormalised W; W_SN is a tensor computed in the
forward pass and stands in for the variable while the wrapped layer runs
(`keras.StatelessScope`), so the gradient flows through sigma(W). Training calls store the
new u (a weight: it persists across steps and is checkpointed with the model's weights);
inference calls use it without storing it (one further, deterministic iteration).

For a convolution, sigma is that of the [k_h * k_w * c_in, c_out] matrix, as in the paper,
not the operator norm of the convolution itself.
"""
from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable("zoo")
class SpectralNormalization(keras.layers.SpectralNormalization):
    """Wraps a layer with a `kernel` (Dense, Conv2D, ...) so that it computes with W / sigma(W).

    Args:
      layer: the layer to normalise.
      power_iterations: power iterations per call (the paper: 1).
    """

    def call(self, inputs, training: bool = False):
        vector_u, kernel = self.normalized_weights()
        if training:
            self.vector_u.assign(vector_u)
        with keras.StatelessScope(state_mapping=[(self.kernel, kernel)]):
            output = self.layer(inputs)
        return ops.cast(output, inputs.dtype)

    def normalized_kernel(self):
        """W / sigma(W) at the stored u (as an inference call computes it), the kernel's shape."""
        return self.normalized_weights()[1]


def maybe_normalize(layer: keras.layers.Layer, spectral_norm: bool) -> keras.layers.Layer:
    """`layer` wrapped in `SpectralNormalization` when `spectral_norm`, else `layer` itself."""
    return SpectralNormalization(layer) if spectral_norm else layer
