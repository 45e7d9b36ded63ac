"""The plain GAN (Goodfellow et al., 2014) and DCGAN (Radford et al., 2016)."""
from __future__ import annotations

import dataclasses

from zoo.config import param
from zoo.models.base import GAN
from zoo.models.registry import MODELS

MODELS.register("gan")(GAN)


@MODELS.register("dcgan")
class DCGAN(GAN):
    """Radford et al. (2016): DCGAN networks, non-saturating loss, Adam(2e-4, beta_1=0.5).

    The networks (`zoo.networks.dcgan`) need image data.
    """

    data_kinds = ("image",)

    @dataclasses.dataclass(frozen=True)
    class Config(GAN.Config):
        learning_rate: float = param(2e-4, section="optimizer")
        batch_size: int = param(128, section="train")
