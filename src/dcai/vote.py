"""Ensemble vote filter: out-of-fold probabilities from several networks, then rules.

No image is ever scored by a model that saw it: in-sample probabilities collapse to 0/1
and hide label noise. Training (slow) and flagging (instant) are separate functions and
separate stages, so changing a threshold or an action never retrains a model.
"""
import time
from dataclasses import dataclass

import numpy as np

from .classes import CLASS_INDEX, CLASSES
from .probabilities import softmax

NOISY, AMBIGUOUS = "noisy", "ambiguous"


def stratified_folds(labels: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold number per sample; every class is dealt round-robin over the folds in a seeded order."""
    rng = np.random.default_rng(seed)
    folds = np.empty(len(labels), dtype=np.int64)
    offset = 0
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        folds[rng.permutation(idx)] = (np.arange(len(idx)) + offset) % k
        offset += len(idx)  # spreads the classes' leftovers over different folds
    return folds


def images_for_members(paths: list[str]) -> np.ndarray:
    """(N, 32, 32, 1) float32, ink 1 and paper 0, each image scaled so its darkest ink is 1
    (faint pencil and heavy marker look alike to the members)."""
    from .images import decode_like_loader

    ink = 1.0 - decode_like_loader(paths)[..., :1] / 255.0
    return ink / np.maximum(ink.max(axis=(1, 2, 3), keepdims=True), 1e-6)


def jittered_batches(x: np.ndarray, y: np.ndarray, epochs: int, batch_size: int, seed: int, shift: int):
    """`epochs` reshuffled passes, each image shifted by up to `shift` pixels.

    The shift is a stateless random crop of a padded image, seeded by the image's place in
    the stream, so the same seed gives the same batches, and the model itself stays free
    of random layers (which XLA cannot compile).
    """
    import tensorflow as tf

    size = x.shape[1:]

    def jitter(index, example):
        image, label = example
        padded = tf.pad(image, [[shift, shift], [shift, shift], [0, 0]])
        crop_seed = tf.stack([tf.constant(seed, tf.int64), index])
        return tf.image.stateless_random_crop(padded, size, seed=crop_seed), label

    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return ds.repeat(epochs).enumerate().map(jitter).batch(batch_size).prefetch(2)


def out_of_fold_probs(x: np.ndarray, y: np.ndarray, members: list[str], folds: np.ndarray, epochs: int,
                      batch_size: int, learning_rate: float, seed: int, shift: int = 3, save_weights=None) -> dict:
    """Train every member on every fold's complement and predict the fold.

    Returns probs (members x N x classes), the training indices of each fold's models,
    and seconds spent per member. `save_weights(model, member, fold)` may keep the models.
    """
    import tensorflow as tf
    from tqdm import tqdm

    from .vote_models import build_member

    n_folds = int(folds.max()) + 1
    probs = np.zeros((len(members), len(x), len(CLASSES)), np.float32)
    train_index = [np.flatnonzero(folds != f) for f in range(n_folds)]
    seconds = {}
    for m, name in enumerate(members):
        start = time.perf_counter()
        for f in tqdm(range(n_folds), desc=f"vote: {name}", unit="fold"):
            held_out = np.flatnonzero(folds == f)
            model = build_member(name, len(CLASSES), seed + 100 * m + f)
            model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate),
                          loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=True)
            model.fit(jittered_batches(x[train_index[f]], y[train_index[f]], epochs, batch_size, seed + f, shift),
                      shuffle=False, verbose=0)  # the stream is already shuffled, and seeded
            probs[m, held_out] = softmax(model.predict(x[held_out], batch_size=256, verbose=0))
            if save_weights:
                save_weights(model, name, f)
        seconds[name] = round(time.perf_counter() - start, 1)
    return {"probs": probs, "train_index": train_index, "seconds": seconds}


@dataclass(frozen=True)
class VoteRules:
    method: str              # vote | cleanlab
    min_label_prob: float
    max_entropy: float
    action: str              # remove | relabel | review
    relabel_min_prob: float
    majority_vote: bool = False  # also noisy when most members vote for one other class

    def __post_init__(self):
        if self.method not in ("vote", "cleanlab"):
            raise ValueError(f"vote_filter.method must be vote or cleanlab, not {self.method!r}")
        if self.action not in ("remove", "relabel", "review"):
            raise ValueError(f"vote_filter.action must be remove, relabel or review, not {self.action!r}")


def flag(probs: np.ndarray, labels: np.ndarray, rules: VoteRules) -> list[tuple[str, str] | None]:
    """Per image: None, or (noisy | ambiguous, reason)."""
    mean = probs.mean(axis=0)
    votes = probs.argmax(axis=2)  # members x N
    n_members = probs.shape[0]
    entropy = -(mean * np.log(np.clip(mean, 1e-12, 1.0))).sum(axis=1)
    if rules.method == "cleanlab":
        from cleanlab.filter import find_label_issues

        issues = find_label_issues(labels, mean)
    out = []
    for i, given in enumerate(labels):
        counts = np.bincount(votes[:, i], minlength=len(CLASSES))
        counts[given] = 0
        other = int(counts.argmax())
        if rules.method == "cleanlab":
            verdict = (NOISY, f"cleanlab label issue (p[{CLASSES[given]}]={mean[i, given]:.2f})") if issues[i] else None
        elif mean[i, given] < rules.min_label_prob:
            verdict = (NOISY, f"p[{CLASSES[given]}]={mean[i, given]:.2f} < {rules.min_label_prob}")
        elif rules.majority_vote and counts[other] > n_members / 2:
            verdict = (NOISY, f"{counts[other]} of {n_members} members vote {CLASSES[other]}")
        else:
            verdict = None
        if verdict is None and entropy[i] > rules.max_entropy:
            verdict = (AMBIGUOUS, f"entropy {entropy[i]:.2f} > {rules.max_entropy}")
        out.append(verdict)
    return out


def decide(probs: np.ndarray, labels: np.ndarray, flags: list, rules: VoteRules) -> list[tuple[str, str | None]]:
    """Per image: (action taken, new label or None): keep | remove | relabel | review."""
    mean = probs.mean(axis=0)
    out = []
    for i, verdict in enumerate(flags):
        best = int(mean[i].argmax())
        if verdict is None:
            out.append(("keep", None))
        elif rules.action == "review":
            out.append(("review", None))
        elif (rules.action == "relabel" and best != labels[i] and mean[i, best] >= rules.relabel_min_prob):
            out.append(("relabel", CLASSES[best]))
        else:
            out.append(("remove", None))
    return out


def member_agreement(probs: np.ndarray) -> float:
    """Mean share of member pairs that predict the same class."""
    votes = probs.argmax(axis=2)
    m = len(votes)
    if m < 2:
        return 1.0
    pairs = [(votes[a] == votes[b]).mean() for a in range(m) for b in range(a + 1, m)]
    return round(float(np.mean(pairs)), 4)


def label_indices(rows: list[dict]) -> np.ndarray:
    return np.array([CLASS_INDEX[r["label"]] for r in rows], dtype=np.int64)


def apply_verdicts(rows: list[dict], ids: list[str], probs: np.ndarray, labels: np.ndarray, flags: list,
                   actions: list, members: list[str], exempt: frozenset = frozenset()) -> tuple[list, list]:
    """Carry each original's verdict to every image derived from it (by origin_id).

    Images a person marked `keep` (`exempt`) keep their label whatever the vote.
    Returns (rows kept, possibly relabelled; one report row per voted original).
    """
    mean = probs.mean(axis=0)
    verdict = {}
    report = []
    for i, uid in enumerate(ids):
        action, new_label = ("keep (corrections)", None) if uid in exempt and flags[i] else actions[i]
        verdict[uid] = (action, new_label)
        report.append({
            "id": uid, "label": CLASSES[labels[i]], "ensemble": CLASSES[int(mean[i].argmax())],
            "p_label": round(float(mean[i, labels[i]]), 4), "p_ensemble": round(float(mean[i].max()), 4),
            **{f"vote_{name}": CLASSES[int(probs[m, i].argmax())] for m, name in enumerate(members)},
            "flag": flags[i][0] if flags[i] else "", "reason": flags[i][1] if flags[i] else "",
            "action": action, "new_label": new_label or "",
        })
    kept = []
    for row in rows:
        action, new_label = verdict.get(row["origin_id"], ("keep", None))
        if action == "remove":
            continue
        if action == "relabel":
            row = {**row, "label": new_label,
                   "transforms": ";".join(t for t in (row["transforms"], f"vote_relabel_to_{new_label}") if t)}
        kept.append(row)
    by_id = {r["id"]: r for r in rows}
    for r in report:
        r["path"] = by_id[r["id"]]["path"] if r["id"] in by_id else ""
    return kept, report
