"""Associative Adversarial Networks (Arici & Celikyilmaz, 2016).

The discriminator is split, D(x) = C(F(x)), where F ends in a tanh layer f = F(x)
in (-1, 1)^n. An associative memory, a binary RBM with spin units (`zoo.rbm.RBM`),
learns the distribution p_f of f on real data by contrastive divergence; F is not
trained by the RBM's loss. The generator decodes samples of the memory instead of
noise, and the adversarial game, eq. (1) of the paper, becomes

    min_G max_D  E_{x ~ p_data}[log D(x)] + E_{f ~ p_rbm}[log(1 - D(G(f)))].

In training, G's inputs are negative samples of the RBM's chains: CD-k chains started
at the (binarized) features of the real batch and, with persistent CD, a fraction
`fantasy_fraction` of fantasy particles continuing the persistent chains. At inference,
chains start from random spins (or from the features of given images) and run a number
of Gibbs sweeps before G decodes.

Defaults, as measured on ring8 (2,500 samples, PacGAN protocol; seeds 0-4):
- the binary RBM sees sign(f), the spin state of the tanh layer. Read as expected
  spins, D's features on the mixtures are small (mean |f| ~ 0.14), the RBM learns
  its biases only (mean |W| ~ 0.003) and its samples carry no mode: 5-6 of 8 modes.
- with CD-2 alone, G learns to decode the codes of every mode (7-8 of 8 modes) but
  not the states that chains from random spins reach (17-50% high quality); with
  PCD and all of G's inputs fantasy particles, 75-80% on only 5 modes.
- with PCD and a quarter of G's inputs fantasy particles, G is also trained on what
  inference draws. With the paper's RBM of 100 units that gave 6-7 modes at 43-96%
  (5,000 steps, 5 seeds). The mixtures' default memory has 16 units (and 16
  hidden), trains 8,000 steps, and samples after 1,000 Gibbs sweeps from random
  spins (100 sweeps left one seed's chains unmixed: 76% high quality, 96% after
  1,000): with Adam(1e-3) and oneDNN on, seeds 0-4 cover 8, 8, 8, 8, 7 of 8 modes at
  98.4, 97.7, 99.5, 97.7, 96.0% high quality. Image models keep the paper's 100 units
  (1000 the other setting) and 100 sweeps.
- robustness to round-off (oneDNN on / off: other round-off, as another CPU gives): with
  Adam(1e-3) and no EMA, 3 of 10 runs (seeds 0-4) fell short, one to 0 modes; G failing to
  converge, not the chains. The mixtures' defaults are Adam(5e-4) and sampling from an EMA
  (0.99) of G's weights. Every run and the ablations: benchmarks/AAN_ROBUSTNESS.md.
- on grid25 (modes 2 apart, out to +-4) these defaults collapse (0-2 of 25 modes, under
  1% high quality, seeds 0-2): D's tanh layer saturates (mean |f| 0.98 on real data) and
  sign(f) gives 12 distinct codes for the 25 modes, so D = C(F(x)) sees little more than
  the code and G only has to land in the right sign cell. `feature_normalization="layer"`
  (layer-normalized pre-activations) keeps the layer responsive: grid25 16, 19, 23 modes
  at 53, 47, 74% high quality, but ring8 drops to 8, 5, 5 modes (98, 99, 80%), G mapping
  the 8 distinct codes onto 5 modes. It stays off by default; benchmarks/RESULTS.md has
  both rows.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo import networks, rbm as rbm_lib
from zoo.config import RunConfig, in_range, one_of, param, positive
from zoo.models.base import GAN
from zoo.randomness import SEED_EXTRA
from zoo.models.registry import MODELS

DEFAULT_GIBBS_STEPS = 100
BINARIZATIONS = ("sign", "mean")


def convergence_ratio(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> tf.Tensor:
    """The paper's convergence monitor (Fig. 2): E[log D(x)] / E[log D(G(f))].

    log D = -softplus(-logit). The ratio tends to 1 as D can no longer tell G's
    samples from the data.
    """
    log_d_real = -tf.reduce_mean(tf.nn.softplus(-real_logits))
    log_d_fake = -tf.reduce_mean(tf.nn.softplus(-fake_logits))
    return log_d_real / log_d_fake


def _split(seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    pair = tf.random.experimental.stateless_split(seed, num=2)
    return pair[0], pair[1]


@MODELS.register("aan")
class AAN(GAN):
    """G decodes samples of an RBM that learns D's tanh features of real data.

    Args:
      generator: a model from RBM visible states (spins, width n) to samples.
      features: F, from samples to the tanh feature layer of width n.
      head: C, from the n features to one logit.
      rbm: the associative memory (`zoo.rbm.RBM` with n visible units); by default
        one with n hidden units and CD-2.
      gibbs_steps: Gibbs sweeps from random spins when sampling for inference.
      feature_binarization: how the binary RBM sees the tanh features: "sign", the
        spin state sign(f) of the layer, or "mean", f itself as expected spins.
      fantasy_fraction: the share of G's training inputs taken from the persistent
        chains (needs an RBM with `persistent=True`); the rest are CD-k chains
        started at the real features.
    """

    metric_names = ("d_loss", "g_loss", "rbm_loss", "convergence_ratio")
    sample_extras = {"gibbs_steps": tf.TensorSpec([None], tf.int32, name="gibbs_steps")}

    network_names = ("generator", "features", "head", "rbm")

    @dataclasses.dataclass(frozen=True)
    class Config(GAN.Config):
        """Paper settings: RBM of 100 units (1000 the other option), k=2, SGD(1e-3, 0.8);
        for the mixtures Adam(5e-4) and sampling from an EMA (0.99) of G's weights (the
        module docstring's robustness measurements);
        persistent chains and a quarter of G's inputs fantasy particles; a 16-unit memory
        for the low-dimensional mixtures (see the module docstring). Images: width 32 and a
        head of [256] below 64x64, 64 and [500, 500] from 64x64 (`dataset_defaults`).
        (`latent_dim` is the feature layer's width, `feature_units`.)"""

        feature_units: int = param(16, image=100, check=positive, section="network")
        rbm_hidden: int = param(16, image=100, check=positive, section="network")
        cd_steps: int = param(2, check=positive)
        persistent: bool = True
        feature_hidden: tuple[int, ...] = param((128, 128), only="mixture", section="network")
        head_hidden: tuple[int, ...] = param((128,), image=(256,), section="network")
        width: int = 32
        feature_normalization: str | None = param(None, check=one_of(None, "layer"),
                                                  section="network")
        feature_binarization: str = param("sign", check=one_of(*BINARIZATIONS))
        gibbs_steps: int = param(1000, image=DEFAULT_GIBBS_STEPS, check=positive)
        fantasy_fraction: float = param(0.25, check=in_range(0, 1))
        rbm_learning_rate: float = param(1e-3, check=positive, section="optimizer")
        rbm_momentum: float = param(0.8, check=in_range(0, 1), section="optimizer")
        learning_rate: float = param(5e-4, image=2e-4, check=positive, section="optimizer")
        steps: int = param(8000, image=2000)
        kind_addons = {"mixture": {"generator_ema": 0.99}}  # see the module docstring

    def __init__(self, generator: keras.Model, features: keras.Model, head: keras.Model,
                 rbm: rbm_lib.RBM | None = None, **kwargs: Any):
        feature_units = int(features.output.shape[-1])
        config, rest = self.split_config(generator, kwargs)
        rbm = rbm or rbm_lib.RBM(feature_units, feature_units)
        if rbm.visible_units != feature_units:
            raise ValueError(f"the RBM must have {feature_units} visible units (the width of the "
                             f"feature layer F), got {rbm.visible_units}")
        generator_width = int(generator.inputs[0].shape[-1])
        if generator_width != feature_units:
            raise ValueError(f"the generator must take {feature_units} inputs (RBM visible "
                             f"states), got {generator_width}")
        if config.fantasy_fraction > 0 and not rbm.persistent:
            raise ValueError(f"fantasy_fraction={config.fantasy_fraction} needs an RBM with "
                             "persistent=True (its chains are the fantasy particles)")
        super().__init__(generator, networks.mlp.compose(features, head),
                         config=config.replace(latent_dim=feature_units), **rest)
        self.features = features
        self.head = head
        self.rbm = rbm

    @classmethod
    def dataset_defaults(cls, info: Any) -> dict:
        if info.kind == "image" and info.shape[0] >= 64:
            return dict(width=64, head_hidden=(500, 500))
        return {}

    @classmethod
    def build_networks(cls, info: Any, config: RunConfig) -> dict:
        """MLPs for mixtures; for images the paper's D (strided 5x5 convolutions, a dense
        tanh layer of the RBM's size, dense layers, a logit) and a DCGAN generator.
        `feature_normalization="layer"` layer-normalizes the tanh layer's pre-activations
        (`zoo.networks.mlp.feature_layer`; see the module docstring for what it measured)."""
        n = config["feature_units"]
        if info.kind == "mixture":
            dim = int(np.prod(info.shape))
            features = networks.mlp.feature_extractor(
                dim, config["feature_hidden"], n,
                feature_normalization=config["feature_normalization"])
            generator = networks.mlp.generator(n, dim, config["generator_hidden"])
        else:
            size, _, channels = info.shape
            features = networks.dcgan.feature_extractor(
                size, channels, config["width"], n,
                feature_normalization=config["feature_normalization"])
            generator = networks.dcgan.generator(n, size, channels, config["width"])
        head = networks.mlp.head(n, config["head_hidden"])
        memory = rbm_lib.RBM(n, config["rbm_hidden"], cd_steps=config["cd_steps"],
                             persistent=config["persistent"],
                             chain_batch_size=config["batch_size"])
        return dict(generator=generator, features=features, head=head, rbm=memory)

    # ----------------------------------------------------------------- compile
    def compile(self, d_optimizer: keras.optimizers.Optimizer | None = None,
                g_optimizer: keras.optimizers.Optimizer | None = None,
                rbm_optimizer: keras.optimizers.Optimizer | None = None, **kwargs) -> None:
        """As `GAN.compile`, plus the RBM's optimizer (default: the paper's SGD(1e-3, 0.8),
        `rbm_learning_rate` and `rbm_momentum`)."""
        self.rbm_optimizer = rbm_optimizer or keras.optimizers.SGD(
            self.config.rbm_learning_rate, momentum=self.config.rbm_momentum)
        self.rbm_optimizer.build(self.rbm.trainable_variables)
        super().compile(d_optimizer, g_optimizer, **kwargs)

    def optimizers(self) -> dict:
        return dict(super().optimizers(), rbm_optimizer=self.rbm_optimizer)

    # ------------------------------------------------------------- training
    def real_features(self, real: tf.Tensor) -> tf.Tensor:
        """The RBM's data: f = F(x) on real data as spins (see `feature_binarization`),
        held constant (the RBM's loss does not train F)."""
        return tf.stop_gradient(self.binarize(self.features(real, training=True)))

    def binarize(self, features: tf.Tensor) -> tf.Tensor:
        """sign(f) in {-1, +1} ("sign"), or f unchanged as expected spins ("mean")."""
        if self.feature_binarization == "sign":
            return tf.where(features >= 0.0, 1.0, -1.0)
        return features

    def extra_updates(self, real: tf.Tensor, labels: Any, batch: tf.Tensor) -> dict:
        """One CD-k step of the RBM on the features of the real batch."""
        features = self.real_features(real)
        with tf.GradientTape() as tape:
            loss, _ = self.rbm.contrastive_divergence_loss(features, self.step_seed(SEED_EXTRA))
        self.apply(self.rbm_optimizer, tape, loss, self.rbm.trainable_variables)
        return {"rbm_loss": loss}

    def draw_generator_inputs(self, real: tf.Tensor, local_batch: tf.Tensor,
                              seed: tf.Tensor) -> tf.Tensor:
        """k Gibbs sweeps from this replica's real features and, for `fantasy_fraction`
        of the rows, from the persistent chains' current states."""
        fantasy = tf.cast(tf.round(self.fantasy_fraction * tf.cast(local_batch, tf.float32)),
                          tf.int32)
        start = self.real_features(real[:local_batch - fantasy])
        if self.fantasy_fraction > 0:
            start = tf.concat([start, self.rbm.chains[:fantasy]], axis=0)
        return self.rbm.gibbs(start, self.rbm.cd_steps, seed)

    def discriminator_metrics(self, real_output: tf.Tensor, fake_output: tf.Tensor) -> dict:
        return {"convergence_ratio": convergence_ratio(real_output, fake_output)}

    # ------------------------------------------------------------- inference
    def sample_generator_inputs(self, batch_size: tf.Tensor | int, seed: tf.Tensor,
                                gibbs_steps: tf.Tensor | int | None = None) -> tf.Tensor:
        """RBM samples after `gibbs_steps` sweeps (default: the model's) from random spins."""
        start_seed, chain_seed = _split(seed)
        start = self.rbm.random_spins(batch_size, start_seed)
        return self.rbm.gibbs(start, self.gibbs_steps if gibbs_steps is None else gibbs_steps,
                              chain_seed)

    def generator_inputs_from_seeds(self, seeds: tf.Tensor,
                                    gibbs_steps: tf.Tensor | None = None) -> tf.Tensor:
        """Row i: a chain from random spins seeded by seeds[i], run gibbs_steps[i] sweeps."""
        seeds = tf.cast(seeds, tf.int64)
        if gibbs_steps is None:
            gibbs_steps = tf.fill(tf.shape(seeds), self.gibbs_steps)
        gibbs_steps = tf.cast(gibbs_steps, tf.int32)
        return tf.map_fn(
            lambda row: self.sample_generator_inputs(
                1, tf.stack([row[0], tf.zeros_like(row[0])]), tf.cast(row[1], tf.int32))[0],
            (seeds, tf.cast(gibbs_steps, tf.int64)), fn_output_signature=tf.float32)

    def generate(self, num_samples: int | None = None, seed: int = 0,
                 gibbs_steps: int | None = None, images: Any = None) -> np.ndarray:
        """Samples decoded from RBM chains run `gibbs_steps` sweeps (default: the model's).

        Chains start from random spins, or, with `images`, from the features of those
        images (one chain per image; `num_samples` may then be omitted).
        """
        steps = self.gibbs_steps if gibbs_steps is None else gibbs_steps
        if images is None:
            if num_samples is None or int(num_samples) <= 0:
                raise ValueError(f"num_samples must be positive, got {num_samples}")
            if int(steps) <= 0:
                raise ValueError(f"gibbs steps must be a positive int, got {steps}")
            inputs = self._compiled_sample_inputs(int(num_samples),
                                                  tf.constant([seed, 0], tf.int64), int(steps))
        else:
            inputs = self.rbm.gibbs(self.image_features(images), steps,
                                    tf.constant([seed, 1], tf.int64))
        return keras.ops.convert_to_numpy(self.inference_generator(inputs, training=False))

    @tf.function
    def _compiled_sample_inputs(self, batch_size: int, seed: tf.Tensor,
                                gibbs_steps: int) -> tf.Tensor:
        """`sample_generator_inputs` as one graph: eager Gibbs loops run op by op, ~15x slower."""
        return self.sample_generator_inputs(batch_size, seed, gibbs_steps)

    def image_features(self, images: Any) -> tf.Tensor:
        """F(images) in inference mode, after checking the images' shape against F's input."""
        images = tf.convert_to_tensor(images, tf.float32)
        expected = tuple(self.features.inputs[0].shape[1:])
        if tuple(images.shape[1:]) != expected:
            raise ValueError(f"images must have shape (batch, {', '.join(map(str, expected))}), "
                             f"got {tuple(images.shape)}")
        return self.binarize(self.features(images, training=False))

    def gibbs_walk(self, images: Any, steps: int = 10, seed: int = 0) -> np.ndarray:
        """The paper's Figure 3: chains from the features of `images`, decoded after each of
        1..steps Gibbs sweeps; returns [num_images, steps, *sample_shape]."""
        chain = self.rbm.gibbs_chain(self.image_features(images), steps,
                                     tf.constant([seed, 2], tf.int64))
        flat = tf.reshape(chain, [-1, self.latent_dim])
        decoded = keras.ops.convert_to_numpy(self.inference_generator(flat, training=False))
        decoded = decoded.reshape((steps, -1) + decoded.shape[1:])
        return np.swapaxes(decoded, 0, 1)

    # The trainer's picture of a chain from data (`zoo.evaluation.save_walk`).
    walk = gibbs_walk
    walk_file = "gibbs_walk.png"
    walk_title = "Gibbs walk: data, then 1..{steps} sweeps"
