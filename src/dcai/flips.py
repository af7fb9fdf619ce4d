"""Mirrors that still show a valid numeral: label-preserving ones (a mirrored III is a
III) and label-changing ones (a horizontally mirrored IV is a VI), as an editable table."""
from pathlib import Path

from PIL import Image, ImageOps
from tqdm import tqdm

from .classes import normalize_class
from .manifest import derived_row

MIRRORS = {"horizontal": ImageOps.mirror, "vertical": ImageOps.flip}


def parse_flip_rules(rules: list) -> list[tuple[str, str, str]]:
    """`[from, mirror, to]` entries -> validated (from, mirror, to) tuples."""
    parsed = []
    for n, rule in enumerate(rules, start=1):
        if not (isinstance(rule, (list, tuple)) and len(rule) == 3):
            raise ValueError(f"flips.rules entry {n}: expected [from, mirror, to], got {rule!r}")
        source, mirror, target = (str(v) for v in rule)
        if normalize_class(source) is None or normalize_class(target) is None:
            raise ValueError(f"flips.rules entry {n}: {source!r} or {target!r} is not a class")
        if mirror not in MIRRORS:
            raise ValueError(f"flips.rules entry {n}: mirror must be one of {sorted(MIRRORS)}, not {mirror!r}")
        parsed.append((normalize_class(source), mirror, normalize_class(target)))
    return parsed


def flip_rows(rows: list[dict], rules: list[tuple[str, str, str]], images_dir: Path, prefix: str) -> list[dict]:
    """Every rule applied to every original of its class."""
    by_class: dict[str, list] = {}
    for source, mirror, target in rules:
        by_class.setdefault(source, []).append((mirror, target))
    out = []
    originals = [r for r in rows if r["kind"] == "original" and r["label"] in by_class]
    for row in tqdm(originals, desc="flips", unit="image", mininterval=1.0):
        image = Image.open(row["path"])
        for mirror, target in by_class[row["label"]]:
            flipped = MIRRORS[mirror](image)
            new = derived_row(row, f"flip_{mirror[0]}", "flip", f"flip_{mirror}_{row['label']}_to_{target}",
                              f"{prefix}/{row['id']}-flip_{mirror[0]}.png", flipped.size, label=target)
            flipped.save(images_dir / f"{new['id']}.png", format="PNG")
            out.append(new)
    return out
