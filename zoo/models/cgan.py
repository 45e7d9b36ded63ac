"""Conditional GAN (Mirza & Osindero, 2014): G and D both see the class label y.

Eq. (2) of the paper, the GAN game with every term conditioned on y:

    min_G max_D  E_{x ~ p_data}[log D(x | y)] + E_{z ~ p_z}[log(1 - D(G(z | y)))].

y enters G as a learned embedding concatenated to z and D as an embedding concatenated to x
(points) or as a label-map channel (images); see `zoo.networks.conditional`. Training takes
(samples, labels) batches (`conditional = True`: the trainer loads `with_labels=True`; for
the mixtures the label is the index of the mode). Each step's fakes are drawn for the real
batch's labels, so y ~ p_data(y) on both sides of D and no label is drawn at random in
training. At inference `generate(n, seed, labels)` draws the samples of given labels (by
default labels uniform over the classes, drawn from the seed), and the exported `sample`
signature takes `labels` (int32 [batch]) beside `seed`.

Measured with the defaults (`zoo.trainer.train`, 5,000 steps, seeds 0, 1, 2; PacGAN
protocol on 2,500 samples with labels drawn uniformly; modes covered, high-quality fraction):

    ring8    8, 8, 8 of 8      99.96, 100.0, 99.88%   (G itself: 94.4, 100.0, 91.6%)
    grid25   25, 25, 25 of 25  92.8, 96.2, 93.3%      (G itself: 24, 25, 24; 91.4, 98.6, 80.9%)

(the mixtures' default samples from an EMA of G; see `CGAN.Config`).

After 600 steps on ring8 every sample of label k is already nearest mode k.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo import networks
from zoo.config import RunConfig, at_least, param, positive
from zoo.models.base import GAN
from zoo.models.registry import MODELS
from zoo.networks import conditional


def _label_seed(seed: tf.Tensor) -> tf.Tensor:
    """The seed of the label draw beside the noise drawn from `seed` ([2] int64)."""
    return tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), 1)


@MODELS.register("cgan")
class CGAN(GAN):
    """G(z, y) and D(x, y) for labels y in {0, ..., num_classes - 1}.

    Args:
      generator: a model from [z, labels] to samples (`networks.conditional.generator`).
      discriminator: a model from [samples, labels] to one logit
        (`networks.conditional.discriminator`).
      latent_dim: the size of z.
      num_classes: the number of labels.
      (the rest as `GAN`.)
    """

    conditional = True
    sample_extras = {"labels": tf.TensorSpec([None], tf.int32, name="labels")}

    capabilities = GAN.capabilities - {"single_input_discriminator"}

    @dataclasses.dataclass(frozen=True)
    class Config(GAN.Config):
        """The GAN's networks and schedule; a label embedding of 8 values (points), or of 50
        values into G and one label-map channel into D (images).

        On the mixtures samples come from an EMA of G (decay 0.999): with it ring8 gives
        8, 8, 8 modes at 99.9% high quality, reverse KL 0.001 and grid25 25, 25, 25 at 94.1%,
        0.016 (seeds 0-2, 5,000 steps), against 8, 8, 8 at 95.3%, 0.020 and 24, 25, 24 at
        90.3%, 0.056 from G itself (benchmarks/RESULTS.md). The same EMA did not help the
        unconditional gan (8, 8, 6 modes on ring8) or lsgan (91.7% against 96.0%). (The
        EMA is the mixtures' default add-on.)"""

        num_classes: int | None = param(None, check=at_least(2), doc="the dataset's by default")
        label_embedding: int | None = param(8, image=50, check=positive, section="network")
        label_channels: int | None = param(None, image=1, only="image", check=positive,
                                           section="network")
        kind_addons = {"mixture": {"generator_ema": 0.999}}

    def __init__(self, generator: keras.Model, discriminator: keras.Model, **kwargs: Any):
        for network in (generator, discriminator):
            if len(network.inputs) != 2:
                raise ValueError(f"the cgan {network.name} must take [inputs, labels] "
                                 f"(zoo.networks.conditional), got {len(network.inputs)} inputs")
        super().__init__(generator, discriminator, **kwargs)
        if self.config.num_classes is None:
            raise ValueError("num_classes must be an int >= 2, got None")

    @classmethod
    def dataset_defaults(cls, info: Any) -> dict:
        """The dataset's classes."""
        return dict(num_classes=cls.dataset_classes(info))

    @classmethod
    def dataset_classes(cls, info: Any) -> int:
        """The number of classes of the dataset `info` describes; a ValueError without labels."""
        if not info.num_classes:
            raise ValueError(f"{cls.__name__.lower()} needs a dataset with class labels; "
                             f"{info.name!r} has none")
        return int(info.num_classes)

    @classmethod
    def build_networks(cls, info: Any, config: RunConfig) -> dict:
        """The GAN's MLPs or DCGAN nets as bodies, one embedding wider, in conditional
        wrappers (`zoo.networks.conditional`)."""
        latent, classes = config["latent_dim"], config["num_classes"]
        width = config["label_embedding"]
        if info.kind == "mixture":
            dim = int(np.prod(info.shape))
            g_body = networks.mlp.generator(latent + width, dim, config["generator_hidden"],
                                            name="generator_body")
            d_body = networks.mlp.discriminator(dim + width, config["discriminator_hidden"],
                                                name="discriminator_body")
        else:
            size, _, channels = info.shape
            g_body = networks.dcgan.generator(latent + width, size, channels, config["width"],
                                              name="generator_body")
            d_body = networks.dcgan.discriminator(size, channels + config["label_channels"],
                                                  config["width"], name="discriminator_body")
        return dict(generator=conditional.generator(g_body, latent, classes),
                    discriminator=conditional.discriminator(d_body, info.shape, classes))

    # ------------------------------------------------------------- the labels
    def conditioned_inputs(self, z: Any, labels: Any) -> tuple[Any, Any]:
        """G's inputs [z, y] and D's condition y: the fakes take the batch's labels."""
        if labels is None:
            raise ValueError("cgan trains on (samples, labels) batches: load the data with "
                             "zoo.data.load(..., with_labels=True)")
        labels = tf.cast(labels, tf.int32)
        return [z, labels], labels

    def discriminate(self, samples: tf.Tensor, condition: Any, training: bool = True) -> Any:
        """D(x | y)."""
        return self.discriminator([samples, tf.cast(condition, tf.int32)], training=training)

    def generation_labels(self, labels: Any, num_samples: int, seed: tf.Tensor) -> tf.Tensor:
        """The given labels, checked, or labels uniform over the classes drawn from `seed`."""
        if labels is None:
            return tf.random.stateless_uniform([num_samples], _label_seed(seed), minval=0,
                                               maxval=self.num_classes, dtype=tf.int32)
        values = np.asarray(labels)
        if values.shape != (num_samples,) or not np.issubdtype(values.dtype, np.integer):
            raise ValueError(f"labels must be {num_samples} ints (one per sample), got "
                             f"{values.dtype} of shape {values.shape}")
        if values.size and (values.min() < 0 or values.max() >= self.num_classes):
            raise ValueError(f"labels must be in [0, {self.num_classes}), got values from "
                             f"{values.min()} to {values.max()}")
        return tf.constant(values, tf.int32)

    def generator_inputs_from_seeds(self, seeds: tf.Tensor,
                                    labels: tf.Tensor | None = None) -> list:
        """Row i: [z drawn from seeds[i], labels[i]]; without labels, each row's label is
        drawn from its seed too. Labels outside [0, num_classes) fail an assertion."""
        z = super().generator_inputs_from_seeds(seeds)
        if labels is None:
            labels = tf.map_fn(
                lambda s: tf.random.stateless_uniform(
                    [], _label_seed(tf.stack([s, tf.zeros_like(s)])), minval=0,
                    maxval=self.num_classes, dtype=tf.int32),
                tf.cast(seeds, tf.int64), fn_output_signature=tf.int32)
        labels = tf.cast(labels, tf.int32)
        checks = [tf.debugging.assert_non_negative(labels, message="labels must be >= 0"),
                  tf.debugging.assert_less(
                      labels, self.num_classes,
                      message=f"labels must be < num_classes = {self.num_classes}")]
        # In a graph, the embedding lookup would otherwise race the checks and may fail
        # first, with TF's "indices[0] = 8 is not in [0, 8)" instead of the message.
        with tf.control_dependencies(checks):
            labels = tf.identity(labels)
        return [z, labels]
