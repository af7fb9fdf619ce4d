"""Stage five_crop: guarded five crops of the originals -> data/five_crop/."""
from pathlib import Path

from dcai.atomic import atomic_dir, write_json
from dcai.five_crop import five_crop_rows
from dcai.manifest import count_by, read_manifest, write_manifest
from dcai.params import load_params

IN = Path("data/filtered/manifest.csv")
OUT = Path("data/five_crop")


def main() -> None:
    p = load_params("five_crop")
    rows = read_manifest(IN)
    with atomic_dir(OUT) as tmp:
        (tmp / "images").mkdir()
        crops, counts = five_crop_rows(rows, p, tmp / "images", f"{OUT.as_posix()}/images")
        write_manifest(tmp / "manifest.csv", crops)
    write_json("metrics/five_crop.json", {**counts, "per_class": count_by(crops, "label")})
    print(f"five_crop: {counts['kept']} crops kept; {counts['rejected_by_ink_guard']} of "
          f"{counts['crops_considered']} rejected for cutting ink")


if __name__ == "__main__":
    main()
