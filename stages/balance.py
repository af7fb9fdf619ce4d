"""Stage balance: originals (and their repeats) + crops + flips + augmentations + variations -> a class-balanced, capped pool."""
import sys
from pathlib import Path

from dcai.atomic import write_json
from dcai.balance import cap_to_budget, repeat_originals
from dcai.manifest import count_by, read_manifest, write_manifest
from dcai.params import load_params
from dcai.reports import write_rows_csv

STREAMS = {  # manifest -> the kinds of image it holds
    Path("data/filtered/manifest.csv"): ("original", "trim"),
    Path("data/five_crop/manifest.csv"): ("crop",),
    Path("data/flips/manifest.csv"): ("flip",),
    Path("data/autoaugment/manifest.csv"): ("augment",),
    Path("data/variations/manifest.csv"): ("variation",),
}
OUT = Path("data/balanced/manifest.csv")


def main() -> int:
    p = load_params("balance")
    package = load_params("package")
    streams: dict[str, list[dict]] = {}
    for path, kinds in STREAMS.items():
        for row in read_manifest(path):
            if row["kind"] in kinds:
                streams.setdefault(row["kind"], []).append(row)
    try:
        repeats = repeat_originals(streams.get("original", []), p["original_copies"])
        if repeats:
            streams["repeat"] = repeats
        kept, dropped, targets = cap_to_budget(streams, p["priority"], p["per_class"], package["max_images"],
                                               package["batch_size"], p["seed"], p["role_priority"],
                                               p["role_budget"], p["class_mix"])
    except ValueError as err:
        print(f"balance: {err}", file=sys.stderr)
        return 1
    write_manifest(OUT, kept)
    write_rows_csv("reports/balance_dropped.csv", dropped, ("id", "origin_id", "label", "kind", "reason"))
    per_class = {}
    for row in kept:
        per_class.setdefault(row["label"], {}).setdefault(row["kind"], 0)
        per_class[row["label"]][row["kind"]] += 1
    write_json("metrics/balance.json", {
        "images_in": sum(len(v) for v in streams.values()), "images_out": len(kept), "dropped": len(dropped),
        "class_mix": p["class_mix"], "target_per_class": targets,
        "available": {k: len(v) for k, v in sorted(streams.items())},
        "per_class": dict(sorted(per_class.items())),
        "per_role": count_by([{"role": r.get("role") or "competition"} for r in kept], "role"),
    })
    print(f"balance: {len(kept)} images, {min(targets.values())}-{max(targets.values())} per class at most")
    return 0


if __name__ == "__main__":
    sys.exit(main())
