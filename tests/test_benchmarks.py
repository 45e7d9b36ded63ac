"""The benchmark table (benchmarks.quality) and the speed table (benchmarks.speed).

The table logic is checked on hand-made records (means, stds, the target verdict, resume);
one smoke run of each command trains/times 2 variants for a few steps in worker processes.
(`benchmarks.quality` is imported here; `benchmarks.speed` defines flags of the same names,
so it runs as a command.)
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import quality_table, speed_table
from conftest import REPO_ROOT, subprocess_env

ROW = re.compile(r"^\| ([^|]+) \|(.*)\|$")
NUMBER = r"-?\d+(?:\.\d+)?"


def table_rows(text: str, section: str) -> dict[str, list[str]]:
    """First column -> the other cells, of the table after the heading `section`."""
    body = text.split(section, 1)[1]
    rows = {}
    for line in body.splitlines()[2:]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        match = ROW.match(line)
        if match and match.group(1).strip() != "variant" and not set(match.group(2)) <= set("-|"):
            rows.setdefault(match.group(1).strip(), [c.strip() for c in match.group(2).split("|")])
    return rows


def mean_pm_std(cell: str) -> tuple[float, float]:
    match = re.match(rf"({NUMBER})%? ± ({NUMBER})%?", cell)
    assert match, cell
    return float(match.group(1)), float(match.group(2))


def mixture_record(variant, seed, modes, quality, kl, status="ok"):
    return dict(variant=variant, dataset="ring8", seed=seed, status=status, steps=100,
                steps_per_second=50.0 + seed, wall_seconds=10.0, steps_override=None,
                metrics=dict(modes_covered=modes, high_quality_fraction=quality,
                             reverse_kl=kl),
                protocol={"mixture": {"num_samples": 2500}})


def layout(variants, seeds=(0, 1, 2), skip=None):
    return quality_table.Layout(
        datasets={"ring8": dict(kind="mixture", num_modes=8),
                  "grid25": dict(kind="mixture", num_modes=25)},
        variants=list(variants), seeds={"ring8": list(seeds), "grid25": list(seeds)},
        not_applicable=skip or {}, header=["header line"])


def test_mixture_table_means_stds_and_the_target_verdict():
    hq_b = [0.99, 0.98, 0.975]
    records = ([mixture_record("a", s, m, 0.99, 0.01) for s, m in enumerate([8, 8, 7])]
               + [mixture_record("b", s, 8, q, k) for s, (q, k) in
                  enumerate(zip(hq_b, [0.01, 0.02, 0.015]))])
    text = quality_table.render(records, layout(["a", "b", "dcgan"],
                                                skip={("ring8", "dcgan"): "needs images"}))
    rows = table_rows(text, "### ring8")
    # a: modes 8, 8, 7 -> mean 7.667, population std 0.471; one trial missed a mode.
    assert mean_pm_std(rows["a"][2]) == pytest.approx((7.7, 0.5))
    assert "(8, 8, 7)" in rows["a"][2] and rows["a"][5] == "no" and rows["a"][0] == "3/3"
    assert rows["a"][1] == "100"
    # b: high quality 98.17% ± 0.62% (numpy), reverse KL 0.015 ± 0.004.
    assert mean_pm_std(rows["b"][3]) == pytest.approx(
        (round(np.mean(hq_b) * 100, 1), round(np.std(hq_b) * 100, 1)))
    assert mean_pm_std(rows["b"][4]) == pytest.approx((0.015, 0.004))
    assert rows["b"][5] == "yes" and float(rows["b"][6]) == pytest.approx(51.0)
    assert rows["dcgan"][0] == "n/a" and "needs images" in rows["dcgan"][-1]
    assert "Best variant on ring8: **b**" in text and "**meets the zoo target**" in text
    # The anchors and the target sit in the same table; grid25 has its own anchors.
    anchors = {k: v for k, v in rows.items() if k.startswith("*published")}
    assert [(v[2], v[3], v[4]) for v in anchors.values()] == [
        ("6.3", "98.2%", "0.45"), ("7.8", "95.9%", "0.07"), ("8.0", "52.9%", "— (not given)")]
    assert "PacGAN (Lin et al. 2018) Table 1" in text and "**zoo target**" in rows
    grid = table_rows(text, "### grid25")
    assert [(v[2], v[3], v[4]) for k, v in grid.items() if k.startswith("*published")] == [
        ("17.3", "94.8%", "0.70"), ("24.8", "93.6%", "0.04"), ("24.6", "40.0%", "— (not given)")]


def test_a_diverged_or_low_quality_best_variant_does_not_meet_the_target():
    records = [mixture_record("b", 0, 8, 0.99, 0.01), mixture_record("b", 1, 8, 0.99, 0.01),
               dict(mixture_record("b", 2, 0, 0, 0), status="diverged", metrics={},
                    error="non-finite d_loss=nan at step 7")]
    text = quality_table.render(records, layout(["b"]))
    row = table_rows(text, "### ring8")["b"]
    assert row[0] == "2/3 (1 diverged)" and row[5] == "no"
    assert "does **not** meet" in text and "non-finite d_loss=nan at step 7" in text
    records = [mixture_record("b", s, 8, 0.96, 0.01) for s in range(3)]  # 96% < 97%
    assert "does **not** meet" in quality_table.render(records, layout(["b"]))


def test_runs_with_a_config_diff_get_their_own_row_named_by_the_diff():
    records = ([mixture_record("b", s, 8, 0.99, 0.01) for s in range(3)]
               + [dict(mixture_record("b", s, 6, 0.5, 0.3), config={"width": 32, "lr": 0.1})
                  for s in range(3)])
    rows = table_rows(quality_table.render(records, layout(["b"])), "### ring8")
    assert rows["b"][2].startswith("8.0 ± 0.0") and rows["b"][5] == "yes"
    assert rows["b (lr=0.1, width=32)"][2].startswith("6.0 ± 0.0")
    assert rows["b (lr=0.1, width=32)"][5] == "no"


@pytest.mark.parametrize("text, message", [
    ("{sngan: 1}", "--config is not JSON"),
    ('{"gan": 3}', "must map variants to config diffs"),
    ('{"sngan": {"width": 32}}', "not being run: ['sngan']"),
    ('{"gan": {"widht": 32}}', "--config gan on ring8: unknown GAN config option(s) ['widht']"),
])
def test_config_diffs_are_checked_before_any_run(text, message):
    from benchmarks.workers import config_diffs

    with pytest.raises(ValueError) as error:
        config_diffs(text, ["gan"], ["ring8"], {})
    assert message in str(error.value)


def test_speed_ratios_are_medians_of_same_round_ratios():
    measurements = [dict(variant=v, dataset="ring8", batch=64, round=r, status="ok",
                         steps_per_second=rate, parameters=10, peak_rss_bytes=(500 + r) * 2**20,
                         peak_rss_before_training_bytes=400 * 2**20, peak_gpu_bytes=None,
                         precision="mixed_bfloat16", plain_ratio=plain, flops_per_step=2e9)
                    for r, (gan, other, plain) in enumerate([(100, 50, 1.1), (80, 60, 1.3),
                                                             (120, 30, 0.9)])
                    for v, rate in (("gan", gan), ("other", other))]
    summary = speed_table.summarize(measurements, "gan", {"bfloat16": 200.0})
    # Per-round ratios 0.5, 0.75, 0.25 -> median 0.5; median rate 50.
    other = summary[("other", "ring8", 64, "mixed_bfloat16")]
    assert other["ratio"] == pytest.approx(0.5)
    assert other["steps_per_second"] == pytest.approx(50)
    assert other["plain_ratio"] == pytest.approx(1.1)
    # 2 GFLOP/step x 50 steps/s over a 200 GFLOP/s bfloat16 peak.
    assert other["gflop_per_step"] == pytest.approx(2) and other["peak_share"] == pytest.approx(0.5)
    assert summary[("gan", "ring8", 64, "mixed_bfloat16")]["peak_rss_mib"] == pytest.approx(502)
    assert [c for _, c in speed_table.rounds(["x", "y", "z"], 2)] == list("xyzyzx")


@pytest.fixture
def quality_flags():
    import zoo.evaluate  # noqa: F401  (its flags live in the same process in a test run)
    from benchmarks import quality

    yield quality
    quality.FLAGS.unparse_flags()


def test_quality_smoke_run_writes_partial_results_and_resumes(tmp_path, quality_flags,
                                                              monkeypatch):
    quality = quality_flags
    out = tmp_path / "RESULTS.md"
    gan_key = 'ring8/gan/seed=0/steps=12/config={"generator_hidden": [16, 16]}'
    argv = ["quality", "--variants=gan,beta_gan,dcgan", "--datasets=ring8", "--seeds=1",
            "--steps=12", "--jobs=2", f"--out={out}",
            '--config={"gan": {"generator_hidden": [16, 16]}}']
    quality.FLAGS(argv)
    quality.main(argv[:1])
    text = out.read_text()
    rows = table_rows(text, "### ring8")
    assert "gan" not in rows  # gan ran with its diff, named in its row
    rows["gan"] = rows.pop("gan (generator_hidden=[16, 16])")
    for variant in ("gan", "beta_gan"):
        assert rows[variant][0] == "1/1", rows[variant]
        assert rows[variant][1] == "12"  # generator steps trained
        modes, _ = mean_pm_std(rows[variant][2])
        assert 0 <= modes <= 8
        assert 0 <= mean_pm_std(rows[variant][3])[0] <= 100
        assert 0 <= mean_pm_std(rows[variant][4])[0] <= np.log(8) + 1e-3
        assert float(rows[variant][6]) > 0 and float(rows[variant][7]) > 0  # steps/s, wall
    assert rows["dcgan"][0] == "n/a"
    assert rows["*published: GAN, PacGAN (Lin et al. 2018) Table 1*"][2] == "6.3"
    assert "Machine(s): " in text and "TensorFlow" in text and "2,500" in text
    stored = json.loads((tmp_path / "RESULTS.json").read_text())["runs"]
    assert sorted(stored) == ["ring8/beta_gan/seed=0/steps=12", gan_key]
    assert all(r["status"] == "ok" and r["steps"] == 12 for r in stored.values())
    run_config = json.loads((Path(stored[gan_key]["run_dir"]) / "config.json").read_text())
    assert run_config["config"]["network"]["generator_hidden"] == [16, 16], run_config

    # Rerun: finished runs are skipped; a missing one and a crashed one run again, and each
    # result is written as soon as it is in.
    calls = []

    def fake_run(self, module, flags, result, log_path):
        calls.append(next(f for f in flags if f.startswith("--model=")))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return dict(status="ok", steps=12, steps_per_second=1.0, metrics=dict(
            modes_covered=8, high_quality_fraction=1.0, reverse_kl=0.0), wall_seconds=1.0)

    monkeypatch.setattr(quality.Workers, "run", fake_run)
    quality.main(argv[:1])
    assert calls == []
    stored[gan_key]["status"] = "error"
    del stored["ring8/beta_gan/seed=0/steps=12"]
    (tmp_path / "RESULTS.json").write_text(json.dumps(dict(runs=stored)))
    monkeypatch.setattr(quality.FLAGS, "jobs", 1)
    with pytest.raises(KeyboardInterrupt):
        quality.main(argv[:1])
    assert len(calls) == 2
    kept = json.loads((tmp_path / "RESULTS.json").read_text())["runs"]
    first = calls[0].split("=")[1]
    first_key = gan_key if first == "gan" else f"ring8/{first}/seed=0/steps=12"
    assert kept[first_key]["steps_per_second"] == 1.0
    first_row = "gan (generator_hidden=[16, 16])" if first == "gan" else first
    assert "8.0 ± 0.0 (8)" in table_rows(out.read_text(), "### ring8")[first_row][2]


def test_speed_smoke_run(tmp_path):
    out = tmp_path / "SPEED.md"
    subprocess.run(
        [sys.executable, "-m", "benchmarks.speed", "--variants=gan,cgan",
         "--datasets=ring8", "--batch_sizes=32", "--precisions=mixed", "--steps=3",
         "--warmup=1", "--repeats=1", f"--out={out}"], cwd=REPO_ROOT, env=subprocess_env(),
        check=True, capture_output=True, timeout=600)
    text = out.read_text()
    rows = [line.strip("|").split("|") for line in text.split("## ring8")[1].splitlines()
            if line.startswith("| ") and "---" not in line][1:]
    rows = {(cells[0].strip(), cells[2].strip()): [c.strip() for c in cells[1:]]
            for cells in rows}
    assert set(rows) == {("gan", "mixed_bfloat16"), ("cgan", "mixed_bfloat16")}  # a CPU
    for (variant, precision), cells in rows.items():
        assert cells[0] == "32" and float(cells[2]) > 0 and float(cells[3]) > 0, cells
        assert float(cells[5]) > 0 and re.fullmatch(r"\d+%", cells[6]), cells  # FLOPs, share
        peak, before = re.match(rf"({NUMBER}) \(({NUMBER})\)", cells[8]).groups()
        assert float(peak) >= float(before) > 100  # MiB: TensorFlow alone is more
        assert int(cells[10]) > 1000 and cells[11] == "1"
        # The plain loop needs a D of samples alone: cgan's takes labels too.
        assert re.fullmatch(rf"{NUMBER}x", cells[4]) if variant == "gan" else cells[4] == "—"
    assert rows[("gan", "mixed_bfloat16")][7] == "1.00x"
    assert re.fullmatch(rf"{NUMBER}x", rows[("cgan", "mixed_bfloat16")][7])
    assert "Machine: " in text and "TensorFlow" in text
    assert re.search(r"Matmul peak .*float32 \d+, bfloat16 \d+", text)
    assert os.path.exists(tmp_path / "SPEED.json")
