"""Pretrained generators loaded by name, like keras.applications: `zoo.load("gan-ring8")`.

    import zoo.pretrained
    model = zoo.pretrained.load("gan-ring8")                  # trained weights, checked
    model = zoo.pretrained.load("gan-ring8", weights=None)    # the untrained architecture
    model = zoo.pretrained.load("gan-ring8", weights="my.weights.h5")   # a local file
    python -m zoo.pretrained list                             # the table of entries
    python -m zoo.pretrained build NAME                       # train, save, measure, record

The entries live in `manifest.json` (`zoo.pretrained.manifest`). Weight files are keras
`.weights.h5` files of the model's weights only (`model.save_weights` of the uncompiled
variant: generator, discriminator and, for the AAN, the RBM with its persistent chains; no
optimizer state), restored with `model.load_weights` into the variant rebuilt in code from the
entry's model, dataset, seed and overrides (the code is the model; the file its weights). A
manifest entry's file is checked against its size and sha256 before it is loaded
(`zoo.pretrained.fetch`); a local file given as `weights=PATH` is the caller's and is loaded
as it is.
"""
from __future__ import annotations

import keras

from zoo import data as zoo_data
from zoo.models import registry
from zoo.pretrained import manifest
from zoo.pretrained.checksum import ChecksumError
from zoo.pretrained.fetch import resolve

PRETRAINED = "pretrained"

__all__ = ["ChecksumError", "PRETRAINED", "build_variant", "load"]


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
