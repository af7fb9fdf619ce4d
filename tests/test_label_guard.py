"""The label guard: generated images the out-of-fold vote members read as another numeral."""
import json

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
    check_params({"kinds": ["variation", "augment", "crop", "trim", "flip"], "min_label_prob": 0.5})


def write_streams(root, originals, variants):
    """The manifests balance reads, as the stages before it would leave them: the originals and the
    variants given, no other generated kind; and the folder the votes go in."""
    from dcai.balance import STREAMS
    from dcai.manifest import write_manifest

    for path, kinds in STREAMS.items():
        rows = originals if "original" in kinds else variants if "variation" in kinds else []
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        write_manifest(root / path, rows)
    (root / "data/vote").mkdir(parents=True)


def test_the_stages_leave_out_the_variants_of_well_read_originals_that_the_members_misread(tmp_path, monkeypatch):
    """Random members read every image near 1/10; the votes say they read the originals of `a` at 0.9
    and of `b` at 0.2. So `a`'s variants are rejected (and left out by balance, with the reason)
    and `b`'s kept: the members doubted `b` already."""
    from dcai.manifest import read_manifest
    from dcai.reports import read_rows_csv
    from dcai.vote_models import build_member
    from conftest import numeral_image
    from test_stages import project, run_stage

    root = project(tmp_path, {"a": ("iii", numeral_image(strokes=3)), "b": ("ii", numeral_image(strokes=2))},
                   "[]\n", label_guard={"kinds": ["variation"], "min_label_prob": 0.5})
    originals = read_manifest(root / "data/ingested/manifest.csv")
    variants = [{**o, "id": f"{o['id']}-var{k}", "kind": "variation", "transforms": "variation:affine()"}
                for o in originals for k in range(2)]
    write_streams(root, originals, variants)
    (root / "models/vote").mkdir(parents=True)
    probs = np.full((1, 2, 10), 0.05, np.float32)
    probs[0, 0, CLASS_INDEX["iii"]], probs[0, 1, CLASS_INDEX["ii"]] = 0.9, 0.2
    np.savez(root / "data/vote/oof.npz", probs=probs, labels=np.array([CLASS_INDEX["iii"], CLASS_INDEX["ii"]]),
             folds=np.array([0, 1]), ids=np.array(["a", "b"]), members=np.array(["lenet5"]))
    for fold in (0, 1):
        build_member("lenet5", 10, fold).save_weights(root / f"models/vote/lenet5_fold{fold}.weights.h5")
    run_stage(root, "label_guard")
    rejected = read_rows_csv(root / "data/label_guard/rejected.csv")
    assert sorted(r["id"] for r in rejected) == ["a-var0", "a-var1"]
    run_stage(root, "balance")
    kept = {r["id"] for r in read_manifest(root / "data/balanced/manifest.csv")}
    assert kept == {"a", "b", "b-var0", "b-var1"}
    dropped = {r["id"]: r["reason"] for r in read_rows_csv(root / "reports/balance_dropped.csv")}
    assert dropped["a-var0"].startswith("label guard: read as") and "a-var1" in dropped
    metrics = json.loads((root / "metrics/balance.json").read_text())
    assert metrics["left_out_by_label_guard"] == {"variation": 2} and metrics["images_in"] == 6
    from dcai.report import build_report

    monkeypatch.chdir(root)  # the report page shows them, as the rows' paths name them
    page = build_report(root, "r", 4, 3)
    assert "label guard left out (labelled&gt;read as, p(label)) (2)" in page


def test_a_missing_member_model_stops_the_stage_with_the_file_named(tmp_path):
    import os
    import subprocess
    import sys

    from conftest import REPO, numeral_image
    from dcai.manifest import read_manifest
    from test_stages import project

    root = project(tmp_path, {"a": ("iii", numeral_image(strokes=3))}, "[]\n", label_guard={"kinds": ["variation"]})
    originals = read_manifest(root / "data/ingested/manifest.csv")
    write_streams(root, originals, [{**originals[0], "id": "a-var0", "kind": "variation"}])
    np.savez(root / "data/vote/oof.npz", probs=np.full((1, 1, 10), 0.1, np.float32), labels=np.array([2]),
             folds=np.array([0]), ids=np.array(["a"]), members=np.array(["lenet5"]))
    done = subprocess.run([sys.executable, str(REPO / "stages/label_guard.py")], cwd=root, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "models/vote/lenet5_fold0.weights.h5" in done.stderr and "run stage vote_train" in done.stderr
