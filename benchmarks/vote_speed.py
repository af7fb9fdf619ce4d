"""Wall time of the vote ensemble's training: one model at a time vs. several side by side.

The same members, folds and epochs on the same originals, in one run on this machine: first
one model at a time in this process (`models_at_once` 1, all threads), then `--at-once` models
side by side in spawned processes with the threads divided (`vote_filter.speed`). Reports the
seconds, the ratio and each run's out-of-fold accuracy (the thread count reorders float sums,
so the probabilities may differ in their last bits, never in kind). With `--compare jit`: the
members compiled by XLA against TensorFlow's own kernels (`vote_filter.train.jit_compile`),
both `--at-once`, and the kernels' run repeated to show it gives the same bytes.

    python -m benchmarks.vote_speed                            # the full ensemble of configs/dcai2021.yaml
    python -m benchmarks.vote_speed --members resnet lenet5    # a part of it, faster
    python -m benchmarks.vote_speed --compare jit              # XLA vs TensorFlow's kernels

Data: ../shared/data/dcai2021 (train/ and val/ pooled, decoded as vote_train does, without
the cleaning stages) when present, else the built-in pool (data/builtin/pool).
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared/data/dcai2021"


def originals(root: Path) -> tuple[list[str], np.ndarray]:
    from dcai.classes import CLASS_INDEX
    from dcai.images import list_class_folder

    parts = [root / "train", root / "val"] if (root / "train").is_dir() else [root]
    paths, labels = [], []
    for part in parts:
        p, y = list_class_folder(part)
        paths += list(p)
        labels += list(y)
    assert max(labels) < len(CLASS_INDEX)
    return paths, np.array(labels, np.int64)


def main() -> int:
    config = yaml.safe_load((REPO / "configs/dcai2021.yaml").read_text())["vote_filter"]["train"]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED if (SHARED / "train").is_dir() else REPO / "data/builtin/pool")
    parser.add_argument("--members", nargs="+", default=config["members"])
    parser.add_argument("--folds", type=int, default=config["folds"])
    parser.add_argument("--epochs", type=int, default=config["epochs"])
    parser.add_argument("--at-once", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="the machine's cores to divide")
    parser.add_argument("--compare", choices=["at-once", "jit"], default="at-once")
    args = parser.parse_args()

    from dcai.vote import images_for_members, out_of_fold_probs, stratified_folds

    paths, labels = originals(args.data)
    x = images_for_members(paths, config["input_size"], config["antialias"])
    folds = stratified_folds(labels, args.folds, config["seed"])
    at_once = {"processes": args.at_once, "threads": max(1, args.threads // args.at_once)}
    if args.compare == "jit":
        plan = [("XLA", at_once, True), ("TensorFlow kernels", at_once, False),
                ("TensorFlow kernels, again", at_once, False)]
    else:
        jit = config["jit_compile"]
        plan = [("one at a time", {"processes": 1, "threads": args.threads}, jit),
                (f"{args.at_once} at once", at_once, jit)]
    runs, probs = {}, {}
    for name, compute, jit_compile in plan:
        start = time.perf_counter()
        result = out_of_fold_probs(x, labels, args.members, folds, args.epochs, config["batch_size"],
                                   config["learning_rate"], config["seed"], jit_compile=jit_compile, compute=compute)
        probs[name] = result["probs"]
        ensemble = result["probs"].mean(axis=0).argmax(axis=1)
        runs[name] = {"seconds": round(time.perf_counter() - start, 1),
                      "oof_accuracy_ensemble": round(float((ensemble == labels).mean()), 4),
                      "oof_accuracy": {m: round(float((result["probs"][i].argmax(1) == labels).mean()), 4)
                                       for i, m in enumerate(args.members)}}
        print(f"vote_speed: {name}: {runs[name]}", flush=True)
    if args.compare == "jit":
        runs["TensorFlow kernels, again"]["same_bytes"] = bool(
            np.array_equal(probs["TensorFlow kernels"], probs["TensorFlow kernels, again"]))
    first, second = list(runs.values())[:2]
    print(json.dumps({"data": str(args.data), "images": len(labels), "members": args.members, "folds": args.folds,
                      "epochs": args.epochs, "runs": runs,
                      "ratio": round(second["seconds"] / first["seconds"], 3)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
