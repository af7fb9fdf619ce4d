"""Stage split: the curated pool -> data/split/manifest.csv with a train/val column."""
import sys
from pathlib import Path

from dcai.atomic import write_json
from dcai.manifest import count_by, read_manifest, write_manifest
from dcai.params import load_params
from dcai.reports import write_rows_csv
from dcai.split import split_rows

IN = Path("data/balanced/manifest.csv")
OUT = Path("data/split/manifest.csv")


def main() -> int:
    p = load_params("split")
    rows = read_manifest(IN)
    try:
        kept, dropped = split_rows(rows, p["val_fraction"], p["seed"], p["val_originals_only"])
    except ValueError as err:
        print(f"split: {err}", file=sys.stderr)
        return 1
    write_manifest(OUT, kept, extra_columns=("split",))
    write_rows_csv("reports/split_dropped.csv", dropped, ("id", "origin_id", "label", "path", "reason"))
    train = [r for r in kept if r["split"] == "train"]
    val = [r for r in kept if r["split"] == "val"]
    write_json("metrics/split.json", {
        "images_in": len(rows), "train": len(train), "val": len(val), "dropped": len(dropped),
        "train_per_class": count_by(train, "label"), "val_per_class": count_by(val, "label"),
    })
    print(f"split: {len(train)} train, {len(val)} val, {len(dropped)} dropped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
