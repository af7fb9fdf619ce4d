"""The SVHN AutoAugment policy (Cubuk et al., 2018), as data, with every operation switchable.

For each output image one sub-policy is drawn uniformly; each of its two operations is
applied with its probability; magnitudes are bins 0..9 of the ranges below, with a
random sign where the operation is signed. Geometric operations fill with white (the
numerals are dark ink on white paper) and translate relative to the image size, at the
stored resolution. Albumentations does the operations it has; Pillow does Contrast.
"""
import math
import multiprocessing
from dataclasses import dataclass
from pathlib import Path

import albumentations as A
import numpy as np
from PIL import Image, ImageEnhance
from tqdm import tqdm

from .classes import CLASS_INDEX
from .manifest import derived_row

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


def apply_operation(pixels: np.ndarray, op: str, value: float | None) -> np.ndarray:
    """One operation on an (H, W) uint8 grayscale image."""
    if op in ("ShearX", "ShearY"):
        degrees = math.degrees(math.atan(value))
        shear = {"x": (degrees, degrees), "y": (0, 0)} if op == "ShearX" else {"x": (0, 0), "y": (degrees, degrees)}
        transform = A.Affine(shear=shear, fill=WHITE, p=1.0)
    elif op in ("TranslateX", "TranslateY"):
        shift = {"x": (value, value), "y": (0, 0)} if op == "TranslateX" else {"x": (0, 0), "y": (value, value)}
        transform = A.Affine(translate_percent=shift, fill=WHITE, p=1.0)
    elif op == "Rotate":
        transform = A.Affine(rotate=(value, value), fill=WHITE, p=1.0)
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


def augment(pixels: np.ndarray, policy: list[tuple[int, list[Step]]], rng: np.random.Generator,
            ) -> tuple[np.ndarray, str]:
    """Apply one randomly drawn sub-policy; return the image and a record of what was done."""
    number, steps = policy[int(rng.integers(len(policy)))]
    done = []
    for step in steps:
        if rng.random() >= step.prob:
            continue
        value = magnitude(step.op, step.bin, 1 if rng.random() < 0.5 else -1)
        pixels = apply_operation(pixels, step.op, value)
        done.append(step.op if value is None else f"{step.op}({value:+.3g})")
    return pixels, f"autoaugment_svhn{number}:" + ("&".join(done) or "none")


_WORKER: dict = {}


def _init_worker(state: dict) -> None:
    _WORKER.update(state)


def _augment_task(task: tuple[str, int]) -> tuple[dict, bool]:
    """Make output k of a class. It depends only on (seed, class, k), whichever worker runs it."""
    label, k = task
    w = _WORKER
    sources = w["sources"][label]
    rng = np.random.default_rng([w["seed"], CLASS_INDEX[label], k])
    for _ in range(MAX_DRAWS):
        source = sources[int(rng.integers(len(sources)))]
        pixels = np.array(Image.open(source["path"]).convert("L"))  # writable: albumentations works in place
        out, record = augment(pixels, w["policy"], rng)
        if not (w["skip_unchanged"] and record.endswith(":none")):
            break
    new = derived_row(source, f"aa{k}", "augment", record, f"{w['prefix']}/{source['id']}-aa{k}.png",
                      (out.shape[1], out.shape[0]))
    Image.fromarray(out).save(Path(w["images_dir"]) / f"{new['id']}.png", format="PNG")
    return new, record.endswith(":none")


def generate_augmented(rows: list[dict], p: dict, images_dir: Path, prefix: str) -> tuple[list[dict], dict]:
    """`per_class` augmented images per class from its originals, on `workers` processes."""
    policy = active_policy(p["operations"])
    if not policy:
        raise ValueError("autoaugment.operations: every operation is off; nothing to apply")
    sources: dict[str, list[dict]] = {}
    for row in rows:
        if row["kind"] == "original":
            sources.setdefault(row["label"], []).append(row)
    tasks = [(label, k) for label in sorted(sources) for k in range(p["per_class"])]
    state = {"sources": sources, "policy": policy, "seed": p["seed"], "skip_unchanged": p["skip_unchanged"],
             "images_dir": str(images_dir), "prefix": prefix}
    if p["workers"] > 1:
        with multiprocessing.get_context("fork").Pool(p["workers"], _init_worker, (state,)) as pool:
            results = list(tqdm(pool.imap(_augment_task, tasks, chunksize=64), total=len(tasks),
                                desc="autoaugment", unit="image", mininterval=1.0))
    else:
        _init_worker(state)
        results = [_augment_task(t) for t in tqdm(tasks, desc="autoaugment", unit="image", mininterval=1.0)]
    out = [r for r, _ in results]
    ops = {}
    for row in out:
        record = row["transforms"].rsplit(";", 1)[-1]
        for op in record.split(":", 1)[1].split("&"):
            name = op.split("(")[0]
            ops[name] = ops.get(name, 0) + 1
    return out, {"sub_policies": len(policy), "unchanged": sum(1 for _, u in results if u),
                 "operations_applied": dict(sorted(ops.items()))}
