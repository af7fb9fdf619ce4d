import numpy as np
from PIL import Image

from dcai.classes import CLASSES
from dcai.synth import draw_writer, make_dataset, render_numeral


def test_every_class_is_made_with_varied_canvas_sizes(tmp_path):
    paths = make_dataset(tmp_path, per_class=3, seed=11, n_writers=4)
    assert len(paths) == 30
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(CLASSES)
    sizes = set()
    for path in paths:
        image = Image.open(path)
        assert image.mode == "L"
        assert 100 <= min(image.size) and max(image.size) <= 400
        pixels = np.asarray(image)
        assert pixels.min() < 130 < np.median(pixels)  # dark ink on light paper
        sizes.add(image.size)
    assert len(sizes) > 20


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_writers(tmp_path):
    a = make_dataset(tmp_path / "a", per_class=2, seed=5, n_writers=3)
    b = make_dataset(tmp_path / "b", per_class=2, seed=5, n_writers=3)
    c = make_dataset(tmp_path / "c", per_class=2, seed=6, n_writers=3)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert all(p.read_bytes() != q.read_bytes() for p, q in zip(a, c))


def test_more_letters_draw_more_ink():
    writer = draw_writer(np.random.default_rng(0))
    ink = {}
    for numeral in ("i", "iii"):
        image = render_numeral(numeral, writer, np.random.default_rng(1))
        ink[numeral] = (np.asarray(image) < 128).mean() * image.size[0] * image.size[1]
    assert ink["iii"] > 1.5 * ink["i"]
