"""What each curation stage is worth: full 100-epoch scores of recipes on the competition's data.

    python -m benchmarks.recipes                       # every recipe, resumable
    python -m benchmarks.recipes --only raw default    # some of them
    python -m benchmarks.recipes --table [--commit C]  # print the table of what is finished

Each run is `dvc repro` in its own clone of this repository at the current commit, with
params pointed at the real data and one recipe's overrides; clones share one DVC cache,
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

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# name: (params overrides on top of the real-data params, what it measures)
RECIPES = {
    "default": ({}, "every stage, params.yaml as committed"),
    "no_vote_filter": ({"vote_filter": {"action": "review"}}, "the vote filter only reports, removes nothing"),
    "no_autoaugment": ({"autoaugment": {"per_class": 0}}, "no AutoAugment images; balance fills from the rest"),
    "no_five_crop": ({"five_crop": {"per_class": 0}}, "no five-crop images; balance fills from the rest"),
    "raw": (None, "the competition's train/val folders as given, no pipeline"),
}
ORDER = ["default", "no_vote_filter", "raw", "no_autoaugment", "no_five_crop"]


def git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def real_data_params(params: dict, data: Path, test_sets: dict[str, Path], seed: int, overrides: dict) -> dict:
    """params.yaml of a clone: the competition's data as the source, its own test sets, one seed."""
    params["ingest"]["sources"] = [str(data)]
    params["clean"]["corrections"] = "data/corrections/dcai2021.yaml"
    params["train_score"]["test_sets"] = {name: str(path) for name, path in test_sets.items()}
    params["train_score"]["seeds"] = [seed]
    for group, values in overrides.items():
        params[group].update(values)
    return params


def run_pipeline(recipe: str, seed: int, commit: str, args) -> dict:
    clone = args.workdir / f"{recipe}-{seed}-{commit[:8]}"
    if not (clone / ".git").is_dir():
        subprocess.run(["git", "clone", "-q", "--no-checkout", str(REPO), str(clone)], check=True)
        git("checkout", "-q", commit, cwd=clone)
    params = yaml.safe_load((clone / "params.yaml").read_text())
    params = real_data_params(params, args.data, args.test_sets, seed, RECIPES[recipe][0])
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
            "test": {name: s.get("accuracy") for name, s in score["test"].items()}}


def run_raw(seed: int, args) -> dict:
    """The fixed model on the data as provided: its train/ and val/ folders are the submission."""
    from dcai.train_score import set_threads, train_and_score
    speed = yaml.safe_load((REPO / "params.yaml").read_text())["train_score"]["speed"]
    set_threads(speed["intra_op_threads"], speed["inter_op_threads"])
    weights = args.workdir / f"raw-{seed}.weights.h5"
    start = time.perf_counter()
    score, _, _ = train_and_score(args.data, args.test_sets, args.epochs, seed, weights, speed)
    return {"wall_seconds": round(time.perf_counter() - start, 1), "train_seconds": score["train"]["seconds"],
            "images": score["train"]["images"] + score["val"]["n"], "val": score["val"]["accuracy"],
            "test": {name: s.get("accuracy") for name, s in score["test"].items()}}


def load_results(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def save_results(path: Path, results: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def table(results: dict, commit: str) -> str:
    """Markdown: one row per recipe, test accuracies as mean (min-max over seeds)."""
    rows = {}
    for key, r in results.items():
        recipe, seed, c = key.split("|")
        if c == commit:
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
            return f"{mean:.3f}" + (f" ({min(values):.3f}-{max(values):.3f})" if len(values) > 1 else "")
        walls = " / ".join(f"{r['wall_seconds'] / 60:.0f} ({r['train_seconds'] / 60:.0f})" for r in runs)
        lines.append(f"| {recipe} | {len(runs)} | {runs[0]['images']} | "
                     + " | ".join(cell([r["test"].get(s) for r in runs]) for s in sets)
                     + f" | {cell([r['val'] for r in runs])} | {walls} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(REPO.parent / "shared/data/dcai2021"))
    parser.add_argument("--other-writers", default=str(REPO.parent / "shared/data/other_writers"))
    parser.add_argument("--workdir", default=str(REPO / "benchmarks/results/recipes"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[123, 124], help="seeds of the default recipe")
    parser.add_argument("--epochs", type=int, default=100, help="raw recipe only; the others use params.yaml")
    parser.add_argument("--only", nargs="+", choices=list(RECIPES))
    parser.add_argument("--table", action="store_true", help="print the finished runs and stop")
    parser.add_argument("--commit", help="with --table: the commit whose runs to print (default: HEAD)")
    args = parser.parse_args()
    args.data, args.workdir = Path(args.data).resolve(), Path(args.workdir).resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    args.test_sets = {"label_book": args.data / "label_book"}
    if Path(args.other_writers).is_dir():
        args.test_sets["other_writers"] = Path(args.other_writers).resolve()
    commit = git("rev-parse", "HEAD")
    results_path = args.workdir / "results.json"
    results = load_results(results_path)
    if args.table:
        measured = git("rev-parse", args.commit) if args.commit else commit
        print(f"Commit {measured[:8]}:\n\n{table(results, measured)}")
        return 0
    if not (args.data / "train").is_dir():
        print(f"recipes: no competition data at {args.data} (train/ missing); pass --data", file=sys.stderr)
        return 1
    if git("status", "--porcelain", "--untracked-files=no"):
        print("recipes: uncommitted changes are not measured; runs use commit " + commit[:8], file=sys.stderr)
    plan = [(recipe, seed) for recipe in ORDER if not args.only or recipe in args.only
            for seed in (args.seeds if recipe == "default" else args.seeds[:1])]
    for recipe, seed in plan:
        key = f"{recipe}|{seed}|{commit}"
        if key in results:
            print(f"recipes: {recipe} seed {seed}: done before, skipped", flush=True)
            continue
        print(f"recipes: {recipe} seed {seed} ({RECIPES[recipe][1]}) ...", flush=True)
        result = run_raw(seed, args) if recipe == "raw" else run_pipeline(recipe, seed, commit, args)
        results = load_results(results_path)
        results[key] = result
        save_results(results_path, results)
        print(f"recipes: {recipe} seed {seed}: {result}", flush=True)
    print(f"\nCommit {commit[:8]}, data {args.data}, 100 epochs of the fixed model per run:\n")
    print(table(load_results(results_path), commit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
