"""benchmarks/RESULTS.md: the quality benchmark's records as Markdown tables beside the anchors.

`render(records, layout)` turns the per-run records `benchmarks.quality` collects (one per
variant, dataset and seed) into the report: for each Gaussian mixture, one row per variant
(and config diff over its defaults, if a run had one, named beside the variant) with
mean ± std over seeds (population std, ddof=0) of modes covered, high-quality fraction
and reverse KL, whether every trial covered every mode, steps per second and wall time;
the published anchors (PacGAN Table 1; VEEGAN Table 1) and the zoo's target as rows of the
same table; the best variant and whether it meets the target. For Fashion-MNIST, one row
per variant and seed with the Frechet classifier distance, classifier score, KCD, precision
and recall. Every table is preceded by its protocol.
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Iterable, Mapping

import numpy as np


@dataclasses.dataclass(frozen=True)
class Anchor:
    """A published result on a mixture: mean modes, high-quality fraction, reverse KL."""

    label: str
    modes: float
    high_quality: float
    reverse_kl: float | None
    trials: int | None


PACGAN = "PacGAN (Lin et al. 2018) Table 1"
VEEGAN = "VEEGAN (Srivastava et al. 2017) Table 1"
ANCHORS: dict[str, tuple[Anchor, ...]] = {
    "ring8": (Anchor(f"GAN, {PACGAN}", 6.3, 0.982, 0.45, 10),
              Anchor(f"PacGAN4, {PACGAN}", 7.8, 0.959, 0.07, 10),
              Anchor(f"VEEGAN, {VEEGAN}", 8.0, 0.529, None, None)),
    "grid25": (Anchor(f"GAN, {PACGAN}", 17.3, 0.948, 0.70, 10),
               Anchor(f"PacGAN4, {PACGAN}", 24.8, 0.936, 0.04, 10),
               Anchor(f"VEEGAN, {VEEGAN}", 24.6, 0.40, None, None)),
}
TARGET_HIGH_QUALITY = 0.97
TARGET_REVERSE_KL = 0.03
TARGET = (f"all modes in every trial, mean high-quality fraction >= {TARGET_HIGH_QUALITY:.0%}, "
          f"mean reverse KL <= {TARGET_REVERSE_KL}")
# For scale (zoo.metrics.images): Fashion-MNIST's first 10,000 training images vs its test images.
FASHION_MNIST_DATA_ROW = dict(frechet_classifier_distance=0.16, classifier_score=8.13,
                              kernel_classifier_distance=-0.005, precision=0.84, recall=0.83)
MIXTURE_KEYS = ("modes_covered", "high_quality_fraction", "reverse_kl")
IMAGE_KEYS = ("frechet_classifier_distance", "classifier_score", "kernel_classifier_distance",
              "precision", "recall")


@dataclasses.dataclass
class Layout:
    """What the report shows: datasets with their kind and modes, variants, seeds, and the
    variants each dataset cannot take (name -> reason)."""

    datasets: dict[str, dict]  # name -> {"kind": "mixture"|"image", "num_modes": int|None}
    variants: list[str]
    seeds: dict[str, list[int]]  # dataset -> seeds
    not_applicable: dict[tuple[str, str], str]  # (dataset, variant) -> reason
    header: list[str]  # lines above the tables (command, machine, parallelism)


@dataclasses.dataclass
class MixtureRow:
    variant: str
    expected: int
    ok: list[dict]
    failed: list[dict]
    num_modes: int

    def values(self, key: str) -> np.ndarray:
        return np.array([r["metrics"][key] for r in self.ok], dtype=float)

    @property
    def complete(self) -> bool:
        return len(self.ok) + len(self.failed) >= self.expected

    @property
    def all_modes_every_trial(self) -> bool:
        return (not self.failed and bool(self.ok)
                and bool(np.all(self.values("modes_covered") >= self.num_modes)))

    @property
    def meets_target(self) -> bool:
        return (self.complete and self.all_modes_every_trial
                and self.values("high_quality_fraction").mean() >= TARGET_HIGH_QUALITY
                and self.values("reverse_kl").mean() <= TARGET_REVERSE_KL)

    def rank(self) -> tuple:
        """Best first when sorted descending: target met, all modes, modes, quality, -KL."""
        if not self.ok:
            return (False, False, -1.0, -1.0, -np.inf)
        return (self.meets_target, self.all_modes_every_trial,
                float(self.values("modes_covered").mean()),
                float(self.values("high_quality_fraction").mean()),
                -float(self.values("reverse_kl").mean()))


def labelled(variant: str, config: Mapping[str, Any] | None) -> str:
    """The row's name: the variant, with its config diff over the defaults when it has one."""
    if not config:
        return variant
    return f"{variant} ({', '.join(f'{k}={v}' for k, v in sorted(config.items()))})"


