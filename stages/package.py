"""Stage package: data/split/manifest.csv -> data/submission/{train,val}/<class>/ + zip, checked."""
import sys
from pathlib import Path

from dcai.atomic import atomic_dir, write_json
from dcai.budget import check_budget_params
from dcai.classes import CLASSES
from dcai.manifest import count_by, read_manifest, write_manifest
from dcai.package import SubmissionError, check_counts, check_decodes, make_zip, write_submission
from dcai.params import load_params

IN = Path("data/split/manifest.csv")
OUT = Path("data/submission")
ZIP = Path("data/submission.zip")


def main() -> int:
    p = load_params("package")
    try:
        check_budget_params(p["max_images"], p["batch_size"], len(CLASSES))
    except ValueError as err:
        print(f"package: {err}", file=sys.stderr)
        return 1
    rows = read_manifest(IN)
    train = [r for r in rows if r["split"] == "train"]
    val = [r for r in rows if r["split"] == "val"]
    try:
        check_counts(len(train), len(val), p["max_images"], p["batch_size"])
        with atomic_dir(OUT) as tmp:
            write_submission(rows, tmp)
            check_decodes(tmp)
            write_manifest(tmp / "manifest.csv", rows, extra_columns=("split",))
    except SubmissionError as err:
        print(f"package: {err}", file=sys.stderr)
        return 1
    make_zip(OUT, ZIP)
    write_json("metrics/package.json", {
        "train": len(train), "val": len(val), "total": len(rows),
        "train_per_class": count_by(train, "label"), "val_per_class": count_by(val, "label"),
    })
    print(f"package: {len(train)} train + {len(val)} val images in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
