"""Stage standardize: aspect-ratio standardization and crop-to-ink -> data/standardized/."""
import sys
from pathlib import Path

from dcai.atomic import atomic_dir, write_json
from dcai.manifest import count_by, read_manifest, write_manifest
from dcai.params import load_params
from dcai.review import write_review
from dcai.standardize import standardize_rows

IN = Path("data/cleaned/manifest.csv")
OUT = Path("data/standardized")


def main() -> int:
    p = load_params("standardize")
    rows = read_manifest(IN)
    try:
        with atomic_dir(OUT) as tmp:
            (tmp / "images").mkdir()
            out, changed, trimmed = standardize_rows(rows, p, tmp / "images", f"{OUT.as_posix()}/images")
            write_manifest(tmp / "manifest.csv", out)
    except ValueError as err:
        print(f"standardize: {err}", file=sys.stderr)
        return 1
    write_review(changed, Path("reports/standardize_changed"), "Images standardized to a square")
    write_json("metrics/standardize.json", {
        "images_in": len(rows), "images_out": len(out), "per_kind": count_by(out, "kind"),
        "aspect_changed": len(changed), "aspect_changed_per_class": count_by(changed, "label"),
        "trimmed": len(trimmed), "trim": p["trim"],
    })
    print(f"standardize: {len(changed)} of {len(rows)} images squared; {len(trimmed)} trimmed ({p['trim']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
