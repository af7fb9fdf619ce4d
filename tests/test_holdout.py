from dcai.holdout import hold_out


def rows_of(labels):
    return [{"id": f"{k}", "label": label} for k, label in enumerate(labels)]


def test_holdout_is_stratified_and_seeded():
    rows = rows_of(["i"] * 40 + ["ii"] * 20)
    pool, held = hold_out(rows, [], 0.25, seed=3)
    assert sum(r["label"] == "i" for r in held) == 10 and sum(r["label"] == "ii" for r in held) == 5
    assert {r["id"] for r in pool} | {r["id"] for r in held} == {r["id"] for r in rows}
    assert not {r["id"] for r in pool} & {r["id"] for r in held}
    assert hold_out(rows, [], 0.25, seed=3) == (pool, held)
    assert hold_out(rows, [], 0.25, seed=4)[1] != held


def test_duplicates_stay_on_one_side():
    rows = rows_of(["i"] * 30)
    groups = [[0, 1, 2], [3, 4], [10, 20]]
    groups_held = 0
    for seed in range(20):
        pool, held = hold_out(rows, groups, 0.3, seed)
        ids = {int(r["id"]) for r in held}
        assert all(set(g) <= ids or not set(g) & ids for g in groups)
        # the target is 9 of 30; a group may carry it over by at most its size less one
        assert 9 <= len(held) <= 11 and len(pool) + len(held) == 30
        groups_held += sum(set(g) <= ids for g in groups)
    assert groups_held > 0  # over 20 seeds a duplicate group is held out whole, not only left behind


def test_zero_fraction_holds_nothing_out():
    rows = rows_of(["i", "ii"])
    assert hold_out(rows, [], 0, seed=1) == (rows, [])


def test_a_fraction_of_one_or_more_is_refused():
    import pytest
    for fraction in (1.0, 1.5, -0.1):
        with pytest.raises(ValueError, match="holdout.fraction must be in \\[0, 1\\)"):
            hold_out(rows_of(["i"]), [], fraction, seed=1)


def test_a_duplicate_group_goes_to_the_class_most_of_it_has():
    rows = rows_of(["ii", "ii", "iii"] + ["iii"] * 9 + ["ii"] * 9)
    for seed in range(10):
        _, held = hold_out(rows, [[0, 1, 2]], 0.1, seed)
        ids = {int(r["id"]) for r in held}
        # the group counts as ii (2 of 3): iii holds out 1 of its 9 singles; ii (12 images) the group or 1 single
        assert len(ids & set(range(3, 12))) == 1
        ii_held = ids - set(range(3, 12))
        assert ii_held == {0, 1, 2} or (len(ii_held) == 1 and ii_held <= set(range(12, 21)))
