"""Exports a zoo generator as a SavedModel that TensorFlow Serving (or `serving`) can serve.

    export.export_generator(model, model_base_path, model_name, version=None) -> path
    python -m export --run_dir=DIR --model_base_path=DIR --model_name=NAME [--version=N]

Layout (TF Serving's): `<model_base_path>/<model_name>/<version>/saved_model.pb` and
`variables/`; the version defaults to one more than the largest present (1 for a new
model), and is written beside the others under a temporary name, then renamed into
place, so a polling server never loads a half-written version.

The SavedModel is self-contained: loading it needs TensorFlow only (no `zoo`, no Keras
objects, no Python functions), and its graphs hold no `py_function` and no XLA
`jit_compile`. Every input and output has a leading batch dimension, so TF Serving's
row ("instances") and columnar ("inputs") formats and its batching apply.

Signatures (method `tensorflow/serving/predict`):

`serving_default`: the generator's own input batch -> samples.
    inputs:  the generator's inputs by name: `z` float32 [batch, latent_dim] for gan and
             dcgan (for the AAN, the RBM's visible spin state, named by its input).
    outputs (image models):   `images` float32 [batch, H, W, C] in [-1, 1];
                              `images_png_bytes` string [batch]: PNG-encoded uint8 images
                              (pixel = round((x + 1) * 127.5)); REST clients receive them
                              as `{"b64": ...}`.
    outputs (mixture models): `samples` float32 [batch, D].

`sample`: seeds -> samples; row i depends only on row i's inputs.
    inputs:  `seed` int64 [batch], plus the model's per-row `sample_extras` (none for gan
             and dcgan; e.g. `gibbs_steps` int32 [batch] for the AAN).
    outputs: as `serving_default`. The same seed (and extras) always gives the same
             sample, up to float rounding that may differ with the batch it rides in.
"""
from typing import Any

__all__ = ["export_generator", "export_run_result"]


def __getattr__(name: str) -> Any:
    """`export_generator` and `export_run_result` import TensorFlow on first use, so that
    `python -m export --help` and its usage errors answer at once."""
    if name in __all__:
        from export import exporter

        return getattr(exporter, name)
    raise AttributeError(f"module 'export' has no attribute {name!r}")
