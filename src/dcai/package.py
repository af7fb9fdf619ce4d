"""Package: the split manifest -> the competition's submission layout, checked.

`<out>/train/<class>/*.png` and `<out>/val/<class>/*.png`, folder names i..x, and a zip
of the same. The checks are those the competition's scorer applies: the batch-counted
size rule, and every file decodes with TensorFlow's own decoder.
"""
import os
import shutil
import zipfile
from pathlib import Path

from tqdm import tqdm

from .budget import batches, counted_size
from .classes import CLASSES

ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same files give the same zip bytes


class SubmissionError(ValueError):
    pass


def check_counts(n_train: int, n_val: int, max_images: int, batch_size: int) -> None:
    if n_train == 0 or n_val == 0:
        raise SubmissionError(f"the submission needs images in both train and val (train={n_train}, val={n_val})")
    size = counted_size(n_train, n_val, batch_size)
    if size > max_images:
        raise SubmissionError(
            f"too many images: train {n_train} + val {n_val} fill "
            f"{batches(n_train, batch_size)} + {batches(n_val, batch_size)} batches of {batch_size} "
            f"= {size} slots > {max_images} allowed (the scorer counts in batches)")


def write_submission(rows: list[dict], out_dir: Path) -> None:
    for split in ("train", "val"):
        for name in CLASSES:
            (out_dir / split / name).mkdir(parents=True, exist_ok=True)
    for row in tqdm(rows, desc="package", unit="image", mininterval=1.0):
        if row["label"] not in CLASSES:
            raise SubmissionError(f"image {row['id']} has label {row['label']!r}, not one of {CLASSES}")
        shutil.copyfile(row["path"], out_dir / row["split"] / row["label"] / f"{row['id']}.png")


def check_decodes(out_dir: Path) -> None:
    """Every file must decode with TensorFlow's decoder, as the scorer will decode it."""
    import tensorflow as tf

    bad = []
    for path in sorted(out_dir.rglob("*.png")):
        try:
            tf.io.decode_image(tf.io.read_file(str(path)), channels=3, expand_animations=False)
        except tf.errors.OpError as err:
            bad.append(f"{path}: {err.message}")
    if bad:
        raise SubmissionError("files TensorFlow cannot decode:\n  " + "\n  ".join(bad))


def make_zip(out_dir: Path, zip_path: Path) -> None:
    tmp = zip_path.with_name(f".{zip_path.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(out_dir.rglob("*")):
            rel = path.relative_to(out_dir)
            if rel.parts[0] not in ("train", "val"):
                continue
            info = zipfile.ZipInfo(rel.as_posix() + ("/" if path.is_dir() else ""), date_time=ZIP_DATE)
            if path.is_dir():
                zf.writestr(info, b"")
            else:
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
    os.replace(tmp, zip_path)
