"""StyleGAN's style-based generator (Karras, Laine & Aila, CVPR 2019), for square images.

G = synthesis(truncation(mixing(mapping(z), mapping(z_mix)), psi), noise):

- `mapping` f: z -> w, z normalized first (pixel norm, `PixelNorm`), then 8 fully connected
  LeakyReLU(0.2) layers (section 2) whose learning rate is multiplied by 0.01 (appendix C);
- `StyleMixing`: each of the synthesis' style layers gets w or w_mix, switching to w_mix from
  layer `mix_from` on (section 3.1; `mix_from` = the number of layers: no mixing);
- `Truncation`: w' = w_avg + psi (w - w_avg) (section 3.1, eq. 3) with w_avg a moving average
  of w tracked during training (a non-trainable weight of the layer, saved with G);
- `synthesis` g: a learned 4x4 constant, then per resolution (4, 8, ..., image_size) two
  3x3 convolutions (the first after a nearest-neighbour 2x upsampling, except at 4x4, where
  the constant takes the first one's place), each followed by a noise input scaled per channel
  (`NoiseInjection`, scales initialised at 0), LeakyReLU(0.2) and AdaIN (`AdaIN`, eq. 1)
  with styles y = A(w) from a learned affine map (`StyleAffine`, y_s initialised around 1);
  a 1x1 convolution to the image channels and tanh (the zoo's images lie in [-1, 1]).

Every layer of G is an equalized-learning-rate layer (`EqualizedDense`, `EqualizedConv2D`;
Karras et al. 2018, section 4.1): weights drawn from N(0, 1 / lr_multiplier) and scaled at
run time by lr_multiplier * gain / sqrt(fan_in), so that Adam's steps on them are
lr_multiplier times smaller relative to their scale. Left out, as not needed at 32x32 on the
zoo's budget: progressive growing (StyleGAN2 also trains without it), the blur after
upsampling (section 2's bilinear filtering), and the truncation cutoff (all layers truncated).
"""
from __future__ import annotations

import math
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from zoo.networks.dcgan import stages_for

BASE_SIZE = 4
LEAKY_SLOPE = 0.2
ADAIN_EPSILON = 1e-8


def adain(x: tf.Tensor, y_scale: tf.Tensor, y_bias: tf.Tensor,
          epsilon: float = ADAIN_EPSILON) -> tf.Tensor:
    """Eq. (1): AdaIN(x_i, y) = y_s,i (x_i - mu(x_i)) / sigma(x_i) + y_b,i.

    x: [batch, H, W, C] feature maps; mu and sigma are each map's mean and standard
    deviation over its H x W positions (sigma = sqrt(var + epsilon)); y_scale, y_bias:
    [batch, C]. Each output map has mean y_b,i and standard deviation |y_s,i|.
    """
    mean, variance = tf.nn.moments(x, axes=[1, 2], keepdims=True)
    normalized = (x - mean) * tf.math.rsqrt(variance + epsilon)
    return y_scale[:, None, None, :] * normalized + y_bias[:, None, None, :]


@keras.saving.register_keras_serializable("zoo")
class PixelNorm(layers.Layer):
    """Karras et al. (2018), section 4.2: x / sqrt(mean_j x_j^2 + 1e-8) over the last axis."""

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return x * tf.math.rsqrt(tf.reduce_mean(tf.square(x), axis=-1, keepdims=True) + 1e-8)


@keras.saving.register_keras_serializable("zoo")
class EqualizedDense(layers.Layer):
    """y = x (c W) + lr_multiplier b with c = lr_multiplier * gain / sqrt(fan_in).

    W ~ N(0, 1 / lr_multiplier^2) and b = 0 at initialisation, so the run-time weights c W
    have He's scale gain / sqrt(fan_in) whatever the multiplier (module docstring).
    """

    def __init__(self, units: int, gain: float = math.sqrt(2.0), lr_multiplier: float = 1.0,
                 **kwargs):
        super().__init__(**kwargs)
        if not float(lr_multiplier) > 0:
            raise ValueError(f"lr_multiplier must be positive, got {lr_multiplier}")
        self.units = int(units)
        self.gain = float(gain)
        self.lr_multiplier = float(lr_multiplier)

    def build(self, input_shape: tuple) -> None:
        fan_in = int(input_shape[-1])
        self.scale = self.lr_multiplier * self.gain / math.sqrt(fan_in)
        self.kernel = self.add_weight(
            shape=(fan_in, self.units), name="kernel",
            initializer=keras.initializers.RandomNormal(stddev=1.0 / self.lr_multiplier))
        self.bias = self.add_weight(shape=(self.units,), name="bias",
                                    initializer=self.bias_initializer())

    def bias_initializer(self) -> keras.initializers.Initializer:
        return keras.initializers.Zeros()

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return tf.matmul(x, self.kernel * self.scale) + self.bias * self.lr_multiplier

    def get_config(self) -> dict:
        return dict(super().get_config(), units=self.units, gain=self.gain,
                    lr_multiplier=self.lr_multiplier)