def by_config(records: list[dict]) -> dict[str, list[dict]]:
    """The variant's records grouped by their config diff (label -> records), defaults first."""
    groups: dict[str, list[dict]] = {}
    for r in sorted(records, key=lambda r: (bool(r.get("config")), json.dumps(
            r.get("config") or {}, sort_keys=True))):
        groups.setdefault(labelled(r["variant"], r.get("config")), []).append(r)
    return groups


def mean_std(values: np.ndarray, digits: int, percent: bool = False) -> str:
    scale, suffix = (100.0, "%") if percent else (1.0, "")
    if len(values) == 0:
        return "—"
    return f"{values.mean() * scale:.{digits}f}{suffix} ± {values.std() * scale:.{digits}f}{suffix}"


def mean_of(records: Iterable[dict], key: str, digits: int) -> str:
    values = [r[key] for r in records if r.get(key) is not None]
    return f"{np.mean(values):.{digits}f}" if values else "—"


def other_metrics(records: list[dict], shown: Iterable[str]) -> str:
    """Mean of each further numeric metric the records have (e.g. an AAN's RBM likelihood)."""
    keys = sorted({k for r in records for k in r["metrics"]} - set(shown) - {"num_modes"})
    keys = [k for k in keys if not k.endswith("_std")]
    return "; ".join(f"{k} {np.mean([r['metrics'][k] for r in records if k in r['metrics']]):.4g}"
                     for k in keys) or ""


def trials_cell(row: MixtureRow) -> str:
    cell = f"{len(row.ok)}/{row.expected}"
    diverged = sum(r["status"] == "diverged" for r in row.failed)
    errors = len(row.failed) - diverged
    if diverged:
        cell += f" ({diverged} diverged)"
    if errors:
        cell += f" ({errors} failed)"
    return cell


def anchor_line(anchor: Anchor, num_modes: int) -> str:
    kl = f"{anchor.reverse_kl:.2f}" if anchor.reverse_kl is not None else "— (not given)"
    every = "yes" if anchor.modes >= num_modes else "no"
    trials = str(anchor.trials) if anchor.trials else "—"
    return (f"| *published: {anchor.label}* | {trials} | — | {anchor.modes:.1f} | "
            f"{anchor.high_quality:.1%} | {kl} | {every} (mean {anchor.modes:.1f}) | — | — | |")


def mixture_line(row: MixtureRow, records: list[dict]) -> str:
    """One variant's (or variant and config diff's) row of a mixture table."""
    every = "yes" if row.all_modes_every_trial else "no"
    if not row.complete:
        every += " (so far)"
    per_seed = ", ".join(str(int(m)) for m in row.values("modes_covered"))
    steps = ", ".join(str(s) for s in sorted({r.get("steps") for r in row.ok}))
    return (f"| {row.variant} | {trials_cell(row)} | {steps or '—'} | "
            f"{mean_std(row.values('modes_covered'), 1)} ({per_seed}) | "
            f"{mean_std(row.values('high_quality_fraction'), 1, percent=True)} | "
            f"{mean_std(row.values('reverse_kl'), 3)} | {every} | "
            f"{mean_of(records, 'steps_per_second', 1)} | {mean_of(records, 'wall_seconds', 0)} | "
            f"{other_metrics(row.ok, MIXTURE_KEYS)} |")


