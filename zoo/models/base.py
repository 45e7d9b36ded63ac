"""The training skeleton every variant shares: `GAN`, a `keras.Model` with its own step.

    model = GAN(generator, discriminator, latent_dim=2, addons={"generator_ema": 0.999})
    model.compile()                      # the variant's default optimizers (or pass your own)
    model.fit(dataset, steps_per_epoch=100, epochs=10)

A variant overrides only what differs: its `Config` (every hyperparameter, declared once,
`zoo.config`), `build_networks`, `sample_generator_inputs` (what G decodes),
`discriminator_loss` / `generator_loss` (the objective), `extra_updates` (further networks
trained in the step), `conditioned_inputs` / `discriminate` (what G and D take beside the
samples: labels for `cgan`, codes for `infogan`), `metric_names`, and the `capabilities`
add-ons rely on. Add-ons (`zoo.addons`) hook into the step in one fixed order.

Randomness is stateless (`zoo.randomness`): every draw is a pure function of `seed`, the
generator optimizer's iteration count and the draw's purpose, and under a distribution
strategy each replica takes its slice of the draw for the global batch. Losses are means
over the replica's batch, divided by `num_replicas_in_sync` before differentiation (the
optimizers sum gradients across replicas); call `compile()` inside `strategy.scope()`.
Inference, export and the Keras serialization contract live in `zoo.models.inference`, building
from a config (`for_dataset`, `run_config`, `build_networks`) in `zoo.models.building`.
"""
from __future__ import annotations

from typing import Any, Mapping

import keras
import tensorflow as tf

from zoo import addons as addons_lib
from zoo import losses as losses_lib
from zoo import randomness
from zoo.config import RunConfig
from zoo.models.building import FromConfig
from zoo.models.gan_config import GANConfig
from zoo.models.inference import Inference
from zoo.models.optimizers import Optimizers
from zoo.randomness import SEED_DISCRIMINATOR, SEED_GENERATOR, replica_info


def after_batch(data: Any) -> Any:
    """A context whose ops wait for the batch `data`, so the step counter cannot move before
    the iterator has produced it (and has read `batches_trained()`, `zoo.data.load(start=model)`):
    optimizers' counters otherwise update concurrently with the iterator."""
    return tf.control_dependencies(tf.nest.flatten(data))


