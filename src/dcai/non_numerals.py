"""Made-up non-numerals: an extra class the vote members learn beside the ten.

Most of what a person removes from the competition's data is no numeral at all (doodles,
scribbles, hearts), and a model that knows only the ten classes calls each some numeral.
Given a class for "none of these", the members can put an image's probability there instead,
and its given label's probability falls below the noisy threshold. The examples of that
class are made from the training originals themselves (outlier exposure with the data's own
ink, pen and paper), so the members cannot tell them apart by how they were drawn:
- jigsaw: the image cut into 2x2 or 4x4 tiles, each turned by a random quarter, shuffled;
- rotated: a numeral turned by a quarter (IIII on its side is no numeral), of the classes a
  quarter turn changes (an X turned is an X);
- overlay: two originals drawn over each other, one turned by a quarter.
"""
import numpy as np

from .classes import CLASSES

KINDS = ("jigsaw", "rotated", "overlay")
JIGSAW_GRIDS = (2, 4)


def check_non_numerals(p: dict) -> None:
    """vote_filter.train.non_numerals: {per_fold: n >= 0, kinds: [...], turn_invariant: [classes]}."""
    per_fold = p.get("per_fold")
    if isinstance(per_fold, bool) or not isinstance(per_fold, int) or per_fold < 0:
        raise ValueError(f"vote_filter.train.non_numerals.per_fold must be a whole number >= 0, not {per_fold!r}")
    unknown = sorted(set(p.get("kinds") or ()) - set(KINDS))
    if unknown or (per_fold and not p.get("kinds")):
        raise ValueError(f"vote_filter.train.non_numerals.kinds must be some of {list(KINDS)}, not {p.get('kinds')!r}")
    unknown = sorted(set(p.get("turn_invariant") or ()) - set(CLASSES))
    if unknown:
        raise ValueError(f"vote_filter.train.non_numerals.turn_invariant: {unknown} are not classes "
                         f"({', '.join(CLASSES)})")


def jigsaw(image: np.ndarray, grid: int, rng: np.random.Generator) -> np.ndarray:
    side = image.shape[0] // grid
    tiles = [np.rot90(image[r * side:(r + 1) * side, c * side:(c + 1) * side], int(rng.integers(4)))
             for r in range(grid) for c in range(grid)]
    order = rng.permutation(len(tiles))
    return np.concatenate([np.concatenate([tiles[order[r * grid + c]] for c in range(grid)], axis=1)
                           for r in range(grid)], axis=0)


def make_non_numerals(x: np.ndarray, y: np.ndarray, n: int, kinds: list[str], turn_invariant: list[int],
                      seed: int) -> np.ndarray:
    """n images like x (N, H, W, C; square) that are none of the classes, drawn from x, seeded."""
    rng = np.random.default_rng(seed)
    turnable = np.flatnonzero(~np.isin(y, turn_invariant))
    out = np.empty((n, *x.shape[1:]), x.dtype)
    for i in range(n):
        kind = kinds[int(rng.integers(len(kinds)))]
        if kind == "jigsaw" or (kind == "rotated" and not len(turnable)):  # nothing to turn: tiles instead
            out[i] = jigsaw(x[rng.integers(len(x))], int(rng.choice(JIGSAW_GRIDS)), rng)
        elif kind == "rotated":
            out[i] = np.rot90(x[rng.choice(turnable)], 1 if rng.random() < 0.5 else 3)
        else:
            a, b = rng.integers(len(x), size=2)
            out[i] = np.maximum(x[a], np.rot90(x[b], int(rng.integers(1, 4))))  # ink is 1, paper 0
    return out
