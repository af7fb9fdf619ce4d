"""The human corrections list: a team's manual review, made reproducible.

A YAML list in git; each entry names an image by `id` or by `file` (its original file
name, or any trailing part of its original path) and says what to do:

    - id: 3f2a9c0d1e4b
      remove: true
      note: a scribble, not a numeral
    - file: b272b408-ce5d-11eb-b317-38f9d35ea60f.png
      relabel: ix
      mirror: true          # written as "xi": flip it horizontally
      note: mirrored ix
    - id: 9a8b7c6d5e4f
      keep: true            # exempt from the automatic filters (blank, page, duplicates)

An entry that matches no image is an error that names it.
"""
from dataclasses import dataclass
from pathlib import Path

import yaml

from .classes import normalize_class


class CorrectionsError(ValueError):
    pass


@dataclass(frozen=True)
class Correction:
    key: str
    remove: bool = False
    relabel: str | None = None
    mirror: bool = False
    keep: bool = False
    note: str = ""


def load_corrections(path: str | Path) -> list[Correction]:
    path = Path(path)
    if not path.exists():
        return []
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise CorrectionsError(f"{path}: not valid YAML: {where}{problem}") from err
    if not isinstance(entries, list):
        raise CorrectionsError(f"{path}: expected a list of entries")
    out = []
    for n, entry in enumerate(entries, start=1):
        where = f"{path}: entry {n}"
        if not isinstance(entry, dict) or ("id" in entry) == ("file" in entry):
            raise CorrectionsError(f"{where}: give exactly one of 'id' or 'file'")
        unknown = set(entry) - {"id", "file", "remove", "relabel", "mirror", "keep", "note"}
        if unknown:
            raise CorrectionsError(f"{where}: unknown keys {sorted(unknown)}")
        relabel = entry.get("relabel")
        if relabel is not None and normalize_class(str(relabel)) is None:
            raise CorrectionsError(f"{where}: relabel {relabel!r} is not a class")
        correction = Correction(
            key=str(entry.get("id") or entry.get("file")), remove=bool(entry.get("remove", False)),
            relabel=normalize_class(str(relabel)) if relabel is not None else None,
            mirror=bool(entry.get("mirror", False)), keep=bool(entry.get("keep", False)),
            note=str(entry.get("note", "")))
        if correction.remove and (correction.relabel or correction.mirror or correction.keep):
            raise CorrectionsError(f"{where}: 'remove' cannot be combined with relabel, mirror or keep")
        if not (correction.remove or correction.relabel or correction.mirror or correction.keep):
            raise CorrectionsError(f"{where}: says nothing to do (remove, relabel, mirror or keep)")
        out.append(correction)
    return out


def match_corrections(corrections: list[Correction], rows: list[dict], strict: bool = True) -> dict[str, Correction]:
    """Map image id -> its correction; raise naming every entry that matches no image
    (unless not `strict`: later stages see only the images clean kept)."""
    by_id = {r["id"]: r for r in rows}
    matched, unknown = {}, []
    for c in corrections:
        if c.key in by_id:
            ids = [c.key]
        else:
            ids = [r["id"] for r in rows
                   if r["original_path"] == c.key or r["original_path"].endswith("/" + c.key.lstrip("/"))]
        if not ids:
            unknown.append(c.key)
        for uid in ids:
            if uid in matched and matched[uid] != c:
                raise CorrectionsError(f"image {uid} has two different corrections ({matched[uid].key}, {c.key})")
            matched[uid] = c
    if unknown and strict:
        raise CorrectionsError(f"corrections name images that are not in the dataset: {', '.join(unknown)}")
    return matched


def kept_by_a_person(path: str | Path, rows: list[dict]) -> set[str]:
    """Ids a reviewer marked `keep: true`: no automatic filter may remove them."""
    return {uid for uid, c in match_corrections(load_corrections(path), rows, strict=False).items() if c.keep}
