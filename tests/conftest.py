import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
DCAI2021 = SHARED_DATA / "dcai2021"



@pytest.fixture
def shared_data():
    """Real-data tests skip, with the reason shown, on a machine without ../shared; in CI,
    where ../shared is always beside the checkout, its absence is a failure, not a skip."""
    if not (DCAI2021 / "train").is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true, but {DCAI2021} is missing: the real-data tests must run in CI")
        pytest.skip(f"{DCAI2021} is not present (real-data tests need the competition's data)")


def needs_dcai2021(test):
    """Mark a test as needing ../shared/data/dcai2021: `pytest -m real_data` selects these."""
    return pytest.mark.real_data(pytest.mark.usefixtures("shared_data")(test))


def numeral_image(width=120, height=100, strokes=2, ink=0, paper=255) -> Image.Image:
    """A crude numeral: `strokes` vertical bars of ink on paper."""
    pixels = np.full((height, width), paper, np.uint8)
    for k in range(strokes):
        x = width // 4 + k * width // (2 * max(strokes, 1))
        pixels[height // 5: 4 * height // 5, x: x + max(2, width // 30)] = ink
    return Image.fromarray(pixels, mode="L")


@pytest.fixture
def make_class_tree(tmp_path):
    """Write a small <root>/<class>/*.png tree; returns its root."""
    def make(root_name="src", per_class=3, classes=("i", "ii", "iii"), size=(60, 50)):
        root = tmp_path / root_name
        for c, name in enumerate(classes):
            (root / name).mkdir(parents=True, exist_ok=True)
            for k in range(per_class):
                numeral_image(*size, strokes=c + 1, ink=k * 10).save(root / name / f"{name}_{k}.png")
        return root
    return make


def competition_rows() -> list[dict]:
    """id and original_path of every usable competition image, as ingest names them."""
    from dcai.ingest import find_candidates, image_id, parse_sources

    source = parse_sources([str(DCAI2021)])[0]
    rows = []
    for c in find_candidates(source):
        if not c.skip_reason:
            rel = c.path.relative_to(source.root).as_posix()
            rows.append({"id": image_id(source.name, rel), "original_path": f"{source.root.as_posix()}/{rel}"})
    return rows
