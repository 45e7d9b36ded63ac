"""Minibatch discrimination (Salimans et al., 2016, section 3.2).

D looks at each sample *together with the others of its minibatch*, so that a generator
collapsing onto few points is told apart by how close its samples are to each other. With
f(x_i) in R^A the features of x_i at an intermediate layer of D and a learned tensor
T in R^{A x B x C},

    M_i = f(x_i) T                      in R^{B x C}                         (the matrix M_i)
    c_b(x_i, x_j) = exp(-||M_{i,b} - M_{j,b}||_{L1})     b = 1..B           (rows of M)
    o(x_i)_b = sum_{j=1}^{n} c_b(x_i, x_j),        o(x_i) in R^B

and the next layer of D sees [f(x_i), o(x_i)]. The paper's equation sums over every j of
the minibatch, i itself included (c_b(x_i, x_i) = 1): that is `include_self=True`, the
default. The authors' released code (openai/improved-gan, `MinibatchLayer`) excludes j = i
(it adds 1e6 to the diagonal distances); `include_self=False` does that. The two differ by
exactly 1 in every o_b, which the next layer's bias absorbs.

For a minibatch of n identical samples every distance is 0, so o_b = n (n - 1 excluding
i) for every b, the largest value o can take; distinct samples give smaller values.

Scale (`normalize`, on by default): o_b lies in [1, n], so with the zoo's batches of 256
on the mixtures the closeness features are in the hundreds next to features of order 1
and swamp the next layer at its usual initialisation. `normalize=True` divides o by the
number of terms summed (n, or n - 1 without j = i): o_b in (0, 1], 1 for identical
samples. It is the same family of discriminators (the next layer's weights on o scaled
by n), only better conditioned; the authors' code has its own remedy, a data-dependent
initialisation of T and of a bias on o. Measured on ring8 (`gan`, 2,000 steps, seed 0,
`benchmarks/techniques.py`; the GAN alone: 8 of 8 modes, 81% high quality): B = 100
(the authors' code), the plain sum: 3 modes, 0.4% (D's loss stuck at 4.7); B = 100,
normalized: 8 modes, 70%; B = 10, the plain sum: 8 modes, 65%; B = 10, normalized (the
defaults): 8 modes, 85%. The cost grows as n^2 B C (the pairwise L1 distances): on 2 shared CPU
cores B = 100 made the batch-256 step ~100x as long as the GAN's, B = 10 ~12x.

D is called on real and generated minibatches separately (`zoo.models.base.GAN`), as in
the paper, so o compares samples of one kind with each other. Under a distribution
strategy the minibatch is the replica's share of the global batch.

`insert_before_head` puts the layer between D's features and its head; the run config's
`minibatch_discrimination` does it for any variant (`zoo.addons.adapt_networks`).
"""
from __future__ import annotations

from typing import Any, Mapping

import keras
import tensorflow as tf

from zoo.addons import Addon, register
from zoo.networks.mlp import compose

# B = 10 kernels of C = 5 dimensions (the authors' code: 100 of 5; see the module docstring),
# the paper's sum over every j, normalized by the number of terms.
DEFAULT_OPTIONS = dict(num_kernels=10, kernel_dim=5, include_self=True, normalize=True)


@keras.saving.register_keras_serializable("zoo")
class MinibatchDiscrimination(keras.layers.Layer):
    """[f, o(f)]: features with their minibatch closeness o appended (see the module docstring).

    Args:
      num_kernels: B, the number of closeness features o_b.
      kernel_dim: C, the dimension of each row M_{i,b} compared in L1.
      include_self: whether o(x_i) sums c_b(x_i, x_i) = 1 (the paper's equation) or not
        (the authors' code).
      kernel_stddev: the standard deviation of T's normal initialisation (0.05 as in the
        authors' code).
      normalize: divide o by the number of terms summed (n, or n - 1 without j = i), so
        that o_b lies in (0, 1] whatever the batch size (see the module docstring).
    """

    def __init__(self, num_kernels: int = 10, kernel_dim: int = 5, include_self: bool = True,
                 kernel_stddev: float = 0.05, normalize: bool = True, **kwargs):
        super().__init__(**kwargs)
        if int(num_kernels) <= 0 or int(num_kernels) != num_kernels:
            raise ValueError(f"num_kernels must be a positive int, got {num_kernels}")
        if int(kernel_dim) <= 0 or int(kernel_dim) != kernel_dim:
            raise ValueError(f"kernel_dim must be a positive int, got {kernel_dim}")
        if not isinstance(include_self, bool):
            raise ValueError(f"include_self must be true or false, got {include_self!r}")
        self.num_kernels = int(num_kernels)
        self.kernel_dim = int(kernel_dim)
        if not isinstance(normalize, bool):
            raise ValueError(f"normalize must be true or false, got {normalize!r}")
        self.include_self = include_self
        self.kernel_stddev = float(kernel_stddev)
        self.normalize = normalize

    def build(self, input_shape: tuple) -> None:
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError("minibatch discrimination needs flat features [batch, A], got "
                             f"shape {tuple(input_shape)}")
        # T in R^{A x B x C}, stored as A x (B C) so that f T is one matrix product.
        self.kernel = self.add_weight(
            shape=(int(input_shape[-1]), self.num_kernels * self.kernel_dim), name="kernel",
            initializer=keras.initializers.RandomNormal(stddev=self.kernel_stddev))

    def closeness(self, features: tf.Tensor) -> tf.Tensor:
        """o(x_i) in R^B for each row f(x_i) of `features` [n, A]: returns [n, B]."""
        m = tf.reshape(tf.matmul(features, self.kernel),
                       [-1, self.num_kernels, self.kernel_dim])            # M_i: [n, B, C]
        # ||M_{i,b} - M_{j,b}||_L1 [n, n, B], summed one of the C columns at a time: the
        # [n, n, B, C] differences at once cost ~1.7x the time (n^2 B C values).
        l1 = tf.add_n([tf.abs(m[:, None, :, c] - m[None, :, :, c])
                       for c in range(self.kernel_dim)])
        o = tf.reduce_sum(tf.exp(-l1), axis=1)                           # sum over j
        if not self.include_self:
            o = o - 1.0
        if self.normalize:
            n = tf.cast(tf.shape(features)[0], o.dtype)
            o = o / (n if self.include_self else tf.maximum(n - 1.0, 1.0))
        return o

    def call(self, features: tf.Tensor) -> tf.Tensor:
        features = tf.cast(features, self.compute_dtype)
        return tf.concat([features, self.closeness(features)], axis=-1)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], input_shape[-1] + self.num_kernels)

    def get_config(self) -> dict:
        return dict(super().get_config(), num_kernels=self.num_kernels,
                    kernel_dim=self.kernel_dim, include_self=self.include_self,
                    kernel_stddev=self.kernel_stddev, normalize=self.normalize)


