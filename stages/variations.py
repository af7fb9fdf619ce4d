"""Stage variations: one hand's sheet-to-sheet variation drawn from the originals -> data/variations/."""
import sys
from pathlib import Path

from dcai.atomic import atomic_dir, write_json
from dcai.manifest import count_by, read_manifest, write_manifest
from dcai.params import load_params
from dcai.review import samples_by_class
from dcai.variations import generate_variations

IN = Path("data/filtered/manifest.csv")
OUT = Path("data/variations")
SAMPLES = Path("reports/variations_samples.png")
SAMPLES_PER_CLASS = 12


def main() -> int:
    p = load_params("variations")
    rows = read_manifest(IN)
    try:
        with atomic_dir(OUT) as tmp:
            (tmp / "images").mkdir()
            out, counts = generate_variations(rows, p, tmp / "images", f"{OUT.as_posix()}/images")
            write_manifest(tmp / "manifest.csv", out)
    except ValueError as err:
        print(f"variations: {err}", file=sys.stderr)
        return 1
    SAMPLES.parent.mkdir(parents=True, exist_ok=True)
    samples_by_class(out, SAMPLES_PER_CLASS, p["seed"]).save(SAMPLES)
    write_json("metrics/variations.json", {**counts, "images_out": len(out), "per_class": count_by(out, "label")})
    print(f"variations: {len(out)} images; samples in {SAMPLES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
