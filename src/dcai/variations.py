"""The variation of one hand from sheet to sheet, drawn from the originals: thicker or thinner
ink, a small rotation, slant, size and position change, a little blur, paper grain, and a
lighter or darker scan, and (when its probability is above 0) an elastic bend of the strokes
(Simard et al. 2003, the classic augmentation for handwritten digits). The SVHN policy
(autoaugment) was searched for house numbers; these are the differences between two scans of
the same writer's numerals (the competition's winner trained on such variants).

Sizes are shares of the image's smaller side, so an original of any resolution varies by
the same amount once the fixed model has resized it to 32x32. Every value is drawn from the
caller's generator and passed to albumentations as a fixed range, so an output depends only
on its seed, and the record names what was done. The geometric step is replayed on a map of
the ink, and the caller redraws when too much of it left the frame (generate.py). A stroke
change that would erase strokes (stroke_min_ink_kept) or merge them (stroke_keep_runs) is
weakened.
"""
from pathlib import Path

import albumentations as A
import cv2
import numpy as np

from .autoaugment import WHITE, ink_map
from .generate import make_from_originals
from .ink import ink_mask, ink_runs_across

STEPS = ("stroke", "blur", "noise", "tone", "elastic")  # the optional steps; the affine one always runs
# elastic's chance is drawn only when it can fire, so recipes without it keep their bytes
DRAWN_FIRST = STEPS[:4]


def check_params(p: dict) -> None:
    unknown = set(p["probability"]) - set(STEPS)
    if unknown:
        raise ValueError(f"variations.probability: unknown steps {sorted(unknown)} (known: {list(STEPS)})")
    low, high = p["scale"]
    if not 0 < low <= high:
        raise ValueError(f"variations.scale must be [low, high] with 0 < low <= high, got {p['scale']}")
    if not 0 <= p.get("stroke_min_ink_kept", 0.0) < 1:
        raise ValueError(f"variations.stroke_min_ink_kept must be in [0, 1) (a share of the ink; 0: off), "
                         f"got {p['stroke_min_ink_kept']}")
    if p.get("aspect", 0.0) < 0:
        raise ValueError(f"variations.aspect must be 0 or more (a share of the width to height ratio), "
                         f"got {p['aspect']}")


def change_stroke(pixels: np.ndarray, width: int) -> np.ndarray:
    """Dark ink on white: a minimum filter (erosion of the paper) thickens the strokes by
    `width` pixels, a maximum filter thins them by -width."""
    if width == 0:
        return pixels
    operation = "erosion" if width > 0 else "dilation"
    return A.Morphological(scale=(abs(width) + 1, abs(width) + 1), operation=operation, p=1.0)(image=pixels)["image"]


def guarded_stroke_change(pixels: np.ndarray, width: int, min_ink_kept: float, keep_runs: bool,
                          ink_threshold: int) -> tuple[np.ndarray, int]:
    """A stroke change weakened a pixel at a time while it changes the numeral: a thinning that
    leaves less than `min_ink_kept` of the ink has erased the thinnest strokes (viii reads vii),
    and with `keep_runs` a change of either sign that alters how many strokes a line across the
    ink's middle crosses has merged two strokes or erased one. Weakening, not redrawing, keeps
    every other draw of the variant as it was. Returns the changed image and the width applied."""
    changed = change_stroke(pixels, width)
    if width == 0 or (min_ink_kept <= 0 and not keep_runs):
        return changed, width
    before = ink_mask(pixels, ink_threshold)
    ink_before, runs_before = int(before.sum()), ink_runs_across(before) if keep_runs else 0

    def changes_the_numeral(changed: np.ndarray, width: int) -> bool:
        after = ink_mask(changed, ink_threshold)
        return ((width < 0 and after.sum() < min_ink_kept * ink_before)
                or (keep_runs and ink_runs_across(after) != runs_before))

    while width != 0 and changes_the_numeral(changed, width):
        width -= 1 if width > 0 else -1
        changed = change_stroke(pixels, width)
    return changed, width


def affine(pixels: np.ndarray, rotate: float, shear: float, scale: float, dx: float, dy: float,
           fill: int = WHITE, stretch: float = 1.0) -> np.ndarray:
    """`stretch` multiplies the width by sqrt(stretch) and divides the height by it: the width to
    height ratio changes by `stretch` and the area stays scale^2 (so the ink guard's sum holds)."""
    across, down = scale * stretch ** 0.5, scale / stretch ** 0.5
    transform = A.Affine(rotate=(rotate, rotate), shear={"x": (shear, shear), "y": (0, 0)},
                         scale={"x": (across, across), "y": (down, down)},
                         translate_percent={"x": (dx, dx), "y": (dy, dy)}, fill=fill, p=1.0)
    return transform(image=pixels)["image"]


def elastic_field(shape: tuple[int, int], strength: float, smoothness: float,
                  rng: np.random.Generator) -> np.ndarray:
    """A random displacement field (2, H, W), smoothed with a Gaussian of `smoothness` x the smaller
    side so that neighbouring pixels move together (a stroke bends, it does not break), and scaled
    to a root-mean-square displacement of `strength` x the smaller side. albumentations'
    ElasticTransform scales by the noise's maximum in pixels, so its bend would depend on the
    resolution; here, as for every other step, sizes are shares of the image."""
    side = min(shape)
    field = rng.standard_normal((2, *shape)).astype(np.float32)
    for component in field:
        cv2.GaussianBlur(component, (0, 0), max(1.0, smoothness * side), dst=component,
                         borderType=cv2.BORDER_REFLECT)
    rms = float(np.sqrt((field ** 2).sum(axis=0).mean()))
    return field * np.float32(strength * side / rms) if rms > 0 else field


