"""Stage autoaugment: the SVHN policy applied to the originals -> data/autoaugment/."""
import random
import sys
from pathlib import Path

from dcai.atomic import atomic_dir, write_json
from dcai.autoaugment import generate_augmented
from dcai.manifest import count_by, read_manifest, write_manifest
from dcai.params import load_params
from dcai.review import contact_sheet, group_rows

IN = Path("data/filtered/manifest.csv")
OUT = Path("data/autoaugment")
SAMPLES = Path("reports/autoaugment_samples.png")
SAMPLES_PER_CLASS = 12


def main() -> int:
    p = load_params("autoaugment")
    rows = read_manifest(IN)
    try:
        with atomic_dir(OUT) as tmp:
            (tmp / "images").mkdir()
            out, counts = generate_augmented(rows, p, tmp / "images", f"{OUT.as_posix()}/images")
            write_manifest(tmp / "manifest.csv", out)
    except ValueError as err:
        print(f"autoaugment: {err}", file=sys.stderr)
        return 1
    sample = []
    rng = random.Random(p["seed"])
    for members in group_rows(out, "label").values():
        sample += rng.sample(members, min(SAMPLES_PER_CLASS, len(members)))
    SAMPLES.parent.mkdir(parents=True, exist_ok=True)
    contact_sheet(sample, caption_key="label", columns=SAMPLES_PER_CLASS).save(SAMPLES)
    write_json("metrics/autoaugment.json", {**counts, "images_out": len(out), "per_class": count_by(out, "label")})
    print(f"autoaugment: {len(out)} images; samples in {SAMPLES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
