from collections import Counter

import pytest

from dcai.split import DERIVED_FROM_VAL, split_rows


def pool(per_class: dict, derived_per_original: int = 0) -> list[dict]:
    rows = []
    for label, n in per_class.items():
        for k in range(n):
            origin = f"{label}-{k}"
            rows.append({"id": origin, "origin_id": origin, "label": label})
            for d in range(derived_per_original):
                rows.append({"id": f"{origin}-crop{d}", "origin_id": origin, "label": label})
    return rows


def test_split_is_stratified_per_class():
    kept, dropped = split_rows(pool({"i": 200, "ii": 100, "x": 40}), 0.05, seed=1, val_originals_only=True)
    val = Counter(r["label"] for r in kept if r["split"] == "val")
    assert val == {"i": 10, "ii": 5, "x": 2}
    assert dropped == []
    assert len(kept) == 340


def test_an_original_and_its_derived_images_stay_on_one_side():
    rows = pool({"i": 50, "iv": 50}, derived_per_original=3)
    kept, dropped = split_rows(rows, 0.1, seed=3, val_originals_only=False)
    sides = {}
    for row in kept:
        sides.setdefault(row["origin_id"], set()).add(row["split"])
    assert all(len(s) == 1 for s in sides.values())
    assert Counter(r["label"] for r in kept if r["split"] == "val") == {"i": 20, "iv": 20}  # 10%, groups of 4
    assert dropped == []


def test_val_from_originals_only_drops_the_derived_twins_with_a_reason():
    rows = pool({"i": 40, "v": 40}, derived_per_original=2)
    kept, dropped = split_rows(rows, 0.05, seed=0, val_originals_only=True)
    val = [r for r in kept if r["split"] == "val"]
    assert len(val) == 4 and all(r["id"] == r["origin_id"] for r in val)  # 5% of each class's 40 originals
    val_origins = {r["origin_id"] for r in val}
    assert {r["origin_id"] for r in dropped} == val_origins
    assert all(r["reason"] == DERIVED_FROM_VAL for r in dropped)
    assert not any(r["origin_id"] in val_origins for r in kept if r["split"] == "train")
    assert len(kept) + len(dropped) == len(rows)


def test_a_label_changing_derivative_follows_its_original():
    rows = [{"id": "a", "origin_id": "a", "label": "iv"}, {"id": "a-flip", "origin_id": "a", "label": "vi"}]
    rows += pool({"iv": 30, "vi": 30})
    kept, _ = split_rows(rows, 0.2, seed=5, val_originals_only=False)
    side = {r["id"]: r["split"] for r in kept}
    assert side["a"] == side["a-flip"]


def test_split_is_deterministic_and_seed_dependent():
    rows = pool({"i": 100, "ii": 100})
    a, _ = split_rows(rows, 0.05, seed=7, val_originals_only=True)
    b, _ = split_rows(rows, 0.05, seed=7, val_originals_only=True)
    c, _ = split_rows(rows, 0.05, seed=8, val_originals_only=True)
    assert a == b
    assert [r["split"] for r in a] != [r["split"] for r in c]


def test_bad_fraction_is_refused():
    with pytest.raises(ValueError, match="val_fraction"):
        split_rows(pool({"i": 3}), 1.0, seed=0, val_originals_only=True)


def test_every_row_is_train_or_val_and_groups_are_stratified_by_their_original():
    # "iv" originals, each with two "vi" mirrors: the group belongs to iv, its original's class
    rows = [{"id": "m-only", "origin_id": "gone", "label": "iv"}]  # its original was removed: no original here
    for k in range(25):
        rows += [{"id": f"o{k}", "origin_id": f"o{k}", "label": "iv"},
                 {"id": f"o{k}-m1", "origin_id": f"o{k}", "label": "vi"},
                 {"id": f"o{k}-m2", "origin_id": f"o{k}", "label": "vi"}]
    rows += pool({"vi": 25})
    for seed in range(30):  # wherever the original-less group falls in the draw, it is skipped, not the end
        kept, _ = split_rows(rows, 0.1, seed=seed, val_originals_only=True)
        assert {r["split"] for r in kept} == {"train", "val"}
        val = [r for r in kept if r["split"] == "val"]
        assert Counter(r["label"] for r in val) == {"iv": 2, "vi": 2}  # round(10% of 25 originals) each
    kept, _ = split_rows(rows, 0.1, seed=2, val_originals_only=False)
    val_groups = {r["origin_id"] for r in kept if r["split"] == "val"}
    assert sum(g.startswith("o") for g in val_groups) == 3  # 8 of the iv groups' 76 images: 3 groups of 3
    assert split_rows(rows, 0.0, seed=2, val_originals_only=False)[0] == [{**r, "split": "train"} for r in rows]
