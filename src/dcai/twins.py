"""Test images whose pixels are also in the training data.

The competition's own test set shares 95 images with the data it handed out: a score
on such a set is partly memory. train_score reports, per test set, how many of its
images have a pixel-identical twin in the submission, so the overlap is visible
rather than fixed (removing it would change the test).
"""
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from .images import list_class_folder
from .ingest import pixel_hash


def grayscale_digest(path: str | Path) -> str | None:
    """The ingest stage's pixel hash of the image as 8-bit grayscale; None if it cannot be decoded."""
    try:
        with Image.open(path) as image:
            return pixel_hash(image.convert("L"))
    except (OSError, UnidentifiedImageError):
        return None


def count_twins(test_folder: str | Path, training_digests: set[str]) -> int:
    """How many images of a class-folder test set are pixel-identical to a training image."""
    paths, _ = list_class_folder(test_folder)
    return sum(1 for p in paths if grayscale_digest(p) in training_digests)


def submission_digests(submission: str | Path) -> set[str]:
    """Pixel hashes of every image in submission/train and submission/val."""
    digests = set()
    for part in ("train", "val"):
        paths, _ = list_class_folder(Path(submission) / part)
        digests.update(d for d in map(grayscale_digest, paths) if d)
    return digests
