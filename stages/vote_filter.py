"""Stage vote_filter: flag, then remove / relabel / keep, by the out-of-fold votes
(or, with `neighbours: k`, by the labels of each image's k nearest training images in the
members' feature spaces)."""
import sys
from pathlib import Path

import numpy as np

from dcai.atomic import write_json
from dcai.corrections import kept_by_a_person
from dcai.ingest import ROLES
from dcai.manifest import count_by, read_manifest, write_manifest
from dcai.params import load_params
from dcai.reports import write_rows_csv
from dcai.review import write_review
from dcai.vote_rules import VoteRules, apply_verdicts, decide, flag

IN = Path("data/standardized/manifest.csv")
VOTES = Path("data/vote/oof.npz")
MODELS = Path("models/vote")
OUT = Path("data/filtered/manifest.csv")
REPORT = Path("reports/vote_filter.csv")


def neighbour_evidence(rows: list[dict], ids: list[str], votes, k: int) -> np.ndarray:
    """The members' neighbour votes for the voted originals, in the order of `ids`."""
    from dcai.neighbours import member_features, neighbour_probs
    from dcai.vote import images_for_members, member_input, member_outputs

    path = {r["id"]: r["path"] for r in rows}
    missing = [i for i in ids if i not in path]
    if missing:
        raise ValueError(f"{VOTES} votes on {len(missing)} images that {IN} lacks (e.g. id {missing[0]}): "
                         "rerun vote_train")
    x = images_for_members([path[i] for i in ids], *member_input(votes))
    folds = votes["folds"]
    feats = member_features(MODELS, [str(m) for m in votes["members"]], x, int(folds.max()) + 1,
                            member_outputs(votes))
    return neighbour_probs(feats, votes["labels"], folds, k)


def main() -> int:
    p = load_params("vote_filter")
    try:
        rules = VoteRules(p["method"], p["min_label_prob"], p["max_entropy"], p["action"], p["relabel_min_prob"],
                          p["majority_vote"], p["ambiguous_action"])
    except ValueError as err:
        print(f"vote_filter: {err}", file=sys.stderr)
        return 1
    unknown = sorted(set(p["trusted_roles"]) - set(ROLES))
    if unknown:
        print(f"vote_filter: trusted_roles {unknown} are not source roles (ingest: {', '.join(ROLES)})",
              file=sys.stderr)
        return 1
    votes = np.load(VOTES)
    probs, labels, ids = votes["probs"], votes["labels"], [str(i) for i in votes["ids"]]
    rows = read_manifest(IN)
    if p["neighbours"]:
        try:
            probs = neighbour_evidence(rows, ids, votes, p["neighbours"])
        except (ValueError, FileNotFoundError) as err:
            print(f"vote_filter: {err}", file=sys.stderr)
            return 1
    flags = flag(probs, labels, rules, None if p["neighbours"] else votes.get("non_numeral"))
    actions = decide(probs, labels, flags, rules)
    exempt = frozenset(kept_by_a_person(load_params("clean")["corrections"], rows))
    trusted = frozenset(r["id"] for r in rows if r.get("role") in p["trusted_roles"])
    kept, per_image = apply_verdicts(rows, ids, probs, labels, flags, actions, [str(m) for m in votes["members"]],
                                     exempt, trusted)
    write_manifest(OUT, kept)
    write_rows_csv(REPORT, per_image, tuple(per_image[0]) if per_image else ("id",))
    flagged = [r for r in per_image if r["flag"]]
    write_review([{**r, "reason": f"labelled {r['label']}, ensemble says {r['ensemble']}"} for r in flagged],
                 Path("reports/vote_flagged"), "Flagged by the vote filter", group_by="reason")
    write_json("metrics/vote_filter.json", {
        "method": rules.method, "evidence": f"{p['neighbours']} neighbours" if p["neighbours"] else "probabilities",
        "action": rules.action, "originals": len(ids), "flagged": len(flagged),
        "flagged_per_class": count_by(flagged, "label"), "flagged_by_kind": count_by(flagged, "flag"),
        "actions": count_by(per_image, "action"), "images_in": len(rows), "images_out": len(kept),
    })
    print(f"vote_filter: {len(flagged)} of {len(ids)} originals flagged; {len(rows) - len(kept)} images removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
