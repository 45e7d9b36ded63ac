"""The speed benchmark's anchors: a plain keras.io-style GAN loop on a variant's own networks,
the FLOPs of its step, and the machine's matmul peak.

`PlainLoop` is the `dcgan_overriding_train_step` step written as a user would write it:
clones of the variant's generator and discriminator (float32), two Adam optimizers at the
variant's rates and betas, the non-saturating loss, one D and one G update per batch in a
`tf.function` called from a Python loop over the same `zoo.data` stream. It exists only for
variants whose D takes samples alone (`single_input_discriminator`) and whose G takes one
input.

`step_flops` counts the floating-point operations of a `tf.function`'s graph with
TensorFlow's profiler (`tf.compat.v1.profiler`, the ops' registered FLOP statistics:
matmuls and convolutions, their gradients included). `matmul_peak` times an n x n matmul.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Iterator

import keras
import tensorflow as tf


class PlainLoop:
    """A minimal two-tape GAN step on float32 clones of `generator` and `discriminator`."""

    def __init__(self, generator: keras.Model, discriminator: keras.Model, latent_dim: int,
                 learning_rates: tuple[float, float], betas: tuple[float, float] | None):
        self.generator = keras.models.clone_model(generator)
        self.discriminator = keras.models.clone_model(discriminator)
        self.latent_dim = int(latent_dim)
        adam_betas = betas or ()  # None: Keras' Adam defaults
        self.d_optimizer = keras.optimizers.Adam(learning_rates[0], *adam_betas)
        self.g_optimizer = keras.optimizers.Adam(learning_rates[1], *adam_betas)
        self.loss = keras.losses.BinaryCrossentropy(from_logits=True)
        self.step = tf.function(self._step)

    @classmethod
    def of(cls, model: keras.Model) -> "PlainLoop | None":
        """The plain loop on `model`'s networks; None unless D takes samples alone and G one
        input. z has G's input width (infogan's noise and codes drawn as one normal vector);
        a variant without Adam betas (wgan's RMSprop) gets Keras' Adam defaults."""
        if "single_input_discriminator" not in getattr(model, "capabilities", ()):
            return None
        if len(model.generator.inputs) != 1:  # e.g. vcd's G takes (x, mask, noise)
            return None
        config = model.config
        betas = (config.get("beta_1"), config.get("beta_2"))
        return cls(model.generator, model.discriminator, model.generator.inputs[0].shape[-1],
                   model.learning_rates(), None if None in betas else betas)

    def _step(self, real: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        batch = tf.shape(real)[0]
        z = tf.random.normal([batch, self.latent_dim])
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(real, training=True)
            fake_logits = self.discriminator(self.generator(z, training=True), training=True)
            d_loss = (self.loss(tf.ones_like(real_logits), real_logits)
                      + self.loss(tf.zeros_like(fake_logits), fake_logits))
        variables = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, variables), variables))
        z = tf.random.normal([batch, self.latent_dim])
        with tf.GradientTape() as tape:
            fake_logits = self.discriminator(self.generator(z, training=True), training=True)
            g_loss = self.loss(tf.ones_like(fake_logits), fake_logits)
        variables = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, variables), variables))
        return d_loss, g_loss

    def steps_per_second(self, batches: Iterator[Any], steps: int, warmup: int) -> float:
        """Runs `warmup` untimed steps, then `steps` timed ones; steps per second."""
        for _ in range(warmup):
            float(self.step(real_samples(next(batches)))[0])
        start = time.perf_counter()
        for _ in range(steps):
            losses = self.step(real_samples(next(batches)))
        float(losses[0])  # waits for the last step
        return steps / (time.perf_counter() - start)

    def flops(self, batch: Any) -> int | None:
        """FLOPs of one step on a batch shaped like `batch` (`step_flops`)."""
        real = real_samples(batch)
        return step_flops(self._step, tf.TensorSpec(real.shape, real.dtype))


def real_samples(batch: Any) -> tf.Tensor:
    """The samples of a stream's batch ((samples, labels) batches too)."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def step_flops(function: Callable, *specs: tf.TensorSpec) -> int | None:
    """Floating-point operations of `function`'s graph traced at `specs` (TensorFlow's
    profiler; None if it counts none)."""
    graph = tf.function(function).get_concrete_function(*specs).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    profile = tf.compat.v1.profiler.profile(graph, options=options)
    return int(profile.total_float_ops) or None


def matmul_peak(dtype: str, n: int = 4096, seconds: float = 2.0) -> float:
    """GFLOP/s of an n x n matmul in `dtype` (2 n^3 per product), best of repeated timings
    over about `seconds`."""
    a = tf.random.stateless_normal([n, n], seed=[0, 1], dtype=tf.float32)
    a = tf.cast(a, dtype)
    product = tf.function(lambda x: tf.matmul(x, x))
    product(a).numpy()  # traces and warms up
    best, spent = 0.0, 0.0
    while spent < seconds:
        start = time.perf_counter()
        product(a).numpy()
        elapsed = time.perf_counter() - start
        spent += elapsed
        best = max(best, 2 * n ** 3 / elapsed / 1e9)
    return best
