"""The vote rules: flags, actions and verdicts from out-of-fold probabilities (no training)."""
import numpy as np
import pytest

from dcai.vote_rules import NOISY, AMBIGUOUS, VoteRules, apply_verdicts, decide, flag

RULES = VoteRules(method="vote", min_label_prob=0.2, max_entropy=1.5, action="remove", relabel_min_prob=0.9,
                  majority_vote=True)


def one_hot_probs(votes_per_member: list[list[int]], confidence: float = 0.9) -> np.ndarray:
    """members x N x 10 probabilities that put `confidence` on each member's vote."""
    votes = np.array(votes_per_member)
    probs = np.full((*votes.shape, 10), (1 - confidence) / 9, np.float32)
    for m in range(votes.shape[0]):
        probs[m, np.arange(votes.shape[1]), votes[m]] = confidence
    return probs


def test_vote_rules_flag_low_label_probability_majorities_and_ambiguity():
    labels = np.array([0, 0, 0, 0])
    probs = one_hot_probs([[0, 1, 0, 0], [0, 1, 2, 0], [0, 1, 2, 0]])
    probs[:, 3] = 0.08
    probs[:, 3, 0] = 0.28  # the given label leads, but barely: ambiguous
    flags = flag(probs, labels, RULES)
    assert flags[0] is None
    assert flags[1][0] == NOISY and "p[i]=0.01" in flags[1][1]
    assert flags[2][0] == NOISY and flags[2][1] == "2 of 3 members vote iii"
    assert flags[3][0] == AMBIGUOUS
    lenient = VoteRules("vote", min_label_prob=0.0, max_entropy=3.0, action="remove", relabel_min_prob=0.9,
                        majority_vote=True)
    assert flag(probs, labels, lenient)[1][1] == "3 of 3 members vote ii"
    assert flag(probs, labels, lenient)[3] is None
    without_majority = VoteRules("vote", 0.2, 3.0, "remove", 0.9, majority_vote=False)
    assert flag(probs, labels, without_majority)[1][0] == NOISY  # p[i] is low anyway
    assert flag(probs, labels, without_majority)[2] is None  # p[i]=0.31: two votes for iii are not enough


def test_actions_remove_relabel_only_when_confident_or_review():
    labels = np.array([0, 0, 0])
    probs = one_hot_probs([[0, 4, 4], [0, 4, 5]], confidence=0.95)
    flags = [None, (NOISY, "x"), (NOISY, "y")]
    relabel = VoteRules("vote", 0.2, 1.5, "relabel", relabel_min_prob=0.9)
    assert decide(probs, labels, flags, relabel) == [("keep", None), ("relabel", "v"), ("remove", None)]
    review = VoteRules("vote", 0.2, 1.5, "review", 0.9)
    assert decide(probs, labels, flags, review) == [("keep", None), ("review", None), ("review", None)]
    with pytest.raises(ValueError, match="action"):
        VoteRules("vote", 0.2, 1.5, "delete", 0.9)


def test_ambiguous_flags_have_their_own_action():
    labels = np.array([0, 0, 0])
    probs = one_hot_probs([[0, 4, 4], [0, 4, 4]], confidence=0.95)
    flags = [(AMBIGUOUS, "e"), (NOISY, "x"), None]
    keep_ambiguous = VoteRules("vote", 0.2, 1.5, "relabel", 0.9, ambiguous_action="review")
    assert decide(probs, labels, flags, keep_ambiguous) == [("review", None), ("relabel", "v"), ("keep", None)]
    drop_ambiguous = VoteRules("vote", 0.2, 1.5, "review", 0.9, ambiguous_action="remove")
    assert decide(probs, labels, flags, drop_ambiguous) == [("remove", None), ("review", None), ("keep", None)]
    with pytest.raises(ValueError, match="ambiguous_action"):
        VoteRules("vote", 0.2, 1.5, "remove", 0.9, ambiguous_action="relabel")


def test_the_cleanlab_path_finds_planted_errors():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 20)
    probs = np.full((1, 200, 10), 0.01, np.float32)
    probs[0, np.arange(200), labels] = 0.91
    planted = rng.choice(200, 10, replace=False)
    given = labels.copy()
    given[planted] = (labels[planted] + 1) % 10
    flags = flag(probs, given, VoteRules("cleanlab", 0.2, 1.5, "remove", 0.9))
    assert {i for i, f in enumerate(flags) if f} == set(planted.tolist())
    assert all(f[1].startswith("cleanlab label issue") for f in flags if f)  # cleanlab's verdict, not the threshold's


