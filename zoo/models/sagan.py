"""SAGAN (Zhang et al., ICML 2019): self-attention in G and D, spectral norm in both.

A self-attention layer (`zoo.networks.attention`: y = gamma * o + x, eqs. (1)-(3), gamma
starting at 0) follows the ResBlock at a middle resolution of each network
(`attention_resolution`, 16 for 32x32 images: after G's second up-block and D's first
down-block); every layer of G and D is spectrally normalised (Section 4.1: SN in G as well
conditions its updates); the hinge loss (their eq. 4); Adam with beta_1 = 0, beta_2 = 0.9 and
the two time-scale update rule (Heusel et al., 2017), D at 4e-4 and G at 1e-4, one D update
per G update (Section 4.2). The networks are SNGAN's ResNets (`zoo.networks.resnet`, Miyato
et al.'s Table 4 widths at 32x32) with the attention layers added: the paper's ImageNet nets
are larger, and conditional (class-conditional BN in G, projection in D); these are
unconditional, with plain BN in G.
"""
from __future__ import annotations

import dataclasses

from zoo.models.registry import MODELS
from zoo.models.sngan import SNGAN


@MODELS.register("sagan")
class SAGAN(SNGAN):
    """SNGAN's networks with SN in G too, self-attention at `attention_resolution`, TTUR."""

    generator_spectral_norm = True

    @dataclasses.dataclass(frozen=True)
    class Config(SNGAN.Config):
        """SNGAN's networks plus attention at 16x16; Adam(0, 0.9), D 4e-4 / G 1e-4, n_dis 1."""

        attention_resolution: int | None = 16
        unused = frozenset({"shared_embedding"})
        d_steps: int = 1
        learning_rate: float = 1e-4
        d_learning_rate: float | None = 4e-4
        g_learning_rate: float | None = 1e-4
