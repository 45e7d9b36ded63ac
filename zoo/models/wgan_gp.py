"""WGAN with gradient penalty (Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville, 2017).

The optimal critic of the Wasserstein dual has gradient norm 1 almost everywhere on the
lines between coupled real and fake points (Proposition 1). Instead of clipping weights,
the critic's loss penalises the norm of its gradient there, eq. (3):

    L = E_{x~ ~ P_g}[D(x~)] - E_{x ~ P_r}[D(x)]
        + lambda E_{x^ ~ P_x^}[(||grad_{x^} D(x^)||_2 - 1)^2],

x^ = eps x + (1 - eps) x~ with eps ~ U[0, 1] per sample (Algorithm 1, line 4;
`zoo.losses.gradient_penalty`). Algorithm 1's defaults: lambda = 10, n_critic = 5,
Adam(alpha = 1e-4, beta_1 = 0, beta_2 = 0.9), batch 64. The critic must treat samples
independently for the per-sample gradient norms to mean anything, so it has no batch
normalization: the image critic uses layer normalization instead (section 4), the
mixtures' MLP critic has none.

Randomness and replicas: eps for the d-th critic update comes from `step_seed(SEED_PENALTY)`
folded with the critic optimizer's iteration count (unique per critic update, restored
with checkpoints), drawn for the global batch; each replica takes the rows of its own
batch (`local_slice`), so N replicas penalise exactly the interpolates one device would,
each on its own batch, and the mean over replicas is the global batch's penalty.

Images keep the paper's settings. The mixtures take the authors' own toy-data settings
(their gan_toy.py: lambda = 0.1, "smaller lambda makes things faster for toy tasks", and
Adam(1e-4, beta_1 = 0.5, beta_2 = 0.9)), with the zoo's MLPs and batch 64: measured
better than the paper's on both mixtures (`WGANGP.Config`).
"""
from __future__ import annotations

import dataclasses
from typing import Any

import tensorflow as tf

from zoo import losses as losses_lib
from zoo import networks
from zoo.config import RunConfig, at_least, param
from zoo.models.base import GAN
from zoo.randomness import SEED_PENALTY, local_slice, replica_info
from zoo.models.registry import MODELS
from zoo.models.wgan import wasserstein_estimate

DEFAULT_PENALTY_WEIGHT = 10.0
TOY_PENALTY_WEIGHT = 0.1


@MODELS.register("wgan_gp")
class WGANGP(GAN):
    """The GAN with a critic, the Wasserstein loss and the gradient penalty (Algorithm 1).

    Args (besides the GAN's):
      penalty_weight: lambda, the weight of the gradient penalty in the critic's loss.
    """

    metric_names = ("d_loss", "g_loss", "wasserstein_estimate")
    capabilities = GAN.capabilities - {"skeleton_discriminator_loss"}

    @dataclasses.dataclass(frozen=True)
    class Config(GAN.Config):
        """Algorithm 1's defaults: lambda = 10, n_critic = 5, Adam(1e-4, 0, 0.9), batch 64;
        the image critic with layer normalization (`critic_normalization`).

        Mixtures: lambda = 0.1 and beta_1 = 0.5, the authors' toy settings. Measured
        (5,000 steps, batch 64, default MLPs; modes covered, high-quality fraction, PacGAN
        protocol of `zoo.evaluation`):

            ring8   paper (10, beta_1 0)   seeds 0, 1:    8, 1 modes       29.8%, 0.2%
                    toy (0.1, beta_1 0.5)  seeds 0, 1, 2: 8, 8, 8 modes    74.5%, 75.3%, 72.0%
            grid25  paper                  seeds 0, 1:    12, 17 modes     1.7%, 1.3%
                    toy                    seeds 0, 1, 2: 20, 17, 24 modes 3.8%, 1.4%, 5.2%

        Adam(1e-3), the zoo's mixture rate, with the paper's lambda: 2 modes (1.6%) on ring8
        and 16 (1.5%) on grid25, seed 0.
        """

        loss: str = "wasserstein"
        d_steps: int = 5
        penalty_weight: float = param(DEFAULT_PENALTY_WEIGHT, mixture=TOY_PENALTY_WEIGHT,
                                      check=at_least(0), doc="lambda")
        learning_rate: float = 1e-4
        beta_1: float = param(0.0, mixture=0.5)
        beta_2: float = 0.9
        batch_size: int = 64
        critic_normalization: str | None = param("layer", only="image", section="network")

    @classmethod
    def build_networks(cls, info: Any, config: RunConfig) -> dict:
        """The GAN's networks; for images the DCGAN critic with `critic_normalization`."""
        if info.kind == "mixture":
            return super().build_networks(info, config)
        size, _, channels = info.shape
        return dict(
            generator=networks.dcgan.generator(config["latent_dim"], size, channels,
                                               config["width"]),
            discriminator=networks.dcgan.discriminator(
                size, channels, config["width"], normalization=config["critic_normalization"]))

    def interpolation_weights(self, batch: tf.Tensor) -> tf.Tensor:
        """eps ~ U[0, 1] for this replica's rows of the current critic update (see module)."""
        seed = tf.random.experimental.stateless_fold_in(
            self.step_seed(SEED_PENALTY), tf.cast(self.d_optimizer.iterations, tf.int64))
        _, num_replicas = replica_info()
        return local_slice(losses_lib.interpolation_weights(batch * num_replicas, seed), batch)

    def discriminator_loss(self, real: tf.Tensor, fake: tf.Tensor, real_output: tf.Tensor,
                           fake_output: tf.Tensor) -> tf.Tensor:
        """Eq. (3): the adversarial critic loss + lambda E[(||grad D(x^)|| - 1)^2]."""
        loss = super().discriminator_loss(real, fake, real_output, fake_output)
        if self.config.penalty_weight == 0:
            return loss
        penalty = losses_lib.gradient_penalty(
            lambda x: self.discriminator(x, training=True), real, fake,
            weights=self.interpolation_weights(tf.shape(real)[0]))
        return loss + self.config.penalty_weight * penalty

    def discriminator_metrics(self, real_output: tf.Tensor, fake_output: tf.Tensor) -> dict:
        return {"wasserstein_estimate": wasserstein_estimate(real_output, fake_output)}
