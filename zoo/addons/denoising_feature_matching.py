"""Denoising feature matching (Warde-Farley & Bengio, ICLR 2017): the denoiser and its losses.

A denoising autoencoder r(.) learns the distribution of the discriminator's features
h = Phi(x) on real data. For Gaussian corruption of small variance sigma^2, the optimal
denoiser satisfies r(h) - h ~ sigma^2 grad_h log p(h) (Alain & Bengio, 2014): it points
towards the denser regions of the real features, and G is trained to move Phi(G(z))
along it. (For h ~ N(0, I) and sigma = 1, r*(h) = E[h | h + eps] = h / 2 exactly.)

`DenoisingFeatureMatching` is the add-on (run-config key `denoising_feature_matching`:
true or a dict of depth, width, sigma, weighting): it owns r, trains it each step on real
features (eq. 5) and adds eq. (4)'s first term to G's loss, for any variant whose
discriminator is composed as head(features(x)) (`networks.mlp.compose`); `zoo.models.dfm`
is the paper's model built on it. r has its own optimizer, `denoiser_optimizer` (default:
a copy of G's settings).
"""
from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf
from keras import layers

from zoo import randomness
from zoo.addons import Addon, register

# (lambda_adv, weight of the per-feature mean squared distance) of eq. (4) per weighting.
# "paper_text": lambda_adv = 1, lambda_denoise = 0.03 / n_h on the squared norm, i.e. 0.03
# times its mean over the n_h features. "reimplementation": lambda_adv = 0.03 and the
# distance averaged over features with weight 1 (the authors' intended weights, as a
# public re-implementation reports). The denoising/adversarial ratio differs by ~1111x.
WEIGHTINGS = {"paper_text": (1.0, 0.03), "reimplementation": (0.03, 1.0)}


def denoiser(feature_dim: int, depth: int = 2, width: int | None = None,
             name: str = "denoiser") -> keras.Model:
    """r: R^n_h -> R^n_h, `depth` Dense(width) + batch norm + ReLU layers and a linear output.

    Deep, fully connected, batch norm on every layer but the output, as in the paper;
    `width` defaults to the feature size and may not be smaller. Batch norm's moving
    statistics use momentum 0.9, so that they follow D's changing features closely (G's
    term reads r in inference mode; see `DenoisingFeatureMatching.matching_term`).
    """
    width = int(feature_dim if width is None else width)
    if int(depth) < 1:
        raise ValueError(f"denoiser depth must be a positive int, got {depth}")
    if width < int(feature_dim):
        raise ValueError(f"denoiser width must be >= the feature size {feature_dim}, got {width}")
    h = keras.Input((int(feature_dim),), name="corrupted_features")
    y = h
    for _ in range(int(depth)):
        y = layers.Dense(width, use_bias=False)(y)
        y = layers.ReLU()(layers.BatchNormalization(momentum=0.9)(y))
    return keras.Model(h, layers.Dense(int(feature_dim), name="denoised")(y), name=name)


