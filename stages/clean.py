"""Stage clean: corrections, blank images, page photos, duplicates -> data/cleaned/."""
import sys
from pathlib import Path

from dcai.atomic import atomic_dir, write_json
from dcai.clean import (CleanParams, apply_corrections, duplicate_groups, flag_unusable, image_stats,
                        resolve_duplicates)
from dcai.corrections import CorrectionsError, load_corrections, match_corrections
from dcai.manifest import count_by, read_manifest, write_manifest
from dcai.params import load_params
from dcai.reports import reason_kind, write_rows_csv

IN = Path("data/holdout/pool.csv")  # ingested images minus the held-out test
INGESTED = Path("data/ingested/manifest.csv")
OUT = Path("data/cleaned")
REMOVED = Path("reports/clean_removed.csv")


def main() -> int:
    p = load_params("clean")
    params = CleanParams(**{k: v for k, v in p.items() if k != "corrections"})
    rows = read_manifest(IN)
    try:
        # matched against everything ingested: an entry may name a held-out image
        matched = match_corrections(load_corrections(p["corrections"]), read_manifest(INGESTED))
    except CorrectionsError as err:
        print(f"clean: {err}", file=sys.stderr)
        return 1
    with atomic_dir(OUT) as tmp:
        (tmp / "images").mkdir()
        kept, removed, exempt = apply_corrections(rows, matched, tmp / "images", f"{OUT.as_posix()}/images")
        stats = image_stats(kept, params)
        kept, unusable = flag_unusable(kept, stats, params, exempt)
        groups = duplicate_groups(kept, stats, params)
        kept, duplicates, conflicts = resolve_duplicates(kept, groups, params, exempt)
        removed += unusable + duplicates
        write_manifest(tmp / "manifest.csv", kept)
    write_rows_csv(REMOVED, removed, ("id", "label", "reason", "original_path", "path"))
    write_json("metrics/clean.json", {
        "images_in": len(rows), "images_out": len(kept), "removed": len(removed),
        "removed_by_reason": count_by([{"r": reason_kind(r["reason"])} for r in removed], "r"),
        "removed_per_class": count_by(removed, "label"),
        "duplicate_groups": len(groups), "conflicting_groups": conflicts,
        "relabeled": sum(1 for r in kept if "relabel_" in r["transforms"]),
        "mirrored": sum(1 for r in kept if "mirror_h" in r["transforms"]),
        "per_class": count_by(kept, "label"),
    })
    print(f"clean: {len(kept)} of {len(rows)} images kept, {len(removed)} removed (see {REMOVED})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
