"""gan-zoo: GAN variants as Keras models, trained with `fit`, exported as SavedModels.

`zoo.load(name)` returns a pretrained model by name (`zoo.pretrained.load`; imported on
first use, so that `import zoo.data` stays light).
"""
from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "load":
        from zoo.pretrained import load
        return load
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")
