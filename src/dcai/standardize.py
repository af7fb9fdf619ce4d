"""Standardize: very wide or tall images become squares; crop-to-ink variants.

The seed's team cut images whose aspect ratio exceeded 1.75 to a square of their
smaller side. Trimming every image to its ink moves the training data away from what
the model is tested on (measured: 0.70 vs 0.82), so trimmed copies are by default
added beside the originals, not put in their place.
"""
from pathlib import Path

from PIL import Image, ImageOps
from tqdm import tqdm

from .ingest import pixel_hash
from .ink import ink_bbox, ink_centroid, ink_mask
from .manifest import derived_row

WHITE = 255
TRIM_MODES = ("off", "variants", "replace")
# keep: wide images stay as they are, as the test's loader squashes them to 32x32
ASPECT_MODES = ("crop", "pad", "keep")


def aspect_ratio(size: tuple[int, int]) -> float:
    w, h = size
    return max(w, h) / max(1, min(w, h))


def _window_start(length: int, side: int, centre: float | None, span: tuple[int, int] | None) -> int:
    """Start of a `side`-long window on an axis of `length`: around the ink's centre of
    mass, shifted so the ink's whole span fits where it can."""
    start = (length - side) / 2 if centre is None else centre - side / 2
    if span is not None and span[1] - span[0] <= side:
        start = min(max(start, span[1] - side), span[0])
    return int(round(min(max(start, 0), length - side)))


def ink_fits_a_square(size: tuple[int, int], mask) -> bool:
    """Does the ink's extent along the long side fit in a square of the short side?"""
    bbox = ink_bbox(mask)
    if bbox is None:
        return True
    w, h = size
    extent = bbox[2] - bbox[0] if w >= h else bbox[3] - bbox[1]
    return extent <= min(w, h)


def square_crop_around_ink(image: Image.Image, mask) -> Image.Image:
    w, h = image.size
    side = min(w, h)
    centroid, bbox = ink_centroid(mask), ink_bbox(mask)
    if w >= h:
        x = _window_start(w, side, centroid and centroid[0], bbox and (bbox[0], bbox[2]))
        return image.crop((x, 0, x + side, side))
    y = _window_start(h, side, centroid and centroid[1], bbox and (bbox[1], bbox[3]))
    return image.crop((0, y, side, y + side))


def pad_to_square(image: Image.Image) -> Image.Image:
    w, h = image.size
    side = max(w, h)
    return ImageOps.pad(image, (side, side), color=WHITE, centering=(0.5, 0.5))


def standardize_aspect(image: Image.Image, mask, max_aspect: float, mode: str) -> tuple[Image.Image, str | None]:
    """Return (image, transform name or None when unchanged)."""
    if mode not in ASPECT_MODES:
        raise ValueError(f"standardize.mode must be one of {ASPECT_MODES}, not {mode!r}")
    if mode == "keep" or aspect_ratio(image.size) <= max_aspect:
        return image, None
    if mode == "crop":
        if ink_fits_a_square(image.size, mask):
            return square_crop_around_ink(image, mask), "aspect_crop"
        # a crop would cut strokes (VIII becoming VII): pad instead, the numeral stays whole
        return pad_to_square(image), "aspect_pad_to_keep_ink"
    return pad_to_square(image), "aspect_pad"


def trim_to_ink(image: Image.Image, mask, margin: float) -> Image.Image | None:
    """The ink's bounding box plus `margin` of its larger side, padded white to a square."""
    bbox = ink_bbox(mask)
    if bbox is None:
        return None
    left, top, right, bottom = bbox
    pad = int(round(margin * max(right - left, bottom - top)))
    side = max(right - left, bottom - top) + 2 * pad
    square = Image.new("L", (side, side), WHITE)
    square.paste(image.crop(bbox), ((side - (right - left)) // 2, (side - (bottom - top)) // 2))
    return square


def _replaced(row: dict, image: Image.Image, transform: str, images_dir: Path, prefix: str) -> dict:
    image.save(images_dir / f"{row['id']}.png", format="PNG")
    return {**row, "path": f"{prefix}/{row['id']}.png", "pixel_hash": pixel_hash(image),
            "width": image.size[0], "height": image.size[1],
            "transforms": ";".join(t for t in (row["transforms"], transform) if t)}


def standardize_rows(rows: list[dict], p: dict, images_dir: Path, prefix: str) -> tuple[list, list, list]:
    """Apply the aspect rule and trimming; return (rows out, rows squared, rows trimmed).

    Images are written to `images_dir` (to be found at `prefix`) only when they change.
    """
    if p["trim"] not in TRIM_MODES:
        raise ValueError(f"standardize.trim must be one of {TRIM_MODES}, not {p['trim']!r}")
    out, changed, trimmed = [], [], []
    for row in tqdm(rows, desc="standardize", unit="image", mininterval=1.0):
        image = Image.open(row["path"])
        image.load()
        mask = ink_mask(image, p["ink_threshold"])
        image, transform = standardize_aspect(image, mask, p["max_aspect"], p["mode"])
        if transform:
            row = _replaced(row, image, transform, images_dir, prefix)
            changed.append(row)
            mask = ink_mask(image, p["ink_threshold"])  # the ink of the squared image
        trim = trim_to_ink(image, mask, p["trim_margin"]) if p["trim"] != "off" else None
        if trim is None:
            out.append(row)
        elif p["trim"] == "replace":
            row = _replaced(row, trim, "trim_to_ink", images_dir, prefix)
            out.append(row)
            trimmed.append(row)
        else:
            variant = derived_row(row, "trim", "trim", "trim_to_ink", f"{prefix}/{row['id']}-trim.png", trim.size)
            trim.save(images_dir / f"{variant['id']}.png", format="PNG")
            out += [row, variant]
            trimmed.append(row)
    return out, changed, trimmed
