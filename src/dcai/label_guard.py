"""The label guard: a generated image whose numeral the vote ensemble no longer reads as its label.

A rotation, a slant, a thinner stroke or a shift can turn a numeral into another one (iii whose
strokes merged reads ii, viii whose last stroke thinned away reads vii); the ink guard sees only
ink lost to the frame. Each generated image is read by the vote members that never saw its
original (the models of the fold that held the original out), and it is rejected when they give
its label a probability below `min_label_prob` while they gave its original at least that: the
transformation lost the label, not the original being hard. Variants of originals the members
already doubt are kept, as the vote filter kept their originals.
"""
from pathlib import Path

import numpy as np

from .balance import STREAMS
from .classes import CLASS_INDEX, CLASSES

# the generated kinds balance draws from: read from its own list, so a new stream is judged too
KINDS = tuple(kind for kinds in STREAMS.values() for kind in kinds if kind != "original")


def check_params(p: dict) -> None:
    unknown = sorted(set(p["kinds"]) - set(KINDS))
    if unknown:
        raise ValueError(f"label_guard.kinds: unknown kinds {unknown} (known: {list(KINDS)})")
    if not 0 < p["min_label_prob"] < 1:
        raise ValueError(f"label_guard.min_label_prob must be between 0 and 1, got {p['min_label_prob']}")


def origin_folds(vote_ids: list[str], folds: np.ndarray) -> dict[str, int]:
    """The fold that held each voted original out, by origin id."""
    return {i: int(f) for i, f in zip(vote_ids, folds)}


def read_by_fold_members(x: np.ndarray, folds_of_rows: np.ndarray, members: list[str], weights_dir: Path,
                         n_outputs: int, batch_size: int) -> np.ndarray:
    """(N, n_outputs): each image's class probabilities, the mean over the members' models of the
    fold in `folds_of_rows` (-1: no fold, left as NaN)."""
    from .neighbours import load_fold_model
    from .probabilities import softmax

    out = np.full((len(x), n_outputs), np.nan, np.float32)
    for fold in sorted(set(int(f) for f in folds_of_rows) - {-1}):
        rows = np.flatnonzero(folds_of_rows == fold)
        total = np.zeros((len(rows), n_outputs), np.float64)
        for name in members:
            model = load_fold_model(weights_dir, name, fold, n_outputs)
            total += softmax(model.predict(x[rows], batch_size=batch_size, verbose=0))
        out[rows] = total / len(members)
    return out


def misread(rows: list[dict], probs: np.ndarray, origin_label_probs: dict[str, float],
            min_label_prob: float) -> list[dict]:
    """The rows (with why) whose image the members read below `min_label_prob` for its label while
    they read its original at or above it. Rows without a reading (NaN) or an original's vote pass."""
    rejected = []
    for row, p in zip(rows, probs):
        origin_p = origin_label_probs.get(row["origin_id"])
        if origin_p is None or np.isnan(p[0]) or origin_p < min_label_prob:
            continue
        label_p = float(p[CLASS_INDEX[row["label"]]])
        if label_p >= min_label_prob:
            continue
        top = int(np.argmax(p))
        read_as = CLASSES[top] if top < len(CLASSES) else "no numeral"
        rejected.append({**row, "read_as": read_as, "p_label": round(label_p, 4),
                         "origin_p_label": round(origin_p, 4),
                         "reason": f"label guard: read as {read_as} (p({row['label']}) {label_p:.2f}, "
                                   f"its original {origin_p:.2f})"})
    return rejected