@keras.saving.register_keras_serializable("zoo")
class StyleAffine(EqualizedDense):
    """A: w -> y = (y_s, y_b), [batch, 2C], for the AdaIN of a C-channel layer.

    Gain 1; the bias of y_s starts at 1 and that of y_b at 0, so that every style starts
    around the identity scaling (y_s ~ 1 + N(0, 1) . w / sqrt(dim w)).
    """

    def __init__(self, channels: int, **kwargs):
        kwargs.pop("units", None)
        kwargs.setdefault("gain", 1.0)
        super().__init__(2 * int(channels), **kwargs)
        self.channels = int(channels)

    def bias_initializer(self) -> keras.initializers.Initializer:
        return keras.initializers.Constant(np.concatenate(
            [np.ones(self.channels), np.zeros(self.channels)]).astype(np.float32))

    def get_config(self) -> dict:
        config = super().get_config()
        del config["units"]
        return dict(config, channels=self.channels)


@keras.saving.register_keras_serializable("zoo")
class EqualizedConv2D(layers.Layer):
    """A stride-1, same-padded convolution with the equalized learning rate (`EqualizedDense`)."""

    def __init__(self, filters: int, kernel_size: int = 3, gain: float = math.sqrt(2.0),
                 **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.gain = float(gain)

    def build(self, input_shape: tuple) -> None:
        channels = int(input_shape[-1])
        self.scale = self.gain / math.sqrt(channels * self.kernel_size ** 2)
        self.kernel = self.add_weight(
            shape=(self.kernel_size, self.kernel_size, channels, self.filters), name="kernel",
            initializer=keras.initializers.RandomNormal(stddev=1.0))
        self.bias = self.add_weight(shape=(self.filters,), name="bias", initializer="zeros")

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return tf.nn.conv2d(x, self.kernel * self.scale, 1, "SAME") + self.bias

    def get_config(self) -> dict:
        return dict(super().get_config(), filters=self.filters, kernel_size=self.kernel_size,
                    gain=self.gain)


@keras.saving.register_keras_serializable("zoo")
class ConstantInput(layers.Layer):
    """The synthesis' learned 4x4xC input (initialised N(0, 1)), repeated over the batch of
    the tensor it is called on."""

    def __init__(self, size: int, channels: int, **kwargs):
        super().__init__(**kwargs)
        self.size = int(size)
        self.channels = int(channels)

    def build(self, input_shape: tuple) -> None:
        self.constant = self.add_weight(shape=(1, self.size, self.size, self.channels),
                                        name="constant", initializer="random_normal")

    def call(self, like: tf.Tensor) -> tf.Tensor:
        return tf.tile(self.constant, [tf.shape(like)[0], 1, 1, 1])

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], self.size, self.size, self.channels)

    def get_config(self) -> dict:
        return dict(super().get_config(), size=self.size, channels=self.channels)


@keras.saving.register_keras_serializable("zoo")
class NoiseInjection(layers.Layer):
    """Section 2, "B": x + b_c * noise, one noise image [batch, H, W, 1] per layer broadcast to
    the C channels with learned per-channel scales b (initialised at 0)."""

    def build(self, input_shape: list) -> None:
        self.strength = self.add_weight(shape=(int(input_shape[0][-1]),), name="strength",
                                        initializer="zeros")

    def call(self, inputs: list) -> tf.Tensor:
        x, noise = inputs
        return x + self.strength * noise

    def compute_output_shape(self, input_shape: list) -> tuple:
        return input_shape[0]


