"""Annealing the data distribution, an outer loop any variant can run (Mehrjou et al., 2017).

Mehrjou, Schölkopf & Saremi (2017), "Annealed Generative Adversarial Networks"
(arXiv:1705.07505; ICLR 2017 workshop). The data are *heated* at inverse temperature
beta by convolving them with a Gaussian kernel,

    p_beta(x~) = integral p_data(x) N(x~; x, (1/beta) I) dx,
    i.e.  x~ = x + eps, eps ~ N(0, I/beta),

and beta is cooled geometrically from beta_0 to beta_inf in K stages of n steps each
(the paper's Algorithm 1): beta_{k+1} = alpha * beta_k with alpha = (beta_inf / beta_0)^(1/K).
At high temperature p_beta has support everywhere, D cannot reject G's samples outright and
the game is balanced; each temperature starts from the parameters learnt at the previous one.

`AnnealingSchedule` is a pure function of the training step (the generator optimizer's
iteration count, which checkpoints restore), so a resumed run continues the same schedule
and every replica of a distribution strategy computes the same beta without any state of
its own. The add-on (`Annealing`, run-config key `annealing`: {} for the defaults or a diff
over `DEFAULT_OPTIONS`) heats each real batch before any update of the step and logs `beta`
with the step's metrics; the noise is this replica's slice of a draw for the global batch.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

import keras
import numpy as np
import tensorflow as tf

from zoo import randomness
from zoo.addons import Addon, register
from zoo.config import RunConfig, merge

# Defaults of `AnnealingSchedule.from_options` (see `zoo.models.beta_gan` for the choice).
# `steps_per_stage=None` splits the run into K + 1 equal stages: K cooling ones and a last
# one at beta_inf.
DEFAULT_OPTIONS = dict(beta_0=1.0, beta_inf=1e6, stages=5, steps_per_stage=None)


@dataclasses.dataclass(frozen=True)
class AnnealingSchedule:
    """beta(t) = beta_0 * alpha^min(floor(t / n), K), alpha = (beta_inf / beta_0)^(1/K).

    Steps [k n, (k + 1) n) of training use beta_k, for k = 0 .. K - 1 (the K cooling stages
    of Algorithm 1); from step K n on, beta_K = beta_inf, exactly.

    Args:
      beta_0: the starting inverse temperature (noise variance 1 / beta_0), > 0.
      beta_inf: the final inverse temperature, >= beta_0.
      stages: K, the number of cooling stages (multiplications by alpha), >= 1.
      steps_per_stage: n, training steps at each temperature of a cooling stage, >= 1.
    """

    beta_0: float
    beta_inf: float
    stages: int
    steps_per_stage: int

    def __post_init__(self):
        if not (math.isfinite(self.beta_0) and self.beta_0 > 0):
            raise ValueError(f"beta_0 must be a positive number, got {self.beta_0}")
        if not (math.isfinite(self.beta_inf) and self.beta_inf >= self.beta_0):
            raise ValueError(f"beta_inf must be a number >= beta_0={self.beta_0}, "
                             f"got {self.beta_inf}")
        if int(self.stages) < 1 or int(self.stages) != self.stages:
            raise ValueError(f"stages must be a positive int, got {self.stages}")
        if int(self.steps_per_stage) < 1 or int(self.steps_per_stage) != self.steps_per_stage:
            raise ValueError(f"steps_per_stage must be a positive int, got {self.steps_per_stage}")

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None, total_steps: int
                     ) -> "AnnealingSchedule":
        """A schedule from a run config's `annealing` entry (a diff over `DEFAULT_OPTIONS`).

        Without `steps_per_stage`, n = total_steps // (K + 1): K cooling stages and a last
        stage (with the remainder) at beta_inf. Set it explicitly to keep the schedule when
        a run is resumed with more steps.
        """
        config = merge(DEFAULT_OPTIONS, options, "annealing")
        if config["steps_per_stage"] is None:
            config["steps_per_stage"] = max(1, int(total_steps) // (int(config["stages"]) + 1))
        return cls(float(config["beta_0"]), float(config["beta_inf"]), int(config["stages"]),
                   int(config["steps_per_stage"]))

    def get_config(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def alpha(self) -> float:
        """The cooling factor (beta_inf / beta_0)^(1/K)."""
        return (self.beta_inf / self.beta_0) ** (1.0 / self.stages)

    @property
    def annealing_steps(self) -> int:
        """K n: the step from which beta = beta_inf."""
        return self.stages * self.steps_per_stage

    def betas(self) -> np.ndarray:
        """The K + 1 temperatures beta_k = beta_0 alpha^k, k = 0..K, with beta_K = beta_inf."""
        values = self.beta_0 * self.alpha ** np.arange(self.stages + 1, dtype=np.float64)
        values[-1] = self.beta_inf
        return values

    def stage(self, step: tf.Tensor | int) -> tf.Tensor:
        """k = min(floor(step / n), K), an int64 tensor."""
        step = tf.cast(step, tf.int64)
        return tf.minimum(step // self.steps_per_stage, self.stages)

    def beta(self, step: tf.Tensor | int) -> tf.Tensor:
        """beta at a training step (float32), a pure function of the step."""
        return tf.cast(tf.gather(tf.constant(self.betas(), tf.float64), self.stage(step)),
                       tf.float32)

    def noise_std(self, step: tf.Tensor | int) -> tf.Tensor:
        """1 / sqrt(beta): the standard deviation of the heating noise at a step."""
        return tf.cast(tf.math.rsqrt(tf.gather(tf.constant(self.betas(), tf.float64),
                                                self.stage(step))), tf.float32)


def heat(x: tf.Tensor, noise_std: tf.Tensor, noise: tf.Tensor) -> tf.Tensor:
    """x~ = x + eps, eps = noise_std * noise with noise ~ N(0, I): a sample of p_beta
    (the Gaussian convolution above) for each row of x, beta = 1 / noise_std^2."""
    return tf.cast(x, tf.float32) + noise_std * noise


@register
class Annealing(Addon):
    """Heats the real batch at this step's beta (`AnnealingSchedule`); logs `beta`."""

    key = "annealing"

    @classmethod
    def normalize(cls, value: Any, config: RunConfig) -> dict | None:
        """{} (or True) for the defaults, else a diff over `DEFAULT_OPTIONS`; checked by
        building the schedule for the run's steps."""
        if value is None or value is False:
            return None
        options = merge(DEFAULT_OPTIONS, {} if value is True else value, "annealing")
        AnnealingSchedule.from_options(options, getattr(config, "steps", None) or 1)
        return options

    def attach(self, model: keras.Model) -> None:
        super().attach(model)
        self.schedule = AnnealingSchedule.from_options(self.options, model.config.steps or 1)

    def transform_real(self, model: keras.Model, real: tf.Tensor,
                       batch: tf.Tensor) -> tuple[tf.Tensor, dict]:
        step = model.g_optimizer.iterations
        noise = randomness.global_normal(real, batch, model.step_seed(randomness.SEED_HEAT))
        return (heat(real, self.schedule.noise_std(step), noise),
                {"beta": self.schedule.beta(step)})
