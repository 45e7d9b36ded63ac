"""The training skeleton every variant shares.

`GAN` is a `keras.Model` that owns a generator and a discriminator, takes its two
optimizers in `compile()`, and trains with a plain `model.fit(dataset)`, with or
without a `tf.distribute` strategy. A variant overrides only what differs:

- `sample_generator_inputs(batch_size, seed)`: what G decodes (noise, RBM samples, ...);
- `discriminator_loss(...)` / `generator_loss(...)`: the objective;
- `extra_updates(...)`: further networks trained in the same step (an RBM, a denoiser);
- `metric_names`: the metrics `train_step` reports;
- `conditioned_inputs(z, labels)` / `discriminate(samples, condition)`: what G takes beside
  its noise and what D sees beside each sample, in both updates and in `generate`. With
  `conditional = True` the trainer loads (samples, labels) batches (`cgan`); `infogan`
  uses the pair for its latent codes. By default G takes z alone and D the samples alone.

Add-ons run in the skeleton itself, so that any variant can use them by its run config
(`SKELETON_DEFAULTS`; all off by default, leaving the step unchanged):

- `annealing`: heats every real batch, x + N(0, I / beta(step)), with beta cooled by a
  `zoo.annealing.AnnealingSchedule` (Mehrjou et al., 2017) and logged as `beta`;
- `denoising_feature_matching`: a denoiser r on D's features Phi (a discriminator composed
  as head(Phi(x))), trained each step on real features, and G's extra loss
  ||Phi(G(z)) - r(Phi(G(z)))||^2 (Warde-Farley & Bengio, 2017; `zoo.networks.denoiser`).
- `generator_ema`: a decay; an exponential moving average of G's weights, updated after
  each generator update, samples for `generate`, `sample_from_seeds` and the export
  (`inference_generator`; `zoo.ema`).
- the improved techniques of Salimans et al. (2016), `zoo.techniques`: `feature_matching`
  (G's loss), `minibatch_discrimination` (a layer before D's head), `historical_averaging`
  (penalties on D's and G's parameters), `one_sided_label_smoothing` (D's real targets)
  and `virtual_batch_norm` (G's normalization over a fixed reference batch).
- `d_learning_rate` / `g_learning_rate`: the two time-scale update rule (Heusel et al.,
  2017), a learning rate of each network's own; `image_size`: the side the networks make
  and the trainer loads images at.

Randomness is stateless: every random draw is a pure function of the model's `seed`,
the generator optimizer's iteration count and the purpose of the draw. A seeded run
is therefore reproducible, a resumed run continues the same random stream, and under
a distribution strategy each replica takes its own slice of the draw made for the
global batch, so N replicas see exactly the noise one device would.

Distribution notes (Keras 3.15, TensorFlow backend): losses are means over the
replica's batch and are divided by `num_replicas_in_sync` before differentiation,
since the optimizers sum gradients across replicas; both optimizers are built on
their variables in `compile()` (call it inside `strategy.scope()`), and the model is
marked built at construction (it has no single `call`).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import keras
import numpy as np
import tensorflow as tf

from zoo import annealing as annealing_lib
from zoo import ema as ema_lib
from zoo import losses as losses_lib
from zoo import networks
from zoo import techniques
from zoo.config import merge
from zoo.networks import denoiser as denoiser_lib

# Purposes of random draws within one training step (see `GAN.step_seed`); the
# discriminator's d-th update of a step uses SEED_DISCRIMINATOR + d.
SEED_GENERATOR = 0
SEED_EXTRA = 1
SEED_PENALTY = 2
SEED_HEAT = 3
SEED_DENOISER = 4
SEED_DISCRIMINATOR = 16
_SEEDS_PER_STEP = 64
GENERATE_BATCH = 500  # rows per generator call in `generate` (bounds its memory)

# Run-config options every variant accepts (see the module docstring); `None` is off.
# annealing: a diff over `zoo.annealing.DEFAULT_OPTIONS` ({} for the defaults);
# denoising_feature_matching: True or a diff over its defaults (`zoo.networks.denoiser`).
# d_learning_rate / g_learning_rate: the two time-scale update rule (Heusel et al., 2017),
# each network's own learning rate; None takes the run's `learning_rate`.
# image_size: the side of the square images the networks make and the trainer loads
# (`zoo.data.load(..., image_size=)`, e.g. fashion_mnist at 32x32); None: the dataset's own.
# generator_ema: the decay of an average of G's weights that samples instead of G (`zoo.ema`).
SKELETON_DEFAULTS = dict(annealing=None, denoising_feature_matching=None,
                         d_learning_rate=None, g_learning_rate=None, image_size=None,
                         generator_ema=None)
# Salimans et al. (2016) (`zoo.techniques`): feature_matching, minibatch_discrimination,
# historical_averaging, virtual_batch_norm: true or a dict of options;
# one_sided_label_smoothing: true (0.9) or the real target.
SKELETON_DEFAULTS.update(feature_matching=None, minibatch_discrimination=None,
                         historical_averaging=None, one_sided_label_smoothing=None,
                         virtual_batch_norm=None)


def sized_info(info: Any, image_size: int | None) -> Any:
    """`info` (a `zoo.data.DatasetInfo`) with image_size x image_size images; None: as is."""
    if image_size is None:
        return info
    if info.kind != "image":
        raise ValueError(f"image_size is for image datasets; {info.name!r} is a {info.kind}, "
                         f"got image_size={image_size!r}")
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size <= 0:
        raise ValueError(f"image_size must be a positive integer, got {image_size!r}")
    return dataclasses.replace(info, shape=(image_size, image_size) + tuple(info.shape[2:]))


def replica_info() -> tuple[tf.Tensor | int, int]:
    """(replica id, number of replicas) of the current replica context; (0, 1) outside one."""
    context = tf.distribute.get_replica_context()
    if context is None:
        return 0, 1
    return context.replica_id_in_sync_group, context.num_replicas_in_sync


def local_slice(global_inputs: Any, local_batch: tf.Tensor) -> Any:
    """This replica's rows of a draw made for the whole global batch."""
    replica_id, num_replicas = replica_info()
    if num_replicas == 1:
        return global_inputs
    start = tf.cast(replica_id, tf.int32) * local_batch
    return tf.nest.map_structure(lambda t: t[start:start + local_batch], global_inputs)


