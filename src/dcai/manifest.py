"""The manifest: one row per image, carried from stage to stage.

`id` is unique per image; `origin_id` is the id of the original it was derived from
(equal to `id` for originals), so every image that leaves the pipeline can be traced
to the source file it came from, and `transforms` says what was done to it.
"""
import csv
import io
from pathlib import Path

from .atomic import atomic_write_text

COLUMNS = (
    "id", "origin_id", "label", "path", "kind", "transforms",
    "source", "role", "original_path", "original_split", "pixel_hash", "width", "height",
)
INT_COLUMNS = ("width", "height")


class ManifestError(ValueError):
    pass


def read_manifest(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.exists():
        raise ManifestError(f"{path}: manifest not found")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("id", "origin_id", "label", "path") if c not in (reader.fieldnames or ())]
        if missing:
            raise ManifestError(f"{path}: manifest lacks columns {missing}")
        rows = list(reader)
    for row in rows:
        for col in INT_COLUMNS:
            if row.get(col, "") != "":
                row[col] = int(row[col])
    return rows


def write_manifest(path: str | Path, rows: list[dict], extra_columns: tuple[str, ...] = ()) -> None:
    columns = list(COLUMNS) + [c for c in extra_columns if c not in COLUMNS]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in columns})
    atomic_write_text(path, buf.getvalue())


def count_by(rows: list[dict], key: str) -> dict:
    counts: dict = {}
    for row in rows:
        counts[row[key]] = counts.get(row[key], 0) + 1
    return dict(sorted(counts.items()))


def derived_row(original: dict, suffix: str, kind: str, transform: str, path: str, size: tuple[int, int],
                label: str | None = None) -> dict:
    """The manifest row of an image made from `original`: it keeps the original's origin."""
    transforms = [t for t in original["transforms"].split(";") if t] + [transform]
    return {
        **original, "id": f"{original['id']}-{suffix}", "origin_id": original["origin_id"],
        "label": label or original["label"], "path": path, "kind": kind, "transforms": ";".join(transforms),
        "pixel_hash": "", "width": size[0], "height": size[1],
    }