@keras.saving.register_keras_serializable("zoo")
class AdaIN(layers.Layer):
    """[x, y] -> `adain(x, y_s, y_b)` with y = concat(y_s, y_b), [batch, 2C] (eq. 1)."""

    def call(self, inputs: list) -> tf.Tensor:
        x, style = inputs
        y_scale, y_bias = tf.split(style, 2, axis=-1)
        return adain(x, y_scale, y_bias)

    def compute_output_shape(self, input_shape: list) -> tuple:
        return input_shape[0]


@keras.saving.register_keras_serializable("zoo")
class StyleMixing(layers.Layer):
    """Section 3.1: [w, w_mix [batch, D], mix_from [batch]] -> ws [batch, L, D] with
    ws[:, i] = w for i < mix_from and w_mix from layer mix_from on."""

    def __init__(self, num_layers: int, **kwargs):
        super().__init__(**kwargs)
        self.num_layers = int(num_layers)

    def call(self, inputs: list) -> tf.Tensor:
        w, w_mix, mix_from = inputs
        first = tf.range(self.num_layers)[None, :] < tf.cast(mix_from, tf.int32)[:, None]
        return tf.where(first[:, :, None], w[:, None, :], w_mix[:, None, :])

    def compute_output_shape(self, input_shape: list) -> tuple:
        return (input_shape[0][0], self.num_layers, input_shape[0][-1])

    def get_config(self) -> dict:
        return dict(super().get_config(), num_layers=self.num_layers)


@keras.saving.register_keras_serializable("zoo")
class Truncation(layers.Layer):
    """Eq. (3): [ws [batch, L, D], psi [batch]] -> w_avg + psi (ws - w_avg).

    `w_avg` [D] is a non-trainable weight: the moving average of w that `track` updates
    (mean aggregation across replicas); psi = 1 leaves ws unchanged, psi = 0 maps every w
    to w_avg.
    """

    def build(self, input_shape: list) -> None:
        self.w_avg = self.add_weight(shape=(int(input_shape[0][-1]),), name="w_avg",
                                     initializer="zeros", trainable=False, aggregation="mean")

    def call(self, inputs: list) -> tf.Tensor:
        ws, psi = inputs
        return self.w_avg + tf.cast(psi, ws.dtype)[:, None, None] * (ws - self.w_avg)

    def track(self, w: tf.Tensor, decay: float) -> None:
        """w_avg <- decay w_avg + (1 - decay) mean(w over the batch) (section 3.1)."""
        batch_mean = tf.reduce_mean(w, axis=0)
        self.w_avg.assign(batch_mean + decay * (self.w_avg - batch_mean))

    def compute_output_shape(self, input_shape: list) -> tuple:
        return input_shape[0]


