"""BigGAN's techniques (Brock, Donahue & Simonyan, ICLR 2019) at small scale.

On the projection GAN (`projection`: SNGAN's ResNets, conditional BN in G, the projection
discriminator, the hinge loss), BigGAN adds:

- a shared class embedding and a hierarchical latent (section 3): z is split into one chunk
  for G's input layer and one per residual block, and each block's conditional BNs take
  c = [e(y), z_k], the one class embedding e shared by all blocks concatenated with the
  block's chunk; gamma(c) and beta(c) are spectrally normalised linear maps (gain 1 +
  gamma(c); `zoo.networks.conditional_bn`);
- spectral normalization in G as well as D (SAGAN's choice, which BigGAN keeps), and an
  optional self-attention layer (`attention_resolution`; off at 32x32, as BigGAN-PyTorch's
  CIFAR-10 settings);
- orthogonal regularization of G (section 3.1), R_beta(W) = beta ||W^T W ⊙ (1 - I)||_F^2
  with beta = 1e-4, summed over G's kernels (the shared embedding excepted, as in
  BigGAN-PyTorch) and added to G's loss (`zoo.losses.orthogonal_regularization`; logged
  as `orthogonal_penalty`);
- the truncation trick (section 3.1): at sampling time z is drawn from a normal truncated
  to [-t, t] (`truncate`); a smaller threshold t trades variety for fidelity. t is an
  argument of `generate` and a per-row input `truncation` of the exported `sample` signature
  (beside `labels`); training, the metrics and `generate` by default draw z untruncated;
- an exponential moving average of G's weights that samples and is exported (the skeleton's
  `generator_ema`, on by default).

Settings: BigGAN-PyTorch's 32x32 architecture, 256 channels (4 ch, ch = 64) in every block
of G and D, z of 128 in 4 chunks of 32, a shared embedding of 128; Adam with beta_1 = 0,
beta_2 = 0.999, D at 4e-4 and G at 1e-4, one D update per G update, batch 64, as
BigGAN-PyTorch's released ImageNet scripts (the paper's appendix reports D at 2e-4 and G at
5e-5 with two D steps per G step, for batches of 2,048). EMA decay 0.99 instead of the
paper's 0.9999: BigGAN starts its average after 20,000 iterations, while the zoo's starts at
G's initial weights, of which 0.9999^1000 = 90% would remain after a 1,000-step run
(0.99^1000 < 1e-4: an average over roughly the last 100 steps). fashion_mnist is resized to
32x32.

Differences from the paper, besides the scale: the convolutions keep SNGAN's Glorot
initialisation (BigGAN: orthogonal; the conditional BNs' maps and the shared embedding here
start orthogonal), batch norm statistics are per replica (BigGAN: cross-replica), and the
averaged G keeps averaged moving statistics (`zoo.addons.ema`) instead of BigGAN's recomputed
"standing statistics".

Measured on fashion_mnist (seed 0; `--batch_size=64 --set=width=32 --set=d_width=32`, the rest
default; 2 CPU cores shared with other jobs: 400 steps in 149 s, 1,200 in 344 s, the time
`projection` takes for 400): `python -m zoo.evaluate`'s FCD (10,000 samples of G's average,
labels drawn uniformly, against the 10,000 test images loaded at 32x32 and resized back to
28x28) is 131.3 untrained, 62.4 after 400 steps (G itself: 62.6) and 30.7 after 1,200
(precision 0.66, recall 0.22); the zoo's classifier puts 46.1% of 1,000 samples of given
labels in their class. Truncation at 1,200 steps trades recall for precision as in the paper,
but costs FCD: t = 2: FCD 31.2; t = 1: 38.8, precision 0.70, recall 0.08 (after 400 steps,
t = 1 gives 123.3).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo import losses
from zoo.config import at_least, param
from zoo.models.base import GAN
from zoo.models.cgan import CGAN
from zoo.models.projection import Projection
from zoo.models.registry import MODELS


def truncate(z: tf.Tensor, threshold: tf.Tensor | float) -> tf.Tensor:
    """z ~ N(0, I) mapped to a draw of N(0, I) truncated to [-t, t], elementwise.

    Brock et al. (2019), section 3.1, resample the values of z outside [-t, t]; mapping z
    through the normal's CDF Phi into [Phi(-t), Phi(t)] and back (the inverse-CDF method)
    draws from the same truncated normal with no rejection loop:

        z_t = Phi^-1(Phi(-t) + Phi(z) (Phi(t) - Phi(-t)))
            = sqrt(2) erfinv(erf(z / sqrt(2)) erf(t / sqrt(2))).

    Each |z_t| grows with t (so a smaller threshold shrinks every coordinate of the same
    draw), |z_t| < t, and t = inf (where erf(t / sqrt(2)) rounds to 1) leaves z unchanged.
    `threshold` broadcasts against z (a scalar, or [batch, 1] per row). Computed in float64.
    """
    z64 = tf.cast(z, tf.float64)
    scale = tf.math.erf(tf.cast(threshold, tf.float64) / math.sqrt(2.0))
    truncated = math.sqrt(2.0) * tf.math.erfinv(tf.math.erf(z64 / math.sqrt(2.0)) * scale)
    return tf.cast(tf.where(scale < 1.0, truncated, z64), z.dtype)


def checked_truncation(truncation: Any) -> float | None:
    """`truncation` as a threshold > 0 (inf allowed), or None; a ValueError naming it."""
    if truncation is None:
        return None
    try:
        value = float(truncation)
    except (TypeError, ValueError):
        value = math.nan
    if not value > 0:  # NaN fails too
        raise ValueError(f"truncation must be a threshold > 0 (or None: untruncated), got "
                         f"{truncation!r}")
    return value


@MODELS.register("biggan")
class BigGAN(Projection):
    """The projection GAN with BigGAN's G (shared embedding, hierarchical z, SN), orthogonal
    regularization, truncation and G's moving average.

    Args:
      orthogonal_regularization: beta of R_beta on G's kernels (0: off).
      (the rest as `cgan.CGAN`.)
    """

    generator_spectral_norm = True
    capabilities = Projection.capabilities - {"skeleton_generator_objective"}
    metric_names = GAN.metric_names + ("orthogonal_penalty",)
    sample_extras = dict(CGAN.sample_extras,
                         truncation=tf.TensorSpec([None], tf.float32, name="truncation"))

    @dataclasses.dataclass(frozen=True)
    class Config(Projection.Config):
        """The projection GAN's, with BigGAN's widths, embedding, beta, rates and EMA (module
        docstring)."""

        width: int = 256
        d_width: int = 256
        shared_embedding: int | None = 128
        attention_resolution: int | None = None
        orthogonal_regularization: float = param(1e-4, check=at_least(0), doc="beta of R_beta")
        d_steps: int = 1
        learning_rate: float = 1e-4
        d_learning_rate: float | None = 4e-4
        g_learning_rate: float | None = 1e-4
        beta_1: float = 0.0
        beta_2: float = 0.999
        default_addons = {"generator_ema": 0.99}
        unused = frozenset()

    def __init__(self, generator: keras.Model, discriminator: keras.Model, **kwargs: Any):
        super().__init__(generator, discriminator, **kwargs)
        shared = [layer for layer in generator.layers if layer.name == "shared_embedding"]
        excluded = {id(v) for layer in shared for v in layer.trainable_variables}
        self.regularized_kernels = [v for v in generator.trainable_variables
                                    if len(v.shape) >= 2 and id(v) not in excluded]

    # ------------------------------------------------------------- objectives
    def orthogonal_penalty(self) -> tf.Tensor:
        """R_beta summed over G's kernels (`zoo.losses.orthogonal_regularization`)."""
        return losses.orthogonal_regularization(self.regularized_kernels,
                                                self.config.orthogonal_regularization)

    def generator_objective(self, real: tf.Tensor, batch: tf.Tensor,
                            labels: Any = None) -> tuple[tf.Tensor, dict]:
        """G's hinge loss + R_beta(G's kernels) (section 3.1); `g_loss` logs the first."""
        loss, logs = super().generator_objective(real, batch, labels)
        penalty = self.orthogonal_penalty()
        return loss + penalty, dict(logs, orthogonal_penalty=penalty)

    # ------------------------------------------------------------- truncation
    def sample_generator_inputs(self, batch_size: tf.Tensor | int, seed: tf.Tensor,
                                truncation: float | None = None) -> tf.Tensor:
        """z ~ N(0, I) from a stateless seed [2], truncated to [-truncation, truncation]
        where given (`truncate`: the same draw, each coordinate shrunk)."""
        z = super().sample_generator_inputs(batch_size, seed)
        return z if truncation is None else truncate(z, truncation)

    def generate(self, num_samples: int, seed: int = 0, labels: Any = None,
                 truncation: float | None = None) -> np.ndarray:
        """`num_samples` samples of `labels` (None: drawn from `seed`), z truncated to
        [-truncation, truncation] (None: untruncated; a threshold > 0, inf allowed)."""
        return super().generate(num_samples, seed, labels,
                                truncation=checked_truncation(truncation))

    def generator_inputs_from_seeds(self, seeds: tf.Tensor, labels: tf.Tensor | None = None,
                                    truncation: tf.Tensor | None = None) -> list:
        """cgan's rows [z, labels], z truncated by truncation[i] (> 0; inf: untruncated;
        None: every row untruncated). A threshold <= 0 or NaN fails an assertion."""
        z, labels = super().generator_inputs_from_seeds(seeds, labels)
        if truncation is None:
            return [z, labels]
        truncation = tf.cast(truncation, tf.float32)
        tf.debugging.assert_positive(truncation, message="truncation must be > 0")
        return [truncate(z, truncation[:, None]), labels]
