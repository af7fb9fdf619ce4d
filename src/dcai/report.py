"""One self-contained HTML page per dataset version: the page a team attaches to a submission.

The recipe (params), what every stage kept, made or removed, sample images from each
stage, the images removed or flagged with their reasons, and the scores with their
spread over seeds. Images are embedded, so the page can be mailed or archived alone.
"""
import base64
import html
import io
import json
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from .manifest import read_manifest
from .reports import read_rows_csv
from .review import contact_sheet, group_rows

STAGES = ("make_builtin", "ingest", "holdout", "clean", "standardize", "vote_train", "vote_filter", "five_crop",
          "autoaugment", "flips", "balance", "split", "package")
CSS = ("body{font-family:sans-serif;max-width:1300px;margin:auto;padding:1em}table{border-collapse:collapse;"
       "margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right;font-size:13px}"
       "th:first-child,td:first-child{text-align:left}img{max-width:100%;border:1px solid #eee}"
       "pre{background:#f6f6f6;padding:.5em;font-size:12px;max-height:30em;overflow:auto}.warn{color:#b00}")


def embed(image: Image.Image) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return f'<img src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def sample(rows: list[dict], n: int, seed: int) -> list[dict]:
    """A seeded sample in manifest order, so the same inputs give the same page."""
    if len(rows) <= n:
        return rows
    keep = np.random.default_rng(seed).choice(len(rows), size=n, replace=False)
    return [rows[k] for k in sorted(keep)]


def table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _scalars(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)}


def stage_counts(metrics_dir: Path) -> str:
    """Every stage's top-level counts, as its metrics file has them."""
    rows = []
    for stage in STAGES:
        path = metrics_dir / f"{stage}.json"
        if path.is_file():
            counts = _scalars(json.loads(path.read_text()))
            rows.append([stage, ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))])
    return table(["stage", "counts (metrics/<stage>.json)"], rows)


def score_section(score: dict) -> str:
    seeds = score.get("seeds", [])
    header = ["set", "images", "accuracy (mean)", "std", "min", "max"] + [f"seed {s}" for s in seeds]
    rows = []
    sets = {"val": score["val"], **score["test"]}
    for name, s in sets.items():
        spread = s.get("accuracy_spread", {})
        per_seed = [(score["per_seed"][str(seed)]["val"] if name == "val"
                     else score["per_seed"][str(seed)]["test"][name]).get("accuracy", "") for seed in seeds]
        rows.append([name, s.get("n", 0), s.get("accuracy", "n/a"), spread.get("std", ""), spread.get("min", ""),
                     spread.get("max", ""), *per_seed])
    classes = sorted({c for s in sets.values() for c in s.get("per_class", {})})
    per_class = table(["set", *classes], [[name, *(s.get("per_class", {}).get(c, "") for c in classes)]
                                          for name, s in sets.items()])
    warning = f'<p class="warn">{html.escape(score["warning"])}</p>' if score.get("warning") else ""
    return (f"{warning}{table(header, rows)}<p>Per-class accuracy (mean over seeds):</p>{per_class}"
            f"<p>{score['train']['images']} training images, {score['train']['epochs']} epochs, "
            f"{score['train']['seconds']} s of training over {len(seeds)} seed(s).</p>")


def sheet_section(title: str, rows: list[dict], caption_key: str, n: int, seed: int) -> str:
    if not rows:
        return f"<h3>{html.escape(title)}: none</h3>"
    shown = sample(rows, n, seed)
    more = f", {len(shown)} shown" if len(shown) < len(rows) else ""
    return f"<h3>{html.escape(title)} ({len(rows)}{more})</h3>{embed(contact_sheet(shown, caption_key))}"


def build_report(root: Path, title: str, samples_per_stage: int, seed: int) -> str:
    """The HTML page of the dataset version in `root` (a project after `dvc repro`)."""
    parts = [f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title><style>{CSS}</style>",
             f"<h1>{html.escape(title)}</h1>"]
    score_path = root / "metrics/score.json"
    if score_path.is_file():
        parts += ["<h2>Scores</h2>", score_section(json.loads(score_path.read_text()))]
    parts += ["<h2>What each stage did</h2>", stage_counts(root / "metrics")]

    parts.append("<h2>Samples from each stage</h2>")
    everything = None
    for stage, manifest, keep in (("ingested", "data/ingested/manifest.csv", everything),
                                   ("held out (test)", "data/holdout/test.csv", None),
                                   ("cleaned", "data/cleaned/manifest.csv", None),
                                   ("standardized: squared to the aspect rule", "data/standardized/manifest.csv",
                                    lambda r: r["kind"] == "original" and "aspect_" in r["transforms"]),
                                   ("standardized: trimmed to the ink", "data/standardized/manifest.csv",
                                    lambda r: r["kind"] == "trim"),
                                   ("five crops", "data/five_crop/manifest.csv", None),
                                   ("autoaugment", "data/autoaugment/manifest.csv", None),
                                   ("flips", "data/flips/manifest.csv", None),
                                   ("submission", "data/split/manifest.csv", None)):
        path = root / manifest
        if path.is_file():
            rows = [r for r in read_manifest(path) if keep is None or keep(r)]
            parts.append(sheet_section(stage, rows, "label", samples_per_stage, seed))

    parts.append("<h2>Removed and flagged</h2>")
    removed = root / "reports/clean_removed.csv"
    if removed.is_file():
        for reason, rows in group_rows(read_rows_csv(removed), "reason").items():
            parts.append(sheet_section(f"clean removed: {reason}", rows, "label", samples_per_stage, seed))
    votes = root / "reports/vote_filter.csv"
    if votes.is_file():
        flagged = [r for r in read_rows_csv(votes) if r["flag"]]
        for r in flagged:
            r["caption"] = f"{r['label']}>{r['ensemble']} {r['action']}"
        for flag, rows in group_rows(flagged, "flag").items():
            parts.append(sheet_section(f"vote filter, {flag} (labelled>ensemble says, action)", rows, "caption",
                                       samples_per_stage, seed))
    errors = sorted((root / "reports/errors").glob("*.png"))
    if errors:
        parts.append("<h2>Misclassified test images (true>predicted p), best-val seed</h2>")
        for png in errors:
            parts.append(f"<h3>{html.escape(png.stem)}</h3>{embed(Image.open(png))}")
    params = yaml.safe_load((root / "params.yaml").read_text())
    parts += ["<h2>Recipe (params.yaml)</h2>", f"<pre>{html.escape(yaml.safe_dump(params, sort_keys=False))}</pre>"]
    return "\n".join(parts)