@register
class DenoisingFeatureMatching(Addon):
    """The denoiser r over D's features, its update and G's term.

    Args:
      options: true or a dict of depth, width (see `denoiser`), sigma (the standard
        deviation of r's isotropic Gaussian corruption, 1 in the paper) and weighting
        ("paper_text" or "reimplementation", see `WEIGHTINGS`).
      feature_dim: n_h, the size of D's feature layer; by default read off D in `attach`.
    """

    key = "denoising_feature_matching"
    DEFAULT_OPTIONS = dict(depth=2, width=None, sigma=1.0, weighting="paper_text")
    requires = {"single_input_discriminator": ""}
    metric_names = ("denoiser_loss", "feature_matching")

    def __init__(self, options: Any = True, feature_dim: int | None = None, **kwargs):
        options = self.normalize(options, None)
        super().__init__(options, **kwargs)
        if options["weighting"] not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {sorted(WEIGHTINGS)}, "
                             f"got {options['weighting']!r}")
        if not float(options["sigma"]) > 0:
            raise ValueError(f"sigma must be positive, got {options['sigma']}")
        self.depth, self.sigma = int(options["depth"]), float(options["sigma"])
        self.weighting = options["weighting"]
        self.adversarial_weight, self.distance_weight = WEIGHTINGS[self.weighting]
        if feature_dim is not None:
            self.build_denoiser(feature_dim)

    def build_denoiser(self, feature_dim: int) -> None:
        self.feature_dim = int(feature_dim)
        self.width = int(self.feature_dim if self.options["width"] is None
                         else self.options["width"])
        self.network = denoiser(self.feature_dim, self.depth, self.width)

    def attach(self, model: keras.Model) -> None:
        super().attach(model)
        features, _ = discriminator_parts(model.discriminator)
        if not hasattr(self, "network"):
            self.build_denoiser(int(features.output.shape[-1]))

    def build_optimizers(self, g_optimizer: keras.optimizers.Optimizer, given: dict) -> None:
        self.denoiser_optimizer = given.get("denoiser_optimizer") or type(
            g_optimizer).from_config(g_optimizer.get_config())
        self.denoiser_optimizer.build(self.network.trainable_variables)

    def optimizers(self) -> dict:
        return {"denoiser_optimizer": self.denoiser_optimizer}

    def before_updates(self, model: keras.Model, real: tf.Tensor, batch: tf.Tensor) -> dict:
        """One step of r on D's features of the real batch (eq. 5)."""
        features = tf.stop_gradient(discriminator_parts(model.discriminator)[0](
            real, training=True))
        noise = randomness.global_normal(features, batch,
                                         model.step_seed(randomness.SEED_DENOISER))
        with tf.GradientTape() as tape:
            loss = self.denoiser_loss(features, noise)
        model.apply(self.denoiser_optimizer, tape, loss, self.network.trainable_variables)
        return {"denoiser_loss": loss}

    def discriminate_fake(self, model: keras.Model, fake: tf.Tensor, condition: Any,
                          seen: dict) -> tf.Tensor:
        """D(G(z)) = head(Phi(G(z))), keeping Phi(G(z)) for `generator_term`."""
        features, head = discriminator_parts(model.discriminator)
        seen["features"] = features(fake, training=True)
        return head(seen["features"], training=True)

    def generator_term(self, model: keras.Model, loss: tf.Tensor, fake: tf.Tensor,
                       logs: dict, seen: dict) -> tuple[tf.Tensor, dict]:
        """Eq. (4): lambda_adv (the adversarial loss) + the distance term on Phi(G(z))."""
        features = seen.get("features")
        if features is None:  # feature matching replaced D's term: Phi(G(z)) not yet seen
            features = discriminator_parts(model.discriminator)[0](fake, training=True)
        matching = self.matching_term(features)
        return self.adversarial_weight * loss + matching, dict(logs, feature_matching=matching)

    def call(self, features: tf.Tensor, training: bool = False) -> tf.Tensor:
        """r(features)."""
        return self.network(features, training=training)

    def denoiser_loss(self, features: tf.Tensor, noise: tf.Tensor) -> tf.Tensor:
        """Eq. (5): L_r = E_x ||Phi(x) - r(Phi(x) + eps)||^2 / n_h, eps ~ N(0, sigma^2 I).

        `features` are D's features of real data, held constant (r's loss does not train
        Phi); `noise` ~ N(0, I) of the same shape. Averaged over features as well as the
        batch: the per-feature reconstruction error (Adam does not care about the scale).
        """
        features = tf.stop_gradient(features)
        denoised = self.network(features + self.sigma * noise, training=True)
        return tf.reduce_mean(tf.square(features - denoised))

    def matching_term(self, features: tf.Tensor) -> tf.Tensor:
        """Eq. (4)'s first term: w E_z ||Phi(G(z)) - r(Phi(G(z)))||^2 / n_h, r(.) held constant.

        w = `distance_weight` (0.03 = lambda_denoise n_h with the paper text's weights, 1 with
        the reimplementation's). r runs in inference mode: batch norm uses the moving
        statistics of real features rather than re-normalising G's features by their own,
        which would hide from r any shift of G's features away from the real ones.
        """
        target = tf.stop_gradient(self.network(features, training=False))
        return self.distance_weight * tf.reduce_mean(tf.square(features - target))


def discriminator_parts(discriminator: keras.Model) -> tuple[keras.Model, keras.Model]:
    """(Phi, head) of a discriminator composed as head(features(x)) (`networks.mlp.compose`)."""
    names = [layer.name for layer in discriminator.layers]
    if "features" not in names or "head" not in names:
        raise ValueError(
            "denoising feature matching needs a discriminator composed as head(features(x)) "
            f"(networks.mlp.compose of models named 'features' and 'head'); "
            f"{discriminator.name!r} has layers {names}")
    return discriminator.get_layer("features"), discriminator.get_layer("head")
