"""`--set=loss=...` for every variant that takes a loss, and TTUR's two learning rates
(`d_learning_rate` / `g_learning_rate`) for every variant's optimizers."""
import keras
import numpy as np
import pytest

from zoo import data, losses
from zoo.models import MODELS, build
from zoo.models.base import SEED_DISCRIMINATOR

RING8 = data.info("ring8")
FASHION = data.info("fashion_mnist")
# Small networks, where a variant has the keys (only those present are set).
SMALL = dict(generator_hidden=[16], discriminator_hidden=[16], feature_hidden=[16],
             head_hidden=[16], width=8, feature_units=16, rbm_hidden=8, latent_dim=8,
             gibbs_steps=2, d_width=8, w_dim=8, mapping_depth=1, max_width=8)


def dataset_for(name):
    """ring8 where the variant runs on points, else Fashion-MNIST."""
    try:
        MODELS.get(name).run_config(RING8)
        return RING8
    except ValueError:
        return FASHION


def config_keys(name, info):
    """Every key of the variant's full config for `info` (its fields and add-ons on)."""
    return set(MODELS.get(name).run_config(info).flat())


def small(name, info, **overrides):
    config = config_keys(name, info)
    keep = {k: v for k, v in SMALL.items() if k in config}
    if info is RING8:
        keep.pop("latent_dim", None)  # the mixtures' MLPs keep their 2-D noise
    return dict(keep, **overrides)


def variants_with_a_loss():
    return [name for name in MODELS.names()
            if "loss" in config_keys(name, dataset_for(name))]


def one_batch(model, info, batch_size):
    """A batch as the trainer loads it for `model` (labels, image size)."""
    return next(iter(data.load(info.name, batch_size=batch_size,
                               with_labels=getattr(model, "conditional", False),
                               image_size=model.config.get("image_size"))))


@pytest.mark.parametrize("loss", ["hinge", "least_squares"])
@pytest.mark.parametrize("name", variants_with_a_loss())
def test_every_variant_with_a_loss_trains_a_step_with_it(name, loss):
    info = dataset_for(name)
    keras.utils.set_random_seed(0)
    model = build(name, info, small(name, info, loss=loss), seed=0)
    model.compile(*model.default_optimizers())
    assert model.adversarial_loss is losses.get(loss)
    before = [w.copy() for w in model.discriminator.get_weights() + model.generator.get_weights()]
    logs = model.train_step(one_batch(model, info, 8))
    assert all(np.isfinite(float(v)) for v in logs.values()), logs
    after = model.discriminator.get_weights() + model.generator.get_weights()
    moved = [not np.allclose(a, b) for a, b in zip(before, after)]
    assert any(moved[:len(model.discriminator.get_weights())]), "D did not move"
    assert any(moved[len(model.discriminator.get_weights()):]), "G did not move"


@pytest.mark.parametrize("loss", losses.LOSSES.names())
def test_gan_step_logs_the_hand_computed_loss(loss):
    """D's logged loss on the first step equals the formula on D's outputs, in numpy."""
    keras.utils.set_random_seed(0)
    model = build("gan", RING8, dict(small("gan", RING8), loss=loss), seed=0)
    model.compile(*model.default_optimizers())
    real = one_batch(model, RING8, 64)
    z = model.sample_generator_inputs(64, model.step_seed(SEED_DISCRIMINATOR))
    r = model.discriminator(real).numpy()[:, 0]
    f = model.discriminator(model.generator(z)).numpy()[:, 0]
    softplus = lambda x: np.log1p(np.exp(x))  # noqa: E731
    expected = {
        "minimax": np.mean(softplus(-r)) + np.mean(softplus(f)),  # -log D(x) - log(1 - D(G(z)))
        "non_saturating": np.mean(softplus(-r)) + np.mean(softplus(f)),
        "wasserstein": np.mean(f) - np.mean(r),
        "hinge": np.mean(np.maximum(0, 1 - r)) + np.mean(np.maximum(0, 1 + f)),
        "least_squares": 0.5 * np.mean((r - 1) ** 2) + 0.5 * np.mean(f ** 2),
    }[loss]
    logs = model.train_step(real)
    np.testing.assert_allclose(float(logs["d_loss"]), expected, rtol=1e-5, atol=1e-6)


def test_unknown_loss_is_named():
    with pytest.raises(ValueError, match="loss must be one of \\[.*'hinge'.*\\], got 'hinj'"):
        build("wgan_gp", RING8, {"loss": "hinj"})


# ------------------------------------------------------------------------------------ TTUR
def rate(optimizer):
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


@pytest.mark.parametrize("name", MODELS.names())
def test_ttur_rates_set_each_optimizer_or_are_refused(name):
    """Every variant's default optimizers take D's and G's own rates (or refuse them with
    an error naming them)."""
    info = dataset_for(name)
    try:
        model = build(name, info, small(name, info, d_learning_rate=4e-4, g_learning_rate=1e-4))
        d_optimizer, g_optimizer = model.default_optimizers()
    except ValueError as error:
        assert "d_learning_rate" in str(error) or "g_learning_rate" in str(error), error
        return
    assert np.isclose(rate(d_optimizer), 4e-4) and np.isclose(rate(g_optimizer), 1e-4)
    one = build(name, info, small(name, info, g_learning_rate=1e-4))  # D keeps its default
    d_optimizer, g_optimizer = one.default_optimizers()
    config = one.config
    d_default = config["d_learning_rate"] or config["learning_rate"]  # sagan: TTUR's own
    assert np.isclose(rate(d_optimizer), d_default)
    assert np.isclose(rate(g_optimizer), 1e-4)


@pytest.mark.parametrize("name, overrides, kind", [
    ("vgan", {"optimizer": "adadelta"}, keras.optimizers.Adadelta),
    ("vgan", {"optimizer": "adam"}, keras.optimizers.Adam),
    ("wgan", {}, keras.optimizers.RMSprop),
    ("aan", {}, keras.optimizers.Adam),
])
def test_variants_with_their_own_optimizers_honour_ttur(name, overrides, kind):
    model = build(name, RING8, small(name, RING8, d_learning_rate=3e-3, g_learning_rate=2e-5,
                                     **overrides))
    model.compile(*model.default_optimizers())
    assert isinstance(model.d_optimizer, kind) and isinstance(model.g_optimizer, kind)
    assert np.isclose(rate(model.d_optimizer), 3e-3) and np.isclose(rate(model.g_optimizer), 2e-5)
    if name == "aan":  # the RBM keeps its own SGD rate
        assert np.isclose(rate(model.rbm_optimizer), model.config["rbm_learning_rate"])
