"""The SVHN AutoAugment policy (Cubuk et al., 2018), as data, with every operation switchable.

For each output image one sub-policy is drawn uniformly; each of its two operations is
applied with its probability; magnitudes are bins 0..9 of the ranges below, with a
random sign where the operation is signed. Geometric operations fill with white (the
numerals are dark ink on white paper) and translate relative to the image size, at the
stored resolution. Albumentations does the operations it has; Pillow does Contrast.

A guard like five-crop's: a shear, rotation or translation that pushes part of the
numeral out of the frame can change its class (an X cut in half reads as V). The
geometric operations are replayed on a map of the original's ink (paper 0, fill 0);
a draw that keeps less than `min_ink_kept` of the ink mass is redrawn.
"""
import math
from dataclasses import dataclass
from pathlib import Path

import albumentations as A
import numpy as np
from PIL import Image, ImageEnhance

from .generate import make_from_originals

WHITE = 255
MAX_BIN = 9
MAX_DRAWS = 100  # redraws allowed when skip_unchanged and the drawn operations all missed

# (operation, probability, magnitude bin or None), two per sub-policy: torchvision's AutoAugmentPolicy.SVHN
SVHN_POLICY = (
    (("ShearX", 0.9, 4), ("Invert", 0.2, None)),
    (("ShearY", 0.9, 8), ("Invert", 0.7, None)),
    (("Equalize", 0.6, None), ("Solarize", 0.6, 6)),
    (("Invert", 0.9, None), ("Equalize", 0.6, None)),
    (("Equalize", 0.6, None), ("Rotate", 0.9, 3)),
    (("ShearX", 0.9, 4), ("AutoContrast", 0.8, None)),
    (("ShearY", 0.9, 8), ("Invert", 0.4, None)),
    (("ShearY", 0.9, 5), ("Solarize", 0.2, 6)),
    (("Invert", 0.9, None), ("AutoContrast", 0.8, None)),
    (("Equalize", 0.6, None), ("Rotate", 0.9, 3)),
    (("ShearX", 0.9, 4), ("Solarize", 0.3, 3)),
    (("ShearY", 0.8, 8), ("Invert", 0.7, None)),
    (("Equalize", 0.9, None), ("TranslateY", 0.6, 6)),
    (("Invert", 0.9, None), ("Equalize", 0.6, None)),
    (("Contrast", 0.3, 3), ("Rotate", 0.8, 4)),
    (("Invert", 0.8, None), ("TranslateY", 0.0, 2)),
    (("ShearY", 0.7, 6), ("Solarize", 0.4, 8)),
    (("Invert", 0.6, None), ("Rotate", 0.8, 4)),
    (("ShearY", 0.3, 7), ("TranslateX", 0.9, 3)),
    (("ShearX", 0.1, 6), ("Invert", 0.6, None)),
    (("Solarize", 0.7, 2), ("TranslateY", 0.6, 7)),
    (("ShearY", 0.8, 4), ("Invert", 0.8, None)),
    (("ShearX", 0.7, 9), ("TranslateY", 0.8, 3)),
    (("ShearY", 0.8, 5), ("AutoContrast", 0.7, None)),
    (("ShearX", 0.7, 2), ("Invert", 0.1, None)),
)

# magnitude at bin 9, and whether a random sign applies
RANGES = {
    "ShearX": (0.3, True), "ShearY": (0.3, True),
    "TranslateX": (150 / 331, True), "TranslateY": (150 / 331, True),
    "Rotate": (30.0, True), "Contrast": (0.9, True), "Solarize": (255.0, False),
}
GEOMETRIC = ("ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate")
OPERATIONS = ("ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Contrast", "Solarize",
              "Equalize", "Invert", "AutoContrast")


@dataclass(frozen=True)
class Step:
    op: str
    prob: float
    bin: int | None


def active_policy(enabled: dict[str, bool]) -> list[tuple[int, list[Step]]]:
    """(1-based sub-policy number, its enabled steps); sub-policies left empty are dropped."""
    unknown = set(enabled) - set(OPERATIONS)
    if unknown:
        raise ValueError(f"autoaugment.operations: unknown operations {sorted(unknown)}")
    policy = []
    for number, sub in enumerate(SVHN_POLICY, start=1):
        steps = [Step(*s) for s in sub if enabled.get(s[0], True)]
        if steps:
            policy.append((number, steps))
    return policy


def magnitude(op: str, bin_: int | None, sign: int) -> float | None:
    if op not in RANGES:
        return None
    top, signed = RANGES[op]
    value = top * bin_ / MAX_BIN
    return sign * value if signed else value


