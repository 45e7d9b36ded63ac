import keras
import numpy as np
import pytest

from zoo.networks import dcgan, mlp


@pytest.mark.parametrize("size,expected", [(28, (7, 2)), (32, (4, 3)), (48, (6, 3)),
                                           (64, (4, 4))])
def test_stages_follow_from_the_image_size(size, expected):
    assert dcgan.stages_for(size) == expected


@pytest.mark.parametrize("size,channels", [(28, 1), (32, 3), (48, 3), (64, 3)])
def test_dcgan_shapes(size, channels):
    g = dcgan.generator(latent_dim=16, image_size=size, channels=channels, width=8)
    d = dcgan.discriminator(image_size=size, channels=channels, width=8)
    images = g(np.random.normal(size=(2, 16)).astype("float32"))
    assert images.shape == (2, size, size, channels)
    assert np.all(np.abs(images) <= 1.0)
    assert d(images).shape == (2, 1)


def test_bad_image_size_names_the_value():
    with pytest.raises(ValueError, match="got 3"):
        dcgan.stages_for(3)
    with pytest.raises(ValueError, match="7"):
        dcgan.generator(image_size=7)


def test_mlp_feature_layer_is_tanh_and_composes_with_a_head():
    features = mlp.feature_extractor(2, hidden=(8,), feature_units=5)
    head = mlp.head(5)
    d = mlp.compose(features, head)
    x = np.random.normal(size=(4, 2)).astype("float32") * 100
    f = features(x).numpy()
    assert f.shape == (4, 5) and np.all(np.abs(f) <= 1.0)
    np.testing.assert_allclose(d(x), head(features(x)), rtol=1e-6)


@pytest.mark.parametrize("build", [
    lambda norm: mlp.feature_extractor(2, hidden=(8,), feature_units=5,
                                       feature_normalization=norm),
    lambda norm: dcgan.feature_extractor(28, 1, width=4, feature_units=5,
                                         feature_normalization=norm)])
def test_layer_normalized_feature_layer_is_tanh_of_normalized_preactivations(build):
    features = build("layer")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, *features.input_shape[1:])).astype("float32") * 100
    gamma, beta = features.get_layer("feature_norm").weights  # a learned scale and shift
    gamma.assign(rng.uniform(0.5, 2.0, size=gamma.shape).astype("float32"))
    beta.assign(rng.normal(size=beta.shape).astype("float32"))
    dense = features.get_layer("feature_pre")
    h = keras.Model(features.input, dense.input)(x).numpy()
    pre = h @ dense.kernel.numpy() + dense.bias.numpy()
    normalized = (pre - pre.mean(-1, keepdims=True)) / np.sqrt(pre.var(-1, keepdims=True) + 1e-3)
    expected = np.tanh(normalized * gamma.numpy() + beta.numpy())
    np.testing.assert_allclose(features(x).numpy(), expected, rtol=1e-4, atol=1e-5)


def test_feature_normalization_keeps_the_tanh_out_of_saturation_and_checks_its_value():
    x = np.random.default_rng(1).normal(size=(256, 2)).astype("float32") * 100
    plain = mlp.feature_extractor(2, hidden=(8,), feature_units=16)
    normalized = mlp.feature_extractor(2, hidden=(8,), feature_units=16,
                                       feature_normalization="layer")
    assert np.abs(plain(x).numpy()).mean() > 0.9  # wide-range inputs saturate the tanh
    assert np.abs(normalized(x).numpy()).mean() < 0.75
    with pytest.raises(ValueError, match="'batch'"):
        mlp.feature_extractor(2, feature_units=4, feature_normalization="batch")
