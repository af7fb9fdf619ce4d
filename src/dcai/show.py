"""`dcai-show`: the experiments table a person reads, not the 400 columns DVC can show.

    dcai-show                 # = dvc exp show --only-changed --drop <the breakdowns>
    dcai-show --csv           # any other `dvc exp show` option passes through

Every stage's metrics file keeps its per-class, per-reason and per-seed breakdowns (they
are what `dvc metrics diff` and the report read); this view drops them, and the
dependency hashes, so what is left fits a terminal: the params that changed, the images
out of each stage, and the score per test set with its spread over seeds.
"""
import os
import subprocess
import sys

# metric keys that are breakdowns (followed by a dot: per_class.iv) or bookkeeping; a
# param such as autoaugment.per_class is never followed by a dot, so it stays
BREAKDOWNS = (
    r".*(per_class|per_seed|per_role|per_source|per_kind|by_reason|by_kind|available|operations_applied"
    r"|actions|flagged_per_class|test_per_class|train_per_class|val_per_class|through_links|ignored_folders"
    r"|oof_accuracy|seconds_per_member|role_budget|target_per_class|origin_label_prob|read_as)\."
    r"|.*(_spread\.(min|max|mean)|\.loss|\.seconds|ms_per_step|best_epoch|\.images|\.n|\.epochs)$"
    r"|.*:(images_in|dropped|removed|skipped|converted|class_mix|sub_policies|unchanged|flagged"
    r"|rejected_by_ink_guard|stroke_weakened|duplicate_groups|conflicting_groups|relabeled|mirrored|originals|crops_considered"
    r"|accepted|kept|held_out|pool|test|removed_by_corrections|train|val|total|images|folds|members"
    r"|member_agreement|oof_accuracy_ensemble|method|action|best_seed|seeds|aspect_changed|trimmed|trim)$"
    r"|(best_seed|seeds)$"
    r"|(data|reports|models|metrics)/[^:]*$"  # dependency and output hashes
)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    dvc = os.path.join(os.path.dirname(sys.executable), "dvc")
    return subprocess.call([dvc if os.path.exists(dvc) else "dvc", "exp", "show", "--only-changed",
                            "--drop", BREAKDOWNS, *args])


if __name__ == "__main__":
    sys.exit(main())
