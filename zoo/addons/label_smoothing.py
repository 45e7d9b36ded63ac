"""One-sided label smoothing (Salimans et al., 2016, section 3.4).

Smoothing D's targets to alpha for real data and beta for samples gives the optimal
discriminator D*(x) = (alpha p_data(x) + beta p_model(x)) / (p_data(x) + p_model(x));
with beta > 0, where p_data is near zero and p_model large, spurious samples have no
incentive to move towards the data. So only the positive targets are smoothed: real
targets become alpha (0.9 in the paper's experiments), fake targets stay 0:

    L_D = -E_x[alpha log D(x) + (1 - alpha) log(1 - D(x))] - E_z[log(1 - D(G(z)))]
        =  E_x[alpha softplus(-l(x)) + (1 - alpha) softplus(l(x))] + E_z[softplus(l(G(z)))]

on D's logits l (log D = -softplus(-l), log(1 - D) = -softplus(l)). G's loss is unchanged.
This is a sigmoid cross-entropy with a soft target, so it applies to the losses that are
one: "minimax" and "non_saturating" (`zoo.losses`). The Wasserstein, hinge and least-squares
losses have no labels to smooth, and are refused.

Measured (`gan`, 5,000 steps, seed 0, `benchmarks/techniques.py`): ring8, 8 of 8 modes at
97% high quality (the GAN: 8 at 97%); grid25, 18 of 25 at 40% (the GAN: 23 at 72%).
"""
from __future__ import annotations

from typing import Any

import tensorflow as tf

from zoo import losses as losses_lib
from zoo.addons import Addon, enabled, register
from zoo.config import RunConfig

DEFAULT_REAL_TARGET = 0.9
SMOOTHABLE_LOSSES = ("minimax", "non_saturating")


def smoothed_discriminator_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor,
                                real_target: float = DEFAULT_REAL_TARGET) -> tf.Tensor:
    """L_D above: sigmoid cross-entropy with targets `real_target` (real) and 0 (fake)."""
    real_logits = tf.cast(real_logits, tf.float32)
    fake_logits = tf.cast(fake_logits, tf.float32)
    real_term = (real_target * tf.nn.softplus(-real_logits)
                 + (1.0 - real_target) * tf.nn.softplus(real_logits))
    return tf.reduce_mean(real_term) + tf.reduce_mean(tf.nn.softplus(fake_logits))


def real_target(option: Any) -> float | None:
    """The real target a run config's `one_sided_label_smoothing` entry sets: None when
    off, 0.9 for True, else the number itself, which must lie in (0, 1]."""
    if not enabled(option):
        return None
    if option is True:
        return DEFAULT_REAL_TARGET
    if isinstance(option, bool) or not isinstance(option, (int, float)) or not 0 < option <= 1:
        raise ValueError("one_sided_label_smoothing must be true or the real target in (0, 1] "
                         f"(0.9 in the paper), got {option!r}")
    return float(option)


def smoothed(loss: losses_lib.AdversarialLoss, target: float | None) -> losses_lib.AdversarialLoss:
    """`loss` with D's real targets smoothed to `target` (G's side unchanged); `loss`
    itself when `target` is None. Raises a ValueError for a loss that is not a sigmoid
    cross-entropy."""
    if target is None:
        return loss
    if loss.name not in SMOOTHABLE_LOSSES:
        raise ValueError(
            f"one_sided_label_smoothing smooths the sigmoid cross-entropy of the "
            f"{' and '.join(SMOOTHABLE_LOSSES)} losses; loss {loss.name!r} has no labels to "
            f"smooth")
    return losses_lib.AdversarialLoss(
        f"{loss.name}+one_sided_label_smoothing",
        lambda real, fake: smoothed_discriminator_loss(real, fake, target), loss.generator)


@register
class OneSidedLabelSmoothing(Addon):
    """Run-config key `one_sided_label_smoothing`: true (0.9) or the real target."""

    key = "one_sided_label_smoothing"
    requires = {"skeleton_discriminator_loss": "smooths the skeleton's adversarial loss, "
                                               "which {variant}'s discriminator_loss replaces"}

    @classmethod
    def normalize(cls, value: Any, config: RunConfig) -> float | None:
        target = real_target(value)
        if target is not None and config is not None and hasattr(config, "loss"):
            smoothed(losses_lib.get(config.loss), target)  # refuses other losses here
        return target

    def adversarial_loss(self, loss: losses_lib.AdversarialLoss) -> losses_lib.AdversarialLoss:
        return smoothed(loss, self.options)
