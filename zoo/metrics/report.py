"""Every metric of a trained generator for its dataset, with the protocol of each.

`measure(model, dataset)` is the zoo's one measurement: the trainer's final metrics
(RUN_DIR/metrics.json), `python -m zoo.evaluate` (RUN_DIR/evaluation.json), the metrics callback
(`zoo.callbacks_metrics`), `python -m zoo.pretrained build/measure` (the manifest) and the
benchmarks all call it, so that one dataset gets the same metrics everywhere:
  * mixtures: `modes_covered`, `high_quality_fraction`, `reverse_kl` (`mixture_scores`, the
    PacGAN protocol on 2,500 samples drawn with seed 12345);
  * fashion_mnist: FCD, classifier score, KCD, precision and recall in the zoo classifier's
    features against the 10,000 test images (`zoo.metrics.images.fashion_mnist_scores`);
  * other image datasets: FID, IS, KID, precision and recall in Inception-v3's features against
    the test split (`zoo.metrics.images.inception_scores`) when its weights are provided
    ($GAN_ZOO_INCEPTION_WEIGHTS), else recorded as skipped with the reason;
  * AAN models, in addition: the RBM's log-likelihood of the binarized features of held-out
    (test split) examples (`zoo.metrics.likelihood.rbm_log_likelihood`); skipped, with the
    reason, for an AAN whose RBM sees expected spins (feature_binarization="mean"), or when
    the caller asks (`rbm_likelihood=False`: the trainer and the callback, for its cost).
The result is flat, {METRIC: number, ..., "protocol": {GROUP: description}}.

(`zoo.metrics`' own `__init__` does not import it: import `zoo.metrics.report`.)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from zoo import data as zoo_data
from zoo.classifiers import fashion_mnist, inception_v3
from zoo.metrics.images import (DEFAULT_NUM_SAMPLES, fashion_mnist_scores, inception_scores,
                                reference_images)
from zoo.metrics.likelihood import rbm_log_likelihood
from zoo.metrics.mixture import MIXTURE_PROTOCOL, MIXTURE_SAMPLES, MIXTURE_SEED, mixture_metrics

HELD_OUT_EXAMPLES = 10_000


def held_out(dataset: str, num_examples: int = HELD_OUT_EXAMPLES) -> np.ndarray:
    """The first `num_examples` examples of `dataset`'s test split, in file (stream) order."""
    for batch in zoo_data.load(dataset, batch_size=int(num_examples), split="test",
                               shuffle=False, repeat=False):
        return np.asarray(batch)
    raise ValueError(f"the {dataset} test split has fewer than {num_examples} examples")


def mixture_scores(model: Any, info: Any, seed: int = MIXTURE_SEED) -> dict:
    """The PacGAN-protocol metrics of `MIXTURE_SAMPLES` samples of `model` on `info`'s
    mixture, and their protocol: {"modes_covered", "high_quality_fraction", "reverse_kl",
    "protocol": {...}}."""
    samples = model.generate(MIXTURE_SAMPLES, seed=seed)
    return dict(mixture_metrics(samples, info.centers, info.std),
                protocol=dict(protocol=MIXTURE_PROTOCOL, num_modes=len(info.centers),
                              num_samples=MIXTURE_SAMPLES, seed=seed))


def image_extractor(dataset: str, inception_weights: str | None = "env") -> Any:
    """The feature extractor of `dataset`'s image metrics: the zoo's Fashion-MNIST classifier,
    else Inception-v3 (FileNotFoundError, saying how to provide them, without its weights)."""
    if dataset == "fashion_mnist":
        return fashion_mnist.load()
    return inception_v3.load(inception_weights)


def measure(model: Any, dataset: str, *, num_samples: int = DEFAULT_NUM_SAMPLES, seed: int = 0,
            mixture_seed: int = MIXTURE_SEED, extractor: Any = None,
            rbm_likelihood: bool = True, held_out_examples: int = HELD_OUT_EXAMPLES,
            ais_chains: int = 100, ais_temperatures: int = 10_000,
            inception_weights: str | None = "env") -> dict:
    """The metrics of `model`'s samples (and memory) on `dataset` (module docstring).

    `num_samples` and `seed` set the image metrics' generated samples and `extractor` their
    feature extractor already loaded (default: `image_extractor`); `mixture_seed` the
    mixtures' samples (their protocol fixes the count); `rbm_likelihood`, `held_out_examples`,
    `ais_chains` and `ais_temperatures` the AAN's RBM log-likelihood; `inception_weights` the
    Inception-v3 file for image datasets other than Fashion-MNIST.
    """
    info = zoo_data.info(dataset)
    metrics: dict = {}
    protocol: dict = {}
    if info.kind == "mixture":
        result = mixture_scores(model, info, mixture_seed)
        protocol["mixture"] = result.pop("protocol")
        metrics.update(result)
    elif dataset == "fashion_mnist":
        result = fashion_mnist_scores(model, num_samples=num_samples, seed=seed,
                                      classifier=extractor or image_extractor(dataset))
        protocol["fashion_mnist_scores"] = result.pop("protocol")
        metrics.update(result)
    else:
        try:
            extractor = extractor or image_extractor(dataset, inception_weights)
        except FileNotFoundError as err:
            protocol["inception_scores"] = f"skipped: {err}"
        else:
            result = inception_scores(model, reference_images(dataset), num_samples=num_samples,
                                      seed=seed, extractor=extractor)
            protocol["inception_scores"] = result.pop("protocol")
            metrics.update(result)
    if hasattr(model, "rbm"):
        metrics_, protocol["rbm_log_likelihood"] = _memory(
            model, dataset, rbm_likelihood, held_out_examples, ais_chains, ais_temperatures, seed)
        metrics.update(metrics_)
    return dict(metrics, protocol=protocol)


def _memory(model: Any, dataset: str, wanted: bool, held_out_examples: int, ais_chains: int,
            ais_temperatures: int, seed: int) -> tuple[dict, Any]:
    """(the AAN's RBM log-likelihood numbers, their protocol or the reason they are skipped)."""
    if not wanted:
        return {}, ("skipped: not measured here (rbm_likelihood=False); "
                    "`python -m zoo.evaluate` measures it")
    if model.feature_binarization != "sign":
        return {}, ("skipped: the RBM sees expected spins (feature_binarization="
                    f"{model.feature_binarization!r}), not spin states, so p(v) is not defined")
    result = rbm_log_likelihood(model, held_out(dataset, held_out_examples), ais_chains,
                                ais_temperatures, seed=seed)
    numbers = dict(rbm_log_likelihood=result.pop("rbm_log_likelihood"),
                   rbm_log_partition=result.pop("rbm_log_partition"))
    return numbers, dict(
        result, held_out=f"the first {result['num_examples']} examples of the {dataset} "
                         "test split",
        definition="mean log p(sign(F(x))) in nats under the AAN's RBM "
                   "(Salakhutdinov & Murray 2008 for AIS)")
