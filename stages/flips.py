"""Stage flips: mirrors of the originals that are still valid numerals -> data/flips/."""
import sys
from pathlib import Path

from dcai.atomic import atomic_dir, write_json
from dcai.flips import flip_rows, parse_flip_rules
from dcai.manifest import count_by, read_manifest, write_manifest
from dcai.params import load_params

IN = Path("data/filtered/manifest.csv")
OUT = Path("data/flips")


def main() -> int:
    p = load_params("flips")
    try:
        rules = parse_flip_rules(p["rules"])
    except ValueError as err:
        print(f"flips: {err}", file=sys.stderr)
        return 1
    rows = read_manifest(IN)
    with atomic_dir(OUT) as tmp:
        (tmp / "images").mkdir()
        out = flip_rows(rows, rules, tmp / "images", f"{OUT.as_posix()}/images")
        write_manifest(tmp / "manifest.csv", out)
    write_json("metrics/flips.json", {
        "images_out": len(out), "per_class": count_by(out, "label"),
        "per_rule": count_by([{"t": r["transforms"].rsplit(";", 1)[-1]} for r in out], "t"),
    })
    print(f"flips: {len(out)} mirrored images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
