"""standardize, five_crop, autoaugment and flips on small crafted images."""
import numpy as np
import pytest
from PIL import Image

from conftest import numeral_image
from dcai.autoaugment import (OPERATIONS, SVHN_POLICY, Step, active_policy, apply_operation, augment, generate_augmented,
                              magnitude)
from dcai.five_crop import five_crop_rows, guarded_crops
from dcai.flips import flip_rows, parse_flip_rules
from dcai.ink import ink_mask
from dcai.standardize import pad_to_square, square_crop_around_ink, standardize_aspect, trim_to_ink


def originals(tmp_path, images: dict[str, tuple[str, Image.Image]]) -> list[dict]:
    rows = []
    for uid, (label, image) in images.items():
        image.save(tmp_path / f"{uid}.png")
        rows.append({"id": uid, "origin_id": uid, "label": label, "path": str(tmp_path / f"{uid}.png"),
                     "kind": "original", "transforms": "", "original_path": f"/src/{uid}.png"})
    return rows


def test_wide_images_become_squares_around_the_ink_and_keep_the_numeral_whole():
    pixels = np.full((100, 300), 255, np.uint8)
    pixels[30:70, 200:260] = 0  # the numeral sits right of centre
    image = Image.fromarray(pixels)
    out, transform = standardize_aspect(image, ink_mask(image, 128), max_aspect=1.75, mode="crop")
    assert transform == "aspect_crop" and out.size == (100, 100)
    assert (np.asarray(out) < 128).sum() == 40 * 60  # all the ink is inside
    tall = Image.fromarray(pixels.T.copy())
    assert square_crop_around_ink(tall, ink_mask(tall, 128)).size == (100, 100)
    padded, transform = standardize_aspect(image, ink_mask(image, 128), 1.75, "pad")
    assert transform == "aspect_pad" and padded.size == (300, 300) and np.asarray(padded)[0, 0] == 255
    wide_ink = np.full((100, 300), 255, np.uint8)
    wide_ink[40:60, 20:280] = 0  # a numeral wider than the square would be cut: padded instead
    out, transform = standardize_aspect(Image.fromarray(wide_ink), wide_ink < 128, 1.75, "crop")
    assert transform == "aspect_pad_to_keep_ink" and out.size == (300, 300)
    assert (np.asarray(out) < 128).sum() == 20 * 260
    same, transform = standardize_aspect(numeral_image(120, 100), None, 1.75, "crop")
    assert transform is None and same.size == (120, 100)
    kept, transform = standardize_aspect(image, ink_mask(image, 128), 1.75, "keep")
    assert transform is None and kept is image
    with pytest.raises(ValueError, match="standardize.mode"):
        standardize_aspect(image, ink_mask(image, 128), 1.75, "squash")
    assert pad_to_square(Image.new("L", (10, 4), 0)).size == (10, 10)


def test_trim_to_ink_keeps_a_margin_and_squares():
    pixels = np.full((200, 200), 255, np.uint8)
    pixels[50:90, 100:120] = 0  # 40 tall, 20 wide
    image = Image.fromarray(pixels)
    trimmed = trim_to_ink(image, ink_mask(image, 128), margin=0.1)
    assert trimmed.size == (48, 48)  # 40 + 2 * 4
    assert (np.asarray(trimmed) < 128).sum() == 40 * 20
    assert trim_to_ink(Image.new("L", (20, 20), 255), np.zeros((20, 20), bool), 0.1) is None


def test_a_crop_that_cuts_a_stroke_is_rejected():
    pixels = np.full((100, 100), 255, np.uint8)
    pixels[20:80, 5:10] = 0  # a stroke hugging the left edge: only left crops keep it whole
    crops = {name: (kept, ok) for name, _, kept, ok in guarded_crops(Image.fromarray(pixels), 0.85, 0.98, 128)}
    assert crops["tl"] == (1.0, True) and crops["bl"] == (1.0, True)
    assert crops["tr"] == (0.0, False) and crops["br"] == (0.0, False)
    assert crops["c"] == (pytest.approx(0.6), False)  # the centre crop cuts two of the stroke's 5 columns
    centred = np.full((100, 100), 255, np.uint8)
    centred[30:70, 45:55] = 0
    assert all(ok for _, _, _, ok in guarded_crops(Image.fromarray(centred), 0.85, 0.98, 128))


def test_five_crop_caps_per_class_and_traces_origins(tmp_path):
    centred = np.full((100, 100), 255, np.uint8)
    centred[30:70, 45:55] = 0
    rows = originals(tmp_path, {f"o{k}": ("i", Image.fromarray(centred)) for k in range(3)})
    (tmp_path / "out").mkdir()
    params = {"fraction": 0.85, "min_ink_kept": 0.98, "ink_threshold": 128, "per_class": 7, "seed": 1}
    crops, counts = five_crop_rows(rows, params, tmp_path / "out", "out")
    assert len(crops) == 7 and counts["accepted"] == 15 and counts["rejected_by_ink_guard"] == 0
    assert all(c["kind"] == "crop" and c["id"].startswith(c["origin_id"] + "-crop_") for c in crops)
    assert all(Image.open(tmp_path / "out" / f"{c['id']}.png").size == (85, 85) for c in crops)


