"""Stage balance: originals (and their repeats) + crops + flips + augmentations + variations -> a class-balanced, capped pool."""
import sys
from pathlib import Path

import numpy as np

from dcai.atomic import write_json
from dcai.balance import (cap_to_budget, hard_example_weights, leave_out, origin_label_probs, originals_without,
                          read_streams, repeat_originals)
from dcai.manifest import count_by, write_manifest
from dcai.params import load_params
from dcai.reports import read_rows_csv, write_rows_csv

GUARD_REJECTED = Path("data/label_guard/rejected.csv")
VOTES = Path("data/vote/oof.npz")
OUT = Path("data/balanced/manifest.csv")


def mean_origin_prob(rows: list[dict], label_probs: dict[str, float]) -> dict[str, float]:
    """Per kind, the mean out-of-fold p(label) of the originals the kept images come from."""
    by_kind: dict[str, list[float]] = {}
    for row in rows:
        if row["origin_id"] in label_probs:
            by_kind.setdefault(row["kind"], []).append(label_probs[row["origin_id"]])
    return {k: round(float(np.mean(v)), 4) for k, v in sorted(by_kind.items())}


def main() -> int:
    p = load_params("balance")
    package = load_params("package")
    try:
        streams, guard_dropped = leave_out(read_streams(), read_rows_csv(GUARD_REJECTED))
    except ValueError as err:
        print(f"balance: {err}", file=sys.stderr)
        return 1
    label_probs, weights = {}, None
    if VOTES.exists():
        votes = np.load(VOTES)
        label_probs = origin_label_probs(streams.get("original", []), [str(i) for i in votes["ids"]], votes["probs"])
    try:
        if p["hard_example_weight"]:
            if not label_probs:
                raise ValueError(f"hard_example_weight is {p['hard_example_weight']}, but {VOTES} has no votes "
                                 "on these originals: run vote_train")
            weights = hard_example_weights(label_probs, p["hard_example_weight"])
        repeats = repeat_originals(streams.get("original", []), p["original_copies"])
        if repeats:
            streams["repeat"] = repeats
        kept, dropped, targets = cap_to_budget(streams, p["priority"], p["per_class"], package["max_images"],
                                               package["batch_size"], p["seed"], p["role_priority"],
                                               p["role_budget"], p["class_mix"], weights,
                                               p["spread_over_originals"])
    except ValueError as err:
        print(f"balance: {err}", file=sys.stderr)
        return 1
    write_manifest(OUT, kept)
    write_rows_csv("reports/balance_dropped.csv", guard_dropped + dropped,
                   ("id", "origin_id", "label", "kind", "reason"))
    per_class = {}
    for row in kept:
        per_class.setdefault(row["label"], {}).setdefault(row["kind"], 0)
        per_class[row["label"]][row["kind"]] += 1
    write_json("metrics/balance.json", {
        "images_in": sum(len(v) for v in streams.values()) + len(guard_dropped), "images_out": len(kept),
        "dropped": len(guard_dropped) + len(dropped),
        "left_out_by_label_guard": count_by(guard_dropped, "kind"),
        "class_mix": p["class_mix"], "target_per_class": targets,
        "available": {k: len(v) for k, v in sorted(streams.items())},
        "per_class": dict(sorted(per_class.items())),
        "hard_example_weight": p["hard_example_weight"],
        "spread_over_originals": p["spread_over_originals"],
        "originals_without": originals_without(kept),
        "origin_label_prob": mean_origin_prob(kept, label_probs),  # mean p(label) of the kept images' originals
        "per_role": count_by([{"role": r.get("role") or "competition"} for r in kept], "role"),
    })
    print(f"balance: {len(kept)} images, {min(targets.values())}-{max(targets.values())} per class at most")
    return 0


if __name__ == "__main__":
    sys.exit(main())
