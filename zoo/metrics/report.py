"""Every metric of a trained generator for its dataset, with the protocol of each.

`measure(model, dataset)` is what `python -m zoo.evaluate` writes to RUN_DIR/evaluation.json and
what `python -m zoo.pretrained build` records in the manifest:
  * mixtures: `modes_covered`, `high_quality_fraction`, `reverse_kl` (`zoo.evaluation.evaluate`,
    the PacGAN protocol on 2,500 samples, as in metrics.json);
  * fashion_mnist: FCD, classifier score, KCD, precision and recall in the zoo classifier's
    features against the 10,000 test images (`zoo.metrics.images.fashion_mnist_scores`);
  * other image datasets: FID, IS, KID, precision and recall in Inception-v3's features against
    the test split (`zoo.metrics.images.inception_scores`) when its weights are provided
    ($GAN_ZOO_INCEPTION_WEIGHTS), else recorded as skipped with the reason;
  * AAN models, in addition: the RBM's log-likelihood of the binarized features of held-out
    (test split) examples (`zoo.metrics.likelihood.rbm_log_likelihood`); skipped, with the
    reason, for an AAN whose RBM sees expected spins (feature_binarization="mean").
The result is flat, {METRIC: number, ..., "protocol": {GROUP: description}}.

(Not imported by `zoo.metrics` itself: `zoo.evaluation` imports `zoo.metrics`.)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from zoo import data as zoo_data
from zoo import evaluation
from zoo.classifiers import inception_v3
from zoo.metrics.images import (DEFAULT_NUM_SAMPLES, fashion_mnist_scores, inception_scores,
                                reference_images)
from zoo.metrics.likelihood import rbm_log_likelihood

HELD_OUT_EXAMPLES = 10_000
_MIXTURE_PROTOCOL_KEYS = ("protocol", "num_modes", "num_samples")


def held_out(dataset: str, num_examples: int = HELD_OUT_EXAMPLES) -> np.ndarray:
    """The first `num_examples` examples of `dataset`'s test split, in file (stream) order."""
    for batch in zoo_data.load(dataset, batch_size=int(num_examples), split="test",
                               shuffle=False, repeat=False):
        return np.asarray(batch)
    raise ValueError(f"the {dataset} test split has fewer than {num_examples} examples")


def measure(model: Any, dataset: str, *, num_samples: int = DEFAULT_NUM_SAMPLES, seed: int = 0,
            held_out_examples: int = HELD_OUT_EXAMPLES, ais_chains: int = 100,
            ais_temperatures: int = 10_000, inception_weights: str | None = "env") -> dict:
    """The metrics of `model`'s samples (and memory) on `dataset` (module docstring).

    `num_samples` and `seed` set the image metrics' generated samples (the mixtures' protocol
    fixes its own); `held_out_examples`, `ais_chains` and `ais_temperatures` the AAN's RBM
    log-likelihood; `inception_weights` the Inception-v3 file for datasets other than
    Fashion-MNIST.
    """
    info = zoo_data.info(dataset)
    metrics: dict = {}
    protocol: dict = {}
    if info.kind == "mixture":
        result = evaluation.evaluate(model, info)
        protocol["mixture"] = {key: result.pop(key) for key in _MIXTURE_PROTOCOL_KEYS}
        metrics.update(result)
    elif dataset == "fashion_mnist":
        result = fashion_mnist_scores(model, num_samples=num_samples, seed=seed)
        protocol["fashion_mnist_scores"] = result.pop("protocol")
        metrics.update(result)
    else:
        try:
            extractor = inception_v3.load(inception_weights)
        except FileNotFoundError as err:
            protocol["inception_scores"] = f"skipped: {err}"
        else:
            result = inception_scores(model, reference_images(dataset), num_samples=num_samples,
                                      seed=seed, extractor=extractor)
            protocol["inception_scores"] = result.pop("protocol")
            metrics.update(result)
    if hasattr(model, "rbm") and model.feature_binarization != "sign":
        protocol["rbm_log_likelihood"] = (
            "skipped: the RBM sees expected spins (feature_binarization="
            f"{model.feature_binarization!r}), not spin states, so p(v) is not defined")
    elif hasattr(model, "rbm"):
        result = rbm_log_likelihood(model, held_out(dataset, held_out_examples), ais_chains,
                                    ais_temperatures, seed=seed)
        metrics.update(rbm_log_likelihood=result.pop("rbm_log_likelihood"),
                       rbm_log_partition=result.pop("rbm_log_partition"))
        protocol["rbm_log_likelihood"] = dict(
            result, held_out=f"the first {result['num_examples']} examples of the {dataset} "
                             "test split",
            definition="mean log p(sign(F(x))) in nats under the AAN's RBM "
                       "(Salakhutdinov & Murray 2008 for AIS)")
    return dict(metrics, protocol=protocol)
