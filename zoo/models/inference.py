"""Sampling, `predict` and `export`: what a trained `zoo.models.base.GAN` does after `fit`.

A mixin of `GAN`; it reads the model's `generator`, add-ons (`generator_ema` samples
instead of G) and `sample_generator_inputs` / `conditioned_inputs`.
"""
from __future__ import annotations

import logging
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo import signatures
from zoo.models.contract import Contract

logger = logging.getLogger(__name__)
GENERATE_BATCH = 500  # rows per generator call in `generate` (bounds its memory)


class Inference(Contract):
    """G's samples: `generate`, `sample_from_seeds` (the exported `sample` signature),
    `predict` on z, and `export` to a servable SavedModel."""

    # Per-row inputs of the exported `sample` signature besides `seed` (name -> spec with a
    # batch dimension); a variant that takes more (labels, Gibbs steps) extends this.
    sample_extras: dict = {}

    @property
    def inference_generator(self) -> keras.Model:
        """The generator that samples: an add-on's (G's average with `generator_ema`) or G."""
        for addon in getattr(self, "addons", ()):
            sampler = addon.sampler()
            if sampler is not None:
                return sampler
        return self.generator

    def generator_inputs_from_seeds(self, seeds: tf.Tensor, **extras: tf.Tensor) -> Any:
        """One generator input per row, row i a pure function of seeds[i] (an int64 [batch])."""
        seeds = tf.cast(seeds, tf.int64)
        return tf.map_fn(
            lambda s: self.sample_generator_inputs(1, tf.stack([s, tf.zeros_like(s)]))[0],
            seeds, fn_output_signature=tf.float32)

    def sample_from_seeds(self, seeds: tf.Tensor, **extras: tf.Tensor) -> tf.Tensor:
        """G's samples (inference mode), row i a pure function of seeds[i] and its extras."""
        return self.inference_generator(self.generator_inputs_from_seeds(seeds, **extras),
                                        training=False)

    def generation_labels(self, labels: Any, num_samples: int, seed: tf.Tensor) -> Any:
        """The labels `generate` conditions on; an unconditional variant takes none."""
        if labels is not None:
            raise ValueError(f"{type(self).__name__} is not conditional: generate takes no "
                             f"labels, got {labels!r}")
        return None

    def generate(self, num_samples: int, seed: int = 0, labels: Any = None,
                 **draw_options: Any) -> np.ndarray:
        """`num_samples` samples from G (inference mode), reproducible from `seed`; for a
        conditional variant, of `labels` (int [num_samples]; None: drawn from `seed`).
        `draw_options` go to `sample_generator_inputs` (e.g. biggan's `truncation`).
        G runs on `GENERATE_BATCH` rows at a time, which bounds its memory."""
        if int(num_samples) <= 0:
            raise ValueError(f"num_samples must be positive, got {num_samples}")
        seed = tf.constant([seed, 0], tf.int64)
        inputs = self.sample_generator_inputs(int(num_samples), seed, **draw_options)
        inputs, _ = self.conditioned_inputs(
            inputs, self.generation_labels(labels, int(num_samples), seed))
        generator = self.inference_generator
        return np.concatenate([keras.ops.convert_to_numpy(generator(
            tf.nest.map_structure(lambda t: t[start:start + GENERATE_BATCH], inputs),
            training=False)) for start in range(0, int(num_samples), GENERATE_BATCH)])

    def call(self, inputs: Any, training: bool = False) -> tf.Tensor:
        """G(inputs): the generator is the model's forward pass."""
        return self.generator(inputs, training=training)

    def predict_step(self, data: Any) -> tf.Tensor:
        """`model.predict(z)`: the sampling generator's output for a batch of its inputs."""
        inputs, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self.inference_generator(inputs, training=False)

    def export(self, filepath: str, format: str = "tf_saved_model", verbose: Any = None,
               kind: str | None = None, **kwargs: Any) -> str:
        """Writes the servable SavedModel of `python -m export` to `filepath`: signatures
        `serving_default` (G's inputs) and `sample` (seeds), TensorFlow alone to load.

        `kind` ("image" or "mixture") names the outputs; by default read off G's output rank.
        (`verbose`, Keras's argument, is accepted; the archive is always written quietly.)
        """
        if format != "tf_saved_model":
            raise ValueError(f"{type(self).__name__}.export writes format='tf_saved_model' "
                             f"(TF Serving's), got format={format!r}")
        kind = kind or signatures.output_kind(self.generator)
        signatures.write(self, filepath, kind)
        logger.info("exported %s generator to %s", kind, filepath)
        return filepath
