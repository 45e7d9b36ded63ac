"""Adversarial objectives, each a pair (discriminator loss, generator loss) on logits.

Every loss takes the discriminator's raw outputs (logits, or critic values for the
Wasserstein loss) and returns the mean over the batch it is given. Under a
`tf.distribute` strategy the caller divides by the number of replicas (see
`zoo.models.base.GAN`), since the optimizers sum gradients across replicas.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import tensorflow as tf

from zoo.registry import Registry

Tensor = tf.Tensor


@dataclasses.dataclass(frozen=True)
class AdversarialLoss:
    """A named objective: `discriminator(real, fake)` and `generator(fake)` on D's outputs."""

    name: str
    discriminator: Callable[[Tensor, Tensor], Tensor]
    generator: Callable[[Tensor], Tensor]


LOSSES: Registry[AdversarialLoss] = Registry("loss")


def _register(loss: AdversarialLoss) -> AdversarialLoss:
    return LOSSES.register(loss.name)(loss)


def get(name: str) -> AdversarialLoss:
    """The loss registered under `name` (a clear error lists the valid names)."""
    return LOSSES.get(name)


def _mean(x: Tensor) -> Tensor:
    return tf.reduce_mean(tf.cast(x, tf.float32))


def minimax_discriminator(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Goodfellow et al. (2014), eq. (1), D's side, as a loss to minimise.

    L_D = -E_x[log D(x)] - E_z[log(1 - D(G(z)))], D = sigmoid(logits);
    log D = -softplus(-l) and log(1 - D) = -softplus(l), computed stably.
    """
    return _mean(tf.nn.softplus(-real_logits)) + _mean(tf.nn.softplus(fake_logits))


def minimax_generator(fake_logits: Tensor) -> Tensor:
    """Goodfellow et al. (2014), eq. (1), G's side: L_G = E_z[log(1 - D(G(z)))] = -E[softplus(l)]."""
    return -_mean(tf.nn.softplus(fake_logits))


def non_saturating_generator(fake_logits: Tensor) -> Tensor:
    """Goodfellow et al. (2014), section 3: G maximises log D(G(z)); L_G = E[softplus(-l)]."""
    return _mean(tf.nn.softplus(-fake_logits))


def wasserstein_discriminator(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Arjovsky et al. (2017), eq. (3): the critic maximises E[f(x)] - E[f(G(z))].

    L_D = E[f(G(z))] - E[f(x)].
    """
    return _mean(fake_scores) - _mean(real_scores)


def wasserstein_generator(fake_scores: Tensor) -> Tensor:
    """Arjovsky et al. (2017), Algorithm 1: L_G = -E[f(G(z))]."""
    return -_mean(fake_scores)


def hinge_discriminator(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Lim & Ye (2017); Miyato et al. (2018), eq. (16): L_D = E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]."""
    return _mean(tf.nn.relu(1.0 - real_logits)) + _mean(tf.nn.relu(1.0 + fake_logits))


def hinge_generator(fake_logits: Tensor) -> Tensor:
    """Miyato et al. (2018), eq. (17): L_G = -E[D(G(z))]."""
    return -_mean(fake_logits)


def least_squares_discriminator(real_outputs: Tensor, fake_outputs: Tensor) -> Tensor:
    """Mao et al. (2017), eq. (9) with a=0, b=1: L_D = 1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2]."""
    return 0.5 * _mean(tf.square(real_outputs - 1.0)) + 0.5 * _mean(tf.square(fake_outputs))


def least_squares_generator(fake_outputs: Tensor) -> Tensor:
    """Mao et al. (2017), eq. (9) with c=1: L_G = 1/2 E[(D(G(z)) - 1)^2]."""
    return 0.5 * _mean(tf.square(fake_outputs - 1.0))


def interpolation_weights(batch_size: Tensor | int, seed: Tensor) -> Tensor:
    """eps ~ U[0, 1], one per sample (shape [batch_size]), from a stateless seed [2].

    Uniform, not normal: drawing eps from a normal distribution (outside [0, 1], so off the
    segment between the real and the fake sample) is a widely copied bug.
    """
    return tf.random.stateless_uniform([batch_size], seed=seed, minval=0.0, maxval=1.0)


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor,
                     seed: Tensor | None = None, weights: Tensor | None = None) -> Tensor:
    """Gulrajani et al. (2017), eq. (3): E_{x^}[(||grad_{x^} D(x^)||_2 - 1)^2].

    x^ = eps x + (1 - eps) G(z), with eps ~ U[0, 1] drawn once per sample (Algorithm 1,
    line 4; `interpolation_weights`). Pass either `seed`, a stateless seed [2] to draw
    eps from, or `weights`, eps itself ([batch]; e.g. a replica's slice of a draw made for
    the global batch). The gradient of each interpolate is its own only if the critic
    treats samples independently: no batch normalization in training mode (section 4 of
    the paper; layer normalization is its drop-in replacement).
    """
    real = tf.cast(real, tf.float32)
    fake = tf.cast(fake, tf.float32)
    batch = tf.shape(real)[0]
    if (seed is None) == (weights is None):
        raise ValueError("gradient_penalty takes exactly one of seed and weights")
    eps = interpolation_weights(batch, seed) if weights is None else tf.cast(weights, tf.float32)
    eps = tf.reshape(eps, tf.concat([[batch], tf.ones([tf.rank(real) - 1], tf.int32)], axis=0))
    interpolates = eps * real + (1.0 - eps) * fake
    with tf.GradientTape() as tape:
        tape.watch(interpolates)
        scores = critic(interpolates)
    grads = tape.gradient(scores, interpolates)
    norms = tf.sqrt(tf.reduce_sum(tf.reshape(tf.square(grads), [batch, -1]), axis=1) + 1e-12)
    return _mean(tf.square(norms - 1.0))


def r1_penalty(critic: Callable[[Tensor], Tensor], real: Tensor) -> Tensor:
    """Mescheder et al. (2018), eq. (9), without its factor: E_{x ~ p_data}[||grad_x D(x)||^2].

    D (its logit) is penalised by R1 = gamma / 2 times this (gamma = 10 in StyleGAN,
    Karras et al. 2019, appendix C).
    Computed with its own forward pass of D on `real`; call it under D's gradient tape,
    which then differentiates through the gradient (double backpropagation). Each sample's
    gradient is its own only if D treats samples independently (no batch normalization).
    """
    real = tf.cast(real, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(real)
        scores = critic(real)
    grads = tape.gradient(scores, real)  # of sum(scores): each row's own gradient
    batch = tf.shape(real)[0]
    return _mean(tf.reduce_sum(tf.reshape(tf.square(grads), [batch, -1]), axis=1))


def orthogonal_regularization(kernels: Sequence[Tensor], beta: float) -> Tensor:
    """Brock et al. (2019), section 3.1: R_beta(W) = beta ||W^T W ⊙ (1 - I)||_F^2, summed
    over `kernels`.

    Each kernel is read as the matrix W [fan_in, units] whose columns are its filters (a
    convolution's [k_h, k_w, c_in, c_out] reshaped to [k_h k_w c_in, c_out]), so W^T W is
    the [units, units] Gram matrix of the filters, as in BigGAN-PyTorch's `ortho` (which
    applies the gradient of half this penalty by hand). Masking the diagonal leaves the
    filters' norms free and penalises only their pairwise cosine similarity: unlike
    beta ||W^T W - I||_F^2 (Brock et al., 2017), the penalty is zero for any W with
    orthogonal columns, whatever their lengths.
    """
    total = tf.constant(0.0)
    for kernel in kernels:
        w = tf.reshape(tf.cast(kernel, tf.float32), [-1, kernel.shape[-1]])
        gram = tf.matmul(w, w, transpose_a=True)
        off_diagonal = gram - tf.linalg.diag(tf.linalg.diag_part(gram))
        total += tf.reduce_sum(tf.square(off_diagonal))
    return beta * total


_register(AdversarialLoss("minimax", minimax_discriminator, minimax_generator))
_register(AdversarialLoss("non_saturating", minimax_discriminator, non_saturating_generator))
_register(AdversarialLoss("wasserstein", wasserstein_discriminator, wasserstein_generator))
_register(AdversarialLoss("hinge", hinge_discriminator, hinge_generator))
_register(AdversarialLoss("least_squares", least_squares_discriminator, least_squares_generator))
