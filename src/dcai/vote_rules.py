"""Vote rules: flag noisy and ambiguous labels from out-of-fold probabilities, then act.

Kept apart from the training (vote.py) so that changing a rule never invalidates the
cached ensemble: stage vote_train does not depend on this file.
"""
from dataclasses import dataclass

import numpy as np

from .classes import CLASSES

NOISY, AMBIGUOUS = "noisy", "ambiguous"


@dataclass(frozen=True)
class VoteRules:
    method: str              # vote | cleanlab
    min_label_prob: float
    max_entropy: float
    action: str              # what happens to noisy flags: remove | relabel | review
    relabel_min_prob: float
    majority_vote: bool = False  # also noisy when most members vote for one other class
    ambiguous_action: str = "remove"  # what happens to ambiguous flags: remove | review

    def __post_init__(self):
        if self.method not in ("vote", "cleanlab"):
            raise ValueError(f"vote_filter.method must be vote or cleanlab, not {self.method!r}")
        if self.action not in ("remove", "relabel", "review"):
            raise ValueError(f"vote_filter.action must be remove, relabel or review, not {self.action!r}")
        if self.ambiguous_action not in ("remove", "review"):
            raise ValueError(f"vote_filter.ambiguous_action must be remove or review, not {self.ambiguous_action!r}")
        if not 0 <= self.min_label_prob <= 1 or not 0 <= self.relabel_min_prob <= 1:
            raise ValueError("vote_filter.min_label_prob and relabel_min_prob must be within [0, 1]")


def flag(probs: np.ndarray, labels: np.ndarray, rules: VoteRules,
         non_numeral: np.ndarray | None = None) -> list[tuple[str, str] | None]:
    """Per image: None, or (noisy | ambiguous, reason). `non_numeral` (members x N): what members
    that learnt made-up non-numerals gave "none of the classes"; `probs` then sum to the rest."""
    mean = probs.mean(axis=0)
    no_numeral = non_numeral.mean(axis=0) if non_numeral is not None else np.zeros(len(labels))
    votes = probs.argmax(axis=2)  # members x N
    n_members = probs.shape[0]
    entropy = -(mean * np.log(np.clip(mean, 1e-12, 1.0))).sum(axis=1)
    if rules.method == "cleanlab":
        from cleanlab.filter import find_label_issues

        issues = find_label_issues(labels, mean / mean.sum(axis=1, keepdims=True)
                                   if non_numeral is not None else mean)
    out = []
    for i, given in enumerate(labels):
        counts = np.bincount(votes[:, i], minlength=len(CLASSES))
        counts[given] = 0
        other = int(counts.argmax())
        if rules.method == "cleanlab":
            verdict = (NOISY, f"cleanlab label issue (p[{CLASSES[given]}]={mean[i, given]:.2f})") if issues[i] else None
        elif mean[i, given] < rules.min_label_prob:
            verdict = (NOISY, f"p[{CLASSES[given]}]={mean[i, given]:.2f} < {rules.min_label_prob}"
                              + (f", most likely no numeral (p {no_numeral[i]:.2f})"
                                 if no_numeral[i] > mean[i].max() else ""))
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
        elif verdict[0] == AMBIGUOUS:
            # an uncertain ensemble is no evidence against the label: on the competition data
            # 406 of 547 ambiguous flags were images a person kept (benchmarks.cleaning)
            out.append(("review", None) if rules.ambiguous_action == "review" else ("remove", None))
        elif rules.action == "review":
            out.append(("review", None))
        elif (rules.action == "relabel" and best != labels[i] and mean[i, best] >= rules.relabel_min_prob):
            out.append(("relabel", CLASSES[best]))
        else:
            out.append(("remove", None))
    return out


def apply_verdicts(rows: list[dict], ids: list[str], probs: np.ndarray, labels: np.ndarray, flags: list,
                   actions: list, members: list[str], exempt: frozenset = frozenset(),
                   trusted: frozenset = frozenset()) -> tuple[list, list]:
    """Carry each original's verdict to every image derived from it (by origin_id).

    Images a person marked `keep` (`exempt`) and originals of a source whose labels are
    vouched for (`trusted`, by role) keep their label whatever the vote; their flags are reported.
    Returns (rows kept, possibly relabelled; one report row per voted original).
    """
    mean = probs.mean(axis=0)
    verdict = {}
    report = []
    for i, uid in enumerate(ids):
        if flags[i] and uid in exempt:
            action, new_label = "keep (corrections)", None
        elif flags[i] and uid in trusted:
            action, new_label = "keep (trusted role)", None
        else:
            action, new_label = actions[i]
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