def widths_for(image_size: int, width: int, max_width: int) -> list[int]:
    """Channels per resolution 4, 8, ..., image_size: min(max_width, width * image_size / r)."""
    return [min(int(max_width), int(width) * image_size // (BASE_SIZE * 2 ** i))
            for i in range(num_resolutions(image_size))]


def num_resolutions(image_size: int) -> int:
    """log2(image_size / 4) + 1, the number of synthesis blocks; ValueError unless 4 * 2**k."""
    base, stages = stages_for(image_size) if image_size > BASE_SIZE else (image_size, 0)
    if base != BASE_SIZE:
        raise ValueError(f"stylegan's synthesis grows a {BASE_SIZE}x{BASE_SIZE} constant by 2x "
                         f"steps: image_size must be {BASE_SIZE} * 2**k (e.g. 32), "
                         f"got {image_size}")
    return stages + 1


def num_style_layers(image_size: int) -> int:
    """Two AdaIN layers per resolution: 8 at 32x32."""
    return 2 * num_resolutions(image_size)


def mapping(latent_dim: int, w_dim: int, depth: int = 8, lr_multiplier: float = 0.01,
            name: str = "mapping") -> keras.Model:
    """f: z -> w, pixel norm then `depth` EqualizedDense(w_dim) + LeakyReLU(0.2) layers."""
    if int(depth) < 1:
        raise ValueError(f"mapping depth must be a positive int, got {depth}")
    z = keras.Input((int(latent_dim),), name="z")
    h = PixelNorm(name="normalize_z")(z)
    for i in range(int(depth)):
        h = EqualizedDense(int(w_dim), lr_multiplier=lr_multiplier, name=f"fc{i}")(h)
        h = layers.LeakyReLU(LEAKY_SLOPE)(h)
    return keras.Model(z, h, name=name)


def noise_input_names(image_size: int) -> list[str]:
    return [f"noise{i}" for i in range(num_style_layers(image_size))]


def synthesis(w_dim: int, image_size: int = 32, channels: int = 1,
              widths: Sequence[int] | None = None, name: str = "synthesis") -> keras.Model:
    """g: [ws [batch, L, w_dim], noise0..noise{L-1} [batch, r, r, 1]] -> images in [-1, 1].

    `widths`: channels per resolution 4, 8, ..., image_size (default `widths_for(size, 32, 128)`).
    """
    resolutions = num_resolutions(image_size)
    widths = list(widths or widths_for(image_size, 32, 128))
    if len(widths) != resolutions:
        raise ValueError(f"widths needs one entry per resolution 4..{image_size} "
                         f"({resolutions}), got {widths}")
    num_layers = num_style_layers(image_size)
    ws = keras.Input((num_layers, int(w_dim)), name="ws")
    noises = [keras.Input((BASE_SIZE * 2 ** (i // 2),) * 2 + (1,), name=noise_name)
              for i, noise_name in enumerate(noise_input_names(image_size))]

    def epilogue(h: tf.Tensor, layer: int) -> tf.Tensor:
        h = NoiseInjection(name=f"noise_strength{layer}")([h, noises[layer]])
        h = layers.LeakyReLU(LEAKY_SLOPE)(h)
        style = StyleAffine(int(h.shape[-1]), name=f"style{layer}")(ws[:, layer])
        return AdaIN(name=f"adain{layer}")([h, style])

    h = ConstantInput(BASE_SIZE, widths[0], name="constant")(ws)
    for block, width in enumerate(widths):
        if block > 0:
            h = layers.UpSampling2D(2, interpolation="nearest")(h)
            h = EqualizedConv2D(width, 3, name=f"conv{2 * block}")(h)
        h = epilogue(h, 2 * block)
        h = EqualizedConv2D(width, 3, name=f"conv{2 * block + 1}")(h)
        h = epilogue(h, 2 * block + 1)
    rgb = EqualizedConv2D(int(channels), 1, gain=1.0, name="to_image")(h)
    images = layers.Activation("tanh", name="image")(rgb)
    return keras.Model([ws] + noises, images, name=name)


def generator(latent_dim: int = 128, w_dim: int = 128, image_size: int = 32, channels: int = 1,
              widths: Sequence[int] | None = None, mapping_depth: int = 8,
              mapping_lr_multiplier: float = 0.01, name: str = "generator") -> keras.Model:
    """[z, z_mix, mix_from, psi, noise0, ...] -> images (the module docstring's G).

    z, z_mix: [batch, latent_dim]; mix_from: int32 [batch], the first style layer that takes
    w(z_mix) (the number of style layers: none); psi: float32 [batch], the truncation;
    noise_i: [batch, r_i, r_i, 1]. Nested models `mapping` and `synthesis` and the layer
    `truncation` (which holds w_avg) are reachable by `get_layer`.
    """
    num_layers = num_style_layers(image_size)
    map_net = mapping(latent_dim, w_dim, mapping_depth, mapping_lr_multiplier)
    synth = synthesis(w_dim, image_size, channels, widths)
    z = keras.Input((int(latent_dim),), name="z")
    z_mix = keras.Input((int(latent_dim),), name="z_mix")
    mix_from = keras.Input((), dtype="int32", name="mix_from")
    psi = keras.Input((), name="psi")
    noises = [keras.Input(tuple(t.shape[1:]), name=t.name) for t in synth.inputs[1:]]
    ws = StyleMixing(num_layers, name="style_mixing")([map_net(z), map_net(z_mix), mix_from])
    ws = Truncation(name="truncation")([ws, psi])
    images = synth([ws] + noises)
    return keras.Model([z, z_mix, mix_from, psi] + noises, images, name=name)
