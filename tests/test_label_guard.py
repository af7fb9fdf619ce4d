"""The label guard: generated images the out-of-fold vote members read as another numeral."""
import numpy as np
import pytest

from dcai.balance import leave_out
from dcai.classes import CLASS_INDEX
from dcai.label_guard import check_params, misread, read_by_fold_members


def probs_for(label, p, n_outputs=10):
    """A reading that gives `label` probability p and the rest to ii (or, when label is ii, to iii)."""
    row = np.zeros(n_outputs, np.float32)
    row[CLASS_INDEX[label]] = p
    row[CLASS_INDEX["ii" if label != "ii" else "iii"]] = 1 - p
    return row


def variant(i, label, origin):
    return {"id": f"v{i}", "origin_id": origin, "label": label, "kind": "variation"}


def test_a_variant_is_rejected_only_when_its_original_was_read_and_it_is_not():
    rows = [variant(0, "iii", "a"), variant(1, "iii", "b"), variant(2, "iii", "a"), variant(3, "iii", "c"),
            variant(4, "iii", "a")]
    probs = np.stack([probs_for("iii", 0.3), probs_for("iii", 0.3), probs_for("iii", 0.5),
                      probs_for("iii", 0.1), np.full(10, np.nan, np.float32)])
    origin = {"a": 0.9, "b": 0.4}  # c has no vote
    rejected = misread(rows, probs, origin, min_label_prob=0.5)
    # v1: its original was already doubted; v2: read at the threshold; v3: no vote; v4: not read
    assert [r["id"] for r in rejected] == ["v0"]
    assert rejected[0]["read_as"] == "ii" and rejected[0]["p_label"] == pytest.approx(0.3)
    assert rejected[0]["reason"].startswith("label guard: read as ii")


def test_a_variant_read_as_no_numeral_says_so():
    p = np.zeros(11, np.float32)
    p[10], p[CLASS_INDEX["x"]] = 0.8, 0.2
    rejected = misread([variant(0, "x", "a")], p[None], {"a": 0.95}, min_label_prob=0.5)
    assert rejected[0]["read_as"] == "no numeral"


def test_each_image_is_read_by_the_members_that_never_saw_its_original(tmp_path):
    from dcai.probabilities import softmax
    from dcai.vote_models import build_member

    models = [build_member("lenet5", 10, seed) for seed in (0, 1)]
    for fold, model in enumerate(models):
        model.save_weights(tmp_path / f"lenet5_fold{fold}.weights.h5")
    x = np.random.default_rng(0).random((5, 32, 32, 1), dtype=np.float32)
    folds = np.array([1, 0, -1, 1, 0])
    out = read_by_fold_members(x, folds, ["lenet5"], tmp_path, 10, batch_size=4)
    for k, fold in enumerate(folds):
        if fold == -1:
            assert np.isnan(out[k]).all()
        else:
            expected = softmax(models[fold].predict(x[k:k + 1], verbose=0))[0]
            np.testing.assert_allclose(out[k], expected, rtol=1e-4, atol=1e-6)
    assert not np.allclose(out[0], softmax(models[0].predict(x[:1], verbose=0))[0], atol=1e-4)


def test_balance_leaves_out_the_rejected_with_their_reason_and_refuses_unknown_ids():
    streams = {"original": [variant(0, "i", "a") | {"kind": "original"}],
               "variation": [variant(1, "i", "a"), variant(2, "i", "a")]}
    kept, out = leave_out(streams, [{"id": "v2", "reason": "label guard: read as ii"}])
    assert [r["id"] for r in kept["variation"]] == ["v1"] and len(kept["original"]) == 1
    assert out == [variant(2, "i", "a") | {"reason": "label guard: read as ii"}]
    with pytest.raises(ValueError, match="rerun label_guard"):
        leave_out(streams, [{"id": "gone", "reason": "x"}])


def test_unknown_kinds_and_thresholds_are_refused():
    with pytest.raises(ValueError, match="unknown kinds"):
        check_params({"kinds": ["variations"], "min_label_prob": 0.5})
    with pytest.raises(ValueError, match="between 0 and 1"):
        check_params({"kinds": [], "min_label_prob": 1.0})
