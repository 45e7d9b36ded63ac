"""Exported generators: TF Serving's layout, self-contained SavedModels, both signatures."""
import io
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tensorflow.core.protobuf import saved_model_pb2

from conftest import REPO_ROOT, subprocess_env
from export import export_generator
from zoo import signatures
from zoo import trainer

SEEDS = np.array([3, 1, 4, 1, 5], np.int64)


@pytest.fixture(scope="module")
def dcgan(tiny_dcgan_run):
    return trainer.load_run(tiny_dcgan_run)


@pytest.fixture(scope="module")
def gan(tiny_gan_run):
    return trainer.load_run(tiny_gan_run)


@pytest.fixture(scope="module")
def exported(dcgan, gan, gibbs_model, tmp_path_factory):
    """{name: version dir} for the two zoo models and the AAN stand-in."""
    base = str(tmp_path_factory.mktemp("models"))
    return {"digits": export_generator(dcgan, base, "digits"),
            "ring": export_generator(gan, base, "ring"),
            "gibbs": export_generator(gibbs_model, base, "gibbs")}


def meta_graph(path):
    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as handle:
        saved_model.ParseFromString(handle.read())
    (graph,) = saved_model.meta_graphs
    return graph


def io_specs(signature_def):
    """{name: (dtype enum name, shape)} of a SignatureDef's inputs and outputs."""
    def specs(tensors):
        return {name: (tf.dtypes.as_dtype(info.dtype).name,
                       [dim.size for dim in info.tensor_shape.dim])
                for name, info in tensors.items()}
    return specs(signature_def.inputs), specs(signature_def.outputs)


def test_versions_follow_tf_serving_layout_and_increment(gan, tmp_path):
    base = str(tmp_path)
    first = export_generator(gan, base, "ring")
    assert first == os.path.join(base, "ring", "1")
    assert {"saved_model.pb", "variables"} <= set(os.listdir(first))
    assert os.listdir(os.path.join(first, "variables"))
    assert export_generator(gan, base, "ring") == os.path.join(base, "ring", "2")
    assert export_generator(gan, base, "ring", version=7).endswith(os.path.join("ring", "7"))
    assert export_generator(gan, base, "ring").endswith(os.path.join("ring", "8"))
    with pytest.raises(FileExistsError, match="version 7"):
        export_generator(gan, base, "ring", version=7)
    # Nothing but complete versions is left: the staging directories are gone.
    assert sorted(os.listdir(os.path.join(base, "ring")), key=int) == ["1", "2", "7", "8"]


def test_signatures_are_listed_with_their_inputs_and_outputs(exported):
    image_outputs = {"images": ("float32", [-1, 28, 28, 1]),
                     "images_png_bytes": ("string", [-1])}
    expected = {
        "digits": {"serving_default": ({"z": ("float32", [-1, 16])}, image_outputs),
                   "sample": ({"seed": ("int64", [-1])}, image_outputs)},
        "ring": {"serving_default": ({"z": ("float32", [-1, 2])},
                                     {"samples": ("float32", [-1, 2])}),
                 "sample": ({"seed": ("int64", [-1])}, {"samples": ("float32", [-1, 2])})},
        # The AAN's hooks: the generator input keeps its name, sample_extras join `seed`.
        "gibbs": {"serving_default": ({"visible": ("float32", [-1, 4])},
                                      {"samples": ("float32", [-1, 2])}),
                  "sample": ({"seed": ("int64", [-1]), "gibbs_steps": ("int32", [-1])},
                             {"samples": ("float32", [-1, 2])})},
    }
    for name, path in exported.items():
        defs = meta_graph(path).signature_def
        assert set(defs) - {"__saved_model_init_op"} == {"serving_default", "sample"}, name
        for key, (inputs, outputs) in expected[name].items():
            assert io_specs(defs[key]) == (inputs, outputs), (name, key)
            assert defs[key].method_name == "tensorflow/serving/predict"
        assert set(tf.saved_model.load(path).signatures) == {"serving_default", "sample"}


def test_graphs_hold_no_python_functions_and_no_xla(exported):
    for name, path in exported.items():
        graph = meta_graph(path)
        nodes = list(graph.graph_def.node)
        functions = list(graph.graph_def.library.function)
        nodes += [node for function in functions for node in function.node_def]
        ops = {node.op for node in nodes}
        assert "StatelessWhile" in ops or "While" in ops, name  # the library was searched
        assert not ops & {"PyFunc", "PyFuncStateless", "EagerPyFunc"}, name
        assert not [n.name for n in nodes if "_XlaMustCompile" in n.attr], name
        assert not [f.signature.name for f in functions if "_XlaMustCompile" in f.attr], name


