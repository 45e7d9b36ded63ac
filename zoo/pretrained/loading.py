"""Building and loading a manifest entry's variant (the part of `zoo.pretrained` that needs
Keras; the package imports it on first use so that `python -m zoo.pretrained list` stays fast)."""
from __future__ import annotations

import keras

from zoo import data as zoo_data
from zoo.models import registry
from zoo.pretrained import manifest
from zoo.pretrained.fetch import resolve
from zoo.pretrained.names import PRETRAINED


def build_variant(entry: manifest.Entry) -> keras.Model:
    """The entry's variant, uncompiled, its weights initialised from the entry's seed: from
    its stored full config once built (today's defaults play no part), else from its
    overrides over today's defaults (an entry not built yet)."""
    keras.utils.set_random_seed(entry.seed)
    cls = registry.MODELS.get(entry.model)
    config = cls.Config.from_dict(entry.config) if entry.config else entry.overrides
    return cls.for_dataset(zoo_data.info(entry.dataset), config, seed=entry.seed)


def load(name: str, weights: str | None = PRETRAINED, *, manifest_path: str = manifest.MANIFEST,
         cache_dir: str | None = None) -> keras.Model:
    """The pretrained generator `name`, compiled with its default optimizers, ready to sample.

    Args:
      name: a manifest entry (`python -m zoo.pretrained list`).
      weights: "pretrained" (the entry's weights: shipped, cached or fetched from its URL, and
        verified against its sha256), None (the untrained architecture) or a local
        `.weights.h5` path (loaded unchecked).
      manifest_path: the manifest to read (default: the package's).
      cache_dir: where fetched weights go (default: $GAN_ZOO_CACHE or ~/.cache/gan-zoo).

    Raises `ChecksumError` when the entry's file is truncated or altered (nothing is loaded).
    """
    entry = manifest.get(name, manifest_path)
    path = resolve(entry, cache_dir) if weights == PRETRAINED else weights
    model = build_variant(entry)
    if path is not None:
        model.load_weights(path)
    model.compile(*model.default_optimizers())
    return model
