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

from typing import Any

from zoo.pretrained.checksum import ChecksumError
from zoo.pretrained.names import PRETRAINED

__all__ = ["ChecksumError", "PRETRAINED", "build_variant", "load"]


def __getattr__(name: str) -> Any:
    """`load` and `build_variant` import Keras on first use (`zoo.pretrained.loading`)."""
    if name in ("load", "build_variant"):
        from zoo.pretrained import loading

        return getattr(loading, name)
    raise AttributeError(f"module 'zoo.pretrained' has no attribute {name!r}")
