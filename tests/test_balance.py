from collections import Counter

import numpy as np
import pytest

from dcai.balance import (cap_to_budget, class_targets, hard_example_weights, origin_label_probs, originals_without,
                          repeat_originals, safe_total)
from dcai.budget import fits_budget
from dcai.classes import CLASSES
from dcai.split import split_rows


def stream(kind, per_class):
    return [{"id": f"{kind}-{c}-{k}", "origin_id": f"{c}-{k % 50}", "label": c, "kind": kind}
            for c in CLASSES for k in range(per_class)]


def test_the_pool_fits_the_batch_counted_rule_for_any_split():
    total = safe_total(10_000, 8)
    assert total == 9986
    # every division of the pool between train and val fits, including the 9,500 + 500 trap
    assert all(fits_budget(n, total - n, 10_000, 8) for n in range(total + 1))
    assert not fits_budget(9500, 500, 10_000, 8)
    streams = {"original": stream("original", 300), "augment": stream("augment", 1500)}
    kept, dropped, targets = cap_to_budget(streams, ["original", "augment"], None, 10_000, 8, seed=0)
    assert set(targets.values()) == {998} and len(kept) == 9980 and len(kept) + len(dropped) == 18_000
    assert len(kept) <= total


def test_classes_fill_in_priority_order():
    streams = {"original": stream("original", 30), "crop": stream("crop", 20), "augment": stream("augment", 100)}
    kept, dropped, _ = cap_to_budget(streams, ["original", "crop", "augment"], 60, 10_000, 8, seed=1)
    per_class = Counter((r["label"], r["kind"]) for r in kept)
    assert all(per_class[(c, "original")] == 30 and per_class[(c, "crop")] == 20 and per_class[(c, "augment")] == 10
               for c in CLASSES)
    assert all(r["reason"].startswith("over the class target") for r in dropped)


def test_balance_is_seeded_and_refuses_unranked_streams():
    streams = {"original": stream("original", 30), "augment": stream("augment", 100)}
    a, _, _ = cap_to_budget(streams, ["original", "augment"], 40, 10_000, 8, seed=4)
    b, _, _ = cap_to_budget(streams, ["original", "augment"], 40, 10_000, 8, seed=4)
    c, _, _ = cap_to_budget(streams, ["original", "augment"], 40, 10_000, 8, seed=5)
    assert a == b and a != c
    with pytest.raises(ValueError, match="flip"):
        cap_to_budget({"flip": stream("flip", 1)}, ["original"], 10, 10_000, 8, seed=0)


def test_a_stream_that_fills_no_slot_does_not_move_what_the_others_draw():
    # the competition's mix: the variations fill every class, so AutoAugment's images fill none;
    # sweeping AutoAugment's size must leave the submission as it is
    base = {"original": stream("original", 30), "variation": stream("variation", 100)}
    priority = ["original", "variation", "augment"]
    kept, _, _ = cap_to_budget(base, priority, 60, 10_000, 8, seed=4)
    for augment in (stream("augment", 20), stream("augment", 80)):
        with_augment, _, _ = cap_to_budget({**base, "augment": augment}, priority, 60, 10_000, 8, seed=4)
        assert with_augment == kept
    # nor does one class's stream move another class's draw
    fewer_i = {kind: [r for r in rows if r["label"] != "i" or int(r["id"].rsplit("-", 1)[1]) < 70]
               for kind, rows in base.items()}
    trimmed, _, _ = cap_to_budget(fewer_i, priority, 60, 10_000, 8, seed=4)
    assert [r for r in trimmed if r["label"] != "i"] == [r for r in kept if r["label"] != "i"]


def uneven_variations():
    """Per class 20 originals; original k has k + 1 variations (210), so a random draw favours the last ones."""
    originals = [{"id": f"{c}-{k}", "origin_id": f"{c}-{k}", "label": c, "kind": "original"}
                 for c in CLASSES for k in range(20)]
    variations = [{"id": f"{c}-{k}-v{j}", "origin_id": f"{c}-{k}", "label": c, "kind": "variation"}
                  for c in CLASSES for k in range(20) for j in range(k + 1)]
    return {"original": originals, "variation": variations}


