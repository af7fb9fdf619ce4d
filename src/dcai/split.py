"""A stratified, group-aware train/val split.

An original and everything derived from it (crops, augmentations, mirrors: the rows
that share its `origin_id`) land on the same side, so val never holds a transformed
twin of a training image. Classes are stratified by the label of each group's original.
"""
from collections import defaultdict

import numpy as np

DERIVED_FROM_VAL = "derived from a validation image (split.val_originals_only)"


def _group_label(group: list[dict]) -> str:
    originals = [r for r in group if r["id"] == r["origin_id"]]
    labels = [r["label"] for r in (originals or group)]
    return max(sorted(set(labels)), key=labels.count)


def split_rows(rows: list[dict], val_fraction: float, seed: int,
               val_originals_only: bool) -> tuple[list[dict], list[dict]]:
    """Return (rows with a `split` column, rows dropped with a `reason`)."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"split.val_fraction must be in [0, 1), got {val_fraction}")
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        groups[row["origin_id"]].append(row)
    by_class: dict[str, list[str]] = defaultdict(list)
    for origin_id in sorted(groups):
        by_class[_group_label(groups[origin_id])].append(origin_id)

    rng = np.random.default_rng(seed)
    val_groups = set()
    for label in sorted(by_class):
        origin_ids = by_class[label]
        # with originals only in val, the fraction is of the originals (their derived images
        # are dropped); otherwise it is of all images, whole groups at a time
        def size(group):
            return sum(1 for r in group if r["id"] == r["origin_id"]) if val_originals_only else len(group)

        target = round(val_fraction * sum(size(groups[g]) for g in origin_ids))
        taken = 0
        for k in rng.permutation(len(origin_ids)):
            if taken >= target:
                break
            group = groups[origin_ids[k]]
            size_k = size(group)
            if size_k == 0:
                continue
            val_groups.add(origin_ids[k])
            taken += size_k

    kept, dropped = [], []
    for row in rows:
        in_val = row["origin_id"] in val_groups
        if in_val and val_originals_only and row["id"] != row["origin_id"]:
            dropped.append({**row, "reason": DERIVED_FROM_VAL})
            continue
        kept.append({**row, "split": "val" if in_val else "train"})
    return kept, dropped
