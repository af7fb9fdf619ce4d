"""Stage ingest: every source folder -> data/ingested/{images/, manifest.csv}."""
import sys
from pathlib import Path

from dcai.atomic import atomic_dir, write_json
from dcai.ingest import ignored_folders, ingest_sources, parse_sources
from dcai.manifest import count_by, write_manifest
from dcai.params import load_params
from dcai.reports import reason_kind, write_rows_csv

OUT = Path("data/ingested")
SKIPPED_REPORT = Path("reports/ingest_skipped.csv")
METRICS = Path("metrics/ingest.json")


def main() -> int:
    params = load_params("ingest")
    try:
        sources = parse_sources(params["sources"])
    except ValueError as err:
        print(f"ingest: {err}", file=sys.stderr)
        return 1
    with atomic_dir(OUT) as tmp:
        (tmp / "images").mkdir()
        rows, skipped = ingest_sources(sources, tmp / "images", params["max_pixels"], params["max_side"],
                                       path_prefix=f"{OUT.as_posix()}/images")
        write_manifest(tmp / "manifest.csv", rows)
    write_rows_csv(SKIPPED_REPORT, skipped, ("source", "original_path", "reason"))
    for row in skipped:
        print(f"ingest: skipped {row['original_path']}: {row['reason']}", file=sys.stderr)
    ignored = {name: n for s in sources for name, n in ignored_folders(s).items()}
    for name, n in ignored.items():
        print(f"ingest: not reading {name}/ ({n} files): a train/val source uses train/ and val/ only",
              file=sys.stderr)
    links = count_by([{"l": t.split(":", 1)[1]} for r in rows for t in r["transforms"].split(";")
                      if t.startswith("via_link:")], "l")
    for link, n in links.items():
        print(f"ingest: {n} images read through the linked folder {link}", file=sys.stderr)
    write_json(METRICS, {
        "images": len(rows),
        "per_class": count_by(rows, "label"),
        "per_source": count_by(rows, "source"),
        "per_role": count_by(rows, "role"),
        "skipped": len(skipped),
        "skipped_by_reason": count_by([{"r": reason_kind(s["reason"])} for s in skipped], "r"),
        "converted": sum(1 for r in rows if r["transforms"]),
        "ignored_folders": ignored,
        "through_links": links,
    })
    print(f"ingest: {len(rows)} images from {len(sources)} source(s), {len(skipped)} skipped "
          f"(see {SKIPPED_REPORT})")
    return 0 if rows else _no_images()


def _no_images() -> int:
    print("ingest: no usable image in any source; check ingest.sources in params.yaml", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
