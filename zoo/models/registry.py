"""The registry of variants: `python -m zoo.train --model=NAME` looks names up here."""
from __future__ import annotations

from typing import Any, Mapping

import keras

from zoo.registry import Registry



class ModelRegistry(Registry[type]):
    """Variants by name; each is also registered with Keras as `zoo>ClassName`, so a
    `.keras` file of it loads after `import zoo` with no `custom_objects`."""

    def register(self, name: str):
        add = super().register(name)

        def decorator(cls: type) -> type:
            cls.registered_name = name
            return add(keras.saving.register_keras_serializable("zoo")(cls))

        return decorator


MODELS = ModelRegistry("model")


def build(name: str, info: Any, overrides: Mapping[str, Any] | None = None,
          seed: int = 0) -> keras.Model:
    """The variant `name` with its default networks for the dataset `info` describes.

    `overrides` is a short diff over the variant's defaults (its `Config`, resolved by
    `run_config(info)`); unknown keys raise an error listing the valid ones; `seed` seeds
    every training draw.
    """
    return MODELS.get(name).for_dataset(info, overrides, seed=seed)