class GAN(keras.Model):
    """Goodfellow et al. (2014): G maps noise z ~ N(0, I) to samples; D tells them from data.

    Args:
      generator: a Keras model from `sample_generator_inputs`' output to samples.
      discriminator: a Keras model from samples to one logit (or score) per sample.
      latent_dim: size of z.
      loss: a name from `zoo.losses.LOSSES` ("minimax", "non_saturating", ...).
      d_steps: discriminator updates per generator update (n_critic).
      seed: base of every random draw in training.
      annealing: an `AnnealingSchedule` (or its config) heating the real data; None: off.
      denoising_feature_matching: a `networks.denoiser.DenoisingFeatureMatching` (or options
        for `networks.denoiser.from_options`); None: off.
      generator_ema: the decay of `zoo.ema.GeneratorAverage`, G's averaged copy that
        samples at inference; None: off (G samples).
      feature_matching, historical_averaging, one_sided_label_smoothing: the options of
        Salimans et al. (2016) (`zoo.techniques`); None: off.
    """

    metric_names: tuple[str, ...] = ("d_loss", "g_loss")
    # True: trained on (samples, labels) batches (`zoo.data.load(..., with_labels=True)`).
    conditional: bool = False

    def __init__(self, generator: keras.Model, discriminator: keras.Model, latent_dim: int,
                 loss: str = "non_saturating", d_steps: int = 1, seed: int = 0,
                 annealing: annealing_lib.AnnealingSchedule | Mapping | None = None,
                 denoising_feature_matching: Any = None, generator_ema: float | None = None,
                 feature_matching: Any = None, historical_averaging: Any = None,
                 one_sided_label_smoothing: Any = None, **kwargs):
        super().__init__(**kwargs)
        if int(latent_dim) <= 0:
            raise ValueError(f"latent_dim must be positive, got {latent_dim}")
        if not 0 < int(d_steps) <= _SEEDS_PER_STEP - SEED_DISCRIMINATOR:
            raise ValueError(
                f"d_steps must be in [1, {_SEEDS_PER_STEP - SEED_DISCRIMINATOR}], got {d_steps}")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self.loss_name = loss
        self.adversarial_loss = losses_lib.get(loss)
        self.one_sided_label_smoothing = techniques.label_smoothing.real_target(
            one_sided_label_smoothing)
        self.adversarial_loss = techniques.label_smoothing.smoothed(
            self.adversarial_loss, self.one_sided_label_smoothing, type(self))
        self.d_steps = int(d_steps)
        self.seed = int(seed)
        self.annealing = (annealing_lib.AnnealingSchedule(**annealing)
                          if isinstance(annealing, Mapping) else annealing)
        self.feature_matching = None
        names = self.metric_names
        if denoising_feature_matching is not None and denoising_feature_matching is not False:
            self.feature_matching = denoiser_lib.from_options(denoising_feature_matching,
                                                              discriminator)
            self.features, self.head = denoiser_lib.discriminator_parts(discriminator)
            names = names + ("denoiser_loss", "feature_matching")
        self.mean_feature_matching = techniques.feature_matching.from_options(
            feature_matching, self)
        self.historical_averages = techniques.historical_averaging.from_options(
            historical_averaging, self)
        names = names + techniques.historical_averaging.metric_names(self.historical_averages)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.generator_average = (None if generator_ema is None
                                  else ema_lib.GeneratorAverage(generator, generator_ema))
        self.built = True

    # ------------------------------------------------- defaults per dataset
    @classmethod
    def default_config(cls, info: Any) -> dict:
        """Networks, objective and training settings for a dataset (`zoo.data.info`)."""
        if info.kind == "mixture":
            return dict(latent_dim=2, generator_hidden=[128, 128, 128],
                        discriminator_hidden=[128, 128, 128], loss="non_saturating", d_steps=1,
                        learning_rate=1e-3, beta_1=0.5, beta_2=0.999, batch_size=256, steps=5000)
        return dict(latent_dim=100, width=64, loss="non_saturating", d_steps=1,
                    learning_rate=2e-4, beta_1=0.5, beta_2=0.999, batch_size=64, steps=2000)

    @classmethod
    def build_networks(cls, info: Any, config: Mapping[str, Any]) -> dict:
        """The zoo's default generator and discriminator for `info`: MLPs or DCGAN nets."""
        if info.kind == "mixture":
            dim = int(np.prod(info.shape))
            return dict(
                generator=networks.mlp.generator(config["latent_dim"], dim,
                                                 config["generator_hidden"]),
                discriminator=networks.mlp.discriminator(dim, config["discriminator_hidden"]))
        size, _, channels = info.shape
        return dict(
            generator=networks.dcgan.generator(config["latent_dim"], size, channels,
                                               config["width"]),
            discriminator=networks.dcgan.discriminator(size, channels, config["width"]))

    @classmethod
    def model_kwargs(cls, config: Mapping[str, Any]) -> dict:
        """The constructor arguments (other than networks) taken from a run config."""
        return dict(latent_dim=config["latent_dim"], loss=config["loss"],
                    d_steps=config["d_steps"])

    @classmethod
    def run_config(cls, info: Any, overrides: Mapping[str, Any] | None = None) -> dict:
        """The full run config for `info`: the skeleton's and the variant's defaults updated
        by `overrides` (unknown keys fail loudly, naming the valid ones)."""
        return merge(dict(SKELETON_DEFAULTS, **cls.default_config(info)), overrides,
                     f"{cls.__name__} config")

    @classmethod
    def for_dataset(cls, info: Any, overrides: Mapping[str, Any] | None = None,
                    seed: int = 0) -> "GAN":
        """The variant with its default networks for `info`, configured by a diff over defaults."""
        config = cls.run_config(info, overrides)
        info = sized_info(info, config["image_size"])
        networks = techniques.adapt_networks(cls.build_networks(info, config), config)
        model = cls(**networks, **cls.model_kwargs(config), **cls.skeleton_kwargs(config),
                    seed=seed)
        techniques.prepare(model)
        model.run_config = config
        return model

    @classmethod
    def skeleton_kwargs(cls, config: Mapping[str, Any]) -> dict:
        """The constructor arguments of the add-ons a run config turns on (none when off)."""
        kwargs = {}
        if config["annealing"] is not None:
            kwargs["annealing"] = annealing_lib.AnnealingSchedule.from_options(
                config["annealing"], config["steps"])
        if config["denoising_feature_matching"] not in (None, False):
            kwargs["denoising_feature_matching"] = config["denoising_feature_matching"]
        if config["generator_ema"] is not None:
            kwargs["generator_ema"] = config["generator_ema"]
        for key in ("feature_matching", "historical_averaging", "one_sided_label_smoothing"):
            if config[key] not in (None, False):
                kwargs[key] = config[key]
        return kwargs

    def default_optimizers(self) -> tuple[keras.optimizers.Optimizer, keras.optimizers.Optimizer]:
        """(d_optimizer, g_optimizer) as the run config says: Adam by default, each at its
        network's rate under TTUR (`d_learning_rate`, `g_learning_rate`)."""
        config = self.run_config
        return tuple(keras.optimizers.Adam(rate, beta_1=config["beta_1"], beta_2=config["beta_2"])
                     for rate in self.learning_rates())

    def learning_rates(self) -> tuple[float, float]:
        """(D's rate, G's rate): `d_learning_rate` / `g_learning_rate` where set (TTUR),
        else `learning_rate`; variants building other optimizers use them too."""
        config = self.run_config
        return tuple(config["learning_rate"] if config.get(key) is None else config[key]
                     for key in ("d_learning_rate", "g_learning_rate"))

    # ----------------------------------------------------------------- compile
    def compile(self, d_optimizer: keras.optimizers.Optimizer,
                g_optimizer: keras.optimizers.Optimizer,
                denoiser_optimizer: keras.optimizers.Optimizer | None = None, **kwargs) -> None:
        """Takes the two optimizers and builds them on their networks' variables.

        With denoising feature matching, the denoiser's optimizer too (default: a copy of
        the generator's settings). Call inside `strategy.scope()` when training under a
        distribution strategy.
        """
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.d_optimizer.build(self.discriminator_variables())
        self.g_optimizer.build(self.generator.trainable_variables)
        if self.feature_matching is not None:
            self.denoiser_optimizer = denoiser_optimizer or type(g_optimizer).from_config(
                g_optimizer.get_config())
            self.denoiser_optimizer.build(self.feature_matching.trainable_variables)
        # `self.optimizer` is the generator's: fit's step counters and callbacks read it.
        super().compile(optimizer=g_optimizer, **kwargs)

    def optimizers(self) -> dict:
        """Every optimizer of the model by name (checkpoints save each one's state)."""
        optimizers = {"d_optimizer": self.d_optimizer, "g_optimizer": self.g_optimizer}
        if self.feature_matching is not None:
            optimizers["denoiser_optimizer"] = self.denoiser_optimizer
        return optimizers

    def discriminator_variables(self) -> list:
        """The variables the discriminator optimizer trains (variants may add their own)."""
        return self.discriminator.trainable_variables

    @property
    def metrics(self) -> list:
        return list(self.trackers.values())

    # ------------------------------------------------------------- randomness
    def step_seed(self, purpose: int) -> tf.Tensor:
        """Stateless seed [2] for one purpose of the current training step."""
        step = tf.cast(self.g_optimizer.iterations, tf.int64)
        return tf.stack([tf.constant(self.seed, tf.int64), step * _SEEDS_PER_STEP + purpose])

    def sample_generator_inputs(self, batch_size: tf.Tensor | int, seed: tf.Tensor) -> Any:
        """z ~ N(0, I) of shape [batch_size, latent_dim] from a stateless seed [2]."""
        return tf.random.stateless_normal([batch_size, self.latent_dim], seed=seed)

    # Per-row inputs of the exported `sample` signature besides `seed` (name -> spec with a
    # batch dimension); a variant that takes more (labels, Gibbs steps) extends this.
    sample_extras: dict = {}

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

    def draw_generator_inputs(self, real: tf.Tensor, local_batch: tf.Tensor,
                              seed: tf.Tensor) -> Any:
        """G's inputs for one update: this replica's share of a draw for the global batch.

        (See the module docstring; `real` is this replica's data batch, which variants
        whose inputs depend on the data use.)
        """
        _, num_replicas = replica_info()
        return local_slice(self.sample_generator_inputs(local_batch * num_replicas, seed),
                           local_batch)

    def conditioned_inputs(self, z: Any, labels: Any) -> tuple[Any, Any]:
        """(G's inputs, the condition D sees beside G's samples) for a draw z of G's inputs
        and the batch's labels (None for unlabeled data): (z, labels) here, G ignoring the
        labels; a conditional variant feeds them to G too (`cgan`)."""
        return z, labels

    def discriminate(self, samples: tf.Tensor, condition: Any,
                     training: bool = True) -> Any:
        """D's output for samples beside their condition (see `conditioned_inputs`):
        D(samples) here, the condition unused."""
        return self.discriminator(samples, training=training)

    def generation_labels(self, labels: Any, num_samples: int, seed: tf.Tensor) -> Any:
        """The labels `generate` conditions on; an unconditional variant takes none."""
        if labels is not None:
            raise ValueError(f"{type(self).__name__} is not conditional: generate takes no "
                             f"labels, got {labels!r}")
        return None

    # ------------------------------------------------------------- objectives
    def discriminator_loss(self, real: tf.Tensor, fake: tf.Tensor, real_output: tf.Tensor,
                           fake_output: tf.Tensor) -> tf.Tensor:
        """D's objective on its outputs; variants add penalties here."""
        return self.adversarial_loss.discriminator(real_output, fake_output)

    def generator_loss(self, fake: tf.Tensor, fake_output: tf.Tensor) -> tf.Tensor:
        """G's objective on D's outputs for its samples."""
        return self.adversarial_loss.generator(fake_output)

    # ----------------------------------------------------------------- steps
    def train_step(self, data: Any) -> dict:
        real, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        batch = tf.shape(real)[0]
        real, schedule_logs = self.heat(real, batch)
        logs = dict(self.extra_updates(real, labels, batch))
        logs.update(self.denoiser_update(real, batch))
        for d_step in range(self.d_steps):
            logs.update(self.discriminator_update(real, labels, batch, d_step))
        logs.update(self.generator_update(real, labels, batch))
        return dict(self.track(logs), **schedule_logs)

    def heat(self, real: tf.Tensor, batch: tf.Tensor) -> tuple[tf.Tensor, dict]:
        """(x + N(0, I / beta), {"beta": beta}) at this step's beta with annealing;
        (real, {}) without (see `zoo.annealing`). The noise is this replica's slice of a
        draw for the global batch."""
        if self.annealing is None:
            return real, {}
        step = self.g_optimizer.iterations
        _, num_replicas = replica_info()
        shape = tf.concat([[batch * num_replicas], tf.shape(real)[1:]], axis=0)
        noise = local_slice(tf.random.stateless_normal(shape, self.step_seed(SEED_HEAT)), batch)
        heated = annealing_lib.heat(real, self.annealing.noise_std(step), noise)
        return heated, {"beta": self.annealing.beta(step)}

    def denoiser_update(self, real: tf.Tensor, batch: tf.Tensor) -> dict:
        """One step of the denoiser r on D's features of the real batch, eq. (5) of
        Warde-Farley & Bengio (see `networks.denoiser`); nothing without the add-on."""
        if self.feature_matching is None:
            return {}
        _, num_replicas = replica_info()
        features = tf.stop_gradient(self.features(real, training=True))
        shape = tf.concat([[batch * num_replicas], tf.shape(features)[1:]], axis=0)
        noise = local_slice(tf.random.stateless_normal(shape, self.step_seed(SEED_DENOISER)),
                            batch)
        with tf.GradientTape() as tape:
            loss = self.feature_matching.denoiser_loss(features, noise)
        self.apply(self.denoiser_optimizer, tape, loss,
                   self.feature_matching.trainable_variables)
        return {"denoiser_loss": loss}

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
            objective, penalty_logs = techniques.historical_averaging.with_penalty(
                loss, self.historical_averages, "d", variables)
        self.apply(self.d_optimizer, tape, objective, variables)
        return {"d_loss": loss, **penalty_logs,
                **self.discriminator_metrics(real_output, fake_output)}

    def discriminator_metrics(self, real_output: tf.Tensor, fake_output: tf.Tensor) -> dict:
        """Monitors computed from D's outputs in its update (none in the plain GAN)."""
        return {}

    def generator_update(self, real: tf.Tensor, labels: Any, batch: tf.Tensor) -> dict:
        """One optimizer step on G's loss through D."""
        variables = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            loss, logs = self.generator_objective(real, batch, labels)
            objective, penalty_logs = techniques.historical_averaging.with_penalty(
                loss, self.historical_averages, "g", variables)
        self.apply(self.g_optimizer, tape, objective, variables)
        self.update_generator_average()
        return dict(logs, **penalty_logs)

    def generator_objective(self, real: tf.Tensor, batch: tf.Tensor,
                            labels: Any = None) -> tuple[tf.Tensor, dict]:
        """(G's loss, its logs) on a fresh draw of G's inputs; call under a gradient tape.

        With denoising feature matching, eq. (4) of Warde-Farley & Bengio:
        lambda_adv * (the adversarial loss) + lambda_denoise ||Phi(G(z)) - r(Phi(G(z)))||^2.
        """
        z = self.draw_generator_inputs(real, batch, self.step_seed(SEED_GENERATOR))
        z, condition = self.conditioned_inputs(z, labels)
        fake = self.generator(z, training=True)
        if self.mean_feature_matching is not None and self.feature_matching is None:
            loss = self.mean_feature_matching.loss(real, fake)  # replaces D's term
            return loss, {"g_loss": loss}
        if self.feature_matching is None:
            fake_output = self.discriminate(fake, condition)
            loss = self.generator_loss(fake, fake_output)
            return loss, {"g_loss": loss}
        features = self.features(fake, training=True)
        fake_output = self.head(features, training=True)
        adversarial = (self.generator_loss(fake, fake_output) if self.mean_feature_matching
                       is None else self.mean_feature_matching.loss(real, fake))
        matching = self.feature_matching.generator_term(features)
        loss = self.feature_matching.adversarial_weight * adversarial + matching
        return loss, {"g_loss": loss, "feature_matching": matching}

    def update_generator_average(self) -> None:
        """Moves G's average towards G (`zoo.ema`); call after each generator update.
        Nothing without the `generator_ema` add-on."""
        if self.generator_average is not None:
            self.generator_average.update(self.generator)

    def extra_updates(self, real: tf.Tensor, labels: Any, batch: tf.Tensor) -> dict:
        """Further updates at the start of each step, before D's and G's (none here)."""
        return {}

    @staticmethod
    def apply(optimizer: keras.optimizers.Optimizer, tape: tf.GradientTape, loss: tf.Tensor,
              variables: list) -> None:
        """Differentiates `loss` / num_replicas (the optimizer sums over replicas) and steps."""
        optimizer.apply_gradients(zip(GAN.gradients(tape, loss, variables), variables))

    @staticmethod
    def gradients(tape: tf.GradientTape, loss: tf.Tensor, variables: list) -> list:
        """d(loss / num_replicas) / d(variables), zeros for unconnected ones (see `apply`)."""
        _, num_replicas = replica_info()
        grads = tape.gradient(loss, variables, unconnected_gradients="zero")
        if num_replicas > 1:
            grads = [g / num_replicas for g in grads]
        return grads

    def track(self, logs: Mapping[str, tf.Tensor]) -> dict:
        for name, value in logs.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    # ------------------------------------------------------------- inference
    @property
    def inference_generator(self) -> keras.Model:
        """The generator that samples: G's average with `generator_ema`, else G itself."""
        if self.generator_average is not None:
            return self.generator_average.average
        return self.generator

    def generate(self, num_samples: int, seed: int = 0, labels: Any = None,
                 **draw_options: Any) -> np.ndarray:
        """`num_samples` samples from G (inference mode), reproducible from `seed`; for a
        conditional variant, of `labels` (int [num_samples]; None: drawn from `seed`).
        `draw_options` go to `sample_generator_inputs` (e.g. biggan's `truncation`).
        The inputs are drawn at once and G runs on `GENERATE_BATCH` rows at a time, which
        bounds its memory (10,000 32x32 ResNet samples in one call held ~18 GB)."""
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

    # -------------------------------------------------------- serialization
    # The config keys holding serialized Keras objects (networks, layers) that `from_config`
    # deserializes; a variant with other sub-networks in its config names its own.
    serialized_objects: tuple[str, ...] = ("generator", "discriminator",
                                           "denoising_feature_matching")

    def get_config(self) -> dict:
        return {
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "latent_dim": self.latent_dim,
            "loss": self.loss_name,
            "d_steps": self.d_steps,
            "seed": self.seed,
            "name": self.name,
            **({"annealing": self.annealing.get_config()} if self.annealing else {}),
            **({"denoising_feature_matching": keras.saving.serialize_keras_object(
                self.feature_matching)} if self.feature_matching is not None else {}),
            **({"generator_ema": self.generator_average.decay}
               if self.generator_average is not None else {}),
            **({"feature_matching": self.mean_feature_matching.get_config()}
               if self.mean_feature_matching is not None else {}),
            **({"historical_averaging": {f"{key}_weight": getattr(
                self.historical_averages.get(key), "weight", 0.0) for key in ("d", "g")}}
               if self.historical_averages else {}),
            **({"one_sided_label_smoothing": self.one_sided_label_smoothing}
               if self.one_sided_label_smoothing is not None else {}),
        }

    @classmethod
    def from_config(cls, config: dict) -> "GAN":
        config = dict(config)
        for key in cls.serialized_objects:
            if key in config:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
