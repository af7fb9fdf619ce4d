import numpy as np
import pytest
from PIL import Image

from conftest import REPO, competition_rows, needs_dcai2021, numeral_image
from dcai.clean import CleanParams, apply_corrections, duplicate_groups, flag_unusable, image_stats, resolve_duplicates
from dcai.corrections import CorrectionsError, load_corrections, match_corrections
from dcai.ingest import pixel_hash
from dcai.synth import draw_writer, render_numeral

PARAMS = CleanParams(ink_threshold=128, min_ink_fraction=0.001, max_border_ink_fraction=0.3,
                     near_duplicate_hash_size=16, near_duplicate_max_distance=40,
                     conflicting_duplicates="remove_all")


def make_rows(tmp_path, images: dict[str, tuple[str, Image.Image]]) -> list[dict]:
    rows = []
    for uid, (label, image) in images.items():
        path = tmp_path / f"{uid}.png"
        image.save(path)
        rows.append({"id": uid, "origin_id": uid, "label": label, "path": str(path), "transforms": "",
                     "original_path": f"/src/{label}/{uid}.png", "pixel_hash": pixel_hash(image), "kind": "original"})
    return rows


def run_clean(rows, params=PARAMS, exempt=frozenset()):
    stats = image_stats(rows, params)
    kept, unusable = flag_unusable(rows, stats, params, set(exempt))
    groups = duplicate_groups(kept, stats, params)
    kept, dups, conflicts = resolve_duplicates(kept, groups, params, set(exempt))
    return kept, unusable + dups, conflicts


def test_corrections_remove_relabel_mirror_and_keep(tmp_path):
    (tmp_path / "c.yaml").write_text(
        "- {id: a, remove: true, note: scribble}\n"
        "- {file: b.png, relabel: IX, mirror: true}\n"
        "- {file: iv/c.png, keep: true}\n")
    left_ink = numeral_image(strokes=1)
    rows = make_rows(tmp_path, {"a": ("i", numeral_image()), "b": ("x", left_ink), "c": ("iv", numeral_image())})
    matched = match_corrections(load_corrections(tmp_path / "c.yaml"), rows)
    (tmp_path / "out").mkdir()
    kept, removed, exempt = apply_corrections(rows, matched, tmp_path / "out", "out")
    assert [r["reason"] for r in removed] == ["correction: remove (scribble)"]
    b = next(r for r in kept if r["id"] == "b")
    assert b["label"] == "ix" and b["transforms"] == "mirror_h;relabel_x_to_ix" and b["path"] == "out/b.png"
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out" / "b.png")), np.asarray(left_ink)[:, ::-1])
    assert exempt == {"c"}


def test_corrections_that_match_nothing_are_named(tmp_path):
    (tmp_path / "c.yaml").write_text("- {id: nope, remove: true}\n- {file: gone.png, relabel: v}\n")
    rows = make_rows(tmp_path, {"a": ("i", numeral_image())})
    with pytest.raises(CorrectionsError, match="nope, gone.png"):
        match_corrections(load_corrections(tmp_path / "c.yaml"), rows)
    (tmp_path / "bad.yaml").write_text("- {id: a, relabel: xi}\n")
    with pytest.raises(CorrectionsError, match="not a class"):
        load_corrections(tmp_path / "bad.yaml")
    (tmp_path / "broken.yaml").write_text("- {id: a, remove: true}\n- {id: b, relabel: v\n- {id: c}\n")
    with pytest.raises(CorrectionsError, match=r"broken.yaml: not valid YAML: line 3, column \d+: "):
        load_corrections(tmp_path / "broken.yaml")


def test_blank_images_and_page_photos_are_removed_with_reasons(tmp_path):
    page = np.asarray(numeral_image()).copy()
    page[:, :70] = 40  # a dark shadow across half the frame
    rows = make_rows(tmp_path, {"blank": ("i", Image.new("L", (80, 80), 255)), "page": ("v", Image.fromarray(page)),
                                "fine": ("ii", numeral_image())})
    kept, removed, _ = run_clean(rows)
    assert [r["id"] for r in kept] == ["fine"]
    reasons = {r["id"]: r["reason"] for r in removed}
    assert reasons["blank"].startswith("blank: ink fraction 0.0000")
    assert reasons["page"].startswith("page photo")
    kept, removed, _ = run_clean(rows, exempt={"page"})
    assert {r["id"] for r in kept} == {"fine", "page"}


def drawn(numeral: str, seed: int) -> Image.Image:
    return render_numeral(numeral, draw_writer(np.random.default_rng(seed)), np.random.default_rng(seed + 100))


