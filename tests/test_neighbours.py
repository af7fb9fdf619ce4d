"""Neighbour evidence for the vote filter: the labels of an image's nearest training images."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, numeral_image
from dcai.classes import CLASS_INDEX
from dcai.manifest import read_manifest, write_manifest
from dcai.neighbours import neighbour_probs, neighbour_votes
from dcai.reports import read_rows_csv
from test_stages import project, run_stage


def test_the_votes_are_the_labels_of_the_k_most_similar_training_images():
    train = np.array([[1, 0], [1, 0.1], [1, -0.1], [0, 1], [0.1, 1]], np.float32)
    train_labels = np.array([0, 0, 3, 5, 5])
    held_out = np.array([[2, 0.05], [0.05, 3]], np.float32)  # cosine similarity: the length does not count
    votes = neighbour_votes(held_out, train, train_labels, k=3)
    np.testing.assert_allclose(votes[0, [0, 3, 5]], [2 / 3, 1 / 3, 0])
    np.testing.assert_allclose(votes[1, [0, 3, 5]], [1 / 3, 0, 2 / 3])  # [1, 0.1] is nearer than [1, -0.1]
    assert votes.shape == (2, 10) and np.allclose(votes.sum(axis=1), 1)
    with pytest.raises(ValueError, match="vote_filter.neighbours"):
        neighbour_votes(held_out, train, train_labels, k=6)


def test_an_image_is_compared_only_with_the_images_its_fold_model_trained_on():
    labels = np.array([0, 1, 2, 2])
    folds = np.array([0, 1, 0, 1])
    same_place = np.array([[1.0, 0.0]] * 4)  # every image alike: only the fold decides who votes
    votes = neighbour_probs([[same_place, same_place]], labels, folds, k=2)
    assert votes.shape == (1, 4, 10)
    # fold 0's images (0 and 2) hear fold 1's labels (1 and 2), never their own
    np.testing.assert_allclose(votes[0, 0, [0, 1, 2]], [0, 0.5, 0.5])
    np.testing.assert_allclose(votes[0, 1, [0, 1, 2]], [0.5, 0, 0.5])


def write_member_weights(root, member, n_folds):
    from dcai.vote_models import build_member

    (root / "models/vote").mkdir(parents=True)
    for f in range(n_folds):
        build_member(member, 10, f).save_weights(root / f"models/vote/{member}_fold{f}.weights.h5")


def mislabelled_project(tmp_path, neighbours):
    """Three copies of a one-stroke i and of a three-stroke iii, and one more iii labelled i.
    The probabilities in oof.npz back every given label, so only the neighbours can object."""
    one, three = numeral_image(strokes=1), numeral_image(strokes=3)
    images = {f"one{k}": ("i", one) for k in range(3)} | {f"three{k}": ("iii", three) for k in range(3)}
    images["odd"] = ("i", three)
    tmp_path.mkdir(parents=True, exist_ok=True)
    root = project(tmp_path, images, "[]\n",
                   vote_filter={"neighbours": neighbours, "action": "relabel", "min_label_prob": 0.2,
                                "relabel_min_prob": 0.7, "ambiguous_action": "review"})
    rows = read_manifest(root / "data/ingested/manifest.csv")
    (root / "data/standardized").mkdir(parents=True)
    (root / "data/vote").mkdir(parents=True)
    write_manifest(root / "data/standardized/manifest.csv", rows)
    labels = np.array([CLASS_INDEX[r["label"]] for r in rows])
    probs = np.full((1, len(rows), 10), 0.01, np.float32)
    probs[0, np.arange(len(rows)), labels] = 0.91
    np.savez(root / "data/vote/oof.npz", probs=probs, labels=labels, folds=np.arange(len(rows)) % 2,
             ids=np.array([r["id"] for r in rows]), members=np.array(["lenet5"]))
    return root


def test_the_stage_relabels_an_image_all_its_look_alikes_call_otherwise(tmp_path):
    root = mislabelled_project(tmp_path / "k", neighbours=2)
    write_member_weights(root, "lenet5", 2)
    run_stage(root, "vote_filter")
    report = {r["id"]: r["action"] for r in read_rows_csv(root / "reports/vote_filter.csv")}
    assert report.pop("odd") == "relabel"
    assert set(report.values()) == {"keep"}
    assert {r["id"]: r["label"] for r in read_manifest(root / "data/filtered/manifest.csv")}["odd"] == "iii"
    assert json.loads((root / "metrics/vote_filter.json").read_text())["evidence"] == "2 neighbours"

    probabilities = mislabelled_project(tmp_path / "p", neighbours=0)  # no models needed: nothing is flagged
    run_stage(probabilities, "vote_filter")
    assert {r["action"] for r in read_rows_csv(probabilities / "reports/vote_filter.csv")} == {"keep"}


def test_missing_member_models_stop_the_stage_with_the_file_named(tmp_path):
    root = mislabelled_project(tmp_path, neighbours=2)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run([sys.executable, str(REPO / "stages/vote_filter.py")], cwd=root, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert "lenet5_fold0.weights.h5" in done.stderr and "vote_train" in done.stderr
    assert "Traceback" not in done.stderr
