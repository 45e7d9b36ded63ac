"""Building a variant from a config: its full config for a dataset, its default networks, and
the model itself (`GAN.for_dataset`), as class methods every variant inherits and may override.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from zoo import addons as addons_lib
from zoo import networks, precision
from zoo.config import RunConfig


class FromConfig:
    """Mixin of `zoo.models.base.GAN`: reads `Config`, `data_kinds` and `registered_name`."""

    @classmethod
    def run_config(cls, info: Any, overrides: Mapping[str, Any] | None = None) -> RunConfig:
        """The full config for dataset `info`: defaults for its kind and `dataset_defaults`,
        updated by `overrides`."""
        if info.kind not in cls.data_kinds:
            wanted = " or ".join(f"{'an' if k == 'image' else 'a'} {k} dataset"
                                 for k in cls.data_kinds)
            raise ValueError(f"{cls.registered_name} needs {wanted}; {info.name!r} is a "
                             f"{info.kind}")
        return cls.Config.resolve(info.kind, dict(cls.dataset_defaults(info), **(overrides or {})),
                                  dataset=info.name)

    @classmethod
    def dataset_defaults(cls, info: Any) -> dict:
        """Defaults that depend on the dataset itself, not its kind (e.g. its classes)."""
        return {}

    @classmethod
    def build_networks(cls, info: Any, config: RunConfig) -> dict:
        """The zoo's default generator and discriminator for `info`: MLPs or DCGAN nets."""
        if info.kind == "mixture":
            dim = int(np.prod(info.shape))
            return dict(
                generator=networks.mlp.generator(config.latent_dim, dim, config.generator_hidden),
                discriminator=networks.mlp.discriminator(dim, config.discriminator_hidden))
        size, _, channels = info.shape
        return dict(
            generator=networks.dcgan.generator(config.latent_dim, size, channels, config.width),
            discriminator=networks.dcgan.discriminator(size, channels, config.width))

    @classmethod
    def for_dataset(cls, info: Any, overrides: Mapping[str, Any] | RunConfig | None = None,
                    seed: int = 0) -> Any:
        """The variant with its default networks for `info`, configured by a diff over its
        defaults (or a whole `Config`), built in the config's `precision` (`zoo.precision`)."""
        config = (overrides if isinstance(overrides, RunConfig)
                  else cls.run_config(info, overrides))
        with precision.policy(config.precision):
            built = addons_lib.adapt_networks(
                    config.addons, cls.build_networks(info.sized(config.get("image_size")), config))
        for network in built.values():
            precision.float32_outputs(network)
        return cls(**built, config=config, seed=seed)
