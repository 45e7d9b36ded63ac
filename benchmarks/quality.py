"""Every registered variant with its defaults on the mixtures and Fashion-MNIST: RESULTS.md.

    python -m benchmarks.quality [--variants=gan,aan] [--datasets=ring8,grid25,fashion_mnist]
        [--seeds=3] [--steps=N] [--config='{"sngan": {"width": 32}}'] [--jobs=16]
        [--threads=1] [--out=benchmarks/RESULTS.md]

For each variant in `zoo.models.MODELS` (or --variants), each dataset and each seed
(--seeds on the mixtures, --image_seeds on image datasets), one cell: `python -m
benchmarks.quality_run` in its own process trains the variant with its defaults through
`zoo.trainer.train` (--steps overrides the length, for smoke runs; --config gives some
variants a diff over their defaults, e.g. smaller networks where the defaults take hours
on the machine at hand, and the report shows the diff beside the variant) and measures it
with `zoo.metrics.report.measure`. --jobs cells run at once, each process with --threads
TensorFlow threads (TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS / OMP_NUM_THREADS) and
GPU memory growth on. A variant whose `run_config` rejects a dataset (dcgan on the
mixtures) is listed as n/a with its reason.

Each finished cell is added to the results JSON beside --out (RESULTS.json) and the
Markdown report is rewritten at once (`benchmarks.quality_table`), so an interrupted
benchmark keeps what it measured; a rerun skips the cells recorded there (same variant,
dataset, seed, --steps and config diff) and retries those that crashed. Cells keep their run
directories under --run_root (checkpoints, TensorBoard logs, sample pictures), and an
interrupted cell resumes from its last checkpoint.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import concurrent.futures  # noqa: E402
import dataclasses  # noqa: E402
import datetime  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Mapping  # noqa: E402

from absl import app, flags  # noqa: E402

from benchmarks.workers import (Workers, command_line, config_diffs,  # noqa: E402
                                dataset_layout, not_applicable, registered_variants)

FLAGS = flags.FLAGS
flags.DEFINE_list("variants", [], "Variants to run (default: every registered one).")
flags.DEFINE_list("datasets", ["ring8", "grid25", "fashion_mnist"], "Datasets.")
flags.DEFINE_integer("seeds", 3, "Seeds (trials) per variant on each mixture: 0..N-1.",
                     lower_bound=1)
flags.DEFINE_integer("image_seeds", 1, "Seeds per variant on each image dataset.", lower_bound=1)
flags.DEFINE_integer("steps", None, "Generator steps for every cell (default: each variant's "
                     "own for the dataset); for smoke runs.", lower_bound=1)
flags.DEFINE_string("config", "", "Config diffs over some variants' defaults, as JSON "
                    '{"variant": {"key": value}}; shown beside the variant in the report.')
flags.DEFINE_string("out", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                        "RESULTS.md"), "The Markdown report.")
flags.DEFINE_string("run_root", None, "Where the cells' run directories go "
                    "(default: runs/quality beside --out).")
flags.DEFINE_integer("threads", 1, "TensorFlow threads per cell process (0: TF's default).",
                     lower_bound=0)
flags.DEFINE_integer("jobs", None, "Cells run at once (default: CPU cores / --threads).",
                     lower_bound=1)
flags.DEFINE_integer("image_samples", 10_000, "Generated images for the image metrics.",
                     lower_bound=1)
flags.DEFINE_integer("timeout", 0, "Seconds before a cell is killed (0: none).", lower_bound=0)

OWN_FLAGS = ("variants", "datasets", "seeds", "image_seeds", "steps", "config", "out",
             "run_root", "threads", "jobs", "image_samples", "timeout")
logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Cell:
    """One training run of the benchmark."""

    variant: str
    dataset: str
    seed: int
    steps: int | None
    config: str = ""  # the variant's config diff as canonical JSON; "" for its defaults

    @property
    def key(self) -> str:
        return (f"{self.dataset}/{self.variant}/seed={self.seed}/"
                f"steps={self.steps or 'default'}" + (f"/config={self.config}"
                                                      if self.config else ""))

    @property
    def dirname(self) -> str:
        name = f"{self.variant}_{self.dataset}_seed{self.seed}_steps{self.steps or 'default'}"
        if self.config:
            name += "_config" + hashlib.sha1(self.config.encode()).hexdigest()[:10]
        return name


def results_path(out: str) -> str:
    """RESULTS.md -> RESULTS.json, beside it."""
    return os.path.splitext(out)[0] + ".json"


def load_results(path: str) -> dict:
    """The records so far, by cell key ({} when there are none)."""
    if not os.path.exists(path):
        return {}
    with open(path) as handle:
        return json.load(handle)["runs"]


def finished(record: dict | None) -> bool:
    """A cell to skip on a rerun: measured, or diverged (which a rerun would repeat)."""
    return record is not None and record.get("status") in ("ok", "diverged")


def cell_runner(workers: Workers, run_root: str, threads: int, num_samples: int):
    """cell -> its record, from a `benchmarks.quality_run` process in the cell's run dir."""
    def run(cell: Cell) -> dict:
        run_dir = os.path.join(run_root, cell.dirname)
        os.makedirs(run_dir, exist_ok=True)
        flags_ = [f"--model={cell.variant}", f"--dataset={cell.dataset}", f"--seed={cell.seed}",
                  f"--run_dir={run_dir}", f"--threads={threads}", f"--num_samples={num_samples}"]
        flags_ += [f"--steps={cell.steps}"] if cell.steps else []
        flags_ += [f"--config={cell.config}"] if cell.config else []
        log_path = os.path.join(run_dir, "benchmark_cell.log")
        record = workers.run("benchmarks.quality_run", flags_,
                             os.path.join(run_dir, "benchmark_cell.json"), log_path)
        return dict(record, run_dir=run_dir, log=log_path)
    return run


