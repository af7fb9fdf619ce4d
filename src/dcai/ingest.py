"""Ingest: read source folders of labelled images into one normalized pool.

A source is `<root>/<class>/...` or the competition's `<root>/train/<class>/...` +
`<root>/val/<class>/...`. Every file is decoded with Pillow and stored as an 8-bit
grayscale PNG; anything that cannot be used is skipped with a reason, never dropped
silently and never allowed to crash the run.
"""
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from tqdm import tqdm

from .classes import CLASSES, normalize_class

SPLIT_FOLDERS = ("train", "val")
EXIF_ORIENTATION = 0x0112
SYSTEM_FILES = {".ds_store", "thumbs.db", "desktop.ini"}


# What a source is decides how it is used: balance ranks and budgets by role, and
# training on a `label_book` source makes the label book's score no longer a test.
ROLES = ("competition", "handwritten", "synthetic", "label_book")


@dataclass(frozen=True)
class Source:
    name: str
    root: Path
    role: str = "competition"


@dataclass(frozen=True)
class Candidate:
    """A file found in a source, with what its location says about it."""
    source: Source
    path: Path
    label: str | None
    original_split: str
    skip_reason: str | None = None


class SkipImage(Exception):
    """An input file that cannot be used; the message says why."""


def parse_sources(entries: list) -> list[Source]:
    """`ingest.sources` entries are paths or {path, name, role} mappings; names must be unique."""
    sources = []
    for entry in entries:
        role = ROLES[0]
        if isinstance(entry, str):
            root = Path(entry)
            name = root.name
        elif isinstance(entry, dict) and "path" in entry:
            root = Path(entry["path"])
            name = str(entry.get("name") or root.name)
            role = str(entry.get("role") or role)
            if role not in ROLES:
                raise ValueError(f"ingest.sources: source {root}: role {role!r} is not one of {', '.join(ROLES)}")
        else:
            raise ValueError(f"ingest.sources: entry {entry!r} is neither a path nor a mapping with 'path'")
        if root.is_file():
            raise ValueError(f"ingest.sources: source {root} is a file, not a folder of <class>/ images")
        if not root.is_dir():
            raise ValueError(f"ingest.sources: source folder {root} does not exist")
        sources.append(Source(name, root, role))
    names = [s.name for s in sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"ingest.sources: two sources are named {dupes}; give them distinct 'name's")
    return sources


def walk_files(folder: Path, loops: list | None = None):
    """Files under `folder`, in a stable order. Linked folders are followed (their images are
    data too); a link back to a folder already walked is a loop, noted in `loops`, not followed."""
    visited = set()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        visited.add(os.path.realpath(dirpath))
        keep = []
        for d in sorted(dirnames):
            if os.path.realpath(os.path.join(dirpath, d)) in visited:
                if loops is not None:
                    loops.append(Path(dirpath) / d)
            else:
                keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            yield Path(dirpath) / name


def through_link(path: Path, root: Path) -> str:
    """The first symlinked folder between `root` and `path`, relative to root; '' if none."""
    current = root
    for part in path.relative_to(root).parts[:-1]:
        current = current / part
        if current.is_symlink():
            return current.relative_to(root).as_posix()
    return ""


