"""variations: one hand's sheet-to-sheet variation, seeded and guarded against cutting the numeral."""
import hashlib

import numpy as np
import pytest
from PIL import Image

from conftest import numeral_image
from dcai.ink import ink_runs_across
from dcai.variations import change_stroke, check_params, elastic_field, generate_variations, guarded_stroke_change, vary
from test_generators import originals

PARAMS = {"per_class": 12, "seed": 4, "workers": 2, "stroke": 0.02, "rotate": 10, "shear": 10, "scale": [0.85, 1.1],
          "translate": 0.08, "blur": 0.006, "noise": 0.05, "tone": 0.15,
          "probability": {"stroke": 0.7, "blur": 0.3, "noise": 0.3, "tone": 0.5}, "min_ink_kept": 0.9,
          "ink_threshold": 128}


def bar() -> np.ndarray:
    pixels = np.full((60, 60), 255, np.uint8)
    pixels[20:40, 10:50] = 0
    return pixels


def test_a_stroke_change_thickens_or_thins_the_ink_by_its_width():
    def size(pixels):  # the bar's height and width through its middle
        ink = pixels < 128
        return int(ink[:, 30].sum()), int(ink[30, :].sum())

    assert size(bar()) == (20, 40)
    assert size(change_stroke(bar(), 2)) == (22, 42)
    assert size(change_stroke(bar(), -2)) == (18, 38)
    assert size(change_stroke(bar(), 0)) == (20, 40)


def test_a_variation_depends_only_on_its_seed_and_says_what_it_did():
    a, record, kept = vary(bar(), PARAMS, np.random.default_rng(7))
    b, again, _ = vary(bar(), PARAMS, np.random.default_rng(7))
    assert np.array_equal(a, b) and record == again and record.startswith("variation:") and "affine(" in record
    assert 0.5 < kept <= 1.5 and a.shape == bar().shape
    off = {**PARAMS, "probability": {}}
    assert all("&" not in vary(bar(), off, np.random.default_rng(s))[1] for s in range(5))  # the affine step only


def test_the_guard_measures_ink_moved_out_of_the_frame():
    pixels = np.full((100, 100), 255, np.uint8)
    pixels[30:70, 2:12] = 0  # a stroke at the left edge
    far = {**PARAMS, "probability": {}, "rotate": 0, "shear": 0, "scale": [1, 1], "translate": 0.3}
    kept = [vary(pixels.copy(), far, np.random.default_rng(s))[2] for s in range(20)]
    assert min(kept) < 0.5 and max(kept) > 0.99  # pushed left: cut; pushed right: whole
    smaller = {**far, "translate": 0, "scale": [0.8, 0.8]}
    _, _, kept = vary(bar(), smaller, np.random.default_rng(0))
    assert kept > 0.95  # a smaller numeral has less ink, none of it lost to the frame


def test_generated_variations_are_the_same_bytes_on_any_number_of_workers_and_keep_their_ink(tmp_path):
    rows = originals(tmp_path, {f"o{k}": (label, numeral_image(strokes=k + 1)) for k, label in enumerate(["i", "ii"])})
    made = []
    for run, workers in (("a", 1), ("b", 2)):
        (tmp_path / run).mkdir()
        out, counts = generate_variations(rows, {**PARAMS, "workers": workers}, tmp_path / run, run)
        assert len(out) == 24 and all(r["kind"] == "variation" and r["origin_id"] in ("o0", "o1") for r in out)
        assert counts["steps_applied"]["affine"] == 24
        made.append([(r["id"], r["transforms"], (tmp_path / run / f"{r['id']}.png").read_bytes()) for r in out])
    assert made[0] == made[1]


