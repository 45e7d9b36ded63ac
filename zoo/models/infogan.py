"""InfoGAN (Chen et al., 2016): latent codes made recoverable from G's samples.

G's input is z = [noise, c]: incompressible noise beside latent codes c, here one
categorical code of k classes (one-hot) and n continuous codes c_j ~ U(-1, 1). The game
keeps I(c; G(z, c)) high, eq. (2):

    min_G max_D  V_I(D, G) = V(D, G) - lambda I(c; G(z, c)).

The posterior P(c | x) is out of reach, so an auxiliary Q(c | x) bounds the information
from below, eq. (4), tight when Q is the posterior:

    I(c; G(z, c)) >= E_{x ~ G(z, c)}[E_{c' ~ P(c | x)}[log Q(c' | x)]] + H(c),

and lemma 5.1 lets c' be the code that made x, eq. (5):

    L_I(G, Q) = E_{c ~ P(c), x ~ G(z, c)}[log Q(c | x)] + H(c)  <=  I(c; G(z, c)),

giving eq. (6): min_{G, Q} max_D V(D, G) - lambda L_I(G, Q). Q is a head on D's body
(D = features + two heads): a softmax over the k classes (log Q = the log-probability of
the code's class; H = log k) and factored Gaussians of unit std over the continuous codes
(log Q = sum_j log N(c_j; mu_j(x), 1); H = n log 2), as the authors' code has it
(openai/InfoGAN, `Uniform(1, fix_std=True)`). lambda is 1 for the categorical code and,
following the paper's advice for continuous codes (sec. 7: smaller, so that lambda L_I
keeps the scale of the GAN objective), 0.1 for the continuous ones.

Who trains Q: as in the authors' code (infogan_trainer.py), Q's variables belong to D's
optimizer (they live in its `d_net` scope) and -lambda L_I is added to both D's loss and
G's loss, each on the fakes of its own update. D's update therefore trains D's body on the
bound too. The monitors `info_categorical` and `info_continuous` are the two bounds L_I
(nats, before lambda; the categorical one is at most log k) and `q_accuracy` is how often
argmax Q(c | x) is the class that made x, all on the fakes of D's update.

Measured with the defaults (`zoo.trainer.train`, 5,000 steps, seeds 0, 1, 2; PacGAN
protocol on 2,500 samples; modes covered, high-quality fraction):

    ring8    7, 4, 0 of 8     41.8, 28.3, 0.0%
    grid25   24, 24, 21 of 25  80.0, 83.6, 60.8%

Q learns the categorical code within a few hundred steps (`q_accuracy` ~1.0, L_I ~log k),
and G then gives each class a tight cluster of its own; on ring8 those clusters sit next to
the modes (0.05-0.15 away, beyond the 3-std = 0.03 of "high quality") and circle them
instead of settling (the fraction swings between 0.1 and 0.55 from one 1,000-step check to
the next). With lambda = 0.1 it swung alike (27.6, 36.7, 50.1% at step 5,000, seeds
0-2); with lambda = 0 (the same G input, no bound) 92.9 and 87.4% (seeds 0, 2). The
skeleton's `generator_ema` averages the circling out on ring8 (`--set=generator_ema=0.999`:
8, 8, 8 modes at 79.6, 97.5, 91.6%) but lags too far behind G on grid25 (9, 4, 1 modes), so
the defaults keep the paper's setting.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping, NamedTuple

import keras
import numpy as np
import tensorflow as tf

from zoo import networks
from zoo.config import RunConfig, at_least, param
from zoo.models.base import GAN
from zoo.models.registry import MODELS
from zoo.networks import recognition

LOG_2PI = float(np.log(2.0 * np.pi))


class LatentCodes(NamedTuple):
    """The codes c of a batch of G's inputs: one-hot [batch, k] and continuous [batch, n]."""

    categorical: tf.Tensor
    continuous: tf.Tensor


def information_lower_bound(codes: LatentCodes, q_parameters: tf.Tensor) -> dict:
    """L_I of eq. (5) for each kind of code, as batch means (nats), and Q's accuracy.

    q_parameters [batch, k + n]: the k logits of Q's categorical, then the n means of its
    unit-std Gaussians. With c one-hot of class y and c_j ~ U(-1, 1):

        categorical:  log softmax(logits)_y + log k,
        continuous:   sum_j [-(c_j - mu_j)^2 / 2 - log(2 pi) / 2] + n log 2.

    Returns {"categorical", "continuous", "accuracy"} (zero for a kind without codes).
    """
    k = int(codes.categorical.shape[-1])
    n = int(codes.continuous.shape[-1])
    logits, means = q_parameters[:, :k], q_parameters[:, k:k + n]
    zero = tf.constant(0.0)
    categorical = continuous = accuracy = zero
    if k:
        log_q = tf.reduce_sum(codes.categorical * tf.nn.log_softmax(logits), axis=-1)
        categorical = tf.reduce_mean(log_q) + float(np.log(k))
        hits = tf.equal(tf.argmax(logits, -1), tf.argmax(codes.categorical, -1))
        accuracy = tf.reduce_mean(tf.cast(hits, tf.float32))
    if n:
        log_q = tf.reduce_sum(-0.5 * tf.square(codes.continuous - means) - 0.5 * LOG_2PI, -1)
        continuous = tf.reduce_mean(log_q) + n * float(np.log(2.0))
    return {"categorical": categorical, "continuous": continuous, "accuracy": accuracy}


