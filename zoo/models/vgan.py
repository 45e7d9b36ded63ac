"""GANs as variational training of energy-based models (Zhai, Cheng, Feris & Zhang, 2016).

For an energy E(x) and any distribution q, Jensen's inequality bounds the negative
log-likelihood of p(x) = exp(-E(x)) / Z from below, eq. (4); VGAN plays

    min_E max_G  E_{x ~ p_data}[E(x)] - E_{x ~ p_g}[E(x)] + H(p_g),         eq. (6)

the generator tightening the bound (k updates, Algorithm 1), the energy then lowering it
(one update). Two registered variants:

- `vgan` (section 5, Algorithm 1): G maps noise to samples. The energy is bounded and
  multi-modal, eq. (8): K experts sigmoid(W_j^T phi(x) + b_j) on features phi, each
  contributing its binary entropy; H(p_g) is approximated from the batch, eq. (9), and
  the energy also maximizes the same approximation on the data, H~(p_data).
- `vcd` (section 6, Algorithm 2): variational contrastive divergence. G is a transition
  operator p_g(x~ | x) (`zoo.networks.transition`): it encodes a training example to a
  bottleneck h, replaces a random half of h by uniform noise and decodes; it minimizes
  eq. (10), rho (E(x~) - H~(p_g)) + (1 - rho) ||Dec(Enc(x)) - x||^2. Samples come from
  running the transition as a Markov chain (`transition_chain`, the paper's Figure 5).

In the zoo's skeleton the discriminator is the energy network and outputs the K expert
logits; `energy` and `entropy_approximation` turn them into eqs. (8) and (9). A step
makes d_steps (default 1) energy updates, then `generator_steps` (k) generator updates:
the paper's order (G first) shifted by one energy update. The run's step count is the
generator optimizer's, so `steps` counts generator updates (k per training step).

Measured (PacGAN protocol, 2,500 samples; default configs, 5,000 steps; CPU):
- vgan, ring8: seeds 0-2 cover 8, 8, 8 of 8 modes at 79, 89, 62% high quality (35-120 s
  a run on 2 shared cores), measured before the generator EMA default below.
- vgan, ring8, 3,000 steps, seeds 0-2, oneDNN on / off (TF_ENABLE_ONEDNN_OPTS=0: other
  round-off, as another CPU gives): without an EMA 8 modes everywhere at 62 / 44, 80 / 64,
  77 / 83% high quality (another machine measured 26% for seed 0): the samples sharpen
  slowly, bridges along the ring between modes. Sampling from an average of G's weights
  (`generator_ema` 0.99, the mixtures' default; it changes what is sampled, not training)
  gave 70 / 62, 81 / 82, 83 / 85%; a decay of 0.999 averaged over the bridging phase (0-10%).
  Faster D or G (d_learning_rate 1e-3, learning_rate 4e-4) fell into the saturation trap
  below (0-5 modes).
- vgan, grid25: 13, 24, 19 of 25 modes but 2-4% high quality: the entropy term keeps the
  samples spread between the modes.
- vcd, ring8 (rho = 0.1): seeds 0-1 cover 8, 8 modes at 69, 77%; grid25 seed 0: 10 modes, 1%.
- The optimizer: the paper's Adadelta(0.1) gave 5 modes at 3% (Adadelta(1.0): 3 at 9%) on
  ring8 after 2,000 steps, Adam(1e-3, the GAN's) 1 mode at 0% (G escapes to where every
  expert saturates: the clipped sigmoids give the energy no gradient there), Adam(1e-4)
  8 at 31%; Adam(2e-4) is the default. k = 2 generator steps halved the quality (36% vs
  73% at 1e-4), k = 3 at 1e-3 diverged to 0 modes; k = 1 is the default.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from zoo import networks
from zoo.config import RunConfig, at_least, in_range, one_of, param, positive
from zoo.models.base import GAN
from zoo.randomness import SEED_GENERATOR, local_slice, replica_info
from zoo.models.registry import MODELS
from zoo.networks import transition

logger = logging.getLogger(__name__)

DEFAULT_EXPERTS = 100  # K in the paper's text (its code used 128)
DEFAULT_CLIP = 1e-4    # the authors' code clips each expert to [1e-4, 1 - 1e-4]
OPTIMIZERS = ("adam", "adadelta")


# ---------------------------------------------------------------- the energy, eqs. (8)-(9)
def binary_entropy(p: tf.Tensor) -> tf.Tensor:
    """H(p) = -p log p - (1 - p) log(1 - p), in nats: in [0, log 2], maximal at p = 1/2."""
    return -(p * tf.math.log(p) + (1.0 - p) * tf.math.log(1.0 - p))


def expert_probabilities(logits: tf.Tensor, clip: float = DEFAULT_CLIP) -> tf.Tensor:
    """sigma(W_j^T phi(x) + b_j), clipped to [clip, 1 - clip] (zero gradient outside)."""
    return tf.clip_by_value(tf.sigmoid(tf.cast(logits, tf.float32)), clip, 1.0 - clip)


def energy(logits: tf.Tensor, clip: float = DEFAULT_CLIP) -> tf.Tensor:
    """The bounded multi-modal energy of each sample, eq. (8):

        E(x) = sum_{j=1..K} H(sigma(W_j^T phi(x) + b_j)),

    from the K expert logits [batch, K]; returns [batch]. With natural logs and the clip,
    K H(clip) <= E(x) <= K log 2 (the paper's [0, K] is in bits). Every expert is lowest
    at 0 or 1, so the energy has 2^K equally low minima.
    """
    return tf.reduce_sum(binary_entropy(expert_probabilities(logits, clip)), axis=-1)


def entropy_approximation(logits: tf.Tensor, clip: float = DEFAULT_CLIP) -> tf.Tensor:
    """The batch approximation of a distribution's entropy, eq. (9):

        H~(p) = sum_{j=1..K} H((1/N) sum_{i=1..N} sigma(W_j^T phi(x^i) + b_j)),

    over the N samples x^i of the batch (this replica's). It is 0 for experts that agree on
    every sample and K log 2 when each expert's mean activation is 1/2; a collapsed batch
    (one repeated sample) makes it equal to that sample's energy, its lowest value for
    the batch's energies since H is concave (H(mean p) >= mean H(p)).
    """
    return tf.reduce_sum(
        binary_entropy(tf.reduce_mean(expert_probabilities(logits, clip), axis=0)))


def energy_network(features: keras.Model, experts: int = DEFAULT_EXPERTS,
                   name: str = "energy") -> keras.Model:
    """phi(x) -> the K expert logits W_j^T phi(x) + b_j (the inputs of `energy`)."""
    f = keras.Input(features.output.shape[1:], name="features")
    head = keras.Model(f, layers.Dense(experts, name="experts")(f), name="experts")
    return networks.mlp.compose(features, head, name=name)


# ---------------------------------------------------------------------------- VGAN
@MODELS.register("vgan")
class VGAN(GAN):
    """Algorithm 1: G ascends -E(G(z)) + H~(p_g) k times; E descends
    E(x) - E(G(z)) - H~(p_data) once.

    Args:
      generator: noise (latent_dim) -> samples.
      discriminator: the energy network, samples -> K expert logits (`energy_network`).
      latent_dim: size of z.
      generator_steps: k, generator updates per energy update.
      clip: each expert's sigmoid is clipped to [clip, 1 - clip].
      d_steps: energy updates per training step (1 in the paper).
    """

    metric_names = ("d_loss", "g_loss", "energy_real", "energy_fake", "entropy_real",
                    "entropy_fake")

    capabilities = GAN.capabilities - {"skeleton_discriminator_loss"}

    @dataclasses.dataclass(frozen=True)
    class Config(GAN.Config):
        """The GAN's networks and Adam settings with K = 100 experts (the paper's text) and
        k = 1 generator update per energy update.

        Adadelta(0.1) (the paper's optimizer) is `optimizer="adadelta"`; see the module
        docstring for what each setting gave on the mixtures. (`loss` is unused: the energy
        is the objective.)
        """

        experts: int = param(DEFAULT_EXPERTS, check=positive, section="network", doc="K")
        clip: float = param(DEFAULT_CLIP, check=lambda v: None if 0 < v < 0.5 else "in (0, 0.5)")
        generator_steps: int = param(1, check=positive, doc="k")
        optimizer: str = param("adam", check=one_of(*OPTIMIZERS), section="optimizer")
        learning_rate: float = 2e-4
        kind_addons = {"mixture": {"generator_ema": 0.99}}  # see the module docstring

    def __init__(self, generator: keras.Model, discriminator: keras.Model, **kwargs: Any):
        super().__init__(generator, discriminator, **kwargs)
        self.experts = int(discriminator.output.shape[-1])

    @classmethod
    def build_networks(cls, info: Any, config: RunConfig) -> dict:
        """The zoo's generator; the energy: the discriminator's features phi (MLP or DCGAN
        convolutions) and a Dense layer of K expert logits."""
        if info.kind == "mixture":
            dim = int(np.prod(info.shape))
            generator = networks.mlp.generator(config["latent_dim"], dim,
                                               config["generator_hidden"])
            features = networks.mlp.feature_extractor(dim, config["discriminator_hidden"])
        else:
            size, _, channels = info.shape
            generator = networks.dcgan.generator(config["latent_dim"], size, channels,
                                                 config["width"])
            features = networks.dcgan.feature_extractor(size, channels, config["width"])
        return dict(generator=generator,
                    discriminator=energy_network(features, config["experts"]))

    def default_optimizers(self) -> tuple[keras.optimizers.Optimizer, keras.optimizers.Optimizer]:
        """Adam as the GAN's, or the paper's Adadelta (rho 0.95, epsilon 1e-6 as Lasagne's);
        either at `learning_rates()` (TTUR's `d_learning_rate` / `g_learning_rate` apply)."""
        if self.config.optimizer == "adadelta":
            return tuple(keras.optimizers.Adadelta(rate, rho=0.95, epsilon=1e-6)
                         for rate in self.learning_rates())
        return super().default_optimizers()

    # ------------------------------------------------------------- objectives
    def discriminator_loss(self, real: tf.Tensor, fake: tf.Tensor, real_output: tf.Tensor,
                           fake_output: tf.Tensor) -> tf.Tensor:
        """Algorithm 1, line 6: (1/N) sum E(x^i) - (1/N) sum E(G(z^i)) - H~(p_data)."""
        return (tf.reduce_mean(energy(real_output, self.clip))
                - tf.reduce_mean(energy(fake_output, self.clip))
                - entropy_approximation(real_output, self.clip))

    def generator_loss(self, fake: tf.Tensor, fake_output: tf.Tensor) -> tf.Tensor:
        """Algorithm 1, line 3, as a loss: (1/N) sum E(G(z^i)) - H~(p_g)."""
        return (tf.reduce_mean(energy(fake_output, self.clip))
                - entropy_approximation(fake_output, self.clip))

    def discriminator_metrics(self, real_output: tf.Tensor, fake_output: tf.Tensor) -> dict:
        return {"energy_real": tf.reduce_mean(energy(real_output, self.clip)),
                "energy_fake": tf.reduce_mean(energy(fake_output, self.clip)),
                "entropy_real": entropy_approximation(real_output, self.clip),
                "entropy_fake": entropy_approximation(fake_output, self.clip)}

    def generator_update(self, real: tf.Tensor, labels: Any, batch: tf.Tensor) -> dict:
        """k generator updates (Algorithm 1, lines 2-4), each on a fresh draw: the step
        seeds follow the generator optimizer's iterations, which every update advances."""
        logs = {}
        for _ in range(self.generator_steps):
            logs = super().generator_update(real, labels, batch)
        return logs

    def energy_of(self, samples: Any) -> np.ndarray:
        """E(x) of each sample (inference mode), eq. (8)."""
        logits = self.discriminator(tf.convert_to_tensor(samples, tf.float32), training=False)
        return keras.ops.convert_to_numpy(energy(logits, self.clip))

# ----------------------------------------------------------------------------- VCD
@MODELS.register("vcd")
class VCD(VGAN):
    """Algorithm 2: variational contrastive divergence with a transition generator.

    G([x, m, z]) = Dec(m * z + (1 - m) * Enc(x)) (`zoo.networks.transition`) descends
    eq. (10) (with Algorithm 2's entropy term) k times; the energy descends
    E(x) - E(G(x, m, z)) - H~(p_data) once, as in `VGAN`.

    Args:
      generator: the transition generator, inputs `x`, `mask`, `noise` (width d).
      discriminator: the energy network (`energy_network`).
      rho: the weight of the energy in eq. (10); 0 trains a plain autoencoder.
      chain_steps: transitions run by `generate` after decoding uniform noise.
      latent_dim: d, the bottleneck width (taken from the generator when omitted).
    """

    metric_names = VGAN.metric_names + ("reconstruction",)
    capabilities = VGAN.capabilities - {"skeleton_generator_objective"}

    @dataclasses.dataclass(frozen=True)
    class Config(VGAN.Config):
        """VGAN's settings with a tanh bottleneck of latent_dim units and rho: for images
        256 units (the paper's MNIST) and rho = 0.01 (the paper's best there); for mixtures
        8 units and rho = 0.1 (the authors' code's default).

        On ring8 (3,000 steps, seed 0) rho = 0.01, 0.001 and 1e-4 let the energy term
        (up to K log 2 ~ 69 nats) or nothing hold the decoded noisy codes: the autoencoder
        learns (||x_bar - x||^2 ~ 4e-4) but transitions leave the ring (0-2 modes, 0% high
        quality); rho = 0.1 and 0.5 gave 8 modes at 52% and 54%.
        """

        kind_addons = {}  # measured without VGAN's EMA (the chain samples the transition)
        latent_dim: int = param(8, image=256)
        rho: float = param(0.1, image=0.01, check=in_range(0, 1), doc="the energy's weight")
        chain_steps: int = param(10, check=at_least(0), doc="transitions run by generate")

    def __init__(self, generator: keras.Model, discriminator: keras.Model, **kwargs: Any):
        if len(generator.inputs) != 3:
            raise ValueError("the VCD generator must take [x, mask, noise] "
                             f"(zoo.networks.transition), got {len(generator.inputs)} inputs")
        width = int(generator.inputs[2].shape[-1])
        config, rest = self.split_config(generator, kwargs)
        if "latent_dim" in kwargs and int(kwargs["latent_dim"]) != width:
            raise ValueError(f"latent_dim must be the bottleneck width {width}, "
                             f"got {kwargs['latent_dim']}")
        if "denoising_feature_matching" in config.addons:
            raise ValueError("vcd does not take denoising_feature_matching")
        super().__init__(generator, discriminator, config=config.replace(latent_dim=width),
                         **rest)
        self.sample_shape = tuple(generator.inputs[0].shape[1:])

    @classmethod
    def build_networks(cls, info: Any, config: RunConfig) -> dict:
        """The transition generator (MLP or DCGAN encoder/decoder) and VGAN's energy."""
        energy_model = super().build_networks(info, config)["discriminator"]
        if info.kind == "mixture":
            generator = transition.mlp_transition(int(np.prod(info.shape)),
                                                  config["latent_dim"],
                                                  config["generator_hidden"])
        else:
            size, _, channels = info.shape
            generator = transition.dcgan_transition(size, channels, config["width"],
                                                    config["latent_dim"])
        return dict(generator=generator, discriminator=energy_model)

    # -------------------------------------------------------- transitions
    def transition_noise(self, batch_size: tf.Tensor | int,
                         seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(m ~ Bernoulli(0.5)^d, z ~ U[-1, 1]^d) for `batch_size` rows from a seed [2]."""
        pair = tf.random.experimental.stateless_split(seed, num=2)
        shape = tf.stack([batch_size, self.latent_dim])
        mask = tf.cast(tf.random.stateless_uniform(shape, pair[0]) < 0.5, tf.float32)
        noise = tf.random.stateless_uniform(shape, pair[1], minval=-1.0, maxval=1.0)
        return mask, noise

    def draw_generator_inputs(self, real: tf.Tensor, local_batch: tf.Tensor,
                              seed: tf.Tensor) -> tuple:
        """[x, m, z]: this replica's real batch, and its slice of masks and noise drawn for
        the global batch (Algorithm 2, lines 3-4)."""
        _, num_replicas = replica_info()
        mask, noise = local_slice(self.transition_noise(local_batch * num_replicas, seed),
                                  local_batch)
        return (real, mask, noise)

    def sample_generator_inputs(self, batch_size: tf.Tensor | int, seed: tf.Tensor) -> tuple:
        """A chain's start: every unit replaced by noise (m = 1), so G decodes z ~ U[-1, 1]^d
        and ignores x (zeros)."""
        _, noise = self.transition_noise(batch_size, seed)
        start = tf.zeros(tf.concat([[batch_size], self.sample_shape], axis=0), tf.float32)
        return (start, tf.ones_like(noise), noise)

    def reconstruction_error(self, real: tf.Tensor, training: bool = True) -> tf.Tensor:
        """(1/N) sum ||Dec(Enc(x^i)) - x^i||^2 (m = 0): eq. (10)'s second term."""
        zeros = tf.zeros(tf.stack([tf.shape(real)[0], self.latent_dim]))
        recon = self.generator((real, zeros, zeros), training=training)
        flat = tf.reshape(recon - real, [tf.shape(real)[0], -1])
        return tf.reduce_mean(tf.reduce_sum(tf.square(flat), axis=1))

    def generator_objective(self, real: tf.Tensor, batch: tf.Tensor,
                            labels: Any = None) -> tuple[tf.Tensor, dict]:
        """Eq. (10) with Algorithm 2's entropy term:

            rho [(1/N) sum E(x~^i) - H~(p_g)] + (1 - rho) (1/N) sum ||x_bar^i - x^i||^2,

        x~^i = Dec(m^i * z^i + (1 - m^i) * Enc(x^i)), x_bar^i = Dec(Enc(x^i)).
        """
        inputs = self.draw_generator_inputs(real, batch, self.step_seed(SEED_GENERATOR))
        fake = self.generator(inputs, training=True)
        adversarial = self.generator_loss(fake, self.discriminator(fake, training=True))
        reconstruction = self.reconstruction_error(real)
        loss = self.rho * adversarial + (1.0 - self.rho) * reconstruction
        return loss, {"g_loss": loss, "reconstruction": reconstruction}

    def transition(self, samples: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """One step of the learned Markov chain, x~ ~ p_g(x~ | x) (inference mode)."""
        mask, noise = self.transition_noise(tf.shape(samples)[0], seed)
        return self.inference_generator((samples, mask, noise), training=False)

    def transition_chain(self, images: Any, steps: int = 9, seed: int = 0) -> np.ndarray:
        """The paper's Figure 5: chains started at `images`, after each of 1..steps
        transitions; returns [num_images, steps, *sample_shape]."""
        images = self._checked(images)
        if int(steps) <= 0:
            raise ValueError(f"steps must be a positive int, got {steps}")
        seeds = tf.random.experimental.stateless_split(tf.constant([seed, 3], tf.int64),
                                                       num=int(steps))
        states, x = [], images
        for t in range(int(steps)):
            x = self.transition(x, seeds[t])
            states.append(keras.ops.convert_to_numpy(x))
        return np.stack(states, axis=1)

    # The trainer's picture of a chain from data (`zoo.evaluation.save_walk`): Figure 5.
    walk = transition_chain
    walk_file = "transition_chain.png"
    walk_title = "transition chain: data, then 1..{steps} transitions"

    def _checked(self, images: Any) -> tf.Tensor:
        images = tf.convert_to_tensor(images, tf.float32)
        if tuple(images.shape[1:]) != self.sample_shape:
            raise ValueError(
                f"images must have shape (batch, {', '.join(map(str, self.sample_shape))}), "
                f"got {tuple(images.shape)}")
        return images

    @tf.function
    def _chain_from_noise(self, batch_size: int, seed: tf.Tensor, steps: int) -> tf.Tensor:
        seeds = tf.random.experimental.stateless_split(seed, num=steps + 1)
        x = self.inference_generator(self.sample_generator_inputs(batch_size, seeds[0]),
                                     training=False)
        for t in range(steps):
            x = self.transition(x, seeds[t + 1])
        return x

    def generate(self, num_samples: int | None = None, seed: int = 0,
                 chain_steps: int | None = None, images: Any = None) -> np.ndarray:
        """Samples of the chain: Dec(z), z ~ U[-1, 1]^d, then `chain_steps` transitions
        (default: the model's); with `images`, `chain_steps` (at least 1) transitions
        from them instead."""
        steps = self.chain_steps if chain_steps is None else int(chain_steps)
        if images is not None:
            return self.transition_chain(images, max(steps, 1), seed)[:, -1]
        if num_samples is None or int(num_samples) <= 0:
            raise ValueError(f"num_samples must be positive, got {num_samples}")
        if steps < 0:
            raise ValueError(f"chain_steps must be a non-negative int, got {steps}")
        return keras.ops.convert_to_numpy(
            self._chain_from_noise(int(num_samples), tf.constant([seed, 0], tf.int64), steps))

    def sample_from_seeds(self, seeds: tf.Tensor, **extras: tf.Tensor) -> tf.Tensor:
        """Row i: the chain of `generate` seeded by seeds[i] (inference mode)."""
        seeds = tf.cast(seeds, tf.int64)
        return tf.map_fn(
            lambda s: self._chain_from_noise(1, tf.stack([s, tf.zeros_like(s)]),
                                             self.chain_steps)[0],
            seeds, fn_output_signature=tf.float32)
