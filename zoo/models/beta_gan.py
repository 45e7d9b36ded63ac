"""beta-GAN: the annealed GAN (Mehrjou, Schölkopf & Saremi 2017, arXiv:1705.07505).

The plain GAN with the unmodified minimax objective, eq. (1) of Goodfellow et al.,

    min_G max_D  E_{x~ ~ p_beta}[log D(x~)] + E_z[log(1 - D(G(z)))],

played against the data heated at inverse temperature beta, p_beta = p_data * N(0, I / beta),
with beta cooled geometrically from beta_0 to beta_inf in K stages of n steps, alpha =
(beta_inf / beta_0)^(1/K) (Algorithm 1; `zoo.addons.annealing`). Every temperature starts from the
parameters learnt at the previous one: one optimizer state runs through the whole schedule.

What the paper's text says, and what we chose. The stored copies of the paper reachable
offline (its OpenReview and arXiv abstracts) say that the data distribution is heated by a
Gaussian kernel and annealed from the (near-)uniform distribution at infinite temperature to
the data, with the unmodified objective and a fixed schedule; they do not give the values of
beta_0, beta_inf and K, nor say that G's samples are heated too. So:
- only the real data are heated (G learns p_beta itself, whose support is the whole space
  early on; heating G's samples as well would be instance noise, Sønderby et al. 2016);
- beta_0 = 1 (noise std 1: of the order of the modes' spacing, 2 on the grids, and of the
  ring's radius, 1), beta_inf = 1e6 (noise std 0.001, a tenth of ring8's mode std 0.01, so
  the last temperature is the data for the metrics), K = 5 (alpha = 10^1.2 ~ 15.8: noise
  std 1, 0.25, 0.063, 0.016, 0.004, then 0.001);
- n = steps // (K + 1): the K cooling stages and a last stage at beta_inf share the run.
K was picked from a small sweep (3,000 steps, seeds 0-1, ring8 and grid25; high-quality
fraction / modes): K = 10 gave 6-7 of 8 ring modes at 44-50% high quality and 10-20 of 25
grid modes; K = 5: 8 and 8 ring modes (80%, 92%), 20 and 25 grid modes (25%, 23%);
K = 3 from beta_0 = 4: 8, 8 (67%, 84%) and 16, 18 grid modes.
These are the `zoo.addons.annealing.DEFAULT_OPTIONS`; `--set='annealing={"stages": 5}'` changes one,
`--set=annealing=null` turns annealing off (the vanilla minimax GAN).

Against the vanilla minimax GAN with the same networks and steps (benchmarks/ANNEALING.md,
3,000 steps, seeds 0-4, modes covered / high-quality fraction, mean ± std): no clear gain.
ring8 7.6 ± 0.8 / 0.74 vs the GAN's 7.8 ± 0.4 / 0.81; grid25 21.8 ± 2.2 / 0.24 vs
21.8 ± 2.0 / 0.32 (beta-GAN does not beat the GAN on grid25); mixture1d 3.8 ± 0.7 / 0.95
vs 4.6 ± 0.5 / 0.69; mixture3d 22.2 ± 1.5 / 0.54 vs 22.2 ± 2.2 / 0.54.
"""
from __future__ import annotations

import dataclasses

from zoo.addons import annealing
from zoo.config import param
from zoo.models.base import GAN
from zoo.models.registry import MODELS


@MODELS.register("beta_gan")
class BetaGAN(GAN):
    """The GAN with loss="minimax" and the annealing schedule on by default."""

    @dataclasses.dataclass(frozen=True)
    class Config(GAN.Config):
        """The GAN's defaults, the minimax loss, and annealing with its defaults."""

        default_addons = {"annealing": dict(annealing.DEFAULT_OPTIONS)}
        loss: str = param("minimax")