def check_codes(categories: int, continuous_codes: int) -> None:
    """Refuses code sizes InfoGAN cannot use, naming the value."""
    for name, value in (("categories", categories), ("continuous_codes", continuous_codes)):
        if isinstance(value, bool) or int(value) < 0:
            raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    if int(categories) == 1:
        raise ValueError("categories must be 0 or at least 2, got 1")
    if int(categories) + int(continuous_codes) == 0:
        raise ValueError("infogan needs a latent code: categories and continuous_codes "
                         "are both 0")


@MODELS.register("infogan")
class InfoGAN(GAN):
    """G(noise, c) against D = head(features(x)), with Q(c | x) = q_head(features(x)).

    Args:
      generator: a model from [noise, one-hot code, continuous codes] (one vector of width
        latent_dim + categories + continuous_codes) to samples.
      features: D's body, from samples to features.
      head: D's adversarial head, from features to one logit.
      q_head: Q, from features to categories + continuous_codes parameters.
      latent_dim: the size of the incompressible noise.
      categories: k, the classes of the categorical code (0: none).
      continuous_codes: n, the number of U(-1, 1) codes (0: none).
      info_weight: lambda for the categorical code.
      continuous_weight: lambda for the continuous codes.
      (the rest as `GAN`.)
    """

    metric_names = ("d_loss", "g_loss", "info_categorical", "info_continuous", "q_accuracy")

    network_names = ("generator", "features", "head", "q_head")
    capabilities = GAN.capabilities - {"skeleton_discriminator_loss"}

    @dataclasses.dataclass(frozen=True)
    class Config(GAN.Config):
        """The GAN's networks and schedule, a Q head of one hidden layer of 128, lambda 1
        (categorical) and 0.1 (continuous). Mixtures: a categorical code of as many classes
        as modes and no continuous code: a mode of std 0.01 has no factor of variation to
        give one, and Q can only read it off samples spread within their mode (one U(-1, 1)
        code on ring8, seeds 0 and 1: L_I -0.3 of its ceiling -0.23, 3 and 7 modes at 13.3
        and 43.7%, no better than without). Images: the paper's MNIST codes, 10 classes and
        2 continuous codes beside 62 noise values, and the authors' rates (G 1e-3, D 2e-4).
        (The mixtures' `categories` is the dataset's number of modes.)"""

        latent_dim: int = param(2, image=62)
        q_hidden: tuple[int, ...] = param((128,), section="network")
        categories: int = param(10, check=at_least(0), doc="k, the categorical code's classes")
        continuous_codes: int = param(0, image=2, check=at_least(0), doc="U(-1, 1) codes")
        info_weight: float = param(1.0, check=at_least(0), doc="lambda (categorical)")
        continuous_weight: float = param(0.1, check=at_least(0), doc="lambda (continuous)")
        g_learning_rate: float | None = param(None, image=1e-3)
        d_learning_rate: float | None = param(None, image=2e-4)

    def __init__(self, generator: keras.Model, features: keras.Model, head: keras.Model,
                 q_head: keras.Model, **kwargs: Any):
        config, rest = self.split_config(generator, kwargs)
        check_codes(config.categories, config.continuous_codes)
        codes = config.categories + config.continuous_codes
        width = int(generator.inputs[0].shape[-1])
        if width != config.latent_dim + codes:
            raise ValueError(f"the generator must take latent_dim + categories + "
                             f"continuous_codes = {config.latent_dim + codes} inputs, got {width}")
        if int(q_head.outputs[0].shape[-1]) != codes:
            raise ValueError(f"q_head must output categories + continuous_codes = {codes} "
                             f"parameters, got {q_head.outputs[0].shape[-1]}")
        super().__init__(generator, networks.mlp.compose(features, head), config=config,
                         **rest)
        self.features = features
        self.head = head
        self.q_head = q_head

    @classmethod
    def dataset_defaults(cls, info: Any) -> dict:
        return dict(categories=int(info.num_classes or 8)) if info.kind == "mixture" else {}

    @classmethod
    def build_networks(cls, info: Any, config: RunConfig) -> dict:
        """The GAN's MLPs or DCGAN nets, G taking the codes beside the noise and D split
        into its body and a linear head, plus Q's head on the same body."""
        check_codes(config["categories"], config["continuous_codes"])
        width = config["latent_dim"] + config["categories"] + config["continuous_codes"]
        if info.kind == "mixture":
            dim = int(np.prod(info.shape))
            generator = networks.mlp.generator(width, dim, config["generator_hidden"])
            features = networks.mlp.feature_extractor(dim, config["discriminator_hidden"])
        else:
            size, _, channels = info.shape
            generator = networks.dcgan.generator(width, size, channels, config["width"])
            features = networks.dcgan.feature_extractor(size, channels, config["width"])
        feature_dim = int(features.output.shape[-1])
        return dict(generator=generator, features=features,
                    head=networks.mlp.head(feature_dim),
                    q_head=recognition.q_head(
                        feature_dim, config["categories"] + config["continuous_codes"],
                        config["q_hidden"]))

    def discriminator_variables(self) -> list:
        """D's and Q's: Q trains with D's optimizer, as in the authors' code."""
        return self.discriminator.trainable_variables + self.q_head.trainable_variables

    # ---------------------------------------------------------------- codes
    def sample_generator_inputs(self, batch_size: tf.Tensor | int, seed: tf.Tensor,
                                categories: tf.Tensor | None = None) -> tf.Tensor:
        """[noise ~ N(0, I), one-hot(y), c_cont]: y uniform over the k classes (or the given
        `categories`), c_cont ~ U(-1, 1)^n; each part its own stream of `seed`."""
        noise_seed, class_seed, continuous_seed = tf.unstack(
            tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=3))
        noise = tf.random.stateless_normal([batch_size, self.latent_dim], noise_seed)
        if categories is None:
            categories = tf.random.stateless_uniform(
                [batch_size], class_seed, minval=0, maxval=max(self.categories, 1),
                dtype=tf.int32)
        one_hot = tf.one_hot(categories, self.categories)
        continuous = tf.random.stateless_uniform([batch_size, self.continuous_codes],
                                                 continuous_seed, minval=-1.0, maxval=1.0)
        return tf.concat([noise, one_hot, continuous], axis=-1)

    def codes(self, z: tf.Tensor) -> LatentCodes:
        """The latent codes inside G's inputs z."""
        start = self.latent_dim
        return LatentCodes(z[:, start:start + self.categories],
                           z[:, start + self.categories:])

    def conditioned_inputs(self, z: Any, labels: Any) -> tuple[Any, LatentCodes]:
        """G takes z, codes included; D's side sees the codes to score Q with (data labels
        play no part)."""
        return z, self.codes(z)

    def discriminate(self, samples: tf.Tensor, condition: Any, training: bool = True) -> Any:
        """D's logit; for G's samples (condition: their codes), (logit, L_I terms)."""
        features = self.features(samples, training=training)
        logit = self.head(features, training=training)
        if not isinstance(condition, LatentCodes):
            return logit
        bound = information_lower_bound(condition, self.q_head(features, training=training))
        return logit, bound

    # ------------------------------------------------------------ objectives
    def information_term(self, bound: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """lambda L_I: the weighted sum of the two bounds."""
        return (self.info_weight * bound["categorical"]
                + self.continuous_weight * bound["continuous"])

    def discriminator_loss(self, real: tf.Tensor, fake: tf.Tensor, real_output: tf.Tensor,
                           fake_output: Any) -> tf.Tensor:
        """D's and Q's loss: the adversarial loss - lambda L_I (eq. 6, D maximising V and
        Q maximising L_I)."""
        logit, bound = fake_output
        return (self.adversarial_loss.discriminator(real_output, logit)
                - self.information_term(bound))

    def generator_loss(self, fake: tf.Tensor, fake_output: Any) -> tf.Tensor:
        """G's loss: the adversarial loss - lambda L_I (eq. 6)."""
        logit, bound = fake_output
        return self.adversarial_loss.generator(logit) - self.information_term(bound)

    def discriminator_metrics(self, real_output: tf.Tensor, fake_output: Any) -> dict:
        _, bound = fake_output
        return {"info_categorical": bound["categorical"],
                "info_continuous": bound["continuous"], "q_accuracy": bound["accuracy"]}

    # ------------------------------------------------------------- inference
    def generate(self, num_samples: int, seed: int = 0, labels: Any = None,
                 categories: Any = None) -> np.ndarray:
        """Samples from G; with `categories` (int [num_samples]), of those classes of the
        categorical code (its other codes and noise still drawn from `seed`)."""
        if categories is None or int(num_samples) <= 0:
            return super().generate(num_samples, seed, labels)
        values = np.asarray(categories)
        if (self.categories == 0 or values.shape != (int(num_samples),)
                or not np.issubdtype(values.dtype, np.integer)
                or values.min() < 0 or values.max() >= self.categories):
            raise ValueError(f"categories must be {num_samples} ints in [0, {self.categories}), "
                             f"got {values!r}")
        inputs = self.sample_generator_inputs(int(num_samples), tf.constant([seed, 0], tf.int64),
                                              tf.constant(values, tf.int32))
        return keras.ops.convert_to_numpy(self.inference_generator(inputs, training=False))

    def recognize(self, samples: Any) -> np.ndarray:
        """Q's parameters for samples (inference mode): k logits, then n means."""
        features = self.features(tf.convert_to_tensor(samples, tf.float32), training=False)
        return keras.ops.convert_to_numpy(self.q_head(features, training=False))