class GAN(FromConfig, Optimizers, Inference, keras.Model):
    """Goodfellow et al. (2014): G maps noise z ~ N(0, I) to samples; D tells them from data.

    Args:
      generator: a Keras model from `sample_generator_inputs`' output to samples.
      discriminator: a Keras model from samples to one logit (or score) per sample.
      config: a `Config`; by default the variant's defaults for the kind of data G makes
        (read off its output rank), updated by `hparams` (any `Config` key).
      addons: {add-on name: options} (`zoo.addons`), merged into the config's.
      seed: base of every random draw in training.
    """

    Config = GANConfig
    metric_names: tuple[str, ...] = ("d_loss", "g_loss")
    conditional: bool = False  # True: trained on (samples, labels) batches
    # What add-ons may rely on (`zoo.addons.Addon.requires`); a variant removes what it
    # replaces: its own D loss, G objective or train_step, or a D of other than one input.
    capabilities = frozenset({"skeleton_discriminator_loss", "skeleton_generator_objective",
                              "skeleton_train_step", "single_input_discriminator"})
    network_names: tuple[str, ...] = ("generator", "discriminator")
    data_kinds: tuple[str, ...] = ("mixture", "image")  # the kinds of data it is built for
    registered_name = "gan"

    def __init__(self, generator: keras.Model, discriminator: keras.Model, *,
                 config: RunConfig | Mapping | None = None, addons: Mapping | None = None,
                 seed: int = 0, name: str | None = None, **hparams: Any):
        super().__init__(name=name)
        self.config, _ = self.split_config(generator, dict(hparams, config=config, addons=addons))
        self.generator = generator
        self.discriminator = discriminator
        self.seed = int(seed)
        self.adversarial_loss = losses_lib.get(self.config.loss)
        self.addons = addons_lib.build(self.config.addons)
        for addon in self.addons:
            addon.attach(self)
            self.adversarial_loss = addon.adversarial_loss(self.adversarial_loss)
        names = self.metric_names + sum((a.metric_names for a in self.addons), ())
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.built = True

    @classmethod
    def split_config(cls, generator: keras.Model, kwargs: Mapping) -> tuple[RunConfig, dict]:
        """(the model's `Config`, the other keywords: seed, name) from the constructor's
        keywords (see the class docstring); variants that check their networks against the
        config call this first and pass both on."""
        hparams = dict(kwargs)
        config, addons = hparams.pop("config", None), hparams.pop("addons", None)
        rest = {k: hparams.pop(k) for k in ("seed", "name") if k in hparams}
        if isinstance(config, Mapping):
            config = cls.Config.from_dict(config)
        if config is None:
            rank = len(generator.outputs[0].shape) if getattr(generator, "outputs", None) else 2
            config = cls.Config.resolve("image" if rank == 4 else "mixture")
        if not isinstance(config, cls.Config):
            raise TypeError(f"config must be a {cls.__name__}.Config, got {type(config).__name__}")
        if addons:
            hparams["addons"] = dict(config.addons, **addons)
        return (config.replace(**hparams) if hparams else config), rest

    def __getattr__(self, name: str) -> Any:
        """A setting of the config read as the model's (`model.latent_dim`, `model.rho`): one
        copy of each value, the config's; Keras' own attributes are found first."""
        config = self.__dict__.get("config")
        if config is not None and any(f.name == name and config.applies(f, config.kind)
                                      for f in config.fields()):
            return getattr(config, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def addon(self, key: str) -> addons_lib.Addon | None:
        """The add-on `key` of this model, None when it is off."""
        return next((a for a in self.addons if a.key == key), None)

    @property
    def metrics(self) -> list:
        return list(self.trackers.values())

    # ---------------------------------------------------------------- inputs
    def batches_trained(self) -> tf.Tensor:
        """Batches trained on so far: one per step (generator updates over `generator_steps`),
        where `zoo.data.load(start=model)` continues the stream."""
        return self.g_optimizer.iterations // int(self.config.get("generator_steps", 1))

    def step_seed(self, purpose: int) -> tf.Tensor:
        """Stateless seed [2] for one purpose of the current training step."""
        return randomness.step_seed(self.seed, self.g_optimizer.iterations, purpose)

    def sample_generator_inputs(self, batch_size: tf.Tensor | int, seed: tf.Tensor) -> Any:
        """z ~ N(0, I) of shape [batch_size, latent_dim] from a stateless seed [2]."""
        return tf.random.stateless_normal([batch_size, self.latent_dim], seed=seed)

    def draw_generator_inputs(self, real: tf.Tensor, local_batch: tf.Tensor,
                              seed: tf.Tensor) -> Any:
        """G's inputs for one update: this replica's share of a draw for the global batch
        (`real`, this replica's data batch, is for variants whose inputs depend on it)."""
        _, num_replicas = replica_info()
        return randomness.local_slice(
            self.sample_generator_inputs(local_batch * num_replicas, seed), local_batch)

    def conditioned_inputs(self, z: Any, labels: Any) -> tuple[Any, Any]:
        """(G's inputs, the condition D sees beside G's samples) for a draw z and the
        batch's labels (None for unlabeled data); a conditional variant feeds them to G."""
        return z, labels

    def discriminate(self, samples: tf.Tensor, condition: Any, training: bool = True) -> Any:
        """D's output for samples beside their condition: D(samples) here."""
        return self.discriminator(samples, training=training)

    # ---------------------------------------------------------------- objectives
    def discriminator_loss(self, real: tf.Tensor, fake: tf.Tensor, real_output: tf.Tensor,
                           fake_output: tf.Tensor) -> tf.Tensor:
        """D's objective on its outputs; variants add penalties here."""
        return self.adversarial_loss.discriminator(real_output, fake_output)

    def generator_loss(self, fake: tf.Tensor, fake_output: tf.Tensor) -> tf.Tensor:
        """G's objective on D's outputs for its samples."""
        return self.adversarial_loss.generator(fake_output)

    # ---------------------------------------------------------------- the step
    def train_step(self, data: Any) -> dict:
        with after_batch(data):
            return self.update_on(data)

    def update_on(self, data: Any) -> dict:
        """The training step's updates on one batch: the add-ons', D's, then G's."""
        real, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        batch = tf.shape(real)[0]
        real, schedule_logs = self.transform_real(real, batch)
        logs = dict(self.extra_updates(real, labels, batch))
        for addon in self.addons:
            logs.update(addon.before_updates(self, real, batch))
        for d_step in range(self.d_steps):
            logs.update(self.discriminator_update(real, labels, batch, d_step))
        logs.update(self.generator_update(real, labels, batch))
        return dict(self.track(logs), **schedule_logs)

    def transform_real(self, real: tf.Tensor, batch: tf.Tensor) -> tuple[tf.Tensor, dict]:
        """The real batch as the add-ons change it (annealing heats it), with their logs."""
        logs: dict = {}
        for addon in self.addons:
            real, more = addon.transform_real(self, real, batch)
            logs.update(more)
        return real, logs

    def with_penalties(self, loss: tf.Tensor, network: str, variables: list) -> tuple:
        """(loss + the add-ons' penalties on network "d" or "g", their logs)."""
        logs: dict = {}
        for addon in self.addons:
            term, more = addon.penalty(self, network, variables)
            loss = loss if term is None else loss + term
            logs.update(more)
        return loss, logs

    def discriminator_update(self, real: tf.Tensor, labels: Any, batch: tf.Tensor,
                             d_step: int) -> dict:
        """One optimizer step on D's loss, G's samples held fixed."""
        z = self.draw_generator_inputs(real, batch, self.step_seed(SEED_DISCRIMINATOR + d_step))
        z, condition = self.conditioned_inputs(z, labels)
        fake = tf.stop_gradient(self.generator(z, training=True))
        variables = self.discriminator_variables()
        with tf.GradientTape() as tape:
            real_output = self.discriminate(real, labels)
            fake_output = self.discriminate(fake, condition)
            loss = self.discriminator_loss(real, fake, real_output, fake_output)
            objective, logs = self.with_penalties(loss, "d", variables)
        self.apply(self.d_optimizer, tape, objective, variables)
        return {"d_loss": loss, **logs, **self.discriminator_metrics(real_output, fake_output)}

    def discriminator_metrics(self, real_output: tf.Tensor, fake_output: tf.Tensor) -> dict:
        """Monitors computed from D's outputs in its update (none in the plain GAN)."""
        return {}

    def generator_update(self, real: tf.Tensor, labels: Any, batch: tf.Tensor) -> dict:
        """One optimizer step on G's loss through D, then the add-ons' after-G hooks."""
        variables = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            loss, logs = self.generator_objective(real, batch, labels)
            objective, penalty_logs = self.with_penalties(loss, "g", variables)
        self.apply(self.g_optimizer, tape, objective, variables)
        self.after_generator_update()
        return dict(logs, **penalty_logs)

    def after_generator_update(self) -> None:
        for addon in self.addons:
            addon.after_generator_update(self)

    def generator_objective(self, real: tf.Tensor, batch: tf.Tensor,
                            labels: Any = None) -> tuple[tf.Tensor, dict]:
        """(G's loss, its logs) on a fresh draw of G's inputs; call under a gradient tape.
        An add-on may replace the adversarial term (feature matching) or add its own."""
        z = self.draw_generator_inputs(real, batch, self.step_seed(SEED_GENERATOR))
        z, condition = self.conditioned_inputs(z, labels)
        fake = self.generator(z, training=True)
        loss, seen = None, {}  # seen: D's parts an add-on computed on the way (its features)
        for addon in self.addons:
            loss = addon.generator_adversarial(self, real, fake, condition)
            if loss is not None:
                break
        if loss is None:
            outputs = (a.discriminate_fake(self, fake, condition, seen) for a in self.addons)
            fake_output = next((o for o in outputs if o is not None), None)
            if fake_output is None:
                fake_output = self.discriminate(fake, condition)
            loss = self.generator_loss(fake, fake_output)
        logs: dict = {}
        for addon in self.addons:
            loss, logs = addon.generator_term(self, loss, fake, logs, seen)
        return loss, dict(logs, g_loss=loss)

    def extra_updates(self, real: tf.Tensor, labels: Any, batch: tf.Tensor) -> dict:
        """Further updates at the start of each step, before D's and G's (none here)."""
        return {}

    @staticmethod
    def apply(optimizer: keras.optimizers.Optimizer, tape: tf.GradientTape, loss: tf.Tensor,
              variables: list) -> None:
        """Differentiates `loss` / num_replicas (the optimizer sums over replicas) and steps."""
        optimizer.apply_gradients(zip(GAN.gradients(tape, loss, variables, optimizer),
                                      variables))

    @staticmethod
    def gradients(tape: tf.GradientTape, loss: tf.Tensor, variables: list,
                  optimizer: keras.optimizers.Optimizer) -> list:
        """d(loss / num_replicas) / d(variables), zeros for unconnected ones (see `apply`),
        of the loss as `optimizer` scales it (mixed_float16; its apply unscales)."""
        _, num_replicas = replica_info()
        with tape:  # recorded: the scaled loss must reach the variables
            loss = optimizer.scale_loss(loss)
        grads = tape.gradient(loss, variables, unconnected_gradients="zero")
        return [g / num_replicas for g in grads] if num_replicas > 1 else grads

    def track(self, logs: Mapping[str, tf.Tensor]) -> dict:
        for name, value in logs.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}