def apply_operation(pixels: np.ndarray, op: str, value: float | None, fill: int = WHITE) -> np.ndarray:
    """One operation on an (H, W) uint8 grayscale image; `fill` is what comes in at the edges."""
    if op in ("ShearX", "ShearY"):
        degrees = math.degrees(math.atan(value))
        shear = {"x": (degrees, degrees), "y": (0, 0)} if op == "ShearX" else {"x": (0, 0), "y": (degrees, degrees)}
        transform = A.Affine(shear=shear, fill=fill, p=1.0)
    elif op in ("TranslateX", "TranslateY"):
        shift = {"x": (value, value), "y": (0, 0)} if op == "TranslateX" else {"x": (0, 0), "y": (value, value)}
        transform = A.Affine(translate_percent=shift, fill=fill, p=1.0)
    elif op == "Rotate":
        transform = A.Affine(rotate=(value, value), fill=fill, p=1.0)
    elif op == "Solarize":
        transform = A.Solarize(threshold_range=(value / 255, value / 255), p=1.0)
    elif op == "Equalize":
        transform = A.Equalize(p=1.0)
    elif op == "AutoContrast":
        transform = A.AutoContrast(p=1.0)
    elif op == "Invert":
        transform = A.InvertImg(p=1.0)
    elif op == "Contrast":
        return np.array(ImageEnhance.Contrast(Image.fromarray(pixels)).enhance(1.0 + value))
    else:
        raise ValueError(f"unknown operation {op!r}")
    return transform(image=pixels)["image"]


def ink_map(pixels: np.ndarray, ink_threshold: int) -> np.ndarray:
    """How much darker than `ink_threshold` each pixel is: 0 on paper, so the edges' fill adds nothing."""
    return np.clip(ink_threshold - pixels.astype(np.int16), 0, 255).astype(np.uint8)


def augment(pixels: np.ndarray, policy: list[tuple[int, list[Step]]], rng: np.random.Generator,
            ink_threshold: int = 128) -> tuple[np.ndarray, str, float]:
    """Apply one randomly drawn sub-policy.

    Returns the image, a record of what was done, and the share of the original's ink
    mass that the geometric operations kept inside the frame (1.0 when none ran).
    """
    number, steps = policy[int(rng.integers(len(policy)))]
    done = []
    ink = ink_map(pixels, ink_threshold)
    ink_before = float(ink.sum())
    for step in steps:
        if rng.random() >= step.prob:
            continue
        value = magnitude(step.op, step.bin, 1 if rng.random() < 0.5 else -1)
        pixels = apply_operation(pixels, step.op, value)
        if step.op in GEOMETRIC:
            ink = apply_operation(ink, step.op, value, fill=0)
        done.append(step.op if value is None else f"{step.op}({value:+.3g})")
    kept = float(ink.sum()) / ink_before if ink_before > 0 else 1.0
    return pixels, f"autoaugment_svhn{number}:" + ("&".join(done) or "none"), kept


def _svhn_draw(pixels: np.ndarray, rng: np.random.Generator, settings: dict) -> tuple[np.ndarray, str, float, bool]:
    out, record, kept = augment(pixels, settings["policy"], rng, settings["ink_threshold"])
    return out, record, kept, record.endswith(":none")


def generate_augmented(rows: list[dict], p: dict, images_dir: Path, prefix: str) -> tuple[list[dict], dict]:
    """`per_class` augmented images per class from its originals, on `workers` processes."""
    policy = active_policy(p["operations"])
    if not policy:
        raise ValueError("autoaugment.operations: every operation is off; nothing to apply")
    results = make_from_originals(rows, _svhn_draw, {"policy": policy, "ink_threshold": p["ink_threshold"]},
                                  per_class=p["per_class"], seed=p["seed"], kind="augment", suffix="aa",
                                  images_dir=images_dir, prefix=prefix, workers=p["workers"],
                                  min_ink_kept=p["min_ink_kept"], skip_unchanged=p["skip_unchanged"],
                                  max_draws=MAX_DRAWS, desc="autoaugment")
    out = [r for r, _, _ in results]
    ops = {}
    for row in out:
        record = row["transforms"].rsplit(";", 1)[-1]
        for op in record.split(":", 1)[1].split("&"):
            name = op.split("(")[0]
            ops[name] = ops.get(name, 0) + 1
    return out, {"sub_policies": len(policy), "unchanged": sum(1 for _, u, _ in results if u),
                 "rejected_by_ink_guard": sum(r for _, _, r in results),
                 "operations_applied": dict(sorted(ops.items()))}