def mixture_section(dataset: str, records: list[dict], layout: Layout) -> list[str]:
    num_modes = int(layout.datasets[dataset]["num_modes"])
    expected = len(layout.seeds[dataset])
    lines = [f"### {dataset} ({num_modes} modes)", "",
             f"| variant | trials | steps | modes covered (of {num_modes}) | "
             "high-quality fraction | reverse KL (nats) | all modes in every trial | steps/s | "
             "wall s per run | other metrics |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    rows = []
    for variant in layout.variants:
        reason = layout.not_applicable.get((dataset, variant))
        if reason is not None:
            lines.append(f"| {variant} | n/a | — | — | — | — | — | — | — | skipped: {reason} |")
            continue
        groups = by_config([r for r in records if r["variant"] == variant])
        if not groups:
            lines.append(f"| {variant} | 0/{expected} | — | — | — | — | — | — | — | not run yet |")
        for name, mine in groups.items():
            row = MixtureRow(name, expected, [r for r in mine if r["status"] == "ok"],
                             [r for r in mine if r["status"] != "ok"], num_modes)
            rows.append(row)
            lines.append(mixture_line(row, mine))
    for anchor in ANCHORS.get(dataset, ()):
        lines.append(anchor_line(anchor, num_modes))
    lines.append(f"| **zoo target** | every trial | | {num_modes} in every trial | "
                 f">= {TARGET_HIGH_QUALITY:.0%} | <= {TARGET_REVERSE_KL} | yes | | | |")
    lines.append("")
    ranked = sorted((r for r in rows if r.ok), key=MixtureRow.rank, reverse=True)
    if ranked:
        best = ranked[0]
        verdict = "**meets the zoo target**" if best.meets_target else (
            "does **not** meet the zoo target" + ("" if best.complete else
                                                  " (its trials are not all in yet)"))
        lines.append(
            f"Best variant on {dataset}: **{best.variant}** "
            f"({best.values('modes_covered').mean():.1f} modes, "
            f"{best.values('high_quality_fraction').mean():.1%} high quality, reverse KL "
            f"{best.values('reverse_kl').mean():.3f}, all modes in every trial: "
            f"{'yes' if best.all_modes_every_trial else 'no'}): {verdict} ({TARGET}).")
    else:
        lines.append(f"Best variant on {dataset}: none measured yet.")
    return lines + [""]


def fmt(value: Any, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def image_line(name: str, r: dict) -> str:
    """One run's row of an image table."""
    if r["status"] != "ok":
        return (f"| {name} | {r['seed']} | — | — | — | — | — | — | — | "
                f"{fmt(r.get('wall_seconds'), 0)} | {r['status']} |")
    m = r["metrics"]
    score = (f"{m['classifier_score']:.2f} ± {m.get('classifier_score_std', 0.0):.2f}"
             if "classifier_score" in m else "—")
    return (f"| {name} | {r['seed']} | {r.get('steps', '—')} | "
            f"{fmt(m.get('frechet_classifier_distance'))} | {score} | "
            f"{fmt(m.get('kernel_classifier_distance'), 4)} | {fmt(m.get('precision'))} | "
            f"{fmt(m.get('recall'))} | {fmt(r.get('steps_per_second'), 2)} | "
            f"{fmt(r.get('wall_seconds'), 0)} | {other_metrics([r], IMAGE_KEYS)} |")


def image_section(dataset: str, records: list[dict], layout: Layout) -> list[str]:
    lines = [f"### {dataset}", "",
             "| variant | seed | steps | FCD | classifier score | KCD | precision | recall | "
             "steps/s | wall s | other metrics |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for variant in layout.variants:
        reason = layout.not_applicable.get((dataset, variant))
        if reason is not None:
            lines.append(f"| {variant} | n/a | — | — | — | — | — | — | — | — | skipped: {reason} |")
            continue
        mine = [r for r in records if r["variant"] == variant]
        if not mine:
            lines.append(f"| {variant} | — | — | — | — | — | — | — | — | — | not run yet |")
        for name, group in by_config(mine).items():
            lines += [image_line(name, r) for r in sorted(group, key=lambda r: r["seed"])]
    if dataset == "fashion_mnist":
        d = FASHION_MNIST_DATA_ROW
        lines.append(
            f"| *data: the first 10,000 training images* | — | — | "
            f"{d['frechet_classifier_distance']:.2f} | {d['classifier_score']:.2f} ± 0.10 | "
            f"{d['kernel_classifier_distance']:.3f} | {d['precision']:.2f} | {d['recall']:.2f} | "
            "— | — | zoo.metrics.images, same protocol |")
    return lines + [""]


def protocol_lines(records: list[dict], group: str) -> list[str]:
    """The protocol a group of metrics was measured with, from the first record that has it."""
    for r in records:
        protocol = r.get("protocol", {}).get(group)
        if isinstance(protocol, Mapping):
            lines = []
            for key, value in protocol.items():
                if isinstance(value, Mapping):
                    value = ", ".join(f"{k}: {v}" for k, v in value.items())
                lines.append(f"- {key}: {value}")
            return lines
        if protocol:
            return [f"- {protocol}"]
    return ["- (no run measured yet)"]


def render(records: list[dict], layout: Layout) -> str:
    """The whole RESULTS.md (module docstring)."""
    by_dataset = {d: [r for r in records if r["dataset"] == d] for d in layout.datasets}
    lines = (["# Quality of every variant, with its defaults (or the diff named beside it)", ""]
             + layout.header + [""])
    mixtures = [d for d, spec in layout.datasets.items() if spec["kind"] == "mixture"]
    images = [d for d, spec in layout.datasets.items() if spec["kind"] != "mixture"]
    if mixtures:
        seeds = sorted({s for d in mixtures for s in layout.seeds[d]})
        lines += [
            "## Gaussian mixtures", "",
            "Protocol (`zoo.metrics.report.measure`):",
            *protocol_lines([r for d in mixtures for r in by_dataset[d]], "mixture"),
            f"- trials: seeds {seeds}, one training run each; mean ± std (ddof=0) over the "
            "trials that finished; per-seed modes in brackets. A diverged (NaN) run counts "
            "as a trial that did not cover every mode.",
            "- published rows: the papers' own networks and training on the same mixtures "
            "(ring of 8 modes of radius 1, std 0.01; 5x5 grid of spacing 2, std 0.05) and the "
            "same metrics; PacGAN averages 10 trials.",
            f"- zoo target: {TARGET}.",
            "- conditional variants (cgan) are given each sample's mode as its label, so "
            "their rows are not comparable with the unconditional ones or the published "
            "rows, which see no labels.", ""]
        for dataset in mixtures:
            lines += mixture_section(dataset, by_dataset[dataset], layout)
    if images:
        lines += ["## Images", "",
                  "Protocol (`zoo.metrics.images.fashion_mnist_scores`, through "
                  "`zoo.metrics.report.measure`):",
                  *protocol_lines([r for d in images for r in by_dataset[d]],
                                  "fashion_mnist_scores"), ""]
        for dataset in images:
            lines += image_section(dataset, by_dataset[dataset], layout)
    failures = [r for r in records if r["status"] not in ("ok",)]
    if failures:
        lines += ["## Runs that did not finish", ""]
        lines += [f"- {r['variant']} on {r['dataset']}, seed {r['seed']}: {r['status']}: "
                  f"{r.get('error', '').strip().splitlines()[-1] if r.get('error') else ''}"
                  for r in failures]
        lines.append("")
    return "\n".join(lines)
