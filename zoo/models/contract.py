"""The Keras model contract of `zoo.models.base.GAN`: config, `.keras` files, `evaluate`.

- `get_config` / `from_config`: the networks (serialized Keras objects), the seed and the
  whole `Config` (`zoo.config`, nested by section), so a `.keras` file rebuilds the model
  with no `custom_objects` (every variant is registered as `zoo>NAME`).
- `get_compile_config` / `compile_from_config`: every optimizer of the model by name, so
  `keras.models.load_model` rebuilds both (and an add-on's) before their state is loaded and
  `fit` continues their iteration counts.
- `test_step`: `evaluate(dataset)` reports D's and G's losses on the data, all networks in
  inference mode and no optimizer step, so no weight changes.
"""
from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from zoo.randomness import SEED_EVALUATE


class Contract:
    """Mixin of `GAN` (see the module docstring)."""

    def get_config(self) -> dict:
        config = {name: keras.saving.serialize_keras_object(getattr(self, name))
                  for name in self.network_names}
        return dict(config, seed=self.seed, name=self.name, config=self.config.to_dict())

    @classmethod
    def from_config(cls, config: dict) -> Any:
        config = dict(config)
        for name in cls.network_names:
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)

    def get_compile_config(self) -> dict | None:
        if not getattr(self, "compiled", False):
            return None
        return {name: keras.optimizers.serialize(optimizer)
                for name, optimizer in self.optimizers().items()}

    def compile_from_config(self, config: dict) -> None:
        self.compile(**{name: keras.optimizers.deserialize(value)
                        for name, value in config.items()})

    def test_step(self, data: Any) -> dict:
        """D's and G's losses on a real batch and a fresh draw of G's inputs (inference
        mode; the draw moves on with each batch evaluated)."""
        real, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        batch = tf.shape(real)[0]
        seed = tf.random.experimental.stateless_fold_in(
            self.step_seed(SEED_EVALUATE), tf.cast(self.trackers["d_loss"].count, tf.int64))
        z, condition = self.conditioned_inputs(
            self.draw_generator_inputs(real, batch, seed), labels)
        fake = self.generator(z, training=False)
        real_output = self.discriminate(real, labels, training=False)
        fake_output = self.discriminate(fake, condition, training=False)
        logs = {"d_loss": self.discriminator_loss(real, fake, real_output, fake_output),
                "g_loss": self.generator_loss(fake, fake_output)}
        for name, value in logs.items():
            self.trackers[name].update_state(value)
        return {name: self.trackers[name].result() for name in logs}