def display_path(path: str) -> str:
    """A file name that is not valid UTF-8 (an old archive's latin-1, say), shown with
    backslash escapes so reports and manifests stay UTF-8: caf\\xe9.png."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _class_folder_candidates(source: Source, folder: Path, original_split: str):
    for entry in sorted(folder.iterdir()):
        if entry.is_file():
            yield Candidate(source, entry, None, original_split, _stray_file_reason(entry))
            continue
        label = normalize_class(entry.name)
        loops: list[Path] = []
        for path in walk_files(entry, loops):
            if _is_system_file(path):
                yield Candidate(source, path, label, original_split, "hidden or system file")
            elif label is None:
                yield Candidate(source, path, None, original_split,
                                f"unknown class folder '{entry.name}' (expected one of {', '.join(CLASSES)})")
            else:
                yield Candidate(source, path, label, original_split)
        for link in loops:
            yield Candidate(source, link, label, original_split, "a link back to a folder already read (a loop)")


def _is_system_file(path: Path) -> bool:
    return path.name.startswith(".") or path.name.lower() in SYSTEM_FILES


def _stray_file_reason(path: Path) -> str:
    """Why a file lying outside any class folder is skipped."""
    return "hidden or system file" if _is_system_file(path) else "not inside a class folder"


def find_candidates(source: Source):
    """Every file under a source, in a stable order, with its class and original split."""
    subdirs = {p.name.lower(): p for p in source.root.iterdir() if p.is_dir()}
    if any(s in subdirs for s in SPLIT_FOLDERS):
        for entry in sorted(source.root.iterdir()):
            split = entry.name.lower()
            if entry.is_dir() and split in SPLIT_FOLDERS:
                yield from _class_folder_candidates(source, entry, split)
            elif entry.is_file():
                yield Candidate(source, entry, None, "", _stray_file_reason(entry))
    else:
        yield from _class_folder_candidates(source, source.root, "")


def ignored_folders(source: Source) -> dict[str, int]:
    """Folders beside train/ and val/ in a train/val source (e.g. label_book/): not part of
    the source, reported with their file counts so that nothing goes unnoticed."""
    entries = [p for p in source.root.iterdir() if p.is_dir()]
    if not any(p.name.lower() in SPLIT_FOLDERS for p in entries):
        return {}
    return {f"{source.name}/{p.name}": sum(1 for _ in walk_files(p))
            for p in sorted(entries) if p.name.lower() not in SPLIT_FOLDERS}


def normalize_image(data: bytes, max_pixels: int, max_side: int) -> tuple[Image.Image, list[str]]:
    """Decode image bytes into an 8-bit grayscale image; return it and what was done.

    Raises SkipImage with a reason for empty, undecodable, truncated or oversized input.
    """
    if not data:
        raise SkipImage("empty file (0 bytes)")
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise SkipImage("not an image Pillow can decode") from None
    except Image.DecompressionBombError as err:
        raise SkipImage(f"too large: {err}") from None
    except (OSError, ValueError) as err:
        raise SkipImage(f"unreadable image header: {err}") from None
    width, height = image.size
    if width * height > max_pixels:
        raise SkipImage(f"too large: {width}x{height} pixels exceeds ingest.max_pixels={max_pixels}")
    transforms = []
    try:
        frames = getattr(image, "n_frames", 1)
        image.seek(0)  # the first frame of an animation, as TensorFlow's loader takes
        image.load()
        if frames > 1:
            transforms.append(f"first_of_{frames}_frames")
        if image.getexif().get(EXIF_ORIENTATION, 1) != 1:
            image = ImageOps.exif_transpose(image)
            transforms.append("exif_orientation")
        image = _to_grayscale(image, transforms)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise SkipImage(f"corrupt or truncated image: {err}") from None
    if max(image.size) > max_side:
        image = image.copy()
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        transforms.append(f"downscale_{width}x{height}_to_{image.size[0]}x{image.size[1]}")
    return image, transforms


def _to_grayscale(image: Image.Image, transforms: list[str]) -> Image.Image:
    if image.mode == "F":
        # float pixels have no fixed white: the image's own range is black to white
        pixels = np.asarray(image, dtype=np.float64)
        low, high = float(np.nanmin(pixels)), float(np.nanmax(pixels))
        scaled = (np.nan_to_num(pixels, nan=high) - low) * 255.0 / (high - low) if high > low else np.full_like(pixels, 255)
        transforms.append(f"float_range_{low:.4g}_{high:.4g}_to_8bit")
        return Image.fromarray(np.clip(scaled, 0, 255).round().astype(np.uint8), mode="L")
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # scanners write 10-, 12- or 14-bit values into 16-bit files: scale by the bits used
        pixels = np.asarray(image, dtype=np.float64)
        bits = max(8, int(max(pixels.max(), 1)).bit_length())
        transforms.append(f"{bits}bit_to_8bit")
        return Image.fromarray(np.clip(pixels * 255.0 / (2 ** bits - 1), 0, 255).round().astype(np.uint8), mode="L")
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if has_alpha:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        transforms.append("alpha_on_white")
        return Image.alpha_composite(white, rgba).convert("L")
    if image.mode != "L":
        transforms.append(f"{image.mode}_to_L")
        return image.convert("L")
    return image


def pixel_hash(image: Image.Image) -> str:
    digest = hashlib.sha256(f"{image.mode}{image.size}".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()[:16]


def image_id(source_name: str, relpath: str) -> str:
    """Stable across runs and machines: a function of where the file sits in its source
    (of the name's raw bytes, so a name that is not valid UTF-8 has an id too)."""
    return hashlib.sha1(f"{source_name}/{relpath}".encode("utf-8", "surrogateescape")).hexdigest()[:12]


def ingest_sources(sources: list[Source], images_dir: Path, max_pixels: int, max_side: int,
                   path_prefix: str) -> tuple[list[dict], list[dict]]:
    """Normalize every usable file into `images_dir`; return (manifest rows, skipped rows).

    `path_prefix` is where `images_dir` will live once the stage's output is in place,
    so the manifest points at the final location.
    """
    candidates = [c for s in sources for c in find_candidates(s)]
    rows, skipped = [], []
    seen_ids = set()
    for cand in tqdm(candidates, desc="ingest", unit="file", mininterval=1.0):
        relpath = cand.path.relative_to(cand.source.root).as_posix()
        original = display_path(f"{cand.source.root.as_posix()}/{relpath}")
        if cand.skip_reason:
            skipped.append({"source": cand.source.name, "original_path": original, "reason": cand.skip_reason})
            continue
        try:
            image, transforms = normalize_image(cand.path.read_bytes(), max_pixels, max_side)
        except SkipImage as err:
            skipped.append({"source": cand.source.name, "original_path": original, "reason": str(err)})
            continue
        except OSError as err:
            skipped.append({"source": cand.source.name, "original_path": original,
                            "reason": f"cannot read file: {err.strerror or err}"})
            continue
        uid = image_id(cand.source.name, relpath)
        if uid in seen_ids:  # only if two entries point at the same folder
            skipped.append({"source": cand.source.name, "original_path": original,
                            "reason": "listed twice (same source and path)"})
            continue
        seen_ids.add(uid)
        link = through_link(cand.path, cand.source.root)
        if link:  # said in the manifest, so it is never a mystery where an image came from
            transforms.insert(0, f"via_link:{display_path(link)}")
        if display_path(relpath) != relpath:
            transforms.insert(0, "name_not_utf8")
        image.save(images_dir / f"{uid}.png", format="PNG")
        rows.append({
            "id": uid, "origin_id": uid, "label": cand.label,
            "path": f"{path_prefix}/{uid}.png", "kind": "original", "transforms": ";".join(transforms),
            "source": cand.source.name, "role": cand.source.role, "original_path": original,
            "original_split": cand.original_split,
            "pixel_hash": pixel_hash(image), "width": image.size[0], "height": image.size[1],
        })
    return rows, skipped
