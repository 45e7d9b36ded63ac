"""The recognition head Q of InfoGAN (Chen et al., 2016), on the discriminator's features."""
from __future__ import annotations

from typing import Sequence

import keras
from keras import layers


def q_head(feature_dim: int, outputs: int, hidden: Sequence[int] = (128,),
           name: str = "q_head") -> keras.Model:
    """Phi(x) -> the parameters of Q(c | x): LeakyReLU(0.2) layers, then `outputs` linear units
    (the paper's FC 128, lReLU, FC on the shared body; batch norm left out)."""
    if int(outputs) <= 0:
        raise ValueError(f"outputs must be positive, got {outputs}")
    f = keras.Input((int(feature_dim),), name="features")
    h = f
    for units in hidden:
        h = layers.LeakyReLU(0.2)(layers.Dense(units)(h))
    return keras.Model(f, layers.Dense(int(outputs), name="q_parameters")(h), name=name)
