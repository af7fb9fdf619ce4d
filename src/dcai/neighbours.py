"""Label evidence from neighbours: what the labels of an image's nearest training images say.

Each vote member's model of a fold maps images to features (the input of its last layer).
An image held out of that fold is compared, by cosine similarity, with the images the model
trained on, and its k nearest ones vote with their given labels. Averaged over members, this
is a class distribution like the members' own out-of-fold probabilities, so the vote rules
read it unchanged. Against a person's review of the competition data it is better evidence
than the probabilities (benchmarks.cleaning): a label that none of its look-alikes share is
rarely right, while a model's softmax can be confidently wrong on an odd image. It did not
make a better submission, though (README, "Cleaning measured against a person's review"), so
vote_filter.neighbours is 0 by default.
"""
from pathlib import Path

import numpy as np

from .classes import CLASSES

CHUNK = 1024  # held-out images compared at once: bounds memory to CHUNK x (training images)


def neighbour_votes(held_out: np.ndarray, train: np.ndarray, train_labels: np.ndarray, k: int,
                    n_classes: int = len(CLASSES)) -> np.ndarray:
    """(held out, classes): the share of each class among the k most similar training images.

    Ties in similarity go to the earlier training image (a stable sort): the same inputs give
    the same bytes.
    """
    if not 0 < k <= len(train):
        raise ValueError(f"vote_filter.neighbours must be within 1..{len(train)} (the training images), not {k}")
    a, b = _unit(held_out), _unit(train)
    out = np.zeros((len(held_out), n_classes), np.float32)
    for start in range(0, len(a), CHUNK):
        similarity = a[start:start + CHUNK] @ b.T
        nearest = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
        out[start:start + CHUNK] = np.eye(n_classes, dtype=np.float32)[train_labels[nearest]].mean(axis=1)
    return out


def _unit(features: np.ndarray) -> np.ndarray:
    features = features.astype(np.float64)
    return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)


def features(model, x: np.ndarray) -> np.ndarray:
    """What the model's last layer sees: the features it classifies by."""
    import tensorflow as tf

    penultimate = tf.keras.Model(model.input, model.layers[-1].input)
    return penultimate.predict(x, batch_size=256, verbose=0)


def load_fold_model(weights_dir: Path, name: str, fold: int, n_outputs: int = len(CLASSES)):
    """Member `name`'s model of `fold`, as vote_train kept it (models/vote/<name>_fold<f>.weights.h5);
    `n_outputs`: the classes, and one more when the members learnt non-numerals (vote.member_outputs)."""
    from .vote_models import build_member

    path = Path(weights_dir) / f"{name}_fold{fold}.weights.h5"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the vote ensemble's model of fold {fold} is missing (run stage vote_train)")
    model = build_member(name, n_outputs, 0)  # the seed only draws weights the file replaces
    model.load_weights(path)
    return model


def member_features(weights_dir: Path, members: list[str], x: np.ndarray, n_folds: int,
                    n_outputs: int = len(CLASSES)) -> list[list[np.ndarray]]:
    """[member][fold]: every image's features under that member's model of that fold."""
    return [[features(load_fold_model(weights_dir, name, f, n_outputs), x) for f in range(n_folds)]
            for name in members]


def neighbour_probs(feats: list[list[np.ndarray]], labels: np.ndarray, folds: np.ndarray, k: int) -> np.ndarray:
    """members x N x classes, like the out-of-fold probabilities: each image's neighbour votes
    in the feature space of every member's model of the fold that held it out (member_features)."""
    out = np.zeros((len(feats), len(labels), len(CLASSES)), np.float32)
    for m, per_fold in enumerate(feats):
        for f, fold_feats in enumerate(per_fold):
            held_out, train = np.flatnonzero(folds == f), np.flatnonzero(folds != f)
            out[m, held_out] = neighbour_votes(fold_feats[held_out], fold_feats[train], labels[train], k)
    return out
