"""Test images with a pixel-identical twin in the submission are counted, not removed."""
import numpy as np
from PIL import Image

from dcai.twins import count_twins, submission_digests


def save(path, pixels, mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).convert(mode).save(path)


def test_twins_are_counted_by_pixels_not_by_name_or_format(tmp_path):
    rng = np.random.default_rng(0)
    a, b, c = (rng.integers(0, 256, (40, 30), dtype=np.uint8) for _ in range(3))
    save(tmp_path / "sub/train/i/a.png", a)
    save(tmp_path / "sub/val/ii/b.png", b)
    save(tmp_path / "test/v/renamed.png", a, mode="RGB")  # same pixels, another name, RGB: a twin
    save(tmp_path / "test/ii/b.png", b)                     # from val: a twin too
    save(tmp_path / "test/iii/c.png", c)                    # new
    near = a.copy()
    near[0, 0] ^= 1
    save(tmp_path / "test/i/near.png", near)                # one pixel off: not identical
    assert count_twins(tmp_path / "test", submission_digests(tmp_path / "sub")) == 2
    assert count_twins(tmp_path / "test", set()) == 0