def test_exact_and_near_duplicates_keep_one_and_conflicts_go(tmp_path):
    base = drawn("ii", 1)
    pixels = np.asarray(base).astype(int)
    noisy = np.clip(pixels + np.random.default_rng(0).integers(-8, 9, pixels.shape), 0, 255).astype(np.uint8)
    rows = make_rows(tmp_path, {
        "a1": ("ii", base), "a2": ("ii", base.copy()), "a3": ("ii", Image.fromarray(noisy)),
        "b1": ("iii", drawn("iii", 2)), "b2": ("iv", drawn("iii", 2)),
        "c": ("v", drawn("v", 3)),
    })
    kept, removed, conflicts = run_clean(rows)
    assert sorted(r["id"] for r in kept) == ["a1", "c"]
    reasons = {r["id"]: r["reason"] for r in removed}
    assert reasons["a2"] == "duplicate: of a1"
    assert reasons["a3"] == "near duplicate: of a1"
    assert reasons["b1"].startswith("conflict") and reasons["b2"].startswith("conflict")
    assert conflicts == 1

    # a person's keep: true wins over the duplicate and conflict rules
    kept, removed, _ = run_clean(rows, exempt={"a3", "b2"})
    assert sorted(r["id"] for r in kept) == ["a3", "b2", "c"]
    assert {r["id"]: r["reason"] for r in removed}["a1"] == "near duplicate: of a3"

    majority = make_rows(tmp_path, {"m1": ("i", base), "m2": ("i", base.copy()), "m3": ("x", base.copy())})
    params = CleanParams(**{**PARAMS.__dict__, "conflicting_duplicates": "keep_majority"})
    kept, removed, _ = run_clean(majority, params)
    assert [r["id"] for r in kept] == ["m1"]
    assert {r["id"]: r["reason"].split(":")[0] for r in removed} == {"m2": "duplicate", "m3": "conflict"}


@needs_dcai2021
def test_the_competition_corrections_name_real_images():
    rows = competition_rows()
    corrections = load_corrections(REPO / "data" / "corrections" / "dcai2021.yaml")
    assert len(match_corrections(corrections, rows)) == len(corrections) > 0


def test_corrections_in_any_order_touch_only_their_images(tmp_path):
    (tmp_path / "c.yaml").write_text("- {id: a, remove: true}\n- {file: /ii/b.png, mirror: true}\n"
                                     "- {id: c, relabel: iii}\n- {id: c, relabel: iii}\n")  # a repeated entry is fine
    image = numeral_image(strokes=1)
    rows = make_rows(tmp_path, {"d": ("v", numeral_image(strokes=2)), "a": ("i", numeral_image()), "b": ("ii", image),
                                "c": ("iii", numeral_image(strokes=3))})
    matched = match_corrections(load_corrections(tmp_path / "c.yaml"), rows)  # a leading / names a path end too
    (tmp_path / "out").mkdir()
    kept, removed, _ = apply_corrections(rows, matched, tmp_path / "out", "out")
    assert [r["id"] for r in kept] == ["d", "b", "c"] and [r["id"] for r in removed] == ["a"]
    assert removed[0]["reason"] == "correction: remove"  # no note, no parentheses
    b = kept[1]
    assert b["transforms"] == "mirror_h" and b["pixel_hash"] == pixel_hash(Image.open(tmp_path / "out" / "b.png"))
    assert b["pixel_hash"] != rows[1]["pixel_hash"]  # duplicates are found on the mirrored pixels
    assert kept[2]["transforms"] == "" and kept[2]["label"] == "iii"  # a relabel to its own label is no change


def test_corrections_files_say_what_is_wrong_and_where(tmp_path):
    cases = {
        "- {id: a, remove: true, keep: true}\n": "entry 1: 'remove' cannot be combined",
        "- {id: a, remove: true}\n- {id: b, remove: true, mirror: true}\n": "entry 2: 'remove' cannot be combined",
        "- {id: a, remove: true, relabel: v}\n": "entry 1: 'remove' cannot be combined",
        "- {id: a, flip: true}\n": r"entry 1: unknown keys \['flip'\]",
        "- {id: a, file: b.png, remove: true}\n": "entry 1: give exactly one of 'id' or 'file'",
        "- {id: a}\n": "entry 1: says nothing to do",
        "- {id: a, remove: true}\n- {id: b, remove: [}\n": r"not valid YAML: line 2, column 20: ",
    }
    for text, message in cases.items():
        (tmp_path / "c.yaml").write_text(text)
        with pytest.raises(CorrectionsError, match=message):
            load_corrections(tmp_path / "c.yaml")
    (tmp_path / "c.yaml").write_text("- {id: a, relabel: v}\n- {id: a, relabel: vi}\n")
    with pytest.raises(CorrectionsError, match="image a has two different corrections"):
        match_corrections(load_corrections(tmp_path / "c.yaml"), [{"id": "a", "original_path": "/s/i/a.png"}])
    with pytest.raises(ValueError, match="clean.conflicting_duplicates must be remove_all or keep_majority, not 'x'"):
        CleanParams(**{**PARAMS.__dict__, "conflicting_duplicates": "x"})
