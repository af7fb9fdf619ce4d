"""An internal test set of the competition's own distribution, set aside before curation.

Held-out images never reach a curation stage, and only the human corrections list
applies to them: a test set the pipeline cleans itself would flatter the pipeline.
Duplicates and near-duplicates stay on one side, so no twin of a test image trains.
"""
from collections import defaultdict

import numpy as np


def hold_out(rows: list[dict], duplicate_groups: list[list[int]], fraction: float,
             seed: int) -> tuple[list[dict], list[dict]]:
    """Return (pool for curation, held-out rows): stratified by label, a duplicate group as one unit."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"holdout.fraction must be in [0, 1), got {fraction}")
    if fraction == 0:
        return list(rows), []
    grouped = {i for g in duplicate_groups for i in g}
    units = [sorted(g) for g in duplicate_groups] + [[i] for i in range(len(rows)) if i not in grouped]
    by_class: dict[str, list[list[int]]] = defaultdict(list)
    for unit in sorted(units):
        labels = [rows[i]["label"] for i in unit]
        by_class[max(sorted(set(labels)), key=labels.count)].append(unit)
    rng = np.random.default_rng(seed)
    held: set[int] = set()
    for label in sorted(by_class):
        units_of_class = by_class[label]
        target = round(fraction * sum(len(u) for u in units_of_class))
        taken = 0
        for k in rng.permutation(len(units_of_class)):
            if taken >= target:
                break
            held.update(units_of_class[k])
            taken += len(units_of_class[k])
    return ([r for i, r in enumerate(rows) if i not in held], [r for i, r in enumerate(rows) if i in held])