def plan(variants: list[str], datasets: dict[str, dict], seeds: dict[str, list[int]],
         steps: int | None, skip: Mapping[tuple[str, str], str],
         diffs: Mapping[str, dict] | None = None) -> list[Cell]:
    """The cells to run: image datasets first (their cells are the longest), then by seed."""
    configs = {v: json.dumps(d, sort_keys=True) for v, d in (diffs or {}).items()}
    cells = [Cell(v, d, s, steps, configs.get(v, "")) for d in datasets for s in seeds[d]
             for v in variants if (d, v) not in skip]
    return sorted(cells, key=lambda c: (datasets[c.dataset]["kind"] == "mixture", c.seed))


def parallelism(records: list[dict]) -> str:
    """How the shown runs were run: "2 parallel worker processes of 1 thread(s) each", or
    each such setting with its count of runs when they differ."""
    settings: dict[tuple, int] = {}
    for r in records:
        key = (r.get("jobs"), r.get("threads"))
        settings[key] = settings.get(key, 0) + 1
    return "; ".join(
        f"{jobs} parallel worker process(es) of {threads or 'TF-default'} TensorFlow "
        f"thread(s) each" + (f" ({count} runs)" if len(settings) > 1 else "")
        for (jobs, threads), count in sorted(settings.items(), key=str)) or "(no runs yet)"