def test_spread_gives_every_original_a_variation_before_any_gets_a_second():
    streams = uneven_variations()
    for seed in range(3):
        kept, _, _ = cap_to_budget(streams, ["original", "variation"], 50, 10_000, 8, seed=seed, spread=True)
        for label in CLASSES:
            per_origin = Counter(r["origin_id"] for r in kept if r["label"] == label and r["kind"] == "variation")
            # 30 slots over 20 originals: every original once, then 10 of them a second time
            assert len(per_origin) == 20 and sorted(Counter(per_origin.values()).items()) == [(1, 10), (2, 10)]
        assert originals_without(kept) == {"variation": 0}
    drawn, _, _ = cap_to_budget(streams, ["original", "variation"], 50, 10_000, 8, seed=0)
    # the plain draw takes each variation alike, so originals with few variations are often left out
    assert originals_without(drawn)["variation"] > 20


def test_spread_is_seeded_and_keeps_the_role_order():
    streams = uneven_variations()
    streams["variation"] = with_role(streams["variation"][::2], "synthetic") + streams["variation"][1::2]
    a, _, _ = cap_to_budget(streams, ["original", "variation"], 40, 10_000, 8, seed=3, spread=True,
                            role_priority=["competition", "synthetic"])
    b, _, _ = cap_to_budget(streams, ["original", "variation"], 40, 10_000, 8, seed=3, spread=True,
                            role_priority=["competition", "synthetic"])
    assert a == b
    assert all(r.get("role") is None for r in a if r["kind"] == "variation")  # 20 slots, 105 competition variations


def with_role(rows, role):
    return [{**r, "id": f"{role}-{r['id']}", "role": role} for r in rows]


def test_roles_come_in_priority_order_and_a_role_budget_caps_each_class():
    streams = {"original": with_role(stream("original", 30), "synthetic") + with_role(stream("original", 20), "competition"),
               "augment": with_role(stream("augment", 50), "synthetic") + with_role(stream("augment", 50), "competition")}
    kept, dropped, _ = cap_to_budget(streams, ["original", "augment"], 60, 10_000, 8, seed=2,
                                     role_priority=["competition", "synthetic"], role_budget={"synthetic": 15})
    for label in CLASSES:
        mine = [r for r in kept if r["label"] == label]
        by = Counter((r["role"], r["kind"]) for r in mine)
        # all 20 competition originals first, then synthetic originals up to its budget of 15,
        # then competition augmentations fill the rest; no synthetic augmentation is left room
        assert by == {("competition", "original"): 20, ("synthetic", "original"): 15, ("competition", "augment"): 25}
    reasons = Counter(r["reason"].split(" (")[0] for r in dropped)
    assert reasons["over the per-class budget of its source role"] == 10 * (15 + 50)
    assert len(kept) + len(dropped) == sum(len(v) for v in streams.values())


def test_a_role_missing_from_the_priority_is_an_error():
    with pytest.raises(ValueError, match="role_priority"):
        cap_to_budget({"original": with_role(stream("original", 1), "handwritten")}, ["original"], 10, 10_000, 8,
                      seed=0, role_priority=["competition"])


def test_budget_params_are_validated_with_the_key_named():
    streams = {"original": [{"id": "a", "label": "i"}]}
    with pytest.raises(ValueError, match="package.batch_size must be a whole number >= 1, got 0"):
        cap_to_budget(streams, ["original"], None, 10_000, 0, seed=1)
    with pytest.raises(ValueError, match="package.max_images must be a whole number >= 24"):
        cap_to_budget(streams, ["original"], None, 9, 8, seed=1)
    with pytest.raises(ValueError, match="balance.per_class must be null or a whole number >= 1"):
        cap_to_budget(streams, ["original"], -1, 10_000, 8, seed=1)


def test_the_smallest_valid_budget_params_are_accepted():
    streams = {"original": stream("original", 3)}
    kept, _, targets = cap_to_budget(streams, ["original"], 1, 10, 1, seed=1)  # 10 images, batch 1: 1 per class
    assert set(targets.values()) == {1} and len(kept) == 10
    kept, _, targets = cap_to_budget(streams, ["original"], None, 24, 8, seed=1)  # least for batch 8: 10 + 2*7
    assert set(targets.values()) == {1} and len(kept) == 10


