"""Planted label noise: how well does the vote filter find labels known to be wrong?

Flips the labels of a seeded random 10% of the images to another class, computes the
out-of-fold probabilities once with the configured ensemble (params.yaml,
vote_filter.train), then flags with the `vote` rules and with `cleanlab`, for the whole
ensemble and for each member alone. Reports recall of the planted flips and precision
of the flags (on real data, which carries its own noise, precision is a lower bound).

    python -m benchmarks.vote_noise                 # the built-in synthetic pool
    python -m benchmarks.vote_noise --data dcai2021 # ../shared/data/dcai2021 train + val
"""
import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from dcai.images import list_class_folder
from dcai.params import load_params
from dcai.synth import make_dataset
from dcai.vote import images_for_members, out_of_fold_probs, stratified_folds
from dcai.vote_rules import NOISY, VoteRules, flag

SHARED = Path("../shared/data/dcai2021")
SWEEP = (0.03, 0.05, 0.1, 0.15, 0.2)  # min_label_prob values the vote rule is also judged at


def plant_noise(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    planted = rng.choice(len(labels), round(fraction * len(labels)), replace=False)
    noisy = labels.copy()
    noisy[planted] = (labels[planted] + rng.integers(1, 10, len(planted))) % 10
    return noisy, planted


def precision_recall(flags: list, planted: np.ndarray) -> dict:
    """Over all flags, and over the `noisy` ones alone (ambiguous images are a separate call)."""
    out = {}
    for name, keep in (("", lambda f: f), ("noisy_", lambda f: f and f[0] == NOISY)):
        flagged = {i for i, f in enumerate(flags) if keep(f)}
        hits = len(flagged & set(planted.tolist()))
        out.update({f"{name}flagged": len(flagged), f"{name}recall": round(hits / max(1, len(planted)), 3),
                    f"{name}precision": round(hits / max(1, len(flagged)), 3)})
    return out


def load_paths(data: str, workdir: Path) -> tuple[list[str], np.ndarray]:
    if data == "dcai2021":
        folders = [SHARED / "train", SHARED / "val"]
    else:
        p = load_params("make_builtin")
        make_dataset(workdir / "pool", p["pool_per_class"], p["pool_seed"], p["writers"])
        folders = [workdir / "pool"]
    paths, labels = [], []
    for folder in folders:
        ps, ls = list_class_folder(folder)
        paths += ps
        labels.append(ls)
    return paths, np.concatenate(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=["builtin", "dcai2021"], default="builtin")
    parser.add_argument("--fraction", type=float, default=0.10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/vote_noise.json"))
    parser.add_argument("--retrain", action="store_true", help="ignore the cached probabilities next to --out")
    parser.add_argument("--min-label-prob", type=float, help="override vote_filter.min_label_prob")
    parser.add_argument("--max-entropy", type=float, help="override vote_filter.max_entropy")
    args = parser.parse_args()
    p = load_params("vote_filter")
    t = p["train"]
    with tempfile.TemporaryDirectory() as tmp:
        paths, labels = load_paths(args.data, Path(tmp))
        x = images_for_members(paths, t["input_size"], t["antialias"])
    noisy, planted = plant_noise(labels, args.fraction, args.seed)
    cache = args.out.with_suffix(".npz")  # the probabilities: re-judge other thresholds without retraining
    if cache.exists() and not args.retrain:
        saved = np.load(cache)
        probs, wall, seconds = saved["probs"], float(saved["wall"]), {"cached": True}
    else:
        folds = stratified_folds(noisy, t["folds"], t["seed"])
        start = time.perf_counter()
        result = out_of_fold_probs(x, noisy, t["members"], folds, t["epochs"], t["batch_size"],
                                   t["learning_rate"], t["seed"], jit_compile=t["jit_compile"])
        wall, probs, seconds = time.perf_counter() - start, result["probs"], result["seconds"]
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache, probs=probs, wall=wall)
    table = {}
    min_label_prob = args.min_label_prob if args.min_label_prob is not None else p["min_label_prob"]
    max_entropy = args.max_entropy if args.max_entropy is not None else p["max_entropy"]
    for method in ("vote", "cleanlab"):
        rules = VoteRules(method, min_label_prob, max_entropy, "remove", p["relabel_min_prob"], p["majority_vote"])
        table[f"{method} ensemble ({len(t['members'])})"] = precision_recall(flag(probs, noisy, rules), planted)
        for m, name in enumerate(t["members"]):
            table[f"{method} {name} alone"] = precision_recall(flag(probs[m:m + 1], noisy, rules), planted)
    for threshold in SWEEP:  # the ensemble's vote rule at other thresholds, with and without the majority rule
        for majority in (False, True):
            rules = VoteRules("vote", threshold, max_entropy, "remove", p["relabel_min_prob"], majority)
            name = f"vote p<{threshold}" + (" or majority" if majority else "")
            table[name] = precision_recall(flag(probs, noisy, rules), planted)
    print(f"\nparams: min_label_prob {min_label_prob}, majority_vote {p['majority_vote']}, max_entropy {max_entropy}")
    print(f"{args.data}: {len(labels)} images, {len(planted)} labels flipped; "
          f"{t['folds']} folds x {len(t['members'])} members in {wall:.0f} s {seconds}")
    print(f"{'rule':32} {'flagged':>8} {'recall':>7} {'precision':>9}   noisy only: "
          f"{'flagged':>8} {'recall':>7} {'precision':>9}")
    for name, r in table.items():
        print(f"{name:32} {r['flagged']:>8} {r['recall']:>7.3f} {r['precision']:>9.3f}   {'':12}"
              f"{r['noisy_flagged']:>8} {r['noisy_recall']:>7.3f} {r['noisy_precision']:>9.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"data": args.data, "images": len(labels), "planted": len(planted),
                                    "seconds": round(wall, 1), "seconds_per_member": seconds,
                                    "results": table}, indent=2))


if __name__ == "__main__":
    main()
