"""Five crops per original, with a guard against crops that change the numeral.

The seed's team discarded by hand the crops that cut a stroke (a III cropped to II).
Here a crop is kept only if it keeps at least `min_ink_kept` of the original's ink.
"""
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from .ink import ink_mask
from .manifest import derived_row

POSITIONS = ("tl", "tr", "bl", "br", "c")


def five_crop_boxes(size: tuple[int, int], fraction: float) -> dict[str, tuple[int, int, int, int]]:
    """Top-left, top-right, bottom-left, bottom-right and centre boxes of `fraction` of each side."""
    w, h = size
    cw, ch = max(1, round(w * fraction)), max(1, round(h * fraction))
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    return {"tl": (0, 0, cw, ch), "tr": (w - cw, 0, w, ch), "bl": (0, h - ch, cw, h),
            "br": (w - cw, h - ch, w, h), "c": (x0, y0, x0 + cw, y0 + ch)}


def ink_kept(mask: np.ndarray, box: tuple[int, int, int, int]) -> float:
    total = int(mask.sum())
    if total == 0:
        return 0.0
    left, top, right, bottom = box
    return int(mask[top:bottom, left:right].sum()) / total


def guarded_crops(image: Image.Image, fraction: float, min_ink_kept: float,
                  ink_threshold: int) -> list[tuple[str, tuple, float, bool]]:
    """(position, box, share of ink kept, accepted) for each of the five crops."""
    mask = ink_mask(image, ink_threshold)
    out = []
    for name, box in five_crop_boxes(image.size, fraction).items():
        kept = ink_kept(mask, box)
        out.append((name, box, kept, kept >= min_ink_kept))
    return out


def five_crop_rows(rows: list[dict], p: dict, images_dir: Path, prefix: str) -> tuple[list, dict]:
    """Guarded crops of the originals, at most `per_class` per class (seeded choice).

    Returns (rows of the crops kept, counts).
    """
    originals = [r for r in rows if r["kind"] == "original"]
    candidates: dict[str, list] = {}
    counts = {"originals": len(originals), "crops_considered": 0, "rejected_by_ink_guard": 0}
    for row in tqdm(originals, desc="five_crop: guard", unit="image", mininterval=1.0):
        image = Image.open(row["path"])
        for name, box, _, accepted in guarded_crops(image, p["fraction"], p["min_ink_kept"], p["ink_threshold"]):
            counts["crops_considered"] += 1
            if accepted:
                candidates.setdefault(row["label"], []).append((row, name, box))
            else:
                counts["rejected_by_ink_guard"] += 1
    rng = np.random.default_rng(p["seed"])
    out = []
    for label in sorted(candidates):
        pool = candidates[label]
        chosen = sorted(rng.choice(len(pool), size=min(p["per_class"], len(pool)), replace=False))
        for k in chosen:
            row, name, box = pool[k]
            crop = Image.open(row["path"]).crop(box)
            new = derived_row(row, f"crop_{name}", "crop", f"five_crop_{name}_{p['fraction']}",
                              f"{prefix}/{row['id']}-crop_{name}.png", crop.size)
            crop.save(images_dir / f"{new['id']}.png", format="PNG")
            out.append(new)
    counts["accepted"] = sum(len(v) for v in candidates.values())
    counts["kept"] = len(out)
    return out, counts