def test_no_variation_loses_its_ink_to_the_frame(tmp_path):
    image = np.full((64, 64), 255, np.uint8)
    image[8:56, 1:9] = 0
    image[8:56, 55:63] = 0  # "ii" drawn to the edges: most shifts cut a stroke
    rows = originals(tmp_path, {"o": ("ii", Image.fromarray(image))})
    p = {**PARAMS, "probability": {}, "translate": 0.15, "scale": [1, 1], "workers": 1, "per_class": 30}
    out, counts = generate_variations(rows, p, tmp_path, "x")
    assert counts["rejected_by_ink_guard"] > 0
    ink = (image < 128).sum()
    for row in out:
        pixels = np.asarray(Image.open(tmp_path / f"{row['id']}.png"))
        assert (pixels < 128).sum() >= 0.75 * ink, row["transforms"]


def test_unknown_steps_and_bad_scales_are_refused():
    with pytest.raises(ValueError, match="unknown steps"):
        check_params({**PARAMS, "probability": {"smudge": 0.5}})
    with pytest.raises(ValueError, match="scale"):
        check_params({**PARAMS, "scale": [1.2, 0.9]})


def test_an_elastic_bend_moves_the_strokes_by_its_share_of_the_side_and_is_guarded():
    field = elastic_field((200, 100), 0.04, 0.1, np.random.default_rng(3))
    rms = float(np.sqrt((field ** 2).sum(axis=0).mean()))
    assert field.shape == (2, 200, 100) and rms == pytest.approx(4.0, rel=1e-3)  # 4% of the 100-pixel side
    smooth = np.abs(np.diff(field, axis=2)).mean()
    assert smooth < 0.1 * np.abs(field).mean()  # neighbours move together: a stroke bends, it does not break
    bent = {**PARAMS, "elastic": 0.04, "elastic_smoothness": 0.1,
            "probability": {**PARAMS["probability"], "elastic": 1.0}}
    out, record, _ = vary(bar(), bent, np.random.default_rng(5))
    plain, plain_record, _ = vary(bar(), PARAMS, np.random.default_rng(5))
    assert "elastic(" in record and "elastic(" not in plain_record and not np.array_equal(out, plain)
    edge = np.full((100, 100), 255, np.uint8)
    edge[30:70, 0:4] = 0  # a stroke on the frame's edge: a bend pushes part of it out
    still = {**bent, "rotate": 0, "shear": 0, "scale": [1, 1], "translate": 0, "probability": {"elastic": 1.0}}
    kept = [vary(edge.copy(), still, np.random.default_rng(s))[2] for s in range(10)]
    assert min(kept) < 0.95  # the guard sees ink the bend moved out of the frame
    inside = [vary(bar(), still, np.random.default_rng(s))[2] for s in range(10)]
    assert all(abs(k - 1) < 0.02 for k in inside), inside  # a squeezed stroke has lost no ink


def test_without_elastic_a_variation_draws_what_it_drew_before_the_step_existed():
    off = {**PARAMS, "probability": {**PARAMS["probability"], "elastic": 0.0}}
    digest = hashlib.sha256()
    for seed in range(5):
        pixels, record, _ = vary(bar(), off, np.random.default_rng(seed))
        digest.update(pixels.tobytes())
        digest.update(record.encode())
    assert digest.hexdigest()[:16] == "5f8eeb09dd8df026"  # the bytes of the code before the elastic step


def test_a_stretch_changes_the_width_to_height_ratio_and_keeps_the_ink():
    def ink_box(pixels):  # width, height of the ink
        rows, cols = np.nonzero(pixels < 128)
        return np.ptp(cols) + 1, np.ptp(rows) + 1

    square = np.full((100, 100), 255, np.uint8)
    square[35:65, 35:65] = 0
    still = {**PARAMS, "probability": {}, "rotate": 0, "shear": 0, "scale": [1, 1], "translate": 0, "aspect": 0.4}
    ratios = []
    for s in range(30):
        out, record, kept = vary(square.copy(), still, np.random.default_rng(s))
        stretch = float(record.split("stretch=")[1].rstrip(")"))
        width, height = ink_box(out)
        assert width / height == pytest.approx(stretch, rel=0.08) and kept == pytest.approx(1, abs=0.03)
        ratios.append(stretch)
    assert min(ratios) < 1 / 1.25 and max(ratios) > 1.25 and 1 / 1.4 - 1e-6 <= min(ratios) and max(ratios) <= 1.4 + 1e-6
    plain = {**still, "aspect": 0}
    assert ink_box(vary(square.copy(), plain, np.random.default_rng(0))[0]) == (30, 30)
    with pytest.raises(ValueError, match="aspect"):
        check_params({**still, "aspect": -0.1})