def test_the_policy_table_is_the_svhn_policy_and_disabled_operations_drop_out():
    assert len(SVHN_POLICY) == 25 and all(len(sub) == 2 for sub in SVHN_POLICY)
    assert SVHN_POLICY[0] == (("ShearX", 0.9, 4), ("Invert", 0.2, None))
    policy = active_policy({"Invert": False, "Solarize": False})
    ops = {step.op for _, steps in policy for step in steps}
    assert "Invert" not in ops and "Solarize" not in ops
    numbers = {n: [s.op for s in steps] for n, steps in policy}
    assert numbers[1] == ["ShearX"] and numbers[3] == ["Equalize"]  # the remaining operation survives
    both_off = {n for n, _ in active_policy({"Invert": False, "Equalize": False})}
    assert 4 not in both_off and 14 not in both_off and len(both_off) == 23  # Invert + Equalize: dropped
    with pytest.raises(ValueError, match="unknown"):
        active_policy({"Blur": True})
    assert magnitude("ShearX", 9, -1) == pytest.approx(-0.3) and magnitude("Rotate", 3, 1) == pytest.approx(10)
    assert magnitude("Solarize", 6, -1) == pytest.approx(170) and magnitude("Equalize", None, 1) is None


def test_geometric_operations_fill_white_and_translate_relative_to_size():
    pixels = np.full((100, 200), 255, np.uint8)
    pixels[40:60, 90:110] = 0
    for op, value in (("Rotate", 30.0), ("ShearX", 0.3), ("ShearY", -0.3), ("TranslateY", 0.3)):
        out = apply_operation(pixels.copy(), op, value)
        assert out.shape == pixels.shape and out[0, 0] == 255 and out[-1, -1] == 255, op
    moved = apply_operation(pixels.copy(), "TranslateX", 0.25)  # a quarter of the width: 50 px
    assert np.argwhere(moved < 128)[:, 1].min() == 140
    assert apply_operation(pixels.copy(), "Invert", None)[0, 0] == 0


def test_augmentation_is_seeded_and_never_applies_a_disabled_operation(tmp_path):
    rows = originals(tmp_path, {f"o{k}": (label, numeral_image(strokes=k + 1)) for k, label in enumerate(["i", "ii"])})
    params = {"per_class": 30, "seed": 3, "skip_unchanged": True, "workers": 2, "min_ink_kept": 0.9,
              "ink_threshold": 128, "operations": {op: op not in ("Invert", "Solarize") for op in OPERATIONS}}
    outs = []
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        rows_out, counts = generate_augmented(rows, params, tmp_path / run, run)
        outs.append([(tmp_path / run / f"{r['id']}.png").read_bytes() for r in rows_out])
        assert len(rows_out) == 60 and counts["unchanged"] == 0
        assert not any("Invert" in r["transforms"] or "Solarize" in r["transforms"] for r in rows_out)
        assert all(r["kind"] == "augment" and r["transforms"].startswith("autoaugment_svhn") for r in rows_out)
    assert outs[0] == outs[1]


def test_the_ink_guard_measures_ink_pushed_out_of_the_frame():
    pixels = np.full((100, 100), 255, np.uint8)
    pixels[30:70, 20:30] = 0  # a stroke on the left third
    policy = [(1, [Step("TranslateX", 1.0, 9)])]  # 45% of the width, left or right
    kept = {}
    for seed in range(8):
        out, record, share = augment(pixels.copy(), policy, np.random.default_rng(seed))
        kept[record.split("(")[1][0]] = (share, int((out < 128).sum()))
    assert kept["+"][0] > 0.99 and kept["+"][1] == 400  # pushed right: still whole in the frame
    assert kept["-"][0] < 0.05 and kept["-"][1] == 0    # pushed left: gone, and the guard says so
    _, _, share = augment(pixels.copy(), [(1, [Step("Equalize", 1.0, None)])], np.random.default_rng(0))
    assert share == 1.0  # intensity operations move no ink


def test_no_augmented_image_loses_its_ink_to_the_frame(tmp_path):
    image = np.full((64, 64), 255, np.uint8)
    image[8:56, 4:12] = 0
    image[8:56, 52:60] = 0  # "ii" drawn to the edges: most shifts and shears cut a stroke
    rows = originals(tmp_path, {"o": ("ii", Image.fromarray(image))})
    params = {"per_class": 40, "seed": 3, "skip_unchanged": True, "workers": 1, "min_ink_kept": 0.9,
              "ink_threshold": 128, "operations": {op: op in ("TranslateX", "ShearX") for op in OPERATIONS}}
    rows_out, counts = generate_augmented(rows, params, tmp_path, "x")
    assert counts["rejected_by_ink_guard"] > 0
    ink = (image < 128).sum()
    for row in rows_out:
        out = np.asarray(Image.open(tmp_path / f"{row['id']}.png"))
        assert (out < 128).sum() >= 0.8 * ink, row["transforms"]  # interpolation blurs edges, never a stroke


def test_flips_map_labels_by_the_table(tmp_path):
    rules = parse_flip_rules([["iv", "horizontal", "vi"], ["ix", "vertical", "ix"], ["i", "horizontal", "i"]])
    image = numeral_image(strokes=2)
    rows = originals(tmp_path, {"a": ("iv", image), "b": ("ix", image), "c": ("vii", image)})
    (tmp_path / "out").mkdir()
    out = {r["id"]: r for r in flip_rows(rows, rules, tmp_path / "out", "out")}
    assert set(out) == {"a-flip_h", "b-flip_v"}
    assert out["a-flip_h"]["label"] == "vi" and out["a-flip_h"]["origin_id"] == "a"
    assert out["b-flip_v"]["label"] == "ix"
    flipped = np.asarray(Image.open(tmp_path / "out" / "a-flip_h.png"))
    np.testing.assert_array_equal(flipped, np.asarray(image)[:, ::-1])
    with pytest.raises(ValueError, match="mirror"):
        parse_flip_rules([["iv", "diagonal", "vi"]])
    with pytest.raises(ValueError, match="not a class"):
        parse_flip_rules([["iv", "horizontal", "xi"]])
