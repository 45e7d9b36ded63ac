"""Add-ons: pieces of training any variant takes by its run config, one module each.

    python -m zoo.train --model=gan --set=generator_ema=0.999 --set=annealing={}
    GAN(generator, discriminator, latent_dim=2, addons={"generator_ema": 0.999})

- `annealing` (`annealing`): heats every real batch, x + N(0, I / beta(step)), beta cooled
  geometrically (Mehrjou et al., 2017);
- `denoising_feature_matching`: a denoiser on D's features, G's extra term (Warde-Farley &
  Bengio, 2017);
- `generator_ema` (`ema`): an average of G's weights samples and is exported (Yazici et al.,
  2019);
- Salimans et al. (2016): `feature_matching` (G matches D's mean features, 3.1),
  `minibatch_discrimination` (a layer before D's head, 3.2), `historical_averaging`
  (||theta - mean of past theta||^2 on D and G, 3.3), `one_sided_label_smoothing`
  (`label_smoothing`: D's real targets 0.9, 3.4), `virtual_batch_norm` (G's normalization over
  a fixed reference batch, 3.5).

The protocol (`Addon`): an add-on is a Keras layer (so its variables are the model's, in
checkpoints and `.keras` files) built from its options by the model, with hooks the
skeleton's step calls in a fixed order; every hook does nothing by default:

    adapt_networks (class-level, before the model exists; idempotent) -> attach(model)
    train_step: transform_real -> before_updates -> D updates (+ penalty("d"))
                -> G update (generator_adversarial, generator_term, penalty("g"))
                -> after_generator_update
    also: adversarial_loss (wraps the loss pair), sampler (who samples at inference),
    optimizers (its own, built in compile), metric_names.

An add-on states what it needs of a variant as capabilities (`requires`), which variants
declare (`zoo.models.base.GAN.capabilities`); `attach` refuses a variant without them in
one line. A new add-on is one module here, registered with `@register`.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Any, ClassVar, Mapping

import keras
import tensorflow as tf

from zoo.config import RunConfig, merge
from zoo.registry import Registry

ADDONS: Registry[type] = Registry("add-on")


def register(cls: type) -> type:
    """Class decorator: registers an `Addon` subclass under its `key`."""
    ADDONS.register(cls.key)(cls)
    return cls


def enabled(value: Any) -> bool:
    """Whether a run-config entry turns its add-on on (None and False leave it off)."""
    return value is not None and value is not False


class Addon(keras.layers.Layer):
    """One add-on's state and hooks (see the module docstring).

    Args:
      options: the normalized options (`normalize`), as stored in the run config.
    """

    key: ClassVar[str] = ""
    # Capabilities the variant must have, each with why (in the error; "" for the plain one).
    requires: ClassVar[Mapping[str, str]] = {}
    metric_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, options: Any, **kwargs):
        super().__init__(name=kwargs.pop("name", self.key), trainable=False, **kwargs)
        self.options = options
        self.built = True

    # ------------------------------------------------------------ construction
    @classmethod
    def normalize(cls, value: Any, config: RunConfig) -> Any:
        """The run config's value for this add-on, checked and completed (JSON-ready); None
        when off. By default True or a dict merged over `DEFAULT_OPTIONS`."""
        if not enabled(value):
            return None
        defaults = getattr(cls, "DEFAULT_OPTIONS", None)
        if defaults is None:
            return value
        if value is True:
            return dict(defaults)
        if not isinstance(value, Mapping):
            raise ValueError(f"{cls.key} must be true or a dict of options {sorted(defaults)}, "
                             f"got {value!r}")
        return merge(defaults, value, cls.key)

    @classmethod
    def adapt_networks(cls, options: Any, networks: dict) -> dict:
        """The variant's networks changed as this add-on needs (before the model exists);
        must leave already adapted networks unchanged (deserialized models)."""
        return networks

    def attach(self, model: keras.Model) -> None:
        """Builds what needs the model (its networks, seed, config); checks `requires`."""
        variant = type(model).__name__
        for capability in sorted(set(self.requires) - model.capabilities):
            reason = self.requires[capability]
            raise ValueError(f"{self.key} {reason.format(variant=variant)}" if reason else
                             f"{self.key} needs a variant with {capability}; {variant} does "
                             f"not have it")

    # ------------------------------------------------------------ hooks
    def adversarial_loss(self, loss: Any) -> Any:
        return loss

    def transform_real(self, model: keras.Model, real: tf.Tensor,
                       batch: tf.Tensor) -> tuple[tf.Tensor, dict]:
        return real, {}

    def before_updates(self, model: keras.Model, real: tf.Tensor, batch: tf.Tensor) -> dict:
        return {}

    def penalty(self, model: keras.Model, network: str, variables: list) -> tuple[Any, dict]:
        """(a term added to network "d"'s or "g"'s objective or None, its logs)."""
        return None, {}

    def generator_adversarial(self, model: keras.Model, real: tf.Tensor, fake: tf.Tensor,
                              condition: Any) -> tf.Tensor | None:
        """A replacement for G's adversarial term, or None to keep D's."""
        return None

    def discriminate_fake(self, model: keras.Model, fake: tf.Tensor, condition: Any,
                          seen: dict) -> tf.Tensor | None:
        """D's output on G's samples computed by the add-on, keeping parts it needs later in
        `seen` (one pass of D instead of two); None leaves it to `model.discriminate`."""
        return None

    def generator_term(self, model: keras.Model, loss: tf.Tensor, fake: tf.Tensor,
                       logs: dict, seen: dict) -> tuple[tf.Tensor, dict]:
        """G's loss after this add-on's term (called with the loss so far and `seen`)."""
        return loss, logs

    def after_generator_update(self, model: keras.Model) -> None:
        pass

    def sampler(self) -> keras.Model | None:
        """A network that samples at inference instead of G, or None."""
        return None

    def optimizers(self) -> dict:
        """{name: optimizer} of the add-on's own networks (built in `build_optimizers`)."""
        return {}

    def build_optimizers(self, g_optimizer: keras.optimizers.Optimizer,
                         given: Mapping[str, Any]) -> None:
        """Creates and builds `optimizers()` (default: copies of G's), `given` by name."""


def options_for(name: str, value: Any, config: RunConfig) -> Any:
    """`RunConfig`'s hook: the add-on `name`'s normalized options (unknown names refused)."""
    return ADDONS.get(name).normalize(value, config)


RunConfig.addon_options = staticmethod(options_for)
RunConfig.addon_names = staticmethod(lambda: ADDONS.names())


def build(options: Mapping[str, Any]) -> list[Addon]:
    """The add-ons of a run config's `addons` (name -> normalized options), in the
    registry's order, so the step's hooks run in one fixed order."""
    return [ADDONS.get(name)(options[name]) for name in ADDONS.names() if name in options]


def adapt_networks(options: Mapping[str, Any], networks: Mapping[str, Any]) -> dict:
    """`networks` as the add-ons in `options` adapt them (e.g. minibatch discrimination)."""
    networks = dict(networks)
    for name in ADDONS.names():
        if name in options:
            networks = ADDONS.get(name).adapt_networks(options[name], networks)
    return networks


for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
