"""Clean: human corrections, then blank images, page photos, and duplicates.

Every removal has a reason; the human corrections come first, so a reviewer's
`relabel` counts when duplicates are compared, and `keep: true` exempts an image
from the automatic filters.
"""
from dataclasses import dataclass
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image, ImageOps
from tqdm import tqdm

from .corrections import Correction
from .ingest import pixel_hash
from .ink import border_ink_fraction, ink_fraction, ink_mask


@dataclass(frozen=True)
class CleanParams:
    ink_threshold: int
    min_ink_fraction: float
    max_border_ink_fraction: float
    near_duplicate_hash_size: int
    near_duplicate_max_distance: int
    conflicting_duplicates: str  # remove_all | keep_majority

    def __post_init__(self):
        if self.conflicting_duplicates not in ("remove_all", "keep_majority"):
            raise ValueError(f"clean.conflicting_duplicates must be remove_all or keep_majority, "
                             f"not {self.conflicting_duplicates!r}")


def apply_corrections(rows: list[dict], matched: dict[str, Correction], images_dir: Path,
                      path_prefix: str) -> tuple[list[dict], list[dict], set[str]]:
    """Return (kept rows, removed rows, ids exempt from automatic filters)."""
    kept, removed, exempt = [], [], set()
    for row in rows:
        c = matched.get(row["id"])
        if c is None:
            kept.append(row)
            continue
        note = f" ({c.note})" if c.note else ""
        if c.remove:
            removed.append({**row, "reason": f"correction: remove{note}"})
            continue
        row = dict(row)
        transforms = [t for t in row["transforms"].split(";") if t]
        if c.mirror:
            image = ImageOps.mirror(Image.open(row["path"]))
            image.save(images_dir / f"{row['id']}.png", format="PNG")
            row.update(path=f"{path_prefix}/{row['id']}.png", pixel_hash=pixel_hash(image))
            transforms.append("mirror_h")
        if c.relabel and c.relabel != row["label"]:
            transforms.append(f"relabel_{row['label']}_to_{c.relabel}")
            row["label"] = c.relabel
        if c.keep:
            exempt.add(row["id"])
        row["transforms"] = ";".join(transforms)
        kept.append(row)
    return kept, removed, exempt


def image_stats(rows: list[dict], p: CleanParams) -> dict[str, dict]:
    """Ink statistics and a perceptual hash of every image, from one decode each."""
    stats = {}
    for row in tqdm(rows, desc="clean: measure", unit="image", mininterval=1.0):
        image = Image.open(row["path"])
        mask = ink_mask(image, p.ink_threshold)
        stats[row["id"]] = {
            "ink": ink_fraction(mask), "border_ink": border_ink_fraction(mask),
            "phash": imagehash.phash(image, hash_size=p.near_duplicate_hash_size).hash.flatten(),
        }
    return stats


def flag_unusable(rows: list[dict], stats: dict, p: CleanParams, exempt: set[str]) -> tuple[list, list]:
    """Blank or near-empty images, and photos of a page whose ink covers the frame."""
    kept, removed = [], []
    for row in rows:
        s = stats[row["id"]]
        if row["id"] not in exempt and s["ink"] < p.min_ink_fraction:
            removed.append({**row, "reason": f"blank: ink fraction {s['ink']:.4f} < {p.min_ink_fraction}"})
        elif row["id"] not in exempt and s["border_ink"] > p.max_border_ink_fraction:
            removed.append({**row, "reason": f"page photo: ink covers {s['border_ink']:.2f} of the frame "
                                             f"> {p.max_border_ink_fraction}"})
        else:
            kept.append(row)
    return kept, removed


def _hamming_pairs(bits: np.ndarray, max_distance: int, block: int = 1024):
    """Index pairs (i < j) of hashes within `max_distance` bits, in blocks to bound memory."""
    b = bits.astype(np.float32)
    for start in range(0, len(b), block):
        chunk = b[start:start + block]
        dist = chunk @ (1 - b).T + (1 - chunk) @ b.T
        for i, j in zip(*np.nonzero(dist <= max_distance)):
            if start + i < j:
                yield start + i, j, int(dist[i, j])


def duplicate_groups(rows: list[dict], stats: dict, p: CleanParams) -> list[list[int]]:
    """Groups (indices into rows) of exact duplicates (same pixels) or near-duplicates."""
    parent = list(range(len(rows)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_by_hash = {}
    for i, row in enumerate(rows):
        j = first_by_hash.setdefault(row["pixel_hash"], i)
        parent[find(i)] = find(j)
    if p.near_duplicate_max_distance > 0 and rows:
        bits = np.stack([stats[r["id"]]["phash"] for r in rows])
        for i, j, _ in _hamming_pairs(bits, p.near_duplicate_max_distance):
            parent[find(i)] = find(j)
    groups = {}
    for i in range(len(rows)):
        groups.setdefault(find(i), []).append(i)
    return [g for g in groups.values() if len(g) > 1]


def resolve_duplicates(rows: list[dict], groups: list[list[int]], p: CleanParams,
                       exempt: set[str]) -> tuple[list[dict], list[dict], int]:
    """Keep one image per group; groups that disagree on the label are conflicts.

    Returns (kept rows, removed rows, number of conflicting groups).
    """
    drop: dict[int, str] = {}
    conflicts = 0
    for group in groups:
        group = sorted(group, key=lambda i: (rows[i]["id"] not in exempt, rows[i]["original_path"]))
        labels = [rows[i]["label"] for i in group]
        keep = group[0]
        if len(set(labels)) > 1:
            conflicts += 1
            top = max(sorted(set(labels)), key=labels.count)
            has_majority = labels.count(top) > len(labels) / 2
            keep = (next(i for i in group if rows[i]["label"] == top)
                    if p.conflicting_duplicates == "keep_majority" and has_majority else None)
            described = ", ".join(f"{rows[i]['id']}={rows[i]['label']}" for i in group)
        for i in group:
            if i == keep:
                continue
            if keep is None or rows[i]["label"] != rows[keep]["label"]:
                drop[i] = f"conflict: duplicates disagree on the label ({described})"
            elif rows[i]["pixel_hash"] == rows[keep]["pixel_hash"]:
                drop[i] = f"duplicate: of {rows[keep]['id']}"
            else:
                drop[i] = f"near duplicate: of {rows[keep]['id']}"
    drop = {i: r for i, r in drop.items() if rows[i]["id"] not in exempt}
    kept = [r for i, r in enumerate(rows) if i not in drop]
    removed = [{**rows[i], "reason": reason} for i, reason in sorted(drop.items())]
    return kept, removed, conflicts
