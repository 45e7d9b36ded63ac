"""The skeleton's run config, `GAN.Config`: what every variant's `Config` extends (`zoo.config`)."""
from __future__ import annotations

import dataclasses
from typing import Any

from zoo import losses as losses_lib
from zoo import randomness
from zoo.config import RunConfig, in_range, one_of, param, positive
from zoo.precision import PRECISIONS


def _registered_loss(name: Any) -> str | None:
    return None if name in losses_lib.LOSSES else f"one of {losses_lib.LOSSES.names()}"


@dataclasses.dataclass(frozen=True)
class GANConfig(RunConfig):
    """The skeleton's settings; mixtures: MLPs, Adam(1e-3, 0.5), batch 256, 5,000 steps;
    images: DCGAN nets, Adam(2e-4, 0.5) (Radford et al.), batch 64, 2,000 steps."""

    latent_dim: int = param(2, image=100, check=positive, doc="size of z")
    loss: str = param("non_saturating", check=_registered_loss, doc="a `zoo.losses` name")
    d_steps: int = param(1, check=in_range(1, randomness.MAX_D_STEPS), doc="n_critic")
    generator_hidden: tuple[int, ...] = param((128, 128, 128), only="mixture", section="network")
    discriminator_hidden: tuple[int, ...] = param((128, 128, 128), only="mixture",
                                                  section="network")
    width: int = param(64, only="image", check=positive, section="network")
    image_size: int | None = param(None, only="image", check=positive, section="train",
                                   doc="side of the images made and loaded; None: the data's")
    steps: int = param(5000, image=2000, check=positive, section="train")
    batch_size: int = param(256, image=64, check=positive, section="train")
    learning_rate: float = param(1e-3, image=2e-4, check=positive, section="optimizer")
    beta_1: float = param(0.5, check=in_range(0, 1), section="optimizer")
    beta_2: float = param(0.999, check=in_range(0, 1), section="optimizer")
    d_learning_rate: float | None = param(None, check=positive, section="optimizer",
                                          doc="TTUR (Heusel et al., 2017); None: learning_rate")
    g_learning_rate: float | None = param(None, check=positive, section="optimizer")
    precision: str = param("float32", check=one_of(*PRECISIONS), section="train",
                           doc="what the networks compute in (`zoo.precision`)")
    steps_per_execution: int = param(
        20, check=positive, section="train",
        doc="training steps per call into the compiled graph under `zoo.train`: fewer host "
            "round trips (`zoo.trainer.execution_steps` takes its largest divisor that divides "
            "the checkpoint, metrics and step counts; 1 with more than one replica)")
