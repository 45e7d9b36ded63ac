"""The names of the registered variants and datasets, without importing TensorFlow.

Design: the command line answers `--list` and refuses an unknown `--model` or `--dataset` in
well under a second, before TensorFlow loads; the registries (`zoo.models.MODELS`,
`zoo.data.names()`) stay the truth and `tests/test_trainer.py` checks that these lists equal them.
"""
from __future__ import annotations

MODELS = ("aan", "beta_gan", "biggan", "cgan", "dcgan", "dfm", "gan", "infogan", "lsgan",
          "projection", "sagan", "sngan", "stylegan", "vcd", "vgan", "wgan", "wgan_gp")
DATASETS = ("celeb_a", "cifar10", "fashion_mnist", "grid25", "imagenet32", "mixture1d",
            "mixture3d", "mnist", "ring8", "stl10")
