"""The GAN with each improved technique of Salimans et al. (2016) on the Gaussian mixtures.

    python -m benchmarks.techniques [--steps=5000] [--seeds=1] [--datasets=ring8,grid25]
                                    [--contenders=gan,feature_matching,...]

Every contender is `gan` with its default MLP networks, Adam(1e-3, 0.5), batch 256 and one
D step per G step, plus one run-config add-on (`zoo.addons`), trained by `model.fit`
in one process and measured with the zoo's mixture protocol (`zoo.metrics.report.measure`:
2,500 samples, PacGAN metrics). Virtual batch normalization needs batch normalization to
replace: its pair of contenders gives the MLP generator a batch-norm layer after each
hidden layer (`networks.mlp.generator(batch_norm=True)`), once as is ("gan + BN G") and
once with VBN. Writes a Markdown table to benchmarks/TECHNIQUES.md (`--out`) and prints it.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import logging  # noqa: E402

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

logger = logging.getLogger(__name__)

DATASETS = ("ring8", "grid25")
# label -> (run-config overrides, whether G has batch normalization)
CONTENDERS = {
    "gan": ({}, False),
    "feature_matching": ({"feature_matching": True}, False),
    "minibatch_discrimination": ({"minibatch_discrimination": True}, False),
    "historical_averaging": ({"historical_averaging": True}, False),
    "historical_averaging w=0.01": (
        {"historical_averaging": {"d_weight": 0.01, "g_weight": 0.01}}, False),
    "one_sided_label_smoothing": ({"one_sided_label_smoothing": 0.9}, False),
    "gan + BN G": ({}, True),
    "virtual_batch_norm": ({"virtual_batch_norm": True}, True),
    # Settings behind the defaults' choice (see the modules' docstrings).
    "minibatch B=100 sum": (
        {"minibatch_discrimination": {"num_kernels": 100, "normalize": False}}, False),
    "minibatch B=100 normalized": ({"minibatch_discrimination": {"num_kernels": 100}}, False),
    "minibatch B=10 sum": ({"minibatch_discrimination": {"normalize": False}}, False),
    **{f"historical_averaging w={w}": (
        {"historical_averaging": {"d_weight": w, "g_weight": w}}, False)
       for w in (1.0, 0.1, 0.001)},
    "historical_averaging D only w=1": (
        {"historical_averaging": {"d_weight": 1.0, "g_weight": 0}}, False),
    "historical_averaging G only w=1": (
        {"historical_averaging": {"d_weight": 0, "g_weight": 1.0}}, False),
}
# The table's contenders by default: the GAN and each option at its defaults.
DEFAULT_CONTENDERS = ("gan", "feature_matching", "minibatch_discrimination",
                      "historical_averaging", "historical_averaging w=0.01",
                      "one_sided_label_smoothing", "gan + BN G", "virtual_batch_norm")

flags.DEFINE_integer("steps", None, "Generator steps per run (default: the GAN's, 5000).",
                     lower_bound=100)
flags.DEFINE_integer("seeds", 1, "Seeds per contender and dataset: 0..N-1.", lower_bound=1)
flags.DEFINE_list("datasets", list(DATASETS), "Mixture datasets.")
flags.DEFINE_list("contenders", list(DEFAULT_CONTENDERS), f"Contenders, from {list(CONTENDERS)}.")
flags.DEFINE_string("out", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                        "TECHNIQUES.md"), "Where the Markdown table goes.")
FLAGS = flags.FLAGS


def model_class(batch_norm: bool) -> type:
    """The GAN, or the GAN whose MLP generator has batch norm after each hidden layer."""
    from zoo import networks
    from zoo.models import GAN

    if not batch_norm:
        return GAN

    class BatchNormGAN(GAN):
        @classmethod
        def build_networks(cls, info, config):
            built = super().build_networks(info, config)
            built["generator"] = networks.mlp.generator(
                config["latent_dim"], int(np.prod(info.shape)), config["generator_hidden"],
                batch_norm=True)
            return built

    return BatchNormGAN


def run_one(overrides: dict, batch_norm: bool, dataset: str, steps: int | None,
            seed: int) -> dict:
    """Trains one contender; its mixture metrics, first/last 100-step mean losses, seconds."""
    import keras

    from benchmarks.mixture_fit import fit_and_evaluate
    from zoo import data

    keras.utils.set_random_seed(seed)
    overrides = dict(overrides, **({"steps": steps} if steps else {}))
    model = model_class(batch_norm).for_dataset(data.info(dataset), overrides, seed=seed)
    metrics, history = fit_and_evaluate(model, dataset, seed)
    metrics.update({f"first_{k}": v[0] for k, v in history.items()},
                   **{f"last_{k}": v[-1] for k, v in history.items()})
    return metrics


def table(results: dict, steps: int | None, seeds: list[int], machine: str) -> str:
    """The Markdown report: one row per dataset, contender and seed."""
    lines = [
        "# The GAN with each improved technique (Salimans et al., 2016) on the mixtures",
        "",
        f"`python -m benchmarks.techniques{f' --steps={steps}' if steps else ''} "
        f"--seeds={len(seeds)}`: `gan`'s default MLPs, Adam(1e-3, 0.5), batch 256, "
        "one D step per G step, each option at its defaults; PacGAN protocol on 2,500 "
        "samples (`zoo.metrics.report.measure`). Losses: means over the first and the last 100 steps. "
        f"Ran on {machine}, one process.",
        "",
        "| dataset | contender | seed | modes | high quality | d_loss first -> last | "
        "g_loss first -> last | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (dataset, label, seed), m in results.items():
        lines.append(
            f"| {dataset} | {label} | {seed} | {m['modes_covered']} / {m['num_modes']} | "
            f"{m['high_quality_fraction']:.3f} | {m['first_d_loss']:.3f} -> "
            f"{m['last_d_loss']:.3f} | {m['first_g_loss']:.4g} -> {m['last_g_loss']:.4g} | "
            f"{m['seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    del argv
    unknown = sorted(set(FLAGS.contenders) - set(CONTENDERS))
    if unknown:
        raise app.UsageError(f"unknown contenders {unknown}; valid: {list(CONTENDERS)}")
    from benchmarks.machine import machine
    from benchmarks.mixture_fit import cells_with_progress

    results = {}
    for dataset, seed, label in cells_with_progress(FLAGS.datasets, FLAGS.seeds,
                                                    FLAGS.contenders):
        overrides, batch_norm = CONTENDERS[label]
        metrics = run_one(overrides, batch_norm, dataset, FLAGS.steps, seed)
        results[(dataset, label, seed)] = metrics
        logger.info("%s seed %d %s: %d modes, %.3f high quality, d_loss %.3f, g_loss %.4g "
                    "(%.0fs)", dataset, seed, label, metrics["modes_covered"],
                    metrics["high_quality_fraction"], metrics["last_d_loss"],
                    metrics["last_g_loss"], metrics["seconds"])
    report = table(results, FLAGS.steps, list(range(FLAGS.seeds)), machine())
    with open(FLAGS.out, "w") as handle:
        handle.write(report)
    logger.info("wrote %s\n%s", FLAGS.out, report)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    app.run(main)
