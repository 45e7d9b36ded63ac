"""Wasserstein GAN (Arjovsky, Chintala & Bottou, 2017).

The critic f (the discriminator, with a linear output) estimates the Earth-Mover distance
between the data and G's distribution through the Kantorovich-Rubinstein duality, eq. (2),

    W(P_r, P_g) = sup_{||f||_L <= 1}  E_{x ~ P_r}[f(x)] - E_{x ~ P_g}[f(x)],

over K-Lipschitz functions instead (K W, eq. 3), enforced crudely by clipping every
weight of the critic to [-c, c] after each of its updates. Algorithm 1: n_critic = 5
critic updates (`zoo.losses` "wasserstein": L_D = E[f(G(z))] - E[f(x)]) with weight
clipping, then one generator update (L_G = -E[f(G(z))]); RMSProp, alpha = 5e-5, c = 0.01,
batch 64. RMSProp's rho is 0.99 with epsilon 1e-8, the authors' code's (PyTorch's
defaults); their code's extra critic iterations (100 for the first 25 generator updates
and every 500th) are not in the paper's algorithm and not here. `wasserstein_estimate`
logs E[f(x)] - E[f(G(z))] of the last critic update, the paper's training curve (Fig. 3):
K times the distance, falling as G learns.

What is clipped: the critic's trainable variables (`discriminator_variables()`), kernels,
biases and batch-norm scales and offsets alike, as the authors' code clips
`netD.parameters()`; batch-norm moving statistics are not parameters and are not clipped.

Images and mixtures both keep the paper's settings (the authors' toy-data code, too, kept
RMSProp(5e-5) and c = 0.01): DCGAN networks for images, the critic with batch norm as in
the paper's DCGAN experiments; the zoo's MLPs for mixtures. On ring8 the critic clipped at
0.01 only learns a blurred ring (a few high-quality samples; samples pictures); c = 0.1 is
much sharper there but collapses on grid25, so no adaptation was kept (measurements in
`WGAN.Config`).
"""
from __future__ import annotations

import dataclasses
from typing import Any

import keras
import tensorflow as tf

from zoo.config import param, positive
from zoo.models.base import GAN
from zoo.models.registry import MODELS

DEFAULT_CLIP = 0.01
RMSPROP_RHO = 0.99
RMSPROP_EPSILON = 1e-8


def wasserstein_estimate(real_scores: tf.Tensor, fake_scores: tf.Tensor) -> tf.Tensor:
    """E[f(x)] - E[f(G(z))]: the critic's estimate of K W(P_r, P_g), eq. (3)."""
    return (tf.reduce_mean(tf.cast(real_scores, tf.float32))
            - tf.reduce_mean(tf.cast(fake_scores, tf.float32)))


def clip_weights(variables: list, clip_value: float) -> None:
    """w <- clip(w, -c, c) for every variable (Algorithm 1, line 7)."""
    for variable in variables:
        variable.assign(tf.clip_by_value(variable, -clip_value, clip_value))


@MODELS.register("wgan")
class WGAN(GAN):
    """The GAN with a critic, the Wasserstein loss and weight clipping (Algorithm 1).

    Args (besides the GAN's):
      clip_value: c; every critic weight is clipped to [-c, c] after each critic update.
    """

    metric_names = ("d_loss", "g_loss", "wasserstein_estimate")

    @dataclasses.dataclass(frozen=True)
    class Config(GAN.Config):
        """Algorithm 1's defaults: RMSProp(5e-5), n_critic = 5, c = 0.01, batch 64, with the
        GAN's networks (no Adam betas: `default_optimizers` builds RMSProp).

        Measured on the mixtures (5,000 steps; modes covered, high-quality fraction, PacGAN
        protocol of `zoo.evaluation`; seeds 0, 1, 2):

            ring8   defaults                 6, 6, 4 modes; 0.44%, 0.52%, 0.24%
            grid25  defaults                 22, 19, 18 modes; 1.4%, 1.8%, 2.0%
            ring8   RMSProp 5e-4             seed 0: 5 modes, 0.36%
                    RMSProp 5e-4, batch 256  seed 0: 2 modes, 0.08%
                    RMSProp 1e-4, batch 256  seed 0: 4 modes, 0.40%
                    c = 0.1                  seeds 0, 1: 8 and 8 modes, 53.4% and 54.0%
            grid25  c = 0.1                  seed 0: 1 mode, 0.08%
        """

        unused = frozenset({"beta_1", "beta_2"})  # RMSProp takes no betas
        loss: str = "wasserstein"
        d_steps: int = 5
        clip_value: float = param(DEFAULT_CLIP, check=positive, doc="c")
        learning_rate: float = 5e-5
        batch_size: int = 64

    def default_optimizers(self) -> tuple[keras.optimizers.Optimizer, keras.optimizers.Optimizer]:
        """RMSProp for both, each at its rate (`learning_rates`: TTUR applies)."""
        return tuple(keras.optimizers.RMSprop(rate, rho=RMSPROP_RHO, epsilon=RMSPROP_EPSILON)
                     for rate in self.learning_rates())

    def discriminator_update(self, real: tf.Tensor, labels: Any, batch: tf.Tensor,
                             d_step: int) -> dict:
        """The skeleton's critic update, then every critic weight clipped to [-c, c]."""
        logs = super().discriminator_update(real, labels, batch, d_step)
        clip_weights(self.discriminator_variables(), self.config.clip_value)
        return logs

    def discriminator_metrics(self, real_output: tf.Tensor, fake_output: tf.Tensor) -> dict:
        return {"wasserstein_estimate": wasserstein_estimate(real_output, fake_output)}