def minibatch_head(head: keras.Model, **layer_options: Any) -> keras.Model:
    """head'(f) = head~([f, o(f)]): the layer before a copy of `head` widened to take
    [f, o] (fresh weights: call it on untrained networks). Keeps the name "head"."""
    if len(head.inputs) != 1:
        raise ValueError(f"D's head must take one input (the features), got {len(head.inputs)}")
    features = keras.Input(head.inputs[0].shape[1:], name="features")
    layer = MinibatchDiscrimination(**layer_options, name="minibatch_discrimination")
    widened = keras.models.clone_model(
        head, input_tensors=keras.Input(layer.compute_output_shape(features.shape)[1:]))
    return keras.Model(features, widened(layer(features)), name=head.name)


def insert_before_head(networks: Mapping[str, Any], options: Any) -> dict:
    """The networks of `build_networks` with minibatch discrimination before D's head.

    Handles a dict holding a `head` (variants that compose D themselves, such as the AAN),
    or a `discriminator` composed as head(features(x)) (`networks.mlp.compose`; the zoo's
    MLP and DCGAN discriminators) or a `keras.Sequential` (the layer goes before its last
    layer). `options`: True or a diff over `DEFAULT_OPTIONS`.
    """
    config = MinibatchDiscriminationAddon.normalize(options, None)
    networks = dict(networks)
    if "head" in networks:
        networks["head"] = minibatch_head(networks["head"], **config)
        return networks
    discriminator = networks.get("discriminator")
    if discriminator is None:
        raise ValueError("minibatch_discrimination needs a discriminator or a head among the "
                         f"variant's networks, got {sorted(networks)}")
    names = [layer.name for layer in discriminator.layers]
    if "features" in names and "head" in names:
        networks["discriminator"] = compose(
            discriminator.get_layer("features"),
            minibatch_head(discriminator.get_layer("head"), **config), name=discriminator.name)
    elif isinstance(discriminator, keras.Sequential) and len(discriminator.layers) >= 2:
        *body, last = discriminator.layers
        networks["discriminator"] = keras.Sequential(
            [keras.Input(discriminator.inputs[0].shape[1:]), *body,
             MinibatchDiscrimination(**config, name="minibatch_discrimination"),
             type(last).from_config(last.get_config())], name=discriminator.name)
    else:
        raise ValueError(
            "minibatch_discrimination needs a discriminator composed as head(features(x)) "
            f"(networks.mlp.compose) or a keras.Sequential; {discriminator.name!r} has layers "
            f"{names}")
    return networks


def _has_layer(model: Any) -> bool:
    if not isinstance(model, keras.Model):
        return False
    return any(layer.name == "minibatch_discrimination" or _has_layer(layer)
               for layer in model.layers)


@register
class MinibatchDiscriminationAddon(Addon):
    """Run-config key `minibatch_discrimination` (true or a diff over `DEFAULT_OPTIONS`):
    the layer inserted before D's head when the networks are built."""

    key = "minibatch_discrimination"
    DEFAULT_OPTIONS = DEFAULT_OPTIONS

    @classmethod
    def adapt_networks(cls, options: Any, networks: dict) -> dict:
        if any(_has_layer(networks.get(k)) for k in ("head", "discriminator")):
            return networks
        return insert_before_head(networks, options)