def test_verdicts_follow_the_original_to_its_derived_images():
    rows = [{"id": "a", "origin_id": "a", "label": "i", "transforms": "", "path": "a.png"},
            {"id": "a-trim", "origin_id": "a", "label": "i", "transforms": "trim_to_ink", "path": "t.png"},
            {"id": "b", "origin_id": "b", "label": "i", "transforms": "", "path": "b.png"},
            {"id": "b-trim", "origin_id": "b", "label": "i", "transforms": "trim_to_ink", "path": "u.png"}]
    probs = one_hot_probs([[4, 0]])
    kept, report = apply_verdicts(rows, ["a", "b"], probs, np.array([0, 0]), [(NOISY, "r"), (NOISY, "r")],
                                  [("relabel", "v"), ("remove", None)], ["lenet5"])
    assert [(r["id"], r["label"]) for r in kept] == [("a", "v"), ("a-trim", "v")]
    assert kept[1]["transforms"] == "trim_to_ink;vote_relabel_to_v"
    assert report[0]["ensemble"] == "v" and report[0]["vote_lenet5"] == "v" and report[1]["action"] == "remove"
    kept, report = apply_verdicts(rows, ["a", "b"], probs, np.array([0, 0]), [(NOISY, "r"), (NOISY, "r")],
                                  [("relabel", "v"), ("remove", None)], ["lenet5"], exempt=frozenset({"b"}))
    assert [(r["id"], r["label"]) for r in kept] == [("a", "v"), ("a-trim", "v"), ("b", "i"), ("b-trim", "i")]
    assert report[1]["action"] == "keep (corrections)"


def test_the_report_row_says_everything_a_reviewer_needs_and_removal_drops_only_its_images():
    rows = [{"id": "b", "origin_id": "b", "label": "i", "transforms": "", "path": "b.png"},  # removed, listed first
            {"id": "c", "origin_id": "c", "label": "i", "transforms": "", "path": "c.png"},
            {"id": "z-aug", "origin_id": "z", "label": "ii", "transforms": "aa", "path": "z.png"}]  # never voted on
    probs = np.array([[[0.05, 0.05, 0.0, 0.0, 0.9, 0, 0, 0, 0, 0], [0.6, 0.4, 0, 0, 0, 0, 0, 0, 0, 0]]], np.float32)
    kept, report = apply_verdicts(rows, ["b", "c"], probs, np.array([0, 0]), [(NOISY, "p[i]=0.05 < 0.2"), None],
                                  [("remove", None), ("keep", None)], ["lenet5"])
    assert [r["id"] for r in kept] == ["c", "z-aug"]  # what follows a removed image, or was never voted on, stays
    assert report == [
        {"id": "b", "label": "i", "ensemble": "v", "p_label": 0.05, "p_ensemble": 0.9, "vote_lenet5": "v",
         "flag": "noisy", "reason": "p[i]=0.05 < 0.2", "action": "remove", "new_label": "", "path": "b.png"},
        {"id": "c", "label": "i", "ensemble": "i", "p_label": 0.6, "p_ensemble": 0.6, "vote_lenet5": "i",
         "flag": "", "reason": "", "action": "keep", "new_label": "", "path": "c.png"}]
    _, report = apply_verdicts(rows[1:], ["b", "c"], probs, np.array([0, 0]), [None, None],
                               [("relabel", "v"), ("keep", None)], ["lenet5"])
    assert report[0]["path"] == "" and report[0]["new_label"] == "v"  # an id no longer in the rows has no path


def test_relabel_happens_at_the_threshold_itself():
    probs = one_hot_probs([[4]], confidence=0.75)  # exactly representable: p[v] == 0.75
    rules = VoteRules("vote", 0.2, 1.5, "relabel", relabel_min_prob=0.75)
    assert decide(probs, np.array([0]), [(NOISY, "x")], rules) == [("relabel", "v")]
    stricter = VoteRules("vote", 0.2, 1.5, "relabel", relabel_min_prob=0.76)
    assert decide(probs, np.array([0]), [(NOISY, "x")], stricter) == [("remove", None)]


def test_flag_boundaries():
    labels = np.array([0])
    at = VoteRules("vote", min_label_prob=0.25, max_entropy=9.0, action="remove", relabel_min_prob=0.9)
    probs = np.array([[[0.25, 0.75] + [0.0] * 8]], np.float32)  # p(label) exactly at the threshold: not noisy
    assert flag(probs, labels, at) == [None]
    assert flag(probs, labels, VoteRules("vote", 0.26, 9.0, "remove", 0.9))[0][0] == NOISY
    # two of four members for another class is no majority; two of five neither
    for votes in ([[1], [1], [0], [0]], [[1], [1], [0], [0], [0]]):
        rules = VoteRules("vote", 0.0, 9.0, "remove", 0.9, majority_vote=True)
        assert flag(one_hot_probs(votes, confidence=0.9), labels, rules) == [None], votes
    uniform = np.full((1, 1, 10), 0.1, np.float32)  # entropy ln 10 = 2.3026
    assert flag(uniform, labels, VoteRules("vote", 0.0, 2.31, "remove", 0.9)) == [None]
    assert flag(uniform, labels, VoteRules("vote", 0.0, 2.30, "remove", 0.9))[0][0] == AMBIGUOUS


def test_rule_params_are_checked_with_their_names():
    for kwargs in ({"min_label_prob": 1.5}, {"min_label_prob": -0.1}, {"relabel_min_prob": 1.01}):
        params = {"method": "vote", "min_label_prob": 0.2, "max_entropy": 1.5, "action": "remove",
                  "relabel_min_prob": 0.9, **kwargs}
        with pytest.raises(ValueError, match=r"vote_filter.min_label_prob and relabel_min_prob must be within \[0, 1\]"):
            VoteRules(**params)
    VoteRules("vote", 1.0, 1.5, "remove", 1.0)  # the ends of the range are allowed
    VoteRules("vote", 0.0, 1.5, "remove", 0.0)
