"""Shared test helpers: quiet TensorFlow, the repo root, and subprocess environments."""
import contextlib
import functools
import os
import subprocess
import sys

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def subprocess_env(**extra: str) -> dict:
    """The environment for a child Python that imports the zoo from this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO_ROOT, env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def train_and_export(*args, **kwargs):
    """`zoo.trainer.train`, then the command line's step after the run: the generator exported
    under RUN_DIR/export/MODEL_DATASET/ (version 1), its path set on the result."""
    from export import export_run_result
    from zoo import trainer

    result = trainer.train(*args, **kwargs)
    export_run_result(result)
    return result


@pytest.fixture
def python():
    return sys.executable


# ---------------------------------------------------------------- export and serving
# Tiny trained runs and a stand-in for the coming AAN, shared by tests/test_export.py and
# tests/test_serving*.py (session-scoped: each is trained or built once).

@pytest.fixture(scope="session")
def tiny_dcgan_run(tmp_path_factory) -> str:
    """A 2-step DCGAN on Fashion-MNIST (width 8, latent_dim 16): run directory."""
    from zoo import trainer

    run_dir = str(tmp_path_factory.mktemp("tiny_dcgan"))
    trainer.train("dcgan", "fashion_mnist", run_dir, steps=2, batch_size=8,
                  overrides={"width": 8, "latent_dim": 16}, verbose=0, final_metrics=False)
    return run_dir


@pytest.fixture(scope="session")
def tiny_gan_run(tmp_path_factory) -> str:
    """A 50-step GAN on ring8 (2-D points): run directory."""
    from zoo import trainer

    run_dir = str(tmp_path_factory.mktemp("tiny_gan"))
    trainer.train("gan", "ring8", run_dir, steps=50, verbose=0)
    return run_dir


@pytest.fixture(scope="session")
def tiny_aan_run(tmp_path_factory) -> str:
    """A 2-step AAN on Fashion-MNIST (RBM of 16 visible units): run directory."""
    from zoo import trainer

    run_dir = str(tmp_path_factory.mktemp("tiny_aan"))
    trainer.train("aan", "fashion_mnist", run_dir, steps=2, batch_size=8,
                  overrides={"width": 8, "feature_units": 16, "rbm_hidden": 12,
                             "head_hidden": [16]}, verbose=0, final_metrics=False)
    return run_dir


@pytest.fixture(scope="session")
def gibbs_model():
    """An untrained point GAN shaped like the AAN's export hooks.

    Its generator input is named `visible` (not `z`), and its `sample` signature takes
    a per-row int32 `gibbs_steps` that moves the sample, as the AAN's will.
    """
    import keras
    import tensorflow as tf

    from zoo.models import GAN
    from zoo.networks import mlp

    class GibbsStepsGAN(GAN):
        sample_extras = {"gibbs_steps": tf.TensorSpec([None], tf.int32)}

        def generator_inputs_from_seeds(self, seeds, gibbs_steps=None):
            visible = super().generator_inputs_from_seeds(seeds)
            return visible + 0.1 * tf.cast(gibbs_steps, tf.float32)[:, None]

    keras.utils.set_random_seed(1)
    visible = keras.Input((4,), name="visible")
    generator = keras.Model(visible, keras.layers.Dense(2)(visible), name="generator")
    return GibbsStepsGAN(generator, mlp.discriminator(2, [8]), latent_dim=4)


@pytest.fixture(scope="session")
def served_models(tiny_dcgan_run, tiny_gan_run, tiny_aan_run, gibbs_model,
                  tmp_path_factory) -> str:
    """A model base path with version 1 of `digits` (dcgan), `ring` (gan), `aan` and `gibbs`."""
    from export import export_generator
    from zoo import trainer

    base = str(tmp_path_factory.mktemp("served_models"))
    export_generator(trainer.load_run(tiny_dcgan_run), base, "digits")
    export_generator(trainer.load_run(tiny_gan_run), base, "ring")
    export_generator(trainer.load_run(tiny_aan_run), base, "aan")
    export_generator(gibbs_model, base, "gibbs")
    return base


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rest_call(port: int, method: str, path: str, body=None, timeout: float = 60):
    """(HTTP status, parsed JSON) of one request to 127.0.0.1:port; a dict body is sent as JSON."""
    import http.client
    import json

    if isinstance(body, dict):
        body = json.dumps(body)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body,
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


# ---------------------------------------------------------- tiny image runs (32x32 family)
# Shared by the sngan, sagan, projection and biggan tests: a short run, the model before and
# after it, its Frechet classifier distance, and its export served over REST.

def train_from_command_line(model: str, run_dir: str, steps: int, overrides: dict,
                            dataset: str = "fashion_mnist") -> None:
    """`python -m zoo.train` in a child process (exporting at the end; no final metrics, to
    stay quick); fails the test unless the run finishes and says so."""
    child = subprocess.run(
        [sys.executable, "-m", "zoo.train", f"--model={model}", f"--dataset={dataset}",
         f"--steps={steps}", f"--run_dir={run_dir}", "--verbose=0",
         "--nofinal_metrics"]
        + [f"--set={key}={value}" for key, value in overrides.items()],
        cwd=REPO_ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=600)
    assert child.returncode == 0, child.stderr[-3000:]
    assert f"{model} on {dataset}: {steps} steps" in child.stdout, child.stdout


def untrained_and_trained(run_dir: str) -> tuple:
    """(the run's model as built, before training; the trained model from its checkpoint)."""
    from zoo import trainer

    spec = trainer.read_spec(run_dir)
    return trainer.build_model(spec, spec["overrides"]), trainer.load_run(run_dir)


def classifier_distances(models, real, **generate_options) -> list:
    """The Frechet classifier distance of 500 samples of each model (`generate(500,
    **generate_options)`) against the images `real`, both resized to 28x28 for the zoo's
    Fashion-MNIST classifier as `zoo.metrics.fashion_mnist_scores` resizes them."""
    from zoo.classifiers import fashion_mnist
    from zoo.metrics import frechet_distance
    from zoo.metrics.images import classifier_sized

    classifier = fashion_mnist.load()
    real_features = classifier.features(classifier_sized(real)[0])
    return [frechet_distance(real_features, classifier.features(
        classifier_sized(model.generate(500, **generate_options))[0])) for model in models]


@contextlib.contextmanager
def serve(base_path: str, name: str):
    """Serves the export folder `base_path` as `name` with the zoo's model server (REST on a
    free port) and yields `predict(body) -> (HTTP status, reply)` for that model."""
    from serving import ModelServer
    from serving.config import parse_model_config

    configs = parse_model_config(
        f'model_config_list {{ config {{ name: "{name}" base_path: "{base_path}" }} }}')
    with ModelServer(configs, grpc_port=0, rest_port=0, poll_wait_seconds=0) as server:
        yield functools.partial(rest_call, server.rest_port, "POST",
                                f"/v1/models/{name}:predict")
