"""The report's charts, from what the stages already wrote: images through the pipeline per
class, removals by reason, scores with their spread beside anchors, the worst classes."""
import json
import re
import subprocess
from collections import Counter
from pathlib import Path

from .charts import accuracy_bars, count_bars, stacked_bars
from .classes import CLASSES
from .manifest import read_manifest
from .reports import read_rows_csv

# (row label, manifest, which rows): the funnel, in pipeline order
FUNNEL = (("ingested", "data/ingested/manifest.csv", None),
          ("held out (internal test)", "data/holdout/test.csv", None),
          ("cleaned", "data/cleaned/manifest.csv", None),
          ("standardized (+ trims to the ink)", "data/standardized/manifest.csv", None),
          ("after the vote filter", "data/filtered/manifest.csv", None),
          ("five crops made", "data/five_crop/manifest.csv", None),
          ("AutoAugment made", "data/autoaugment/manifest.csv", None),
          ("variations made", "data/variations/manifest.csv", None),
          ("flips made", "data/flips/manifest.csv", None),
          ("balanced to the budget", "data/balanced/manifest.csv", None),
          ("submission: train", "data/split/manifest.csv", lambda r: r["split"] == "train"),
          ("submission: val", "data/split/manifest.csv", lambda r: r["split"] == "val"))
# (stage, report file, which rows, what to count them by): images taken out as bad or mislabelled,
# and a relabel (the image stays, under another class) beside them
REMOVALS = (("ingest", "reports/ingest_skipped.csv", None, "reason"),
            ("clean", "reports/clean_removed.csv", None, "reason"),
            ("vote filter", "reports/vote_filter.csv", lambda r: r["action"] == "remove", "flag"),
            ("vote filter relabelled", "reports/vote_filter.csv", lambda r: r["action"] == "relabel", "flag"))
# images good enough but left out of the submission, by kind (original, crop, augment, ...)
LEFT_OUT = (("balance", "reports/balance_dropped.csv", None, "kind"),
            ("split", "reports/split_dropped.csv", None, "reason"))


def funnel_rows(root: Path) -> list[tuple[str, dict[str, int]]]:
    """Images per class out of each stage that ran (a stage whose manifest is empty is left out)."""
    rows = []
    for name, manifest, keep in FUNNEL:
        path = root / manifest
        if path.is_file():
            counts = Counter(r["label"] for r in read_manifest(path) if keep is None or keep(r))
            if counts:
                rows.append((name, dict(counts)))
    return rows


def reason_kind(reason: str) -> str:
    """'page photo: ink covers 0.47 of the frame > 0.3' -> 'page photo': the kind, not the measurement."""
    return re.split(r"[:(]", reason, maxsplit=1)[0].strip() or "no reason given"


def removal_rows(root: Path, reports=REMOVALS) -> list[tuple[str, int]]:
    """How many images each stage took out, by kind of reason, largest first within a stage."""
    rows = []
    for stage, report, picked, column in reports:
        path = root / report
        if not path.is_file():
            continue
        counts = Counter(reason_kind(r[column]) for r in read_rows_csv(path) if picked is None or picked(r))
        rows += [(f"{stage}: {kind}", n) for kind, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return rows


def committed_accuracies(root: Path, ref: str = "HEAD") -> dict[str, float] | None:
    """The accuracies in metrics/score.json as committed at `ref` (the version before this run's
    changes), or None where there is no git, no commit or no committed score."""
    try:
        shown = subprocess.run(["git", "show", f"{ref}:metrics/score.json"], cwd=root, capture_output=True,
                               text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if shown.returncode != 0:
        return None
    try:
        score = json.loads(shown.stdout)
        return accuracies(score)
    except (ValueError, KeyError, TypeError):
        return None


def accuracies(score: dict) -> dict[str, float]:
    sets = {"val": score["val"], **score["test"]}
    return {name: s["accuracy"] for name, s in sets.items() if s.get("accuracy") is not None}


def score_rows(score: dict) -> list[tuple[str, float, float, float, str]]:
    rows = []
    for name, s in {"val": score["val"], **score["test"]}.items():
        if s.get("accuracy") is None:
            continue
        spread = s.get("accuracy_spread", {})
        note = f"{s['accuracy']:.3f}"
        if spread.get("std"):
            note += f" ± {spread['std']:.3f}"
        note += f", {s.get('n', 0)} images"
        rows.append((name, s["accuracy"], spread.get("min", s["accuracy"]), spread.get("max", s["accuracy"]), note))
    return rows


def scores_chart(score: dict, anchors: dict[str, dict[str, float]]) -> str:
    return accuracy_bars(score_rows(score), anchors, "accuracy per set: mean, min-max over seeds, anchors")


def class_rows(score: dict, test_set: str, confusion: list[dict], worst: int) -> list[tuple]:
    """The `worst` classes of a test set by mean accuracy over seeds (min-max whisker), each
    with what the best-val seed took it for most often."""
    seeds = [str(s) for s in score.get("seeds", [])]
    per_class = score["test"][test_set].get("per_class", {})
    rows = []
    for cls in sorted(per_class, key=lambda c: (per_class[c], CLASSES.index(c)))[:worst]:
        values = [score["per_seed"][s]["test"][test_set]["per_class"][cls] for s in seeds
                  if cls in score["per_seed"][s]["test"][test_set].get("per_class", {})] or [per_class[cls]]
        mistaken = Counter(r["predicted"] for r in confusion if r["actual"] == cls and r["predicted"] != cls)
        total = sum(1 for r in confusion if r["actual"] == cls)
        note = ", ".join(f"as {p} {n}" for p, n in mistaken.most_common(2))
        rows.append((cls, per_class[cls], min(values), max(values),
                     f"{per_class[cls]:.2f}" + (f"; {note} of {total}" if note else "")))
    return rows


def worst_classes_chart(score: dict, test_set: str, confusion: list[dict], worst: int) -> str:
    return accuracy_bars(class_rows(score, test_set, confusion, worst), {},
                         f"{test_set}: worst classes and their confusions")


def funnel_chart(root: Path) -> str:
    rows = funnel_rows(root)
    classes = [c for c in CLASSES if any(c in counts for _, counts in rows)]
    return stacked_bars(rows, classes, "images out of each stage, per class") if rows else ""


def removals_chart(root: Path, reports=REMOVALS) -> str:
    rows = removal_rows(root, reports)
    return count_bars(rows, "images taken out, by stage and reason") if rows else ""
