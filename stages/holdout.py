"""Stage holdout: data/ingested -> data/holdout/{pool.csv, test/<class>/, test.csv, removed.csv}.

pool.csv is what every curation stage sees; test/ is scored by train_score as "holdout".
"""
import shutil
import sys
from pathlib import Path

from dcai.atomic import atomic_dir, write_json
from dcai.clean import CleanParams, apply_corrections, duplicate_groups, image_stats
from dcai.corrections import CorrectionsError, load_corrections, match_corrections
from dcai.holdout import hold_out
from dcai.manifest import count_by, read_manifest, write_manifest
from dcai.params import load_params
from dcai.reports import write_rows_csv

IN = Path("data/ingested/manifest.csv")
OUT = Path("data/holdout")


def main() -> int:
    p = load_params("holdout")
    clean = load_params("clean")
    rows = read_manifest(IN)
    try:
        matched = match_corrections(load_corrections(clean["corrections"]), rows)
        groups = []
        if p["fraction"] > 0:  # duplicates across the two sides would leak a test image into training
            clean_params = CleanParams(**{k: v for k, v in clean.items() if k != "corrections"})
            groups = duplicate_groups(rows, image_stats(rows, clean_params), clean_params)
        pool, held = hold_out(rows, groups, p["fraction"], p["seed"])
    except (CorrectionsError, ValueError) as err:
        print(f"holdout: {err}", file=sys.stderr)
        return 1
    with atomic_dir(OUT) as tmp:
        (tmp / "images").mkdir()
        (tmp / "test").mkdir()
        test, removed, _ = apply_corrections(held, matched, tmp / "images", f"{OUT.as_posix()}/images")
        for row in test:
            (tmp / "test" / row["label"]).mkdir(exist_ok=True)
            source = tmp / "images" / f"{row['id']}.png" if "mirror_h" in row["transforms"] else Path(row["path"])
            shutil.copyfile(source, tmp / "test" / row["label"] / f"{row['id']}.png")
        write_manifest(tmp / "pool.csv", pool)
        write_manifest(tmp / "test.csv", test)
        write_rows_csv(tmp / "removed.csv", removed, ("id", "label", "reason", "original_path"))
    write_json("metrics/holdout.json", {
        "images_in": len(rows), "pool": len(pool), "held_out": len(held), "test": len(test),
        "removed_by_corrections": len(removed), "test_per_class": count_by(test, "label"),
    })
    print(f"holdout: {len(test)} test images held out of {len(rows)} ({len(removed)} removed by corrections); "
          f"{len(pool)} go on to curation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
