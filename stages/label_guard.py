"""Stage label_guard: generated images the out-of-fold vote members no longer read as their label
-> data/label_guard/rejected.csv (balance leaves them out, each with its reason)."""
import sys
from pathlib import Path

import numpy as np

from dcai.atomic import write_json
from dcai.balance import origin_label_probs, read_streams
from dcai.label_guard import check_params, misread, origin_folds, read_by_fold_members
from dcai.manifest import count_by
from dcai.params import load_params
from dcai.reports import write_rows_csv

VOTES = Path("data/vote/oof.npz")
MODELS = Path("models/vote")
OUT = Path("data/label_guard/rejected.csv")
COLUMNS = ("id", "origin_id", "label", "kind", "path", "read_as", "p_label", "origin_p_label", "reason")


def main() -> int:
    p = load_params("label_guard")
    try:
        check_params(p)
    except ValueError as err:
        print(f"label_guard: {err}", file=sys.stderr)
        return 1
    streams = read_streams()
    rows = [r for kind in p["kinds"] for r in streams.get(kind, [])]
    rejected, unjudged = [], 0
    if rows:
        from dcai.vote import images_for_members, member_input, member_outputs

        votes = np.load(VOTES)
        vote_ids = [str(i) for i in votes["ids"]]
        fold_of = origin_folds(vote_ids, votes["folds"])
        folds = np.array([fold_of.get(r["origin_id"], -1) for r in rows])
        unjudged = int((folds == -1).sum())
        x = images_for_members([r["path"] for r in rows], *member_input(votes))
        try:
            probs = read_by_fold_members(x, folds, [str(m) for m in votes["members"]], MODELS,
                                         member_outputs(votes), p["batch_size"])
        except FileNotFoundError as err:
            print(f"label_guard: {err}", file=sys.stderr)
            return 1
        rejected = misread(rows, probs, origin_label_probs(streams.get("original", []), vote_ids, votes["probs"]),
                           p["min_label_prob"])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    write_rows_csv(OUT, rejected, COLUMNS)
    write_json("metrics/label_guard.json", {
        "kinds": list(p["kinds"]), "min_label_prob": p["min_label_prob"],
        "judged": count_by(rows, "kind"), "without_a_vote": unjudged,
        "rejected": count_by(rejected, "kind"), "rejected_per_class": count_by(rejected, "label"),
        "read_as": count_by(rejected, "read_as"),
    })
    print(f"label_guard: {len(rejected)} of {len(rows)} generated images read as another label ({OUT})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
