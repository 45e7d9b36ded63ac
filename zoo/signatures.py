"""The serving signatures of an exported zoo generator (`GAN.export`; see the `export`
package docstring).

Each endpoint is a plain function of a dict of batched tensors, ready for
`keras.export.ExportArchive.add_endpoint`; the dict's keys become the
SignatureDef's input names, the returned dict's keys its output names.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import keras
import tensorflow as tf

DEFAULT_SIGNATURE = "serving_default"
SAMPLE_SIGNATURE = "sample"
SEED_INPUT = "seed"

IMAGE = "image"
MIXTURE = "mixture"
KINDS = (IMAGE, MIXTURE)

Endpoint = tuple[Callable[[Mapping[str, tf.Tensor]], dict], dict]


def output_kind(generator: keras.Model) -> str:
    """"image" for a generator of [batch, H, W, C] images, "mixture" for [batch, D] points."""
    rank = len(generator.outputs[0].shape)
    if rank == 4:
        return IMAGE
    if rank == 2:
        return MIXTURE
    raise ValueError(f"cannot export a generator whose output has rank {rank}: expected "
                     "4 (images [batch, H, W, C]) or 2 (points [batch, D])")


def png_bytes(images: tf.Tensor) -> tf.Tensor:
    """PNG encodings (tf.string [batch]) of images in [-1, 1], quantised to uint8."""
    pixels = tf.cast(tf.round(tf.clip_by_value((images + 1.0) * 127.5, 0.0, 255.0)), tf.uint8)
    return tf.map_fn(tf.io.encode_png, pixels, fn_output_signature=tf.TensorSpec([], tf.string))


def named_outputs(samples: tf.Tensor, kind: str) -> dict:
    """The signature outputs for a batch of samples: images (+ PNG bytes) or points."""
    samples = tf.cast(samples, tf.float32)
    if kind == IMAGE:
        return {"images": samples, "images_png_bytes": png_bytes(samples)}
    if kind == MIXTURE:
        return {"samples": samples}
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def generator_input_specs(generator: keras.Model) -> dict:
    """One named TensorSpec per generator input (`z` for gan/dcgan), batch dimension first."""
    return {tensor.name: tf.TensorSpec(tensor.shape, tensor.dtype, name=tensor.name)
            for tensor in generator.inputs}


def sample_input_specs(model: Any) -> dict:
    """`seed` (int64 [batch]) and the model's per-row `sample_extras` (e.g. `gibbs_steps`)."""
    specs = {SEED_INPUT: tf.TensorSpec([None], tf.int64, name=SEED_INPUT)}
    for name, spec in model.sample_extras.items():
        if name in specs:
            raise ValueError(f"sample_extras may not redefine {name!r}")
        if spec.shape.rank is None or spec.shape.rank < 1:
            raise ValueError(f"sample_extras[{name!r}] needs a batch dimension, got {spec.shape}")
        specs[name] = tf.TensorSpec(spec.shape, spec.dtype, name=name)
    return specs


def endpoints(model: Any, kind: str) -> dict[str, Endpoint]:
    """{signature name: (function of a dict of inputs, that dict's TensorSpecs)}.

    The generator served is the model's `inference_generator` (G's average with the
    `generator_ema` add-on, see `zoo.addons.ema`), else its `generator`.
    """
    generator = getattr(model, "inference_generator", model.generator)
    input_names = [tensor.name for tensor in generator.inputs]

    def generate(inputs: Mapping[str, tf.Tensor]) -> dict:
        batch = (inputs[input_names[0]] if len(input_names) == 1
                 else [inputs[name] for name in input_names])
        return named_outputs(generator(batch, training=False), kind)

    def sample(inputs: Mapping[str, tf.Tensor]) -> dict:
        extras = {name: value for name, value in inputs.items() if name != SEED_INPUT}
        return named_outputs(model.sample_from_seeds(inputs[SEED_INPUT], **extras), kind)

    return {
        DEFAULT_SIGNATURE: (generate, generator_input_specs(generator)),
        SAMPLE_SIGNATURE: (sample, sample_input_specs(model)),
    }


def write(model: Any, target: str, kind: str) -> None:
    """Writes the model's servable SavedModel (both signatures) to `target`: what
    `GAN.export` and `python -m export` (`export.export_generator`) both write."""
    archive = keras.export.ExportArchive()
    for name, (function, input_specs) in endpoints(model, kind).items():
        archive.add_endpoint(name, function, input_signature=[input_specs])
    archive.write_out(target, verbose=False)