def bend(pixels: np.ndarray, field: np.ndarray, fill: int = WHITE) -> np.ndarray:
    """Each output pixel is read from where the field points."""
    rows, cols = np.indices(pixels.shape, dtype=np.float32)
    return cv2.remap(pixels, cols + field[0], rows + field[1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=fill)


def bent_area(field: np.ndarray) -> np.ndarray:
    """How much of the source's area each output pixel reads (the map's Jacobian determinant).
    A bend squeezes some strokes and stretches others: an ink map bent and weighed by this sums
    to the ink still in the frame, so the guard counts ink lost to the frame, not ink squeezed."""
    (dx_dy, dx_dx), (dy_dy, dy_dx) = np.gradient(field[0]), np.gradient(field[1])
    return (1 + dx_dx) * (1 + dy_dy) - dx_dy * dy_dx


def vary(pixels: np.ndarray, p: dict, rng: np.random.Generator) -> tuple[np.ndarray, str, float]:
    """One variant of an (H, W) uint8 image. Returns it, a record of what was done, and the
    share of the ink (after the stroke change) that the geometric steps kept in the frame."""
    side = min(pixels.shape)
    done = []
    use = {step: rng.random() < p["probability"].get(step, 0.0) for step in DRAWN_FIRST}
    if use["stroke"]:
        most = max(1, round(p["stroke"] * side))
        drawn = int(rng.integers(1, most + 1)) * (1 if rng.random() < 0.5 else -1)
        pixels, width = guarded_stroke_change(pixels, drawn, p.get("stroke_min_ink_kept", 0.0),
                                              p.get("stroke_keep_runs", False), p["ink_threshold"])
        done.append(f"stroke({width:+d}px)" if width == drawn else f"stroke({width:+d}px<{drawn:+d})")
    rotate, shear = rng.uniform(-p["rotate"], p["rotate"]), rng.uniform(-p["shear"], p["shear"])
    scale = rng.uniform(*p["scale"])
    dx, dy = rng.uniform(-p["translate"], p["translate"], size=2)
    # drawn only when it can act, so recipes without it keep their bytes
    aspect = p.get("aspect", 0.0)
    stretch = float(np.exp(rng.uniform(-np.log1p(aspect), np.log1p(aspect)))) if aspect > 0 else 1.0
    ink = ink_map(pixels, p["ink_threshold"])
    ink_before = float(ink.sum())
    pixels = affine(pixels, rotate, shear, scale, dx, dy, stretch=stretch)
    ink = affine(ink, rotate, shear, scale, dx, dy, fill=0, stretch=stretch)
    done.append(f"affine(rot={rotate:+.1f},shear={shear:+.1f},scale={scale:.2f},dx={dx:+.2f},dy={dy:+.2f}"
                + (f",stretch={stretch:.2f})" if aspect > 0 else ")"))
    chance = p["probability"].get("elastic", 0.0)
    if chance > 0 and rng.random() < chance:
        strength = rng.uniform(0.5, 1.0) * p["elastic"]
        field = elastic_field(pixels.shape, strength, p["elastic_smoothness"], rng)
        pixels, ink = bend(pixels, field), bend(ink, field, fill=0) * bent_area(field)
        done.append(f"elastic({strength:.3f})")
    if use["blur"]:
        sigma = rng.uniform(0.25, 1.0) * p["blur"] * side
        pixels = cv2.GaussianBlur(pixels, (0, 0), sigmaX=sigma)
        done.append(f"blur({sigma:.2f}px)")
    if use["noise"]:
        std = rng.uniform(0.25, 1.0) * p["noise"] * 255
        # drawn from the caller's generator: albumentations' noise would draw from its own
        pixels = np.clip(pixels + rng.normal(0.0, std, pixels.shape), 0, 255).astype(np.uint8)
        done.append(f"noise({std:.1f})")
    if use["tone"]:
        brightness, contrast = rng.uniform(-p["tone"], p["tone"], size=2)
        pixels = A.RandomBrightnessContrast(brightness_limit=(brightness, brightness),
                                            contrast_limit=(contrast, contrast), p=1.0)(image=pixels)["image"]
        done.append(f"tone(b={brightness:+.2f},c={contrast:+.2f})")
    # scaling changes the ink's area by scale^2 without losing any of it to the frame
    kept = float(ink.sum()) / (ink_before * scale ** 2) if ink_before > 0 else 1.0
    return pixels, "variation:" + "&".join(done), kept


def _draw(pixels: np.ndarray, rng: np.random.Generator, p: dict) -> tuple[np.ndarray, str, float, bool]:
    out, record, kept = vary(pixels, p, rng)
    return out, record, kept, False


def generate_variations(rows: list[dict], p: dict, images_dir: Path, prefix: str) -> tuple[list[dict], dict]:
    """`per_class` variants per class from its originals, on `workers` processes."""
    check_params(p)
    results = make_from_originals(rows, _draw, p, per_class=p["per_class"], seed=p["seed"], kind="variation",
                                  suffix="var", images_dir=images_dir, prefix=prefix, workers=p["workers"],
                                  min_ink_kept=p["min_ink_kept"], desc="variations")
    out = [r for r, _, _ in results]
    steps = dict.fromkeys(("affine", *STEPS), 0)
    for row in out:
        for step in row["transforms"].rsplit(";", 1)[-1].split(":", 1)[1].split("&"):
            steps[step.split("(")[0]] += 1
    weakened = sum("<" in row["transforms"].rsplit(";", 1)[-1] for row in out)
    return out, {"rejected_by_ink_guard": sum(r for _, _, r in results), "steps_applied": steps,
                 "stroke_weakened": weakened}
