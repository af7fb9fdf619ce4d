"""A seeded generator of handwritten-looking Roman numerals i..x.

It gives the pipeline data on a machine that has nothing else. Each image is drawn by a
"writer" (a style: slant, pen thickness, serif bars, lower-case letters, shakiness, ink
and paper tone), with pen strokes that wobble, on a white canvas of varied size with
light noise. A training pool and a test set made from different seeds have different
writers, as a hidden test set has.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .classes import CLASS_INDEX, CLASSES

SUPERSAMPLE = 2  # draw at twice the size, then downsample: smooth, anti-aliased strokes


@dataclass(frozen=True)
class Writer:
    slant: float          # horizontal shear of the strokes
    thickness: float      # pen width as a fraction of the numeral's height
    serif_prob: float     # chance of top and bottom bars across the numeral ("II" with serifs)
    lower_prob: float     # chance of writing i, v, x in lower case
    shakiness: float      # wobble amplitude as a fraction of the height
    glyph_width: float    # width of V and X relative to the height
    spacing: float        # gap between letters relative to the height
    ink: int              # darkest ink gray level
    paper: int            # paper gray level


def draw_writer(rng: np.random.Generator) -> Writer:
    return Writer(
        slant=float(rng.normal(0.0, 0.15)),
        thickness=float(rng.uniform(0.04, 0.13)),
        serif_prob=float(rng.choice([0.0, 0.3, 0.8])),
        lower_prob=float(rng.choice([0.0, 0.0, 0.5, 0.9])),
        shakiness=float(rng.uniform(0.002, 0.012)),
        glyph_width=float(rng.uniform(0.45, 0.75)),
        spacing=float(rng.uniform(0.08, 0.25)),
        ink=int(rng.integers(0, 80)),
        paper=int(rng.integers(240, 256)),
    )


def _glyph_strokes(letter: str, lower: bool, width: float) -> tuple[list[list[tuple]], float]:
    """Strokes of one letter in a unit-height box (y down); returns (strokes, advance)."""
    top = 0.4 if lower else 0.0
    if letter == "i":
        strokes = [[(0.0, top), (0.0, 1.0)]]
        if lower:
            strokes.append([(0.0, 0.18), (0.0, 0.2)])  # the dot
        return strokes, 0.0
    w = width * (0.75 if lower else 1.0)
    if letter == "v":
        return [[(0.0, top), (w / 2, 1.0), (w, top)]], w
    if letter == "x":
        return [[(0.0, top), (w, 1.0)], [(w, top), (0.0, 1.0)]], w
    raise ValueError(f"not a Roman numeral letter: {letter!r}")


def _numeral_strokes(numeral: str, writer: Writer, rng: np.random.Generator) -> list[np.ndarray]:
    """Strokes of the whole numeral in units of its height, before slant and wobble."""
    lower = rng.random() < writer.lower_prob
    strokes, x = [], 0.0
    for k, letter in enumerate(numeral):
        if k:
            x += writer.spacing * rng.uniform(0.7, 1.3)
        glyph, advance = _glyph_strokes(letter, lower, writer.glyph_width * rng.uniform(0.85, 1.15))
        strokes += [np.array(s, dtype=float) + [x, 0.0] for s in glyph]
        x += advance
    if not lower and rng.random() < writer.serif_prob:
        overhang = rng.uniform(0.05, 0.2)
        for y in (0.0, 1.0):
            strokes.append(np.array([(-overhang, y), (x + overhang, y)]))
    return strokes


def _wobble(stroke: np.ndarray, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    """Resample a polyline densely and add a smooth random drift, as a hand does."""
    if len(stroke) < 2 or np.allclose(stroke[0], stroke[-1]):
        return stroke
    seg = np.linalg.norm(np.diff(stroke, axis=0), axis=1)
    t = np.concatenate([[0.0], np.cumsum(seg)]) / max(seg.sum(), 1e-9)
    s = np.linspace(0.0, 1.0, 24)
    dense = np.stack([np.interp(s, t, stroke[:, 0]), np.interp(s, t, stroke[:, 1])], axis=1)
    drift = np.cumsum(rng.normal(0.0, amplitude, dense.shape), axis=0)
    drift -= np.linspace(0.0, 1.0, len(s))[:, None] * drift[-1]  # keep the end points near
    return dense + drift + rng.normal(0.0, amplitude, 2)


def render_numeral(numeral: str, writer: Writer, rng: np.random.Generator) -> Image.Image:
    """One 8-bit grayscale image of `numeral` drawn by `writer`."""
    height_px = int(rng.integers(100, 401))
    width_px = int(np.clip(height_px * rng.uniform(0.8, 1.35), 100, 400))
    strokes = _numeral_strokes(numeral, writer, rng)
    slant = writer.slant + rng.normal(0.0, 0.04)
    strokes = [np.stack([s[:, 0] + slant * (1.0 - s[:, 1]), s[:, 1]], axis=1) for s in strokes]
    strokes = [_wobble(s, writer.shakiness, rng) for s in strokes]

    pts = np.concatenate(strokes)
    extent = pts.max(axis=0) - pts.min(axis=0)
    # size the numeral to fit the canvas with a margin, at a random scale
    fit = min((width_px * 0.85) / max(extent[0], 1e-6), (height_px * 0.85) / max(extent[1], 1e-6))
    scale = fit * rng.uniform(0.45, 1.0)
    room = np.array([width_px, height_px]) - extent * scale
    offset = rng.uniform(0.1, 0.9, 2) * room - pts.min(axis=0) * scale

    s = SUPERSAMPLE
    canvas = Image.new("L", (width_px * s, height_px * s), writer.paper)
    draw = ImageDraw.Draw(canvas)
    pen = max(2, int(round(writer.thickness * scale * rng.uniform(0.8, 1.2) * s)))
    ink = int(np.clip(writer.ink + rng.integers(-15, 16), 0, 120))
    for stroke in strokes:
        xy = [tuple(p) for p in (stroke * scale + offset) * s]
        draw.line(xy, fill=ink, width=pen, joint="curve")
        for x, y in (xy[0], xy[-1]):  # round pen tips
            r = pen / 2
            draw.ellipse((x - r, y - r, x + r, y + r), fill=ink)
    image = canvas.resize((width_px, height_px), Image.Resampling.LANCZOS)

    pixels = np.asarray(image, dtype=np.float32)
    pixels = pixels + rng.normal(0.0, rng.uniform(0.0, 6.0), pixels.shape)
    for _ in range(int(rng.poisson(1.5))):  # stray specks of dirt
        y, x = rng.integers(0, height_px), rng.integers(0, width_px)
        pixels[max(0, y - 1):y + 2, max(0, x - 1):x + 2] = rng.uniform(60, 200)
    return Image.fromarray(np.clip(pixels, 0, 255).round().astype(np.uint8), mode="L")


def make_dataset(out_dir: str | Path, per_class: int, seed: int, n_writers: int) -> list[Path]:
    """Write `per_class` images of each class to `out_dir/<class>/`; return the paths.

    Image k of class c depends only on (seed, c, k), so the output is the same whatever
    the order or subset generated.
    """
    out_dir = Path(out_dir)
    writers = [draw_writer(np.random.default_rng([seed, 10_000 + w])) for w in range(n_writers)]
    paths = []
    for numeral in CLASSES:
        (out_dir / numeral).mkdir(parents=True, exist_ok=True)
        for k in range(per_class):
            rng = np.random.default_rng([seed, CLASS_INDEX[numeral], k])
            writer = writers[int(rng.integers(n_writers))]
            path = out_dir / numeral / f"{numeral}_{k:04d}.png"
            render_numeral(numeral, writer, rng).save(path, format="PNG")
            paths.append(path)
    return paths
