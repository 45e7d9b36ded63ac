"""Tests of `python -m zoo.evaluate` and `zoo.metrics.report` on tiny finished runs."""
from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest
from scipy.special import logsumexp

from zoo import trainer
from zoo.classifiers import fashion_mnist
from zoo.evaluate import EVALUATION_FILE, evaluate_run
from zoo.metrics import report
from zoo.models import build

from conftest import REPO_ROOT, subprocess_env

MIXTURE_METRICS = ("modes_covered", "high_quality_fraction", "reverse_kl")


def test_mixture_run_is_measured_as_its_metrics_json(tiny_gan_run, python):
    completed = subprocess.run([python, "-m", "zoo.evaluate", f"--run_dir={tiny_gan_run}"],
                               cwd=REPO_ROOT, env=subprocess_env(), capture_output=True,
                               text=True, timeout=180)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip().splitlines()[-1].startswith("gan on ring8 at step 50: ")
    with open(os.path.join(tiny_gan_run, EVALUATION_FILE)) as handle:
        evaluation = json.load(handle)
    with open(os.path.join(tiny_gan_run, trainer.METRICS_FILE)) as handle:
        recorded = json.load(handle)
    assert {k: evaluation[k] for k in MIXTURE_METRICS} == {k: recorded[k] for k in MIXTURE_METRICS}
    assert evaluation == recorded  # one schema and the same numbers (`rundir.measurement_record`)
    assert evaluation["model"] == "gan" and evaluation["steps"] == 50
    assert evaluation["protocol"]["mixture"]["num_samples"] == 2500
    assert "rbm_log_likelihood" not in evaluation


def numpy_log_likelihood(model, images: np.ndarray) -> float:
    """mean log p(sign(F(x))) with log Z by enumerating the 2^12 hidden states in numpy."""
    w, b, c = (np.asarray(v, np.float64) for v in
               (model.rbm.kernel, model.rbm.visible_bias, model.rbm.hidden_bias))
    hidden = w.shape[1]
    states = np.array([[1.0 if (i >> u) & 1 else -1.0 for u in range(hidden)]
                       for i in range(2 ** hidden)])
    log_z = logsumexp(states @ c + np.sum(np.log(2 * np.cosh(b + states @ w.T)), axis=1))
    v = np.where(np.asarray(model.features(images, training=False)) >= 0, 1.0, -1.0)
    return float(np.mean(v @ b + np.sum(np.log(2 * np.cosh(c + v @ w)), axis=1)) - log_z)


def test_aan_image_run_gets_classifier_scores_and_the_memory_likelihood(tiny_aan_run):
    evaluation = evaluate_run(tiny_aan_run, num_samples=200, held_out_examples=500)
    with open(os.path.join(tiny_aan_run, EVALUATION_FILE)) as handle:
        assert json.load(handle) == evaluation
    for key in ("frechet_classifier_distance", "classifier_score", "kernel_classifier_distance",
                "precision", "recall"):
        assert np.isfinite(evaluation[key])
    scores = evaluation["protocol"]["fashion_mnist_scores"]
    with open(fashion_mnist.record_path(fashion_mnist.WEIGHTS)) as handle:
        assert scores["feature_extractor"]["weights_sha256"] == json.load(handle)["sha256"]
    assert scores["num_samples"] == 200 and "test split" in scores["reference"]
    assert "none" in scores["feature_extractor"]["resizing"]
    memory = evaluation["protocol"]["rbm_log_likelihood"]
    assert memory["rbm_log_partition_method"] == "exact" and memory["num_examples"] == 500
    model = trainer.load_run(tiny_aan_run)
    assert evaluation["rbm_log_likelihood"] == pytest.approx(
        numpy_log_likelihood(model, report.held_out("fashion_mnist", 500)), abs=1e-3)


def test_other_image_datasets_skip_inception_without_its_weights(monkeypatch):
    import zoo.data

    monkeypatch.delenv("GAN_ZOO_INCEPTION_WEIGHTS", raising=False)
    model = build("dcgan", zoo.data.info("cifar10"), dict(width=8, latent_dim=8))
    measured = report.measure(model, "cifar10")
    assert set(measured) == {"protocol"}
    assert measured["protocol"]["inception_scores"].startswith("skipped: Inception-v3 weights")