def two_strokes(width: int) -> np.ndarray:
    """ii on a 250 px sheet, each stroke `width` px wide: the full 2% stroke change is 5 px."""
    pixels = np.full((250, 250), 255, np.uint8)
    pixels[60:190, 90:90 + width] = 0
    pixels[60:190, 150:150 + width] = 0
    return pixels


def test_thinning_that_would_erase_the_strokes_is_weakened_until_enough_ink_is_left():
    ii = two_strokes(6)
    ink = (ii < 128).sum()
    erased, width = guarded_stroke_change(ii, -5, 0.0, False, 128)
    assert width == -5 and (erased < 128).sum() < 0.2 * ink  # unguarded: 1 px of each stroke left
    kept, width = guarded_stroke_change(ii, -5, 0.6, False, 128)
    assert width == -2 and (kept < 128).sum() >= 0.6 * ink
    assert (kept[120, 85:105] < 128).any() and (kept[120, 145:165] < 128).any()  # both strokes still there
    thicker, width = guarded_stroke_change(ii, 5, 0.6, False, 128)
    assert width == 5 and np.array_equal(thicker, change_stroke(ii, 5))  # thickening is left as drawn
    with pytest.raises(ValueError, match="stroke_min_ink_kept"):
        check_params({**PARAMS, "stroke_min_ink_kept": 1.0})


def test_the_thinning_guard_changes_only_the_draws_it_weakens_and_says_so():
    off = {**PARAMS, "probability": {"stroke": 1.0}, "stroke": 0.02}
    on = {**off, "stroke_min_ink_kept": 0.6}
    weakened = 0
    for seed in range(40):
        a, record_off, _ = vary(two_strokes(6), off, np.random.default_rng(seed))
        b, record_on, _ = vary(two_strokes(6), on, np.random.default_rng(seed))
        if "<" in record_on:
            weakened += 1
            assert record_on.split("stroke(")[1].split("<")[1].split(")")[0] in record_off  # the drawn width
            assert (b < 128).sum() > (a < 128).sum()
        else:
            assert record_on == record_off and np.array_equal(a, b)
    assert 5 <= weakened <= 30


def test_the_variations_stage_counts_the_weakened_stroke_changes(tmp_path):
    rows = originals(tmp_path, {"o": ("ii", Image.fromarray(two_strokes(6)))})
    p = {**PARAMS, "probability": {"stroke": 1.0}, "workers": 1, "per_class": 20, "stroke_min_ink_kept": 0.6}
    out, counts = generate_variations(rows, p, tmp_path, "x")
    assert counts["stroke_weakened"] == sum("<" in r["transforms"] for r in out) > 0


def test_with_keep_runs_a_stroke_change_may_not_merge_or_erase_strokes():
    iii = np.full((250, 250), 255, np.uint8)
    for left in (80, 90, 100):  # 6 px strokes, 4 px apart: 5 px thicker merges them
        iii[60:190, left:left + 6] = 0
    assert ink_runs_across(iii < 128) == 3
    merged, width = guarded_stroke_change(iii, 5, 0.0, False, 128)
    assert width == 5 and ink_runs_across(merged < 128) == 1
    kept, width = guarded_stroke_change(iii, 5, 0.0, True, 128)
    assert 0 < width < 5 and ink_runs_across(kept < 128) == 3
    thinned, width = guarded_stroke_change(two_strokes(3), -5, 0.0, True, 128)
    assert -3 < width < 0 and ink_runs_across(thinned < 128) == 2  # a 3 px stroke survives thinning by 1-2 px
    assert ink_runs_across(np.zeros((10, 10), bool)) == 0
