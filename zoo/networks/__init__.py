"""The zoo's default networks; every variant also accepts user-built Keras models."""
from zoo.networks import dcgan, mlp

__all__ = ["dcgan", "mlp"]
