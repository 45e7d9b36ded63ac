"""beta-GAN against the vanilla minimax GAN on the Gaussian mixtures (the annealed-GAN test).

    python -m benchmarks.annealing [--steps=3000] [--seeds=5] [--datasets=ring8,grid25,...]

Both models are `zoo.models.build(...)` with the same default MLP networks, optimizers and
batch size for a dataset, trained by `model.fit` for the same number of generator steps
(one discriminator step each) in one process; they differ only in the annealing schedule
(`beta_gan` is `gan` with loss="minimax" and the data heated and cooled). Each run is
measured with the zoo's mixture protocol (`zoo.metrics.report.measure`: 2,500 samples, PacGAN
metrics). Writes a Markdown table of mean ± std over seeds to benchmarks/ANNEALING.md
(`--out`) and prints it.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import logging  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

logger = logging.getLogger(__name__)

DATASETS = ("ring8", "grid25", "mixture1d", "mixture3d")
CONTENDERS = {"GAN (minimax)": ("gan", {"loss": "minimax"}), "beta-GAN": ("beta_gan", {})}

flags.DEFINE_integer("steps", 3000, "Generator steps per run (a multiple of 100).",
                     lower_bound=100)
flags.DEFINE_integer("seeds", 5, "Seeds per model and dataset: 0..N-1.", lower_bound=1)
flags.DEFINE_list("datasets", list(DATASETS), "Mixture datasets.")
flags.DEFINE_string("out", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                        "ANNEALING.md"), "Where the Markdown table goes.")
FLAGS = flags.FLAGS


def run_one(model_name: str, overrides: dict, dataset: str, steps: int, seed: int) -> dict:
    """Trains one model for `steps` generator steps and returns its mixture metrics."""
    import keras

    from benchmarks.mixture_fit import fit_and_evaluate
    from zoo import data
    from zoo.models import build

    keras.utils.set_random_seed(seed)
    model = build(model_name, data.info(dataset), dict(overrides, steps=steps), seed=seed)
    return fit_and_evaluate(model, dataset, seed)[0]


def table(results: dict, datasets: list[str], steps: int, seeds: list[int],
          seconds: float, machine: str) -> str:
    """The Markdown report: one row per dataset and model, mean ± std over seeds."""
    lines = [
        "# beta-GAN vs the minimax GAN on the Gaussian mixtures",
        "",
        f"`python -m benchmarks.annealing --steps={steps} --seeds={len(seeds)}` "
        f"({seconds / 60:.1f} min in one process on {machine}). Same default MLP "
        "networks (3 x 128 ReLU / LeakyReLU), Adam(1e-3, 0.5), batch 256, "
        f"{steps} generator steps and one D step per step for both; seeds {seeds}. "
        "beta-GAN: the data heated with noise N(0, I / beta), beta from 1 to 1e6 in K = 5 "
        f"cooling stages of {steps // 6} steps and a last stage at 1e6 (`zoo.addons.annealing`). "
        "Metrics: PacGAN protocol on 2,500 samples (`zoo.metrics.report.measure`); mean ± std over "
        "seeds.",
        "",
        "| dataset | model | modes covered | high-quality fraction | per-seed modes |",
        "|---|---|---|---|---|",
    ]
    for dataset in datasets:
        for label in CONTENDERS:
            runs = results[dataset][label]
            modes = np.array([r["modes_covered"] for r in runs], float)
            quality = np.array([r["high_quality_fraction"] for r in runs], float)
            total = runs[0]["num_modes"]
            lines.append(
                f"| {dataset} | {label} | {modes.mean():.1f} ± {modes.std():.1f} / {total} | "
                f"{quality.mean():.3f} ± {quality.std():.3f} | "
                f"{', '.join(str(int(m)) for m in modes)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    del argv
    from benchmarks.machine import machine
    from benchmarks.mixture_fit import cells_with_progress

    results = {d: {label: [] for label in CONTENDERS} for d in FLAGS.datasets}
    started = time.time()
    for dataset, seed, label in cells_with_progress(FLAGS.datasets, FLAGS.seeds, CONTENDERS):
        name, overrides = CONTENDERS[label]
        metrics = run_one(name, overrides, dataset, FLAGS.steps, seed)
        results[dataset][label].append(metrics)
        logger.info("%s seed %d %s: %d modes, %.3f high quality (%.0fs)", dataset, seed,
                    label, metrics["modes_covered"], metrics["high_quality_fraction"],
                    time.time() - started)
    report = table(results, FLAGS.datasets, FLAGS.steps, list(range(FLAGS.seeds)),
                   time.time() - started, machine())
    with open(FLAGS.out, "w") as handle:
        handle.write(report)
    logger.info("wrote %s\n%s", FLAGS.out, report)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    app.run(main)
