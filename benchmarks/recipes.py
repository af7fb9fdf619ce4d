"""What each curation stage is worth: full 100-epoch scores of recipes on the competition's data.

    python -m benchmarks.recipes                       # every recipe, 3 seeds each, resumable
    python -m benchmarks.recipes --only raw default    # some of them
    python -m benchmarks.recipes --table [--commit C]  # print the table of what is finished

Each run is `dvc repro` in its own clone of this repository at the current commit (`before`:
at --before-commit), with configs/dcai2021.yaml applied (the competition's data, fully
automatic, scored on the test half, the label book and other writers) and one recipe's
overrides; clones share one DVC cache,
so its run cache restores stages whose inputs did not change (the vote ensemble is
trained once for all recipes). `raw` trains the fixed model on the competition's own
train/val folders as given. Every finished run is written to results.json keyed by
recipe, seed and commit; a rerun skips those and resumes an unfinished clone.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from benchmarks.human_review import write_corrections

REPO = Path(__file__).resolve().parents[1]
BEFORE = "4339d87"  # the last default before the recipe was measured on the test half
BIN = Path(sys.executable).parent

CONFIG = REPO / "configs/dcai2021.yaml"
HUMAN_CORRECTIONS = "data/corrections/human_reviewed.yaml"  # written into the clone, never committed
NO_VOTE_FILTER = {"vote_filter": {"action": "review", "ambiguous_action": "review"}}

# name: (params overrides on top of the real-data params, what it measures)
RECIPES = {
    "default": ({}, "every stage, params.yaml as committed, fully automatic"),
    "before": ({}, "the default of --before-commit, fully automatic"),
    "no_vote_filter": (NO_VOTE_FILTER, "the vote filter only reports, removes nothing"),
    "human_reviewed": ({**NO_VOTE_FILTER, "clean": {"corrections": HUMAN_CORRECTIONS}},
                       "HUMAN-REVIEWED reference: the manual review's remove/relabel rows as corrections, "
                       "vote filter off"),
    "no_autoaugment": ({"autoaugment": {"per_class": 0}}, "no AutoAugment images; balance fills from the rest"),
    "no_five_crop": ({"five_crop": {"per_class": 0}}, "no five-crop images; balance fills from the rest"),
    "raw": (None, "the competition's train/val folders as given, no pipeline"),
}
ORDER = ["raw", "before", "default", "no_vote_filter", "human_reviewed", "no_autoaugment", "no_five_crop"]


def git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def real_data_params(params: dict, config: dict, seed: int, overrides: dict) -> dict:
    """params.yaml of a clone: configs/dcai2021.yaml with its paths made absolute (they are
    relative to this checkout, and the clone lives elsewhere), one seed, the recipe's overrides."""
    config = json.loads(json.dumps(config))
    config["ingest"]["sources"] = [str((REPO / s).resolve()) for s in config["ingest"]["sources"]]
    config["train_score"]["test_sets"] = {n: str((REPO / p).resolve())
                                          for n, p in config["train_score"]["test_sets"].items()}
    config["train_score"]["seeds"] = [seed]
    for layer in (config, overrides):
        for group, values in layer.items():
            params[group].update(values)
    return params


