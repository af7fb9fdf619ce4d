"""Stage train_score: data/submission -> models/, metrics/score.json, curves.

Trains the fixed model once per seed in train_score.seeds; scores are reported per seed and
as mean/std/min/max, because one 100-epoch run moves by a few points from run to run.
Every seed's best-val weights are kept (models/seeds/seed_<s>.weights.h5); the seed with
the best val accuracy (the first of equals) is models/best.weights.h5, and its confusion
matrices and error galleries are the ones written. Choosing by val, never by a test set,
keeps the test scores honest.
"""
import shutil
import sys
from pathlib import Path

# dcai first: it quiets TensorFlow's start-up log before dvclive.keras imports TensorFlow
from dcai.atomic import write_json
from dcai.manifest import read_manifest
from dcai.params import load_params
from dcai.review import contact_sheet
from dcai.seeds import train_seeds
from dcai.train_score import label_book_warning, set_threads, summarize_seeds
from dcai.twins import count_twins, submission_digests

SUBMISSION = Path("data/submission")
WEIGHTS = Path("models/best.weights.h5")
SEED_WEIGHTS = Path("models/seeds")
LIVE_DIR = Path("metrics/train")
ERRORS = Path("reports/errors")
HOLDOUT = Path("data/holdout/test")
SPLIT = Path("data/split/manifest.csv")
RESUME = Path("models/.resume/train_score")  # finished seeds of an interrupted run; not a DVC output  # what the submission holds, with each image's source role


def main() -> int:
    p = load_params("train_score")
    set_threads(p["speed"]["intra_op_threads"], p["speed"]["inter_op_threads"])
    test_sets = {name: Path(path) for name, path in (p["test_sets"] or {}).items()}
    missing = [f"{n}: {t}" for n, t in test_sets.items() if not t.is_dir()]
    if missing:
        print(f"train_score: test set folder not found: {', '.join(missing)}", file=sys.stderr)
        return 1
    if HOLDOUT.is_dir() and any(HOLDOUT.rglob("*.png")):
        if "holdout" in test_sets:
            print("train_score: 'holdout' is the held-out set's name; rename that test set", file=sys.stderr)
            return 1
        test_sets["holdout"] = HOLDOUT
    shutil.rmtree(SEED_WEIGHTS, ignore_errors=True)
    at_once = min(p["speed"]["seeds_at_once"], len(p["seeds"]))
    print(f"train_score: seeds {p['seeds']}, {at_once} at a time", flush=True)
    trained = train_seeds(p["seeds"], SUBMISSION, test_sets, p["epochs"], SEED_WEIGHTS, p["speed"], LIVE_DIR,
                          at_once, resume_dir=RESUME, compute=load_params("compute"))
    per_seed = {seed: r[0] for seed, r in trained.items()}
    details = {seed: r[1:] for seed, r in trained.items()}
    best = max(per_seed, key=lambda s: per_seed[s]["val"]["accuracy"])  # max keeps the first of equals
    shutil.copyfile(SEED_WEIGHTS / f"seed_{best}.weights.h5", WEIGHTS)
    best_confusion, best_errors = details[best]
    scores = summarize_seeds(per_seed)
    scores["best_seed"] = best
    trained_on = submission_digests(SUBMISSION)
    for name, path in test_sets.items():  # the overlap is reported, never removed: it is part of the test
        scores["test"][name]["identical_in_training"] = count_twins(path, trained_on)
    warning = label_book_warning(read_manifest(SPLIT))
    scores.update(warning)
    if warning:
        print(f"train_score: warning: {warning['warning']}", file=sys.stderr)
    for name, rows in best_confusion.items():
        write_json(f"metrics/confusion/{name}.json", rows)
    ERRORS.mkdir(parents=True, exist_ok=True)
    for name, rows in best_errors.items():  # "true>predicted p" under each image the model got wrong
        contact_sheet(rows, caption_key="caption").save(ERRORS / f"{name}.png")
    write_json("metrics/score.json", scores)
    shutil.rmtree(RESUME, ignore_errors=True)  # the outputs are written: nothing left to resume
    summary = ", ".join(f"{n} {s.get('accuracy', 'n/a')}" for n, s in scores["test"].items())
    print(f"train_score: mean over seeds {p['seeds']}: val {scores['val']['accuracy']}; test {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
