"""Images made from a class's originals, in worker processes, for the generating stages
(autoaugment, variations).

Output k of a class depends only on (seed, class, k), whichever worker makes it, so a run
gives the same bytes on any number of workers. Each output is drawn by a stage's `draw`
function; a draw that pushed too much of the numeral's ink out of the frame is redrawn
(a half-cut X reads as V), and after `max_draws` the draw that kept most ink is used.
"""
import multiprocessing
import sys
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image
from tqdm import tqdm

from .atomic import atomic_dir, write_json
from .classes import CLASS_INDEX
from .manifest import count_by, derived_row, read_manifest, write_manifest
from .review import samples_by_class

# draw(pixels, rng, settings) -> (image, record of what was done, share of ink kept, whether nothing changed)
Draw = Callable[[np.ndarray, np.random.Generator, dict], tuple[np.ndarray, str, float, bool]]

_WORKER: dict = {}


def _init_worker(state: dict) -> None:
    _WORKER.update(state)


def _make_one(task: tuple[str, int]) -> tuple[dict, bool, int]:
    """Output k of a class. Returns its row, whether no operation fired, and how many draws
    the ink guard rejected."""
    label, k = task
    w = _WORKER
    sources = w["sources"][label]
    rng = np.random.default_rng([w["seed"], CLASS_INDEX[label], k])
    rejected = 0
    best = None
    for _ in range(w["max_draws"]):
        source = sources[int(rng.integers(len(sources)))]
        pixels = np.array(Image.open(source["path"]).convert("L"))  # writable: albumentations works in place
        out, record, kept, unchanged = w["draw"](pixels, rng, w["settings"])
        if w["skip_unchanged"] and unchanged:
            continue
        if kept < w["min_ink_kept"]:
            rejected += 1
            if best is None or kept > best[3]:
                best = (source, out, record, kept, unchanged)
            continue
        best = (source, out, record, kept, unchanged)
        break
    source, out, record, kept, unchanged = best if best is not None else (source, out, record, kept, unchanged)
    suffix = f"{w['suffix']}{k}"
    new = derived_row(source, suffix, w["kind"], record, f"{w['prefix']}/{source['id']}-{suffix}.png",
                      (out.shape[1], out.shape[0]))
    Image.fromarray(out).save(Path(w["images_dir"]) / f"{new['id']}.png", format="PNG")
    return new, unchanged, rejected


def make_from_originals(rows: list[dict], draw: Draw, settings: dict, *, per_class: int, seed: int, kind: str,
                        suffix: str, images_dir: Path, prefix: str, workers: int, min_ink_kept: float,
                        skip_unchanged: bool = False, max_draws: int = 100,
                        desc: str = "") -> list[tuple[dict, bool, int]]:
    """`per_class` images per class, each drawn from one of the class's originals.
    Returns (row, unchanged, rejected draws) per image, classes in name order."""
    sources: dict[str, list[dict]] = {}
    for row in rows:
        if row["kind"] == "original":
            sources.setdefault(row["label"], []).append(row)
    tasks = [(label, k) for label in sorted(sources) for k in range(per_class)]
    state = {"sources": sources, "draw": draw, "settings": settings, "seed": seed, "kind": kind, "suffix": suffix,
             "images_dir": str(images_dir), "prefix": prefix, "min_ink_kept": min_ink_kept,
             "skip_unchanged": skip_unchanged, "max_draws": max_draws}
    if workers > 1:
        # spawn, not fork: a fork of a process whose threads (TensorFlow's, OpenCV's) hold a lock
        # can deadlock the child; it hung a test run that had trained a model before this stage
        with multiprocessing.get_context("spawn").Pool(workers, _init_worker, (state,)) as pool:
            return list(tqdm(pool.imap(_make_one, tasks, chunksize=64), total=len(tasks), desc=desc or kind,
                             unit="image", mininterval=1.0))
    _init_worker(state)
    return [_make_one(t) for t in tqdm(tasks, desc=desc or kind, unit="image", mininterval=1.0)]


def run_generating_stage(stage: str, generate: Callable, params: dict, source: Path, out: Path, samples: Path,
                         samples_per_class: int = 12) -> int:
    """A generating stage end to end: read the filtered originals from `source`, write the images
    and their manifest to `out` atomically, a seeded sample sheet and metrics/<stage>.json.
    `generate(rows, params, images_dir, prefix)` returns (rows, counts)."""
    rows = read_manifest(source)
    try:
        with atomic_dir(out) as tmp:
            (tmp / "images").mkdir()
            made, counts = generate(rows, params, tmp / "images", f"{out.as_posix()}/images")
            write_manifest(tmp / "manifest.csv", made)
    except ValueError as err:
        print(f"{stage}: {err}", file=sys.stderr)
        return 1
    samples.parent.mkdir(parents=True, exist_ok=True)
    samples_by_class(made, samples_per_class, params["seed"]).save(samples)
    write_json(f"metrics/{stage}.json", {**counts, "images_out": len(made), "per_class": count_by(made, "label")})
    print(f"{stage}: {len(made)} images; samples in {samples}")
    return 0
