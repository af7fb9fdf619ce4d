"""The report page's charts: counted from what the stages wrote, and drawn (checked in a real
headless browser, rendered to PNG)."""
import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dcai.charts import PALETTE
from dcai.report import build_report
from dcai.report_charts import LEFT_OUT, class_rows, committed_accuracies, funnel_rows, reason_kind, removal_rows

MANIFEST = ["id", "origin_id", "label", "path", "kind", "split"]


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header, *rows])


def score_json(accuracy: float) -> dict:
    per_class = {"i": 0.9, "ii": 0.5, "iii": 0.7}
    seed_scores = {"123": {"val": {"accuracy": 0.9, "n": 10}, "test": {"t": {"accuracy": accuracy - 0.02, "n": 20,
                                                                           "per_class": {**per_class, "ii": 0.4}}}},
                   "124": {"val": {"accuracy": 0.9, "n": 10}, "test": {"t": {"accuracy": accuracy + 0.02, "n": 20,
                                                                           "per_class": {**per_class, "ii": 0.6}}}}}
    return {"seeds": [123, 124], "best_seed": 123, "per_seed": seed_scores,
            "val": {"accuracy": 0.9, "n": 10, "accuracy_spread": {"std": 0.0, "min": 0.9, "max": 0.9}},
            "test": {"t": {"accuracy": accuracy, "n": 20, "per_class": per_class,
                           "accuracy_spread": {"std": 0.028, "min": accuracy - 0.02, "max": accuracy + 0.02}}},
            "train": {"images": 30, "epochs": 1, "seconds": 1.0}}


@pytest.fixture
def project(tmp_path):
    """A project as the stages leave it, small: manifests, removal reports, metrics and a score."""
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    png = str(root / "data/ink.png")
    Image.fromarray(np.where(np.arange(32 * 32).reshape(32, 32) % 7 == 0, 0, 255).astype(np.uint8)).save(png)
    write_csv(root / "data/ingested/manifest.csv", MANIFEST[:5],
              [[f"a{k}", f"a{k}", c, png, "original"] for k, c in enumerate(["i"] * 5 + ["ii"] * 3 + ["iii"] * 2)])
    write_csv(root / "data/cleaned/manifest.csv", MANIFEST[:5],
              [[f"a{k}", f"a{k}", c, png, "original"] for k, c in enumerate(["i"] * 4 + ["ii"] * 3 + ["iii"] * 2)])
    write_csv(root / "data/holdout/test.csv", MANIFEST[:5], [])
    write_csv(root / "data/split/manifest.csv", MANIFEST,
              [["a0", "a0", "i", png, "original", "train"], ["a1", "a1", "ii", png, "original", "train"],
               ["a2", "a2", "ii", png, "original", "val"]])
    write_csv(root / "reports/clean_removed.csv", ["id", "label", "reason", "path"],
              [["a4", "i", "page photo: ink covers 0.47 of the frame > 0.3", png], ["a9", "i", "duplicate of a1", png],
               ["a8", "i", "duplicate of a2", png]])
    write_csv(root / "reports/vote_filter.csv", ["id", "label", "ensemble", "flag", "action", "path"],
              [["a1", "ii", "i", "noisy", "remove", png], ["a2", "ii", "i", "noisy", "relabel", png],
               ["a3", "i", "ii", "ambiguous", "review", png], ["a5", "i", "i", "", "keep", png]])
    write_csv(root / "reports/balance_dropped.csv", ["id", "kind", "reason"],
              [["b1", "augment", "over the class target (3)"]] * 4 + [["b2", "original", "over the class target (3)"]])
    (root / "metrics/confusion").mkdir(parents=True)
    (root / "metrics/score.json").write_text(json.dumps(score_json(0.8)))
    (root / "metrics/clean.json").write_text(json.dumps({"images_in": 10, "images_out": 9, "removed": 1}))
    (root / "metrics/confusion/t.json").write_text(json.dumps(
        [{"actual": "ii", "predicted": "iii"}] * 3 + [{"actual": "ii", "predicted": "i"}]
        + [{"actual": "ii", "predicted": "ii"}] * 2 + [{"actual": "i", "predicted": "i"}] * 5))
    (root / "params.yaml").write_text("report: {seed: 3}\n")
    return root


def test_the_funnel_counts_each_stage_per_class_and_splits_the_submission(project):
    assert funnel_rows(project) == [("ingested", {"i": 5, "ii": 3, "iii": 2}), ("cleaned", {"i": 4, "ii": 3, "iii": 2}),
                                    ("submission: train", {"i": 1, "ii": 1}), ("submission: val", {"ii": 1})]


def test_removals_are_counted_by_kind_of_reason_and_relabels_apart(project):
    assert reason_kind("page photo: ink covers 0.47 of the frame > 0.3") == "page photo"
    assert reason_kind("over the class target (998)") == "over the class target"
    assert removal_rows(project) == [("clean: duplicate of a1", 1), ("clean: duplicate of a2", 1),
                                     ("clean: page photo", 1), ("vote filter: noisy", 1),
                                     ("vote filter relabelled: noisy", 1)]
    assert removal_rows(project, LEFT_OUT) == [("balance: augment", 4), ("balance: original", 1)]


def test_the_worst_classes_carry_their_spread_and_what_they_were_taken_for(project):
    score = json.loads((project / "metrics/score.json").read_text())
    confusion = json.loads((project / "metrics/confusion/t.json").read_text())
    rows = class_rows(score, "t", confusion, worst=2)
    assert [r[:4] for r in rows] == [("ii", 0.5, 0.4, 0.6), ("iii", 0.7, 0.7, 0.7)]
    assert rows[0][4] == "0.50; as iii 3, as i 1 of 6"


def test_the_committed_score_is_the_anchor_of_a_new_run(project):
    assert committed_accuracies(project) is None  # not a git repository
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(project)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "metrics/score.json"], check=True)
    subprocess.run([*git, "commit", "-qm", "baseline"], check=True)
    (project / "metrics/score.json").write_text(json.dumps(score_json(0.6)))
    assert committed_accuracies(project) == {"val": 0.9, "t": 0.8}
    page = build_report(project, "r", 4, 3, {"raw data": {"t": 0.55}})
    assert "committed version (HEAD): 0.8000" in page and "raw data: 0.5500" in page


def chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if found is None and os.environ.get("CI", "").lower() == "true":
        pytest.fail("CI=true, but no Chromium: .ci/run installs it so that the report is checked in a browser")
    return found


def test_the_report_renders_with_its_charts_in_a_headless_browser(project, tmp_path):
    browser = chromium()
    if browser is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium)")
    page = tmp_path / "report.html"
    page.write_text(build_report(project, "Dataset version report", 4, 3, {"raw data": {"t": 0.55}}))
    png = tmp_path / "report.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}", "--window-size=1200,1400",
                    page.as_uri()], check=True, capture_output=True, timeout=120)
    pixels = np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3)
    for k in range(3):  # classes i, ii, iii: a bar is far larger than the legend's 10x10 square
        colour = [int(PALETTE[k][i:i + 2], 16) for i in (1, 3, 5)]
        assert (pixels == colour).all(axis=1).sum() > 500, f"no funnel bars in class {k}'s colour on the page"
    assert (pixels.min(axis=1) < 128).mean() > 0.01, "the rendered page is nearly blank"
