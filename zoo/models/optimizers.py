"""The optimizer policy of `zoo.models.base.GAN`: one optimizer per network, built in
`compile` on its variables, defaults from the config's `optimizer` section (Adam at each
network's rate under TTUR), an add-on's own optimizer by name."""
from __future__ import annotations

from typing import Any

import keras

from zoo.precision import loss_scaled


class Optimizers:
    """Mixin of `GAN`: `compile`, `default_optimizers`, `learning_rates`, `optimizers`."""

    def learning_rates(self) -> tuple[float, float]:
        """(D's rate, G's rate): `d_learning_rate` / `g_learning_rate` where set (TTUR),
        else `learning_rate`."""
        c = self.config
        return (c.d_learning_rate or c.learning_rate, c.g_learning_rate or c.learning_rate)

    def default_optimizers(self) -> tuple[keras.optimizers.Optimizer, ...]:
        """(d_optimizer, g_optimizer): Adam at each network's rate, the config's betas."""
        return tuple(keras.optimizers.Adam(rate, beta_1=self.config.beta_1,
                                           beta_2=self.config.beta_2)
                     for rate in self.learning_rates())

    def compile(self, d_optimizer: keras.optimizers.Optimizer | None = None,
                g_optimizer: keras.optimizers.Optimizer | None = None, **kwargs: Any) -> None:
        """Takes (and builds) the optimizers; missing ones are `default_optimizers()`.
        An add-on's own optimizer goes by its name (e.g. `denoiser_optimizer`)."""
        defaults = self.default_optimizers() if d_optimizer is None or g_optimizer is None else ()
        precision = self.config.precision  # mixed_float16: both scale the loss
        self.d_optimizer = loss_scaled(d_optimizer or defaults[0], precision)
        self.g_optimizer = loss_scaled(g_optimizer or defaults[1], precision)
        self.d_optimizer.build(self.discriminator_variables())
        self.g_optimizer.build(self.generator.trainable_variables)
        extra = {k: loss_scaled(kwargs.pop(k), precision)
                 for k in list(kwargs) if k.endswith("_optimizer")}
        for addon in self.addons:
            addon.build_optimizers(self.g_optimizer, extra)
        # `self.optimizer` is the generator's: fit's step counters and callbacks read it.
        super().compile(optimizer=self.g_optimizer, **kwargs)

    def optimizers(self) -> dict:
        """Every optimizer of the model by name (checkpoints save each one's state)."""
        found = {"d_optimizer": self.d_optimizer, "g_optimizer": self.g_optimizer}
        for addon in self.addons:
            found.update(addon.optimizers())
        return found

    def discriminator_variables(self) -> list:
        """The variables the discriminator optimizer trains (variants may add their own)."""
        return self.discriminator.trainable_variables
