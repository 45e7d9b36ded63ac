"""StyleGAN: a style-based generator (Karras, Laine & Aila, CVPR 2019), at 32x32.

G maps z to an intermediate latent w = f(z) (an 8-layer MLP, `zoo.networks.stylegan.mapping`),
and a synthesis network g grows images from a learned 4x4 constant; each of its
convolutions is followed by per-pixel noise with learned per-channel scales and AdaIN, eq. (1),

    AdaIN(x_i, y) = y_s,i (x_i - mu(x_i)) / sigma(x_i) + y_b,i,

with the style y = A(w) a learned affine map of w per layer. Training adds:

- style mixing regularization (section 3.1): for `style_mixing` (90%) of the batches, G draws
  two latents z1, z2 and switches from w1 = f(z1) to w2 = f(z2) at a crossover layer drawn
  uniformly among the style layers 1..L-1 (one crossover per batch, as the authors' code);
- the non-saturating loss with R1 regularization on D, gamma / 2 E_x ||grad_x D(x)||^2 with
  gamma = 10 (appendix C; `zoo.losses.r1_penalty`), every step;
- w_avg, a moving average of w (decay 0.995 per step, from the w's of the step's generator
  draw) for the truncation trick in w, eq. (3): w' = w_avg + psi (w - w_avg). psi is an
  argument of `generate` and a per-row input `psi` of the exported `sample` signature
  (default 1: no truncation; the metrics use psi = 1).

D is the zoo's DCGAN discriminator without batch norm (R1 needs each sample's gradient to
be its own), not the paper's progressive-growing D. Adam(1e-3, beta_1 = 0, beta_2 = 0.99)
as the paper; the mapping network's learning rate is multiplied by 0.01 through the
equalized-learning-rate layers (see `zoo.networks.stylegan`). All draws are stateless:
the skeleton's seed for each update is split into z1, z2, the mixing draws and the noise.
Image datasets only; fashion_mnist is resized to 32x32 (the default `image_size`).

Measured on fashion_mnist with the defaults (seed 0; 1,000 steps took ~600 s on 2 CPU cores
shared with other jobs, 93 ms a step when less loaded): the FCD of 10,000 samples (psi = 1)
against the 10,000 test images loaded at 32x32 and resized back to 28x28 as the samples are
(`zoo.metrics.fashion_mnist_scores`, `python -m zoo.evaluate`; the first 10,000 training
images score 0.10 this way) is 87.0 untrained, 30.7 after 400 steps and 16.4 after 1,000
(classifier score 4.60, precision 0.67, recall 0.29). Truncating to psi = 0.7 trades recall
for precision, as in the paper: FCD 22.6, precision 0.74, recall 0.13.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo import losses as losses_lib
from zoo.config import RunConfig, at_least, below_one, in_range, param, positive
from zoo.models.base import GAN
from zoo.randomness import SEED_GENERATOR, local_slice, replica_info
from zoo.models.registry import MODELS
from zoo.networks import dcgan
from zoo.networks import stylegan as style_nets

_FIXED_INPUTS = 4     # z, z_mix, mix_from, psi; the noise inputs follow


@MODELS.register("stylegan")
class StyleGAN(GAN):
    """A style-based G (`zoo.networks.stylegan.generator`) against a D penalised by R1.

    Args:
      generator: a model from [z, z_mix, mix_from, psi, noise...] to images with nested
        `mapping` and layers `style_mixing` and `truncation` (`networks.stylegan.generator`).
      discriminator: images -> one logit, without batch norm.
      loss, d_steps, seed: as the GAN's.
      r1_gamma: gamma of the R1 penalty gamma / 2 E||grad_x D(x)||^2 on real data (0: off).
      style_mixing: the fraction of training batches generated with two latents.
      w_avg_decay: the decay of w's moving average, w_avg <- decay w_avg + (1 - decay) E[w].
    """

    sample_extras = {"psi": tf.TensorSpec([None], tf.float32, name="psi")}

    data_kinds = ("image",)
    capabilities = GAN.capabilities - {"skeleton_discriminator_loss"}

    @dataclasses.dataclass(frozen=True)
    class Config(GAN.Config):
        """32x32 images; the paper's mapping (8 layers, lr x 0.01), gamma = 10, 90% mixing,
        Adam(1e-3, 0, 0.99); widths min(max_width, width * 32 / r) at resolution r (128, 128,
        64, 32), latent and w of 128 (the paper's 512 is for 1024x1024 faces); batch 32."""

        image_size: int | None = 32
        latent_dim: int = 128
        w_dim: int = param(128, only="image", check=positive, section="network")
        mapping_depth: int = param(8, only="image", check=positive, section="network")
        mapping_lr_multiplier: float = param(0.01, only="image", check=positive,
                                             section="network")
        width: int = 32
        max_width: int = param(128, only="image", check=positive, section="network")
        d_width: int = param(32, only="image", check=positive, section="network")
        r1_gamma: float = param(10.0, check=at_least(0), doc="gamma of R1 on real data")
        style_mixing: float = param(0.9, check=in_range(0, 1), doc="mixed batches' fraction")
        w_avg_decay: float = param(0.995, check=below_one, doc="decay of w's average")
        learning_rate: float = 1e-3
        beta_1: float = 0.0
        beta_2: float = 0.99
        batch_size: int = 32
        steps: int = 2000

    def __init__(self, generator: keras.Model, discriminator: keras.Model, **kwargs: Any):
        try:
            mapping = generator.get_layer("mapping")
            truncation = generator.get_layer("truncation")
            mixing = generator.get_layer("style_mixing")
        except ValueError as err:
            raise ValueError("stylegan's generator needs a `mapping` model and `style_mixing` and "
                             "`truncation` layers (zoo.networks.stylegan.generator)") from err
        config, rest = self.split_config(generator, kwargs)
        super().__init__(generator, discriminator,  # latent_dim read off the generator
                         config=config.replace(latent_dim=int(mapping.inputs[0].shape[-1])),
                         **rest)
        self.mapping = mapping
        self.truncation = truncation
        self.num_style_layers = mixing.num_layers

    @classmethod
    def build_networks(cls, info: Any, config: RunConfig) -> dict:
        size, _, channels = info.shape
        generator = style_nets.generator(
            config["latent_dim"], config["w_dim"], size, channels,
            style_nets.widths_for(size, config["width"], config["max_width"]),
            config["mapping_depth"], config["mapping_lr_multiplier"])
        discriminator = dcgan.discriminator(size, channels, config["d_width"], normalization=None)
        return dict(generator=generator, discriminator=discriminator)

    # ------------------------------------------------------------- randomness
    def sample_generator_inputs(self, batch_size: tf.Tensor | int, seed: tf.Tensor,
                                psi: tf.Tensor | float = 1.0,
                                style_mixing: float = 0.0) -> list[tf.Tensor]:
        """G's inputs [z, z_mix, mix_from, psi, noise...] from a stateless seed [2].

        z, z_mix, noise ~ N(0, I). With probability `style_mixing` the whole batch switches
        to w(z_mix) from a crossover layer drawn uniformly in 1..L-1; otherwise mix_from = L
        (no mixing). `psi` (a scalar) is every row's truncation.
        """
        noise_specs = self.generator.inputs[_FIXED_INPUTS:]
        seeds = tf.random.experimental.stateless_split(seed, _FIXED_INPUTS + len(noise_specs))
        z = tf.random.stateless_normal([batch_size, self.latent_dim], seeds[0])
        z_mix = tf.random.stateless_normal([batch_size, self.latent_dim], seeds[1])
        mixes = tf.random.stateless_uniform([], seeds[2]) < style_mixing
        crossover = tf.random.stateless_uniform([], seeds[3], minval=1,
                                                maxval=self.num_style_layers, dtype=tf.int32)
        mix_from = tf.fill([batch_size], tf.where(mixes, crossover, self.num_style_layers))
        psi = tf.fill([batch_size], tf.cast(psi, tf.float32))
        noise = [tf.random.stateless_normal([batch_size, *spec.shape[1:]], s)
                 for spec, s in zip(noise_specs, tf.unstack(seeds[_FIXED_INPUTS:]))]
        return [z, z_mix, mix_from, psi] + noise

    def draw_generator_inputs(self, real: tf.Tensor, local_batch: tf.Tensor,
                              seed: tf.Tensor) -> list[tf.Tensor]:
        """This replica's rows of a draw for the global batch, with style mixing."""
        _, num_replicas = replica_info()
        return local_slice(self.sample_generator_inputs(local_batch * num_replicas, seed,
                                                        style_mixing=self.config.style_mixing),
                           local_batch)

    # ----------------------------------------------------------------- steps
    def extra_updates(self, real: tf.Tensor, labels: Any, batch: tf.Tensor) -> dict:
        """w_avg <- decay w_avg + (1 - decay) mean w(z) over the z of this step's G update
        (drawn again from the same seed)."""
        z = self.draw_generator_inputs(real, batch, self.step_seed(SEED_GENERATOR))[0]
        self.truncation.track(self.mapping(z, training=True), self.config.w_avg_decay)
        return {}

    def discriminator_loss(self, real: tf.Tensor, fake: tf.Tensor, real_output: tf.Tensor,
                           fake_output: tf.Tensor) -> tf.Tensor:
        """The adversarial loss + gamma / 2 E_x ||grad_x D(x)||^2 (R1, Mescheder et al. 2018,
        eq. 9; appendix C of the paper)."""
        loss = super().discriminator_loss(real, fake, real_output, fake_output)
        if self.config.r1_gamma == 0:
            return loss
        penalty = losses_lib.r1_penalty(lambda x: self.discriminator(x, training=True), real)
        return loss + 0.5 * self.config.r1_gamma * penalty

    # ------------------------------------------------------------- inference
    def generate(self, num_samples: int, seed: int = 0, psi: float = 1.0) -> np.ndarray:
        """`num_samples` images with truncation psi (1: none; 0: w_avg's image, up to the
        noise), reproducible from `seed` (`GAN.generate`, which runs G in chunks)."""
        if not math.isfinite(float(psi)):
            raise ValueError(f"psi must be a finite number, got {psi}")
        return super().generate(num_samples, seed, psi=float(psi))

    def generator_inputs_from_seeds(self, seeds: tf.Tensor,
                                    psi: tf.Tensor | None = None) -> list[tf.Tensor]:
        """Row i: G's inputs drawn from seeds[i] (no mixing), truncated by psi[i] (default 1)."""
        seeds = tf.cast(seeds, tf.int64)
        psi = tf.ones(tf.shape(seeds), tf.float32) if psi is None else tf.cast(psi, tf.float32)
        specs = [tf.TensorSpec(t.shape[1:], t.dtype) for t in self.generator.inputs]
        return tf.map_fn(
            lambda row: [t[0] for t in self.sample_generator_inputs(
                1, tf.stack([row[0], tf.zeros_like(row[0])]), psi=row[1])],
            (seeds, psi), fn_output_signature=specs)

    @property
    def w_avg(self) -> np.ndarray:
        """The tracked average of w, [w_dim]."""
        return keras.ops.convert_to_numpy(self.truncation.w_avg)