def test_repeated_originals_are_the_same_files_traced_to_their_original_and_split_together():
    originals = [{**r, "path": f"/data/{r['id']}.png", "transforms": "", "width": 32, "height": 32}
                 for r in stream("original", 12)]
    for r in originals:
        r["origin_id"] = r["id"]
    repeats = repeat_originals(originals, 3)
    assert len(repeats) == 2 * len(originals) and repeat_originals(originals, 1) == []
    assert {r["kind"] for r in repeats} == {"repeat"}
    assert len({r["id"] for r in originals + repeats}) == 3 * len(originals)
    by_origin = Counter(r["origin_id"] for r in repeats)
    assert all(by_origin[o["id"]] == 2 for o in originals)
    assert all(r["path"] == f"/data/{r['origin_id']}.png" for r in repeats)
    kept, _, _ = cap_to_budget({"original": originals, "repeat": repeats, "augment": stream("augment", 100)},
                               ["original", "repeat", "augment"], 40, 10_000, 8, seed=3)
    assert Counter(r["kind"] for r in kept) == {"original": 120, "repeat": 240, "augment": 40}
    rows, _ = split_rows(kept, 0.2, seed=1, val_originals_only=False)
    side = {}
    for r in rows:
        if r["kind"] != "augment":
            assert side.setdefault(r["origin_id"], r["split"]) == r["split"]
    with pytest.raises(ValueError, match="original_copies"):
        repeat_originals(originals, 0)


def test_class_mix_originals_gives_each_class_its_share_of_the_originals_and_fills_the_budget():
    weights = dict(zip(CLASSES, (34, 24, 27, 36, 28, 26, 27, 28, 31, 26)))  # the competition data's mix, roughly
    originals = [r for r in stream("original", 40) if int(r["id"].rsplit("-", 1)[1]) < weights[r["label"]]]
    total = safe_total(10_000, 8)
    targets = class_targets(originals, total, None, "originals")
    assert sum(targets.values()) == total
    assert all(abs(targets[c] - total * weights[c] / sum(weights.values())) < 1 for c in CLASSES)
    assert targets["iv"] > targets["i"] > targets["ix"] > targets["ii"]
    assert class_targets(originals, total, 900, "originals")["iv"] == 900  # per_class still caps
    assert set(class_targets(originals, total, None, "uniform").values()) == {total // len(CLASSES)}
    streams = {"original": originals, "augment": stream("augment", 1500)}
    kept, dropped, got = cap_to_budget(streams, ["original", "augment"], None, 10_000, 8, seed=0, class_mix="originals")
    assert got == targets and Counter(r["label"] for r in kept) == targets
    assert all(f"({targets[r['label']]})" in r["reason"] for r in dropped)
    with pytest.raises(ValueError, match="class_mix"):
        class_targets(originals, total, None, "proportional")
    with pytest.raises(ValueError, match="no originals"):
        class_targets([], total, None, "originals")


def test_hard_example_weight_gives_the_hard_originals_more_of_the_slots():
    streams = {"original": stream("original", 50), "variation": stream("variation", 200)}
    hard = {f"{c}-{k}" for c in CLASSES for k in range(25)}  # half of each class's 50 originals
    probs = {o["origin_id"]: 0.1 if o["origin_id"] in hard else 0.99 for o in streams["original"]}

    def hard_share(weights):
        kept, _, _ = cap_to_budget(streams, ["original", "variation"], 90, 10_000, 8, seed=3, origin_weights=weights)
        made = [r for r in kept if r["kind"] == "variation"]
        assert len(made) == 400
        return sum(r["origin_id"] in hard for r in made) / len(made)

    weights = hard_example_weights(probs, 4)
    assert weights["i-0"] == pytest.approx(4.6) and weights["i-49"] == pytest.approx(1.04)
    assert 0.4 < hard_share(None) < 0.6
    # weights 4.6 vs 1.04: hard originals hold most of the 40 slots of the 200 variants per class
    assert hard_share(weights) > 0.75
    a, _, _ = cap_to_budget(streams, ["original", "variation"], 90, 10_000, 8, seed=3, origin_weights=weights)
    b, _, _ = cap_to_budget(streams, ["original", "variation"], 90, 10_000, 8, seed=3, origin_weights=weights)
    assert a == b
    # below 0 the draw turns away from the hard originals: weights 0.19 vs 0.991
    assert hard_share(hard_example_weights(probs, -0.9)) < 0.25
    with pytest.raises(ValueError, match="balance.hard_example_weight must be a number above -1"):
        hard_example_weights(probs, -1)


def test_origin_label_probs_read_the_members_mean_for_the_label_the_original_has_now():
    originals = [{"origin_id": "a", "label": "ii"}, {"origin_id": "b", "label": "vii"}, {"origin_id": "c", "label": "i"}]
    probs = np.zeros((2, 2, len(CLASSES)))
    probs[:, 0, CLASSES.index("ii")] = [0.2, 0.6]
    probs[:, 1, CLASSES.index("vii")] = [0.9, 0.7]  # b was relabelled to vii: its new label's probability counts
    assert origin_label_probs(originals, ["a", "b"], probs) == pytest.approx({"a": 0.4, "b": 0.8})  # c: no votes
