"""SNGAN (Miyato et al., ICLR 2018): a spectrally normalised discriminator.

Every layer of D computes with W / sigma(W), eq. (8), sigma the largest singular value from
one power iteration per training call (`zoo.networks.spectral`): each layer's spectral norm
is 1, which bounds a plain feed-forward D's Lipschitz constant by 1 (eq. 7, 1-Lipschitz
activations; the ResNet's residual sums and sum pooling loosen the bound). Networks: the ResNets of their Table 4
for 32x32 images (`zoo.networks.resnet`: G 4x4x256 -> 3 up-ResBlocks of 256; D 2 down- and
2 plain ResBlocks of 128, global sum pooling, SN dense); the hinge loss, eqs. (16)-(17); Adam
(alpha = 2e-4, beta_1 = 0, beta_2 = 0.9) and n_dis = 5 D updates per G update, their settings
for the hinge loss and the ResNets. Images are trained at 32x32 (`image_size`, e.g.
fashion_mnist's 28x28 resized by `zoo.data.load`).

Differences from the paper: the learning rate is not decayed linearly to 0; D's 5 updates of
a step see the same real batch (the skeleton's `d_steps`), with fresh fakes each.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from zoo.config import RunConfig, param, positive
from zoo.models.base import GAN
from zoo.models.registry import MODELS
from zoo.networks import resnet


@MODELS.register("sngan")
class SNGAN(GAN):
    """The GAN with the ResNet networks of Miyato et al., SN in D, and the hinge loss."""

    # Spectral normalization of G's layers too (SAGAN's choice; SNGAN normalises D only).
    generator_spectral_norm: bool = False

    data_kinds = ("image",)

    @dataclasses.dataclass(frozen=True)
    class Config(GAN.Config):
        """Table 4 at 32x32 (G's channels `width` 256, D's `d_width` 128, z of 128), the hinge
        loss, Adam(2e-4, 0, 0.9), n_dis = 5."""

        latent_dim: int = 128
        width: int = 256
        d_width: int = param(128, only="image", check=positive, section="network")
        attention_resolution: int | None = param(None, only="image", check=positive,
                                                 section="network", doc="SAGAN's attention")
        shared_embedding: int | None = param(None, only="image", check=positive,
                                             section="network", doc="BigGAN's embedding")
        loss: str = "hinge"
        d_steps: int = 5
        learning_rate: float = 2e-4
        beta_1: float = 0.0
        beta_2: float = 0.9
        batch_size: int = 64
        steps: int = 2000
        image_size: int | None = 32
        unused = frozenset({"attention_resolution", "shared_embedding"})  # sagan's, biggan's

    @classmethod
    def build_networks(cls, info: Any, config: RunConfig) -> dict:
        """`zoo.networks.resnet`'s G and D at `info`'s size, with `attention_resolution`'s
        self-attention layers where the config has one (SAGAN), and class-conditional where it
        has `num_classes` (conditional BN in G, the projection in D; BigGAN's shared embedding
        and hierarchical z with `shared_embedding`)."""
        size, _, channels = info.shape
        attention = config.get("attention_resolution")
        num_classes = config.get("num_classes")
        return dict(
            generator=resnet.generator(config["latent_dim"], size, channels, config["width"],
                                       spectral_norm=cls.generator_spectral_norm,
                                       attention_resolution=attention, num_classes=num_classes,
                                       shared_embedding=config.get("shared_embedding")),
            discriminator=resnet.discriminator(size, channels, config["d_width"],
                                               attention_resolution=attention,
                                               num_classes=num_classes))