def run_pipeline(recipe: str, seed: int, commit: str, args) -> dict:
    clone = args.workdir / f"{recipe}-{seed}-{commit[:8]}"
    if not (clone / ".git").is_dir():
        subprocess.run(["git", "clone", "-q", "--no-checkout", str(REPO), str(clone)], check=True)
        git("checkout", "-q", commit, cwd=clone)
    params = yaml.safe_load((clone / "params.yaml").read_text())
    params = real_data_params(params, yaml.safe_load(CONFIG.read_text()), seed, RECIPES[recipe][0])
    corrections = clone / params["clean"]["corrections"]
    if recipe == "human_reviewed":
        write_corrections(args.review, corrections)
    elif not corrections.exists():  # an older commit without data/corrections/none.yaml
        corrections.write_text("[]\n")
    (clone / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(clone / "src")}
    subprocess.run([str(BIN / "dvc"), "cache", "dir", str(args.workdir / "dvc-cache")], cwd=clone, env=env, check=True)
    log = args.workdir / f"{clone.name}.log"
    start = time.perf_counter()
    with open(log, "a") as fh:
        done = subprocess.run([str(BIN / "dvc"), "repro"], cwd=clone, env=env, stdout=fh, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise RuntimeError(f"{recipe} seed {seed}: dvc repro failed, see {log}")
    score = json.loads((clone / "metrics/score.json").read_text())
    package = json.loads((clone / "metrics/package.json").read_text())
    return {"wall_seconds": round(time.perf_counter() - start, 1),
            "train_seconds": score["train"]["seconds"], "images": package["train"] + package["val"],
            "val": score["val"]["accuracy"],
            "test": {name: s.get("accuracy") for name, s in score["test"].items()},
            "identical_in_training": {name: s.get("identical_in_training") for name, s in score["test"].items()}}


def run_raw(seed: int, args) -> dict:
    """The fixed model on the data as provided: its train/ and val/ folders are the submission."""
    from dcai.train_score import set_threads, train_and_score
    speed = yaml.safe_load((REPO / "params.yaml").read_text())["train_score"]["speed"]
    set_threads(speed["intra_op_threads"], speed["inter_op_threads"])
    weights = args.workdir / f"raw-{seed}.weights.h5"
    start = time.perf_counter()
    test_sets = {n: (REPO / p).resolve() for n, p in yaml.safe_load(CONFIG.read_text())["train_score"]["test_sets"].items()}
    score, _, _ = train_and_score(args.data, test_sets, args.epochs, seed, weights, speed)
    return {"wall_seconds": round(time.perf_counter() - start, 1), "train_seconds": score["train"]["seconds"],
            "images": score["train"]["images"] + score["val"]["n"], "val": score["val"]["accuracy"],
            "test": {name: s.get("accuracy") for name, s in score["test"].items()}}


def load_results(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def save_results(path: Path, results: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def table(results: dict, commit: str, before: str) -> str:
    """Markdown: one row per recipe, test accuracies as mean ± std [min-max] over seeds."""
    rows = {}
    for key, r in results.items():
        recipe, seed, c = key.split("|")
        if c == commit or (recipe == "before" and c == before):
            rows.setdefault(recipe, []).append(r)
    sets = sorted({name for runs in rows.values() for r in runs for name in r["test"]})
    lines = [f"| recipe | seeds | images | {' | '.join(sets)} | val | wall min (train) |",
             "|---|---|---|" + "---|" * len(sets) + "---|---|"]
    for recipe in [r for r in ORDER if r in rows]:
        runs = rows[recipe]

        def cell(values):
            values = [v for v in values if v is not None]
            if not values:
                return "n/a"
            mean = sum(values) / len(values)
            if len(values) == 1:
                return f"{mean:.3f}"
            std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
            return f"{mean:.3f} ± {std:.3f} [{min(values):.3f}-{max(values):.3f}]"
        walls = " / ".join(f"{r['wall_seconds'] / 60:.0f} ({r['train_seconds'] / 60:.0f})" for r in runs)
        lines.append(f"| {recipe} | {len(runs)} | {runs[0]['images']} | "
                     + " | ".join(cell([r["test"].get(s) for r in runs]) for s in sets)
                     + f" | {cell([r['val'] for r in runs])} | {walls} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(REPO.parent / "shared/data/dcai2021"))
    parser.add_argument("--review", type=Path, default=REPO.parent / "shared/data/dcai2021_review/manual_review.csv",
                        help="the manual review, for the human_reviewed reference only")
    parser.add_argument("--workdir", default=str(REPO / "benchmarks/results/recipes"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[123, 124, 125])
    parser.add_argument("--before-commit", default=BEFORE, help="the commit whose default is `before`")
    parser.add_argument("--epochs", type=int, default=100, help="raw recipe only; the others use params.yaml")
    parser.add_argument("--only", nargs="+", choices=list(RECIPES))
    parser.add_argument("--table", action="store_true", help="print the finished runs and stop")
    parser.add_argument("--commit", help="with --table: the commit whose runs to print (default: HEAD)")
    args = parser.parse_args()
    args.data, args.workdir = Path(args.data).resolve(), Path(args.workdir).resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    commit = git("rev-parse", "HEAD")
    before = git("rev-parse", args.before_commit)
    results_path = args.workdir / "results.json"
    results = load_results(results_path)
    if args.table:
        measured = git("rev-parse", args.commit) if args.commit else commit
        print(f"Commit {measured[:8]} (before: {before[:8]}):\n\n{table(results, measured, before)}")
        return 0
    if not (args.data / "train").is_dir():
        print(f"recipes: no competition data at {args.data} (train/ missing); pass --data", file=sys.stderr)
        return 1
    if git("status", "--porcelain", "--untracked-files=no"):
        print("recipes: uncommitted changes are not measured; runs use commit " + commit[:8], file=sys.stderr)
    plan = [(recipe, seed) for seed in args.seeds for recipe in (args.only or ORDER)]
    for recipe, seed in plan:
        at = before if recipe == "before" else commit
        key = f"{recipe}|{seed}|{at}"
        if key in results:
            print(f"recipes: {recipe} seed {seed}: done before, skipped", flush=True)
            continue
        print(f"recipes: {recipe} seed {seed} ({RECIPES[recipe][1]}) ...", flush=True)
        result = run_raw(seed, args) if recipe == "raw" else run_pipeline(recipe, seed, at, args)
        results = load_results(results_path)
        results[key] = result
        save_results(results_path, results)
        print(f"recipes: {recipe} seed {seed}: {result}", flush=True)
    print(f"\nCommit {commit[:8]}, data {args.data}, 100 epochs of the fixed model per run:\n")
    print(table(load_results(results_path), commit, before))
    return 0


if __name__ == "__main__":
    sys.exit(main())
