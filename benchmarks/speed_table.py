"""benchmarks/SPEED.md: the speed benchmark's measurements as one table per dataset.

`rounds` orders the measurements (every configuration once per round, rotated), and
`summarize` reduces them per (variant, dataset, batch size, precision): the median steps/s
over rounds, the median over rounds of the ratio to the baseline variant measured in the
same round (same precision), the median of the ratios to the plain loop timed in the same
process, the step's FLOPs and their rate as a share of the machine's matmul peak in the
precision's compute type, the largest peak host RSS and GPU allocation. `render` writes the
Markdown.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

MIB = 2 ** 20

Config = tuple  # (variant, dataset, batch size, precision)
# The dtype whose matmul peak a precision's steps are compared with.
PEAK_DTYPE = {"float32": "float32", "mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}


def key(m: Mapping) -> Config:
    return (m["variant"], m["dataset"], m["batch"], m.get("precision", "float32"))


def rounds(configs: list[Config], repeats: int) -> list[tuple[int, Config]]:
    """(round, config) in measuring order: every config once per round, rotated each round."""
    order = []
    for r in range(repeats):
        shift = r % len(configs) if configs else 0
        order += [(r, c) for c in configs[shift:] + configs[:shift]]
    return order


def summarize(measurements: list[dict], baseline: str,
              peaks: Mapping[str, float] | None = None) -> dict[Config, dict]:
    """Per config: median steps/s over rounds, median per-round ratio to the baseline, median
    ratio to the plain loop, GFLOP per step and the share of `peaks` ({dtype: GFLOP/s}) they
    reach, the largest peak host RSS and GPU allocation, parameters, failures."""
    by_config: dict[Config, list[dict]] = {}
    for m in measurements:
        by_config.setdefault(key(m), []).append(m)
    rate = {key(m) + (m["round"],): m.get("steps_per_second")
            for m in measurements if m.get("status") == "ok"}
    summary = {}
    for (variant, dataset, batch, precision), ms in by_config.items():
        ok = [m for m in ms if m.get("status") == "ok" and m.get("steps_per_second")]
        ratios = [rate[(variant, dataset, batch, precision, m["round"])]
                  / rate[(baseline, dataset, batch, precision, m["round"])]
                  for m in ok if rate.get((baseline, dataset, batch, precision, m["round"]))]
        plain = [m["plain_ratio"] for m in ok if m.get("plain_ratio")]
        flops = next((m["flops_per_step"] for m in ok if m.get("flops_per_step")), None)
        steps_per_second = float(np.median([m["steps_per_second"] for m in ok])) if ok else None
        peak = (peaks or {}).get(PEAK_DTYPE.get(precision, precision))
        gpu = [m["peak_gpu_bytes"] for m in ok if m.get("peak_gpu_bytes") is not None]
        summary[(variant, dataset, batch, precision)] = dict(
            plain_ratio=float(np.median(plain)) if plain else None,
            plain_steps_per_second=median([m.get("plain_steps_per_second") for m in ok]),
            gflop_per_step=flops / 1e9 if flops else None,
            peak_share=(flops / 1e9 * steps_per_second / peak
                        if flops and steps_per_second and peak else None),
            rounds=len(ok), failed=[m for m in ms if m.get("status") != "ok"],
            steps_per_second=steps_per_second,
            ratio=float(np.median(ratios)) if ratios else None,
            peak_rss_mib=max(m["peak_rss_bytes"] for m in ok) / MIB if ok else None,
            rss_before_mib=max(m["peak_rss_before_training_bytes"] for m in ok) / MIB
            if ok else None,
            peak_gpu_mib=max(gpu) / MIB if gpu else None,
            parameters=ok[0]["parameters"] if ok else None)
    return summary


def median(values: list) -> float | None:
    """The median of the values that are not None (None if there are none)."""
    present = [v for v in values if v is not None]
    return float(np.median(present)) if present else None


def last_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[-1] if lines else ""


def fmt(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def render(measurements: list[dict], variants: list[str], datasets: list[str],
           batches: list[int], skip: Mapping[tuple[str, str], str], header: list[str],
           baseline: str, precisions: list[str] | None = None,
           peaks: Mapping[str, float] | None = None) -> str:
    """SPEED.md: one table per dataset, a row per variant, batch size and precision."""
    precisions = precisions or ["float32"]
    summary = summarize(measurements, baseline, peaks)
    lines = ["# Training speed and peak memory per variant and batch size", ""] + header + [""]
    if peaks:
        lines += ["Matmul peak of this machine at the start of the run (GFLOP/s): " + ", ".join(
            f"{dtype} {value:.0f}" for dtype, value in peaks.items()), ""]
    blank = "| — " * 10
    for dataset in datasets:
        lines += [f"## {dataset}", "",
                  "| variant | batch | precision | steps/s | samples/s | vs plain loop "
                  f"(float32) | GFLOP/step | share of peak | vs {baseline} | "
                  "peak host RSS MiB (before training) | peak GPU MiB | parameters | rounds |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for variant in variants:
            if (dataset, variant) in skip:
                lines.append(f"| {variant} | n/a {blank}| skipped: "
                             f"{skip[(dataset, variant)]} |")
                continue
            for batch in batches:
                for precision in precisions:
                    s = summary.get((variant, dataset, batch, precision))
                    if s is None:
                        lines.append(f"| {variant} | {batch} | {precision} {blank[:-4]}| "
                                     "not run yet |")
                        continue
                    lines.append(row(variant, batch, precision, s))
        lines.append("")
    errors = [m for m in measurements if m.get("status") != "ok"]
    if errors:
        lines += ["## Measurements that failed", ""]
        lines += [f"- {m['variant']} on {m['dataset']}, batch {m['batch']}, "
                  f"{m.get('precision', 'float32')}, round {m['round']}: "
                  f"{last_line(m.get('error'))}" for m in errors]
        lines.append("")
    return "\n".join(lines)


def ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


def row(variant: str, batch: int, precision: str, s: dict) -> str:
    """One table row of a summarized configuration."""
    samples = None if s["steps_per_second"] is None else s["steps_per_second"] * batch
    share = "—" if s["peak_share"] is None else f"{100 * s['peak_share']:.0f}%"
    failed = f" ({len(s['failed'])} failed)" if s["failed"] else ""
    return (f"| {variant} | {batch} | {precision} | {fmt(s['steps_per_second'], 2)} | "
            f"{fmt(samples, 0)} | {ratio(s['plain_ratio'])} | {fmt(s['gflop_per_step'], 2)} | "
            f"{share} | {ratio(s['ratio'])} | {fmt(s['peak_rss_mib'], 0)} "
            f"({fmt(s['rss_before_mib'], 0)}) | {fmt(s['peak_gpu_mib'], 1)} | "
            f"{s['parameters'] if s['parameters'] is not None else '—'} | "
            f"{s['rounds']}{failed} |")
