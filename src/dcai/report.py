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
from .report_charts import (LEFT_OUT, committed_accuracies, funnel_chart, removals_chart, scores_chart,
                            worst_classes_chart)
from .reports import read_rows_csv
from .review import contact_sheet, group_rows

STAGES = ("make_builtin", "ingest", "holdout", "clean", "standardize", "vote_train", "vote_filter", "five_crop",
          "autoaugment", "variations", "flips", "label_guard", "balance", "split", "package")
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
    """Every stage's images in and out, and its other top-level counts one per line."""
    rows = []
    for stage in STAGES:
        path = metrics_dir / f"{stage}.json"
        if path.is_file():
            counts = _scalars(json.loads(path.read_text()))
            rest = "<br>".join(html.escape(f"{k}: {v}") for k, v in sorted(counts.items())
                               if k not in ("images_in", "images_out"))
            rows.append(f"<tr><td>{stage}</td><td>{counts.get('images_in', '')}</td>"
                        f"<td>{counts.get('images_out', '')}</td><td style='text-align:left'>{rest}</td></tr>")
    return ("<table><tr><th>stage</th><th>images in</th><th>images out</th><th>other counts "
            "(metrics/&lt;stage&gt;.json)</th></tr>" + "".join(rows) + "</table>")


def anchors_of(root: Path, stored: dict[str, dict[str, float]]) -> tuple[dict, str]:
    """The scores to show beside this run's: the committed version's (git HEAD's metrics, no
    training) and the stored references of params (e.g. the raw data's score)."""
    anchors, notes = {}, []
    committed = committed_accuracies(root)
    if committed:
        anchors["committed version (HEAD)"] = committed
    else:
        notes.append("no committed metrics/score.json to compare with (commit a run to make it the baseline)")
    anchors.update({name: dict(values) for name, values in (stored or {}).items()})
    return anchors, "".join(f"<p>{html.escape(n)}</p>" for n in notes)


def charts_section(root: Path, score: dict | None, anchors: dict, worst_classes: int) -> list[str]:
    parts = []
    if score is not None:
        anchors, note = anchors_of(root, anchors)
        parts += ["<h2>Scores</h2><p>Bar: mean accuracy over seeds; whisker: min to max; ticks: anchors.</p>",
                  note, scores_chart(score, anchors)]
        for test_set in score["test"]:
            confusion = root / "metrics/confusion" / f"{test_set}.json"
            if confusion.is_file() and score["test"][test_set].get("per_class"):
                parts += [f"<h3>{html.escape(test_set)}: the {worst_classes} worst classes (mean over seeds, "
                          "min-max; what the best-val seed took them for)</h3>",
                          worst_classes_chart(score, test_set, json.loads(confusion.read_text()), worst_classes)]
    parts += ["<h2>Images out of each stage, per class</h2>", funnel_chart(root),
              "<h2>Images taken out as bad or mislabelled, by stage and reason</h2>",
              removals_chart(root) or "<p>none</p>",
              "<h2>Images left out of the submission by the budget, by kind</h2>",
              removals_chart(root, LEFT_OUT) or "<p>none</p>"]
    return parts


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


def build_report(root: Path, title: str, samples_per_stage: int, seed: int,
                 anchors: dict[str, dict[str, float]] | None = None, worst_classes: int = 5) -> str:
    """The HTML page of the dataset version in `root` (a project after `dvc repro`)."""
    parts = [f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title><style>{CSS}</style>",
             f"<h1>{html.escape(title)}</h1>"]
    score_path = root / "metrics/score.json"
    score = json.loads(score_path.read_text()) if score_path.is_file() else None
    parts += charts_section(root, score, anchors or {}, worst_classes)
    if score is not None:
        parts += ["<h2>Scores in numbers</h2>", score_section(score)]
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
                                   ("variations", "data/variations/manifest.csv", None),
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
    guarded = root / "data/label_guard/rejected.csv"
    if guarded.is_file():
        rows = read_rows_csv(guarded)
        for r in rows:
            r["caption"] = f"{r['label']}>{r['read_as']} {float(r['p_label']):.2f}"
        if rows:
            parts.append(sheet_section("label guard left out (labelled>read as, p(label))", rows, "caption",
                                       samples_per_stage, seed))
    errors = sorted((root / "reports/errors").glob("*.png"))
    if errors:
        parts.append("<h2>Misclassified test images (true>predicted p), best-val seed</h2>")
        for png in errors:
            parts.append(f"<h3>{html.escape(png.stem)}</h3>{embed(Image.open(png))}")
    params = yaml.safe_load((root / "params.yaml").read_text())
    parts += ["<h2>Recipe (params.yaml)</h2>", f"<pre>{html.escape(yaml.safe_dump(params, sort_keys=False))}</pre>"]
    return "\n".join(parts)

