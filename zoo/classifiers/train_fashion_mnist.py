"""Trains the zoo's Fashion-MNIST classifier reproducibly and records what it measured.

    python -m zoo.classifiers.train_fashion_mnist --output=zoo/classifiers/fashion_mnist.weights.h5

Seeded (`keras.utils.set_random_seed`, op determinism on, a seeded shuffle), it trains
`zoo.classifiers.fashion_mnist.build()` on the 60,000 training images (Adam, learning rate
cosine-decayed to 0 over the run), measures the accuracy on the 10,000 test images, saves the
model's weights (keras `save_weights`, no optimizer state) and writes beside them
NAME.json: test accuracy, seed, epochs, batch size, learning rate, training seconds, the
weights' sha256 and size, the TensorFlow and Keras versions and this command.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("output", None, "Where to write the weights (NAME.weights.h5); the record "
                    "goes to NAME.json beside it.")
flags.DEFINE_integer("seed", 0, "Seed of the initialisation, dropout and shuffling.")
flags.DEFINE_integer("epochs", 8, "Passes over the 60,000 training images.")
flags.DEFINE_integer("batch_size", 128, "Batch size.")
flags.DEFINE_float("learning_rate", 1e-3, "Adam's initial learning rate (cosine decay to 0).")

TRAIN_EXAMPLES = 60000
TEST_BATCH = 500


def train(output: str, seed: int, epochs: int, batch_size: int, learning_rate: float) -> dict:
    """Trains, evaluates on the test split, writes the weights and their record; returns it."""
    import keras
    import tensorflow as tf

    from zoo import data
    from zoo.classifiers import fashion_mnist
    from zoo.pretrained.checksum import sha256_of

    if not output.endswith(".weights.h5"):
        raise ValueError(f"--output must end with .weights.h5, got {output!r}")
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    model = fashion_mnist.build()
    steps = epochs * (TRAIN_EXAMPLES // batch_size)
    model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(
                      learning_rate, steps)),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    train_split = data.load("fashion_mnist", batch_size=batch_size, split="train", seed=seed,
                            with_labels=True, repeat=False, shuffle=True)
    started = time.time()
    model.fit(train_split, epochs=epochs, shuffle=False, verbose=2)
    seconds = time.time() - started
    test_split = data.load("fashion_mnist", batch_size=TEST_BATCH, split="test",
                           with_labels=True, repeat=False, shuffle=False)
    _, accuracy = model.evaluate(test_split, verbose=0)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    # The model's weights only: a compiled model's save_weights also writes the optimizer's.
    weights_only = fashion_mnist.build()
    weights_only.set_weights(model.get_weights())
    weights_only.save_weights(output)
    record = dict(
        weights=os.path.basename(output), sha256=sha256_of(output), size=os.path.getsize(output),
        test_accuracy=round(float(accuracy), 4), test_examples=10000, seed=seed, epochs=epochs,
        batch_size=batch_size, learning_rate=learning_rate, train_seconds=round(seconds, 1),
        tensorflow=tf.__version__, keras=keras.__version__,
        command=(f"python -m zoo.classifiers.train_fashion_mnist --output={output} "
                 f"--seed={seed} --epochs={epochs} --batch_size={batch_size} "
                 f"--learning_rate={learning_rate}"))
    with open(fashion_mnist.record_path(output), "w") as handle:
        json.dump(record, handle, indent=2, sort_keys=True)
        handle.write("\n")
    return record


def main(argv: list[str]) -> int:
    del argv
    record = train(FLAGS.output, FLAGS.seed, FLAGS.epochs, FLAGS.batch_size, FLAGS.learning_rate)
    print(f"test accuracy {record['test_accuracy']:.4f} after {record['epochs']} epochs "
          f"({record['train_seconds']}s); weights {FLAGS.output} sha256 {record['sha256']}")
    return 0


if __name__ == "__main__":
    flags.mark_flag_as_required("output")  # here, so that importing the module parses
    sys.exit(app.run(main))
