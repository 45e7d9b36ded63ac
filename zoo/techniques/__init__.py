"""Improved techniques for training GANs (Salimans et al., 2016), as skeleton add-ons.

Each is a run-config key every variant accepts (`zoo.models.base.SKELETON_DEFAULTS`), off
(None) by default, e.g. `python -m zoo.train --model=gan --set=feature_matching=true`:

- `feature_matching` (section 3.1): G matches D's mean features on real data,
  `feature_matching.FeatureMatching`; true or {"layer": name or index}.
- `minibatch_discrimination` (3.2): a `minibatch.MinibatchDiscrimination` layer before
  D's head; true or {"num_kernels": B, "kernel_dim": C, "include_self": bool}.
- `historical_averaging` (3.3): ||theta - mean of past theta||^2 added to D's and G's
  losses, `historical_averaging.HistoricalAverage`; true or {"d_weight", "g_weight"}.
- `one_sided_label_smoothing` (3.4): D's real targets smoothed (fakes stay 0) for the
  sigmoid cross-entropy losses; true (0.9) or the real target.
- `virtual_batch_norm` (3.5): the generator's batch normalization replaced by
  `virtual_batch_norm.VirtualBatchNormalization` over a fixed reference batch; true or
  {"reference_size": N}.

The two that change the networks are applied by `adapt_networks` to a variant's
`build_networks` (so the saved network configs include them); `prepare` draws VBN's
reference batch once the model exists. The others are constructor arguments of
`zoo.models.base.GAN`, whose training step calls them.
"""
from __future__ import annotations

from typing import Any, Mapping

import keras

from zoo.techniques import (feature_matching, historical_averaging, label_smoothing,
                            minibatch, virtual_batch_norm)
from zoo.techniques.options import enabled

__all__ = ["feature_matching", "historical_averaging", "label_smoothing", "minibatch",
           "virtual_batch_norm", "adapt_networks", "prepare"]


def adapt_networks(networks: Mapping[str, Any], config: Mapping[str, Any]) -> dict:
    """A variant's networks with minibatch discrimination and VBN as the run config says."""
    networks = dict(networks)
    if enabled(config.get("minibatch_discrimination")):
        networks = minibatch.insert_before_head(networks, config["minibatch_discrimination"])
    return virtual_batch_norm.adapt_generator(networks, config.get("virtual_batch_norm"))


def prepare(model: keras.Model) -> None:
    """What needs the built model before training: VBN's reference batch."""
    virtual_batch_norm.choose_reference_batch(model)
