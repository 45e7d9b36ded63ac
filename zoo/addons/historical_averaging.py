"""Historical averaging (Salimans et al., 2016, section 3.3).

Each player's cost gets the term

    ||theta - (1/t) sum_{i=1}^{t} theta[i]||^2                              (section 3.3)

where theta[i] is the value of its parameters at past time i: a pull towards the running
mean of its own history, inspired by fictitious play, that damps the oscillations of the
game. Here time i counts the updates of that network: before its t-th update, the current
parameters are folded in as theta[t] (mean_t = mean_{t-1} + (theta[t] - mean_{t-1}) / t,
so mean_1 = theta[1] and the first penalty is 0), then the penalty is taken with the mean
held constant, so that its gradient is 2 w (theta - mean_t). The weight w of each network
(`d_weight`, `g_weight`; the paper gives none) scales the term; 0 leaves the network out.

The default w = 1e-3 is the least harmful weight measured: on the mixtures, where the
zoo's GAN already covers the modes, every weight lowered the quality (`gan`, seed 0,
`benchmarks/techniques.py`; modes covered, high-quality fraction):

    ring8,  2,000 steps: no HA 8, 81%;  w = 1: 6, 0.6%;  0.1: 7, 0.5%;  0.01: 8, 29%;
                         1e-3: 8, 54%;  D only w = 1: 5, 5%;  G only w = 1: 6, 13%
    ring8,  5,000 steps: no HA 8, 97%;  0.01: 8, 74%;  1e-3: 8, 92%
    grid25, 5,000 steps: no HA 23, 72%; 0.01: 18, 2.6%;  1e-3: 18, 29%

The sum runs over every parameter, so the penalty grows with the network's size, and the
mean keeps the first (untrained) values with weight 1/t: a strong w holds the players near
where they started.

The running means and their count are non-trainable variables of a `HistoricalAverage`
layer owned by the model, so they are saved in checkpoints with the other weights and a
resumed run continues the same averages. Inside a replicated step every replica computes
the same values (the parameters are in sync), and the first replica's are kept.
"""
from __future__ import annotations

from typing import Any, Sequence

import keras
import tensorflow as tf

from zoo.addons import Addon, register

DEFAULT_OPTIONS = dict(d_weight=1e-3, g_weight=1e-3)
# Keys of `HistoricalAveraging.averages` and the networks they average.
NETWORKS = {"d": "discriminator", "g": "generator"}


class HistoricalAverage(keras.layers.Layer):
    """Running mean (1/t) sum_{i<=t} theta[i] of a list of variables, and the penalty.

    Args:
      variables: the network's trainable variables (only their shapes are kept: the
        values are passed to `update` and `penalty`).
      weight: w, the penalty's weight.
    """

    def __init__(self, variables: Sequence[Any], weight: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        if not float(weight) >= 0:
            raise ValueError(f"historical averaging weight must be >= 0, got {weight}")
        self.weight = float(weight)
        self.count = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                     name="count", aggregation="only_first_replica")
        self.averages = [
            self.add_weight(shape=tuple(v.shape), initializer="zeros", trainable=False,
                            name=f"average_{i}", aggregation="only_first_replica")
            for i, v in enumerate(variables)]
        self.built = True

    def _check(self, variables: Sequence[Any]) -> None:
        if len(variables) != len(self.averages):
            raise ValueError(f"{self.name} averages {len(self.averages)} variables, "
                             f"got {len(variables)}")

    def update(self, variables: Sequence[Any]) -> None:
        """Folds the current values in: t += 1, mean += (theta - mean) / t."""
        self._check(variables)
        self.count.assign_add(1.0)
        for average, variable in zip(self.averages, variables):
            average.assign(average + (tf.convert_to_tensor(variable) - average) / self.count)

    def penalty(self, variables: Sequence[Any]) -> tf.Tensor:
        """w sum_k ||theta_k - mean_k||^2 over the variables, the means held constant."""
        self._check(variables)
        return self.weight * tf.add_n([
            tf.reduce_sum(tf.square(tf.convert_to_tensor(v) - tf.stop_gradient(a.value)))
            for v, a in zip(variables, self.averages)])


@register
class HistoricalAveraging(Addon):
    """Run-config key `historical_averaging` (true or a diff over `DEFAULT_OPTIONS`): one
    `HistoricalAverage` per network of positive weight, its penalty added to that network's
    loss in its update (after folding in the current values). Averaging G needs the
    skeleton's train_step (dfm's own step refuses it unless g_weight is 0)."""

    key = "historical_averaging"
    DEFAULT_OPTIONS = DEFAULT_OPTIONS

    def attach(self, model: keras.Model) -> None:
        super().attach(model)
        if self.options["g_weight"] and "skeleton_train_step" not in model.capabilities:
            raise ValueError(f"historical averaging of G needs the skeleton's train_step, which "
                             f"{type(model).__name__} replaces; set historical_averaging="
                             "{\"g_weight\": 0} to average D only")
        networks = {"d": model.discriminator, "g": model.generator}
        self.averages = {key: HistoricalAverage(networks[key].trainable_variables,
                                                self.options[f"{key}_weight"],
                                                name=f"{key}_historical_average")
                         for key in NETWORKS if self.options[f"{key}_weight"]}
        self.metric_names = tuple(f"{key}_historical_penalty" for key in self.averages)

    def penalty(self, model: keras.Model, network: str, variables: list) -> tuple[Any, dict]:
        average = self.averages.get(network)
        if average is None:
            return None, {}
        average.update(variables)
        value = average.penalty(variables)
        return value, {f"{network}_historical_penalty": value}