def header(jobs: int, threads: int, records: list[dict], seconds: float,
           ran: int) -> list[str]:
    """The lines above the tables: command, when, machines, parallelism, timing."""
    machines = sorted({r["machine"] for r in records if r.get("machine")})
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return [
        f"`{command_line('benchmarks.quality', FLAGS, OWN_FLAGS)}`",
        "",
        f"Updated {now}: {len(records)} runs recorded (their wall times sum to "
        f"{sum(r.get('wall_seconds') or 0 for r in records) / 3600:.2f} h); this invocation "
        f"ran {ran} in {seconds / 60:.1f} min with {jobs} parallel worker processes of "
        f"{threads or 'TF-default'} TensorFlow thread(s) each. The runs shown were measured "
        f"with {parallelism(records)} (each run's in the JSON beside this file); steps/s below "
        "are measured under that load (`python -m benchmarks.speed` times the variants one "
        "at a time).",
        "",
        "Machine(s): " + ("; ".join(machines) if machines else "(none yet)"),
        "",
        "Each run: `python -m benchmarks.quality_run` (one process): `zoo.trainer.train` with "
        "the variant's defaults for the dataset (`run_config`, updated by the config "
        "diff shown beside the variant where it has one; generator steps as "
        "configured unless `--steps`), checkpoints every 500 steps, then "
        "`zoo.metrics.report.measure` on the restored last checkpoint. steps/s: training "
        "steps timed between consecutive batch ends (`benchmarks.timing.StepTimer`: the "
        "first, tracing step and the epoch-end checkpoints and pictures excluded); wall: the "
        "whole run process (TensorFlow start-up, training, measuring).",
    ]


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    import keras

    from benchmarks.machine import machine
    from benchmarks.quality_table import Layout, render
    from zoo.rundir import write_json_atomically

    variants = registered_variants(FLAGS.variants)
    datasets = dataset_layout(FLAGS.datasets)
    seeds = {d: list(range(FLAGS.seeds if spec["kind"] == "mixture" else FLAGS.image_seeds))
             for d, spec in datasets.items()}
    skip = not_applicable(variants, list(datasets))
    diffs = config_diffs(FLAGS.config, variants, datasets, skip)
    json_path = results_path(FLAGS.out)
    run_root = FLAGS.run_root or os.path.join(os.path.dirname(os.path.abspath(FLAGS.out)),
                                              "runs", "quality")
    threads = FLAGS.threads
    jobs = FLAGS.jobs or max(1, (os.cpu_count() or 1) // max(threads, 1))
    os.makedirs(os.path.dirname(os.path.abspath(FLAGS.out)), exist_ok=True)
    store = load_results(json_path)
    cells = plan(variants, datasets, seeds, FLAGS.steps, skip, diffs)
    todo = [c for c in cells if not finished(store.get(c.key))]
    logger.info("%d cells, %d recorded already, %d to run with %d jobs", len(cells),
                len(cells) - len(todo), len(todo), jobs)
    this_machine = machine()
    started = time.time()

    def shown() -> list[dict]:
        wanted = {c.key for c in cells}
        extra = {k for k, r in store.items() if r.get("steps_override") == FLAGS.steps
                 and r["dataset"] in datasets and r["seed"] in seeds[r["dataset"]]}
        return [store[k] for k in sorted(wanted | extra) if k in store]

    def write(ran: int) -> None:
        records = shown()
        shown_variants = sorted(set(variants) | {r["variant"] for r in records})
        layout = Layout(datasets=datasets, variants=shown_variants, seeds=seeds,
                        not_applicable=skip, header=header(
                            jobs, threads, records, time.time() - started, ran))
        write_json_atomically(json_path, dict(runs=store))
        with open(FLAGS.out + ".tmp", "w") as handle:
            handle.write(render(records, layout))
        os.replace(FLAGS.out + ".tmp", FLAGS.out)

    workers = Workers(threads, FLAGS.timeout)
    runner = cell_runner(workers, run_root, threads, FLAGS.image_samples)
    progress = keras.utils.Progbar(len(todo), unit_name="run") if todo else None
    ran = 0
    write(ran)
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=jobs)
    try:
        futures = {executor.submit(runner, cell): cell for cell in todo}
        for future in concurrent.futures.as_completed(futures):
            cell = futures[future]
            record = dict(future.result(), variant=cell.variant, dataset=cell.dataset,
                          seed=cell.seed, steps_override=cell.steps,
                          config=json.loads(cell.config or "{}"), machine=this_machine,
                          jobs=jobs, threads=threads,
                          finished_at=datetime.datetime.now(datetime.timezone.utc).isoformat())
            store[cell.key] = record
            ran += 1
            write(ran)
            logger.info("%s: %s (%.0f s)", cell.key, record["status"], record["wall_seconds"])
            progress.update(ran)
    except KeyboardInterrupt:
        logger.warning("interrupted: the finished runs are in %s", json_path)
        workers.stop()
        raise
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
    print(f"\nwritten {FLAGS.out} and {json_path}")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sys.exit(app.run(main))
