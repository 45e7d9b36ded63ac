"""The Inception Score (Salimans et al., 2016), from a classifier's logits.

    IS = exp( E_x [ KL( p(y|x) || p(y) ) ] ),   p(y) = E_x [ p(y|x) ],

with p(y|x) = softmax(logits(x)). Salimans et al.'s protocol ("Improved Techniques for Training
GANs", NeurIPS 2016): 50,000 samples split into 10 equal parts, the score computed on each part
with that part's own marginal p(y), and the mean and standard deviation over the parts reported.
It is 1 when every p(y|x) is the same and equals the number of classes C when each p(y|x) is
one-hot and the samples spread evenly over the classes.

The published numbers use the original TF-1 Inception graph (1,008 classes) at 299x299; the
score of any other classifier (keras' InceptionV3, the zoo's Fashion-MNIST CNN, where it is
called the *classifier score*) reads the same way but is not comparable to them.
"""
from __future__ import annotations

import numpy as np
from scipy.special import log_softmax, logsumexp


def inception_score(logits: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """Returns (mean, std) of exp E[KL(p(y|x) || p(y))] over `splits` equal parts of `logits`.

    `logits` is [N, C] (unnormalised log-probabilities; the softmax is taken here, in float64,
    in log space). The parts are consecutive rows, N // splits each (the remainder is dropped,
    as in the reference code); the std is numpy's population std (ddof=0), as there.
    """
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or logits.shape[1] < 2:
        raise ValueError(f"logits must have shape [N, C] with C >= 2, got {logits.shape}")
    if int(splits) < 1 or logits.shape[0] < int(splits):
        raise ValueError(f"need at least one sample per split: {logits.shape[0]} samples, "
                         f"{splits} splits")
    if not np.all(np.isfinite(logits)):
        raise ValueError("logits contain NaN or infinite values")
    size = logits.shape[0] // int(splits)
    scores = []
    for part in range(int(splits)):
        log_p = log_softmax(logits[part * size:(part + 1) * size], axis=1)
        log_marginal = logsumexp(log_p, axis=0) - np.log(size)
        kl = np.sum(np.exp(log_p) * (log_p - log_marginal), axis=1)
        scores.append(np.exp(np.mean(kl)))
    return float(np.mean(scores)), float(np.std(scores))
