"""benchmarks/SPEED.md: the speed benchmark's measurements as one table per dataset.

`rounds` orders the measurements (every configuration once per round, rotated), and
`summarize` reduces them per (variant, dataset, batch size): the median steps/s over
rounds, the median over rounds of the ratio to the baseline variant measured in the same
round, the largest peak host RSS and GPU allocation. `render` writes the Markdown.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

MIB = 2 ** 20

Config = tuple[str, str, int]  # (variant, dataset, batch size)


def rounds(configs: list[Config], repeats: int) -> list[tuple[int, Config]]:
    """(round, config) in measuring order: every config once per round, rotated each round."""
    order = []
    for r in range(repeats):
        shift = r % len(configs) if configs else 0
        order += [(r, c) for c in configs[shift:] + configs[:shift]]
    return order


def summarize(measurements: list[dict], baseline: str) -> dict[Config, dict]:
    """Per config: median steps/s over rounds, median per-round ratio to the baseline, the
    largest peak host RSS and GPU allocation, parameters, failures."""
    by_config: dict[Config, list[dict]] = {}
    for m in measurements:
        by_config.setdefault((m["variant"], m["dataset"], m["batch"]), []).append(m)
    rate = {(m["variant"], m["dataset"], m["batch"], m["round"]): m.get("steps_per_second")
            for m in measurements if m.get("status") == "ok"}
    summary = {}
    for (variant, dataset, batch), ms in by_config.items():
        ok = [m for m in ms if m.get("status") == "ok" and m.get("steps_per_second")]
        ratios = [rate[(variant, dataset, batch, m["round"])]
                  / rate[(baseline, dataset, batch, m["round"])]
                  for m in ok if rate.get((baseline, dataset, batch, m["round"]))]
        gpu = [m["peak_gpu_bytes"] for m in ok if m.get("peak_gpu_bytes") is not None]
        summary[(variant, dataset, batch)] = dict(
            rounds=len(ok), failed=[m for m in ms if m.get("status") != "ok"],
            steps_per_second=float(np.median([m["steps_per_second"] for m in ok])) if ok else None,
            ratio=float(np.median(ratios)) if ratios else None,
            peak_rss_mib=max(m["peak_rss_bytes"] for m in ok) / MIB if ok else None,
            rss_before_mib=max(m["peak_rss_before_training_bytes"] for m in ok) / MIB
            if ok else None,
            peak_gpu_mib=max(gpu) / MIB if gpu else None,
            parameters=ok[0]["parameters"] if ok else None)
    return summary


def last_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[-1] if lines else ""


def fmt(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def render(measurements: list[dict], variants: list[str], datasets: list[str],
           batches: list[int], skip: Mapping[tuple[str, str], str], header: list[str],
           baseline: str) -> str:
    """SPEED.md: one table per dataset, a row per variant and batch size."""
    summary = summarize(measurements, baseline)
    lines = ["# Training speed and peak memory per variant and batch size", ""] + header + [""]
    for dataset in datasets:
        lines += [f"## {dataset}", "",
                  f"| variant | batch | steps/s | samples/s | vs {baseline} | "
                  "peak host RSS MiB (before training) | peak GPU MiB | parameters | rounds |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for variant in variants:
            if (dataset, variant) in skip:
                lines.append(f"| {variant} | n/a | — | — | — | — | — | — | skipped: "
                             f"{skip[(dataset, variant)]} |")
                continue
            for batch in batches:
                s = summary.get((variant, dataset, batch))
                if s is None:
                    lines.append(f"| {variant} | {batch} | — | — | — | — | — | — | not run yet |")
                    continue
                samples = None if s["steps_per_second"] is None else s["steps_per_second"] * batch
                ratio = "—" if s["ratio"] is None else f"{s['ratio']:.2f}x"
                failed = f" ({len(s['failed'])} failed)" if s["failed"] else ""
                lines.append(
                    f"| {variant} | {batch} | {fmt(s['steps_per_second'], 2)} | "
                    f"{fmt(samples, 0)} | {ratio} | {fmt(s['peak_rss_mib'], 0)} "
                    f"({fmt(s['rss_before_mib'], 0)}) | {fmt(s['peak_gpu_mib'], 1)} | "
                    f"{s['parameters'] if s['parameters'] is not None else '—'} | "
                    f"{s['rounds']}{failed} |")
        lines.append("")
    errors = [m for m in measurements if m.get("status") != "ok"]
    if errors:
        lines += ["## Measurements that failed", ""]
        lines += [f"- {m['variant']} on {m['dataset']}, batch {m['batch']}, round {m['round']}: "
                  f"{last_line(m.get('error'))}" for m in errors]
        lines.append("")
    return "\n".join(lines)


