"""Held-out log-likelihood of the AAN's associative memory (its RBM) on real data.

The AAN's RBM learns the spin states v = sign(F(x)) of the discriminator's tanh feature layer
on real data (`zoo.models.aan`). Its held-out log-likelihood, in nats per example, is

    LL = (1/N) sum_n log p(v_n),   log p(v) = -F(v) - log Z,
    F(v) = -b^T v - sum_j log(2 cosh(c_j + W_j^T v))            (the free energy),

over the features of N held-out examples x_n (`zoo.rbm.average_log_likelihood`). log Z is exact
when the smaller layer has at most `zoo.rbm.MAX_ENUMERATED_UNITS` units (enumeration,
`zoo.rbm.log_partition_exact`); otherwise it is estimated by annealed importance sampling
(Salakhutdinov & Murray, "On the Quantitative Analysis of Deep Belief Networks", ICML 2008;
`zoo.rbm.log_partition_ais`), whose estimate of log Z is biased low, so the AIS
log-likelihood tends to be optimistic. The number measures the memory on the features its
own F gives; it compares memories of one discriminator (or one run over time), not two runs.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from zoo import rbm as rbm_lib

FEATURE_BATCH = 500


def binarized_features(model: Any, data: np.ndarray) -> np.ndarray:
    """sign(F(x)) of each row of `data` (inference mode, in batches): the RBM's visible states."""
    if getattr(model, "feature_binarization", None) != "sign":
        raise ValueError(
            "the RBM log-likelihood needs an AAN whose RBM sees spin states "
            "(feature_binarization='sign'); got "
            f"{getattr(model, 'feature_binarization', type(model).__name__)!r}")
    data = np.asarray(data, dtype=np.float32)
    return np.concatenate([
        np.asarray(model.binarize(model.features(data[start:start + FEATURE_BATCH],
                                                 training=False)))
        for start in range(0, len(data), FEATURE_BATCH)])


def rbm_log_likelihood(model: Any, data: np.ndarray, num_chains: int = 100,
                       num_temperatures: int = 10000, seed: int = 0,
                       exact: bool | None = None) -> dict:
    """Mean log p(sign(F(x))) under `model.rbm` over the held-out rows of `data`.

    Args:
      model: an AAN (`model.rbm`, `model.features`, `model.binarize`).
      data: held-out real examples (images [N, H, W, C] or points [N, D]) as the model sees them.
      num_chains, num_temperatures: AIS settings (ignored when log Z is exact).
      seed: seeds AIS (the stateless seed [seed, 0]).
      exact: True forces enumeration, False forces AIS; None (default) enumerates when the
        smaller layer has at most `zoo.rbm.MAX_ENUMERATED_UNITS` units.

    Returns {"rbm_log_likelihood", "rbm_log_partition" (log Z), "rbm_log_partition_method"
    ("exact" or "ais"), "num_examples", and for AIS "ais_chains", "ais_temperatures", "ais_seed"}.
    """
    if len(data) == 0:
        raise ValueError("data is empty")
    memory = model.rbm
    features = binarized_features(model, data)
    if exact is None:
        exact = min(memory.visible_units, memory.hidden_units) <= rbm_lib.MAX_ENUMERATED_UNITS
    result = dict(num_examples=len(features))
    if exact:
        log_z = rbm_lib.log_partition_exact(memory)
        result.update(rbm_log_partition_method="exact")
    else:
        log_z = rbm_lib.log_partition_ais(memory, int(num_chains), int(num_temperatures),
                                          seed=tf.constant([int(seed), 0], tf.int64))
        result.update(rbm_log_partition_method="ais", ais_chains=int(num_chains),
                      ais_temperatures=int(num_temperatures), ais_seed=int(seed))
    log_likelihood = rbm_lib.average_log_likelihood(memory, features, log_z)
    return dict(result, rbm_log_likelihood=float(log_likelihood), rbm_log_partition=float(log_z))
