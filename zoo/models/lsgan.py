"""Least Squares GAN (Mao, Li, Xie, Lau, Wang & Smolley, 2017).

The sigmoid cross-entropy of the GAN saturates for fakes on the right side of the
decision boundary yet far from the data; least squares keeps penalising them, eq. (2):

    min_D V(D) = 1/2 E_x[(D(x) - b)^2] + 1/2 E_z[(D(G(z)) - a)^2],
    min_G V(G) = 1/2 E_z[(D(G(z)) - c)^2],

with D's linear output. The experiments use the 0-1 coding of eq. (9), a = 0 and
b = c = 1 (`zoo.losses` "least_squares"); the other setting, a = -1, b = 1, c = 0
(eq. 8, b - c = 1 and b - a = 2, minimising the Pearson chi^2 divergence between
P_data + P_g and 2 P_g), is not in the registry. Adam(2e-4, beta_1 = 0.5) on images
(section 4.1), DCGAN-style networks; the mixtures keep the zoo's GAN settings with only the
loss changed, which makes `lsgan` the GAN's controlled comparison there (measured in
`LSGAN.Config`). Any other variant takes the same loss with `--set=loss=least_squares`.
"""
from __future__ import annotations

import dataclasses

from zoo.config import param
from zoo.models.base import GAN
from zoo.models.registry import MODELS


@MODELS.register("lsgan")
class LSGAN(GAN):
    """The GAN with the least-squares loss, eq. (9) (a = 0, b = c = 1)."""

    @dataclasses.dataclass(frozen=True)
    class Config(GAN.Config):
        """The GAN's defaults with `loss="least_squares"`; Adam(2e-4, 0.5) on images.

        Measured on the mixtures (5,000 steps, Adam(1e-3, 0.5), batch 256, default MLPs;
        modes covered and high-quality fraction, PacGAN protocol of `zoo.evaluation`):

            ring8   seeds 0, 1, 2:  8, 8, 8 of 8 modes     96.4%, 95.0%, 96.6%
            grid25  seeds 0, 1, 2:  15, 23, 23 of 25 modes  34.4%, 45.3%, 56.8%
        """

        loss: str = param("least_squares")