def test_loads_and_matches_the_model_where_the_zoo_cannot_be_imported(
        dcgan, gan, exported, tmp_path):
    z = np.random.default_rng(0).normal(size=(3, 16)).astype(np.float32)
    # Run from a temporary directory without PYTHONPATH; a pip-installed (editable) project
    # is importable from anywhere, so its packages are also blocked: loading must need
    # TensorFlow alone.
    script = f"""
import sys
sys.modules.update(zoo=None, export=None, serving=None)
import numpy as np, tensorflow as tf
try:
    import zoo
except ImportError:
    pass
else:
    raise SystemExit("the zoo is importable: " + zoo.__file__)
seeds = tf.constant({SEEDS.tolist()}, tf.int64)
z = tf.constant(np.load("z.npy"))
results = {{}}
for name, path in {json.dumps({k: exported[k] for k in ("digits", "ring")})}.items():
    model = tf.saved_model.load(path)
    sample = model.signatures["sample"](seed=seeds)
    results[name + "_sample"] = next(v for k, v in sample.items() if k != "images_png_bytes")
    if name == "digits":
        results[name + "_default"] = model.signatures["serving_default"](z=z)["images"]
np.savez("results.npz", **{{k: v.numpy() for k, v in results.items()}})
"""
    np.save(tmp_path / "z.npy", z)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    results = np.load(tmp_path / "results.npz")
    seeds = tf.constant(SEEDS)
    np.testing.assert_allclose(results["digits_sample"], dcgan.sample_from_seeds(seeds),
                               atol=1e-5)
    np.testing.assert_allclose(results["ring_sample"], gan.sample_from_seeds(seeds), atol=1e-5)
    np.testing.assert_allclose(results["digits_default"],
                               dcgan.generator(z, training=False), atol=1e-5)


def test_png_bytes_decode_to_the_images(exported):
    outputs = tf.saved_model.load(exported["digits"]).signatures["sample"](
        seed=tf.constant(SEEDS))
    images = outputs["images"].numpy()
    assert images.min() >= -1 and images.max() <= 1
    for image, png in zip(images, outputs["images_png_bytes"].numpy()):
        decoded = np.asarray(Image.open(io.BytesIO(png)))
        assert decoded.shape == (28, 28) and decoded.dtype == np.uint8
        np.testing.assert_array_equal(decoded, np.round((image[..., 0] + 1) * 127.5))


@pytest.mark.parametrize("name, output", [("digits", "images"), ("ring", "samples")])
def test_a_seed_always_gives_the_same_sample(exported, name, output):
    sample = tf.saved_model.load(exported[name]).signatures["sample"]

    def draw(seeds):
        return sample(seed=tf.constant(seeds, tf.int64))[output].numpy()

    first, again = draw([7, 8, 7]), draw([7, 8, 7])
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first[0], first[2])
    assert not np.allclose(first[0], first[1])
    # A row depends on its own seed only (up to float rounding with the batch's size).
    np.testing.assert_allclose(draw([8])[0], first[1], atol=1e-5)


def test_sample_extras_reach_the_model(exported):
    sample = tf.saved_model.load(exported["gibbs"]).signatures["sample"]
    seeds = tf.constant([2, 2], tf.int64)
    same = sample(seed=seeds, gibbs_steps=tf.constant([3, 3]))["samples"].numpy()
    moved = sample(seed=seeds, gibbs_steps=tf.constant([3, 4]))["samples"].numpy()
    np.testing.assert_array_equal(same[0], same[1])
    assert not np.allclose(moved[0], moved[1])


def test_output_kind_follows_the_generator_output_rank(dcgan, gan):
    assert signatures.output_kind(dcgan.generator) == signatures.IMAGE
    assert signatures.output_kind(gan.generator) == signatures.MIXTURE
    with pytest.raises(ValueError, match="kind must be one of"):
        signatures.named_outputs(tf.zeros([1, 2]), "video")


def test_command_line_exports_a_run(tiny_gan_run, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "export", f"--run_dir={tiny_gan_run}",
         f"--model_base_path={tmp_path}", "--model_name=ring", "--version=3"],
        cwd=REPO_ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    path = os.path.join(str(tmp_path), "ring", "3")
    assert done.stdout.strip().splitlines()[-1] == path
    assert set(meta_graph(path).signature_def) >= {"serving_default", "sample"}
    # Quiet: no TensorFlow start-up, CUDA, oneDNN or saver INFO lines on a CPU machine.
    assert done.stderr.strip() == "", done.stderr[-2000:]


def test_command_line_help_and_usage_errors_answer_before_tensorflow_loads():
    started = time.time()
    done = subprocess.run([sys.executable, "-m", "export", "--help"], cwd=REPO_ROOT,
                          env=subprocess_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--model_base_path" in done.stdout, done.stderr
    missing = subprocess.run([sys.executable, "-m", "export", "--model_name=x"], cwd=REPO_ROOT,
                             env=subprocess_env(), capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    assert "run_dir" in missing.stderr
    assert time.time() - started < 8  # two starts; importing TensorFlow alone takes longer


def test_a_runs_trained_model_exports_as_its_checkpoint_restores(tmp_path):
    """What `python -m zoo.train` exports after the run (`RunResult.model`; the command line's
    own export is in tests/test_trainer.py): the same samples as the restored checkpoint."""
    result = trainer.train("gan", "ring8", str(tmp_path), steps=3, verbose=0)
    assert result.export_path is None and not (tmp_path / "export").exists()
    path = export_generator(result.model, str(tmp_path / "export"), "gan_ring8", kind="mixture")
    assert path == str(tmp_path / "export" / "gan_ring8" / "1")
    signatures = tf.saved_model.load(path).signatures
    samples = signatures["sample"](seed=tf.constant([1, 2], tf.int64))["samples"].numpy()
    model = trainer.load_run(str(tmp_path))
    np.testing.assert_allclose(
        samples, model.sample_from_seeds(tf.constant([1, 2], tf.int64)).numpy(), atol=1e-5)
