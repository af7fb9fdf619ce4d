"""What each curation stage is worth: full 100-epoch scores of recipes on the competition's data.

    python -m benchmarks.recipes                       # every recipe, 3 seeds each, resumable
    python -m benchmarks.recipes --only raw default    # some of them
    python -m benchmarks.recipes --table [--commit C]  # print the table of what is finished
    python -m benchmarks.recipes --epochs 25 --only raw default   # screening runs, rows of their own
    python -m benchmarks.recipes --compare default:03ee171+1592e0e variations_milder:cfe2848
                                                       # B against A: difference, its standard error, seeds needed

When recipes have both full and screening runs at a commit, the table is followed by how well
the screening ranks them: Spearman's rank correlation of the mean test-half scores, and every
pair of recipes with the full runs' gap beside whether the screening orders it the same way.

Each recipe is `dvc repro` in its own clone of this repository at the current commit, with
configs/dcai2021.yaml applied (the competition's data, fully
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
from benchmarks.seed_stats import RESOLVING_STANDARD_ERRORS, mean_and_sd, pooled_sd, seeds_per_recipe, welch
from dcai.classes import CLASSES

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

CONFIG = REPO / "configs/dcai2021.yaml"
HUMAN_CORRECTIONS = "data/corrections/human_reviewed.yaml"  # written into the clone, never committed
NO_VOTE_FILTER = {"vote_filter": {"action": "review", "ambiguous_action": "review"}}
REAL_DATA = yaml.safe_load(CONFIG.read_text())


def from_repo(path: str) -> str:
    """A path of configs/dcai2021.yaml (relative to this checkout) as the clones must see it."""
    return str((REPO / path).resolve())


# the competition's folders, for recipes that add sources beside them
COMPETITION_SOURCES = [from_repo(s) for s in REAL_DATA["ingest"]["sources"]]
# overrides are shallow per group, so a recipe that changes one knob of the ensemble gives it whole
VOTE_TRAIN = REAL_DATA["vote_filter"]["train"]
TRAIN_SPEED = yaml.safe_load((REPO / "params.yaml").read_text())["train_score"]["speed"]

# name: (params overrides on top of the real-data params, what it measures)
# the default until commit 4339d87, on today's code: the vote filter removed noisy (p < 0.1)
# and ambiguous flags, AutoAugment had no ink guard (min_ink_kept 0 accepts every draw, as before)
PREVIOUS_DEFAULT = {"vote_filter": {"min_label_prob": 0.1, "action": "remove", "relabel_min_prob": 0.9,
                                    "ambiguous_action": "remove"},
                    "autoaugment": {"min_ink_kept": 0.0}}
RECIPES = {
    "default": ({}, "every stage, params.yaml as committed, fully automatic"),
    "before": (PREVIOUS_DEFAULT, "the previous default's params (4339d87) on today's code, fully automatic"),
    "no_vote_filter": (NO_VOTE_FILTER, "the vote filter only reports, removes nothing"),
    "human_reviewed": ({**NO_VOTE_FILTER, "clean": {"corrections": HUMAN_CORRECTIONS}},
                       "HUMAN-REVIEWED reference: the manual review's remove/relabel rows as corrections, "
                       "vote filter off"),
    "no_autoaugment": ({"autoaugment": {"per_class": 0}}, "no AutoAugment images; balance fills from the rest"),
    "no_five_crop": ({"five_crop": {"per_class": 0}}, "no five-crop images; balance fills from the rest"),
    "trim_margin_0.3": ({"standardize": {"trim_margin": 0.3}},
                        "the crops to the ink framed with 30% of the ink's larger side instead of 10%: "
                        "closer to the originals' framing"),
    "keep_aspect": ({"standardize": {"mode": "keep"}},
                    "wide and tall originals stay as they are (the test's loader squashes them) instead of squared"),
    "augment_before_flip": ({"balance": {"priority": ["original", "crop", "trim", "augment", "flip"]}},
                            "balance fills with AutoAugment images before mirrored ones"),
    "augment_before_trim": ({"balance": {"priority": ["original", "crop", "augment", "trim", "flip"]}},
                            "balance fills with AutoAugment images before crop-to-ink and mirrored ones"),
    "variations_before_flip": ({"variations": {"per_class": 1500},
                                "balance": {"priority": ["original", "crop", "trim", "variation", "augment", "flip"]}},
                               "balance fills with one hand's variations (variations stage) before AutoAugment and mirrors"),
    "variations_first": ({"variations": {"per_class": 1500},
                          "balance": {"priority": ["original", "variation", "crop", "trim", "augment", "flip"]}},
                         "originals, then one hand's variations fill every other slot"),
    "more_crops": ({"five_crop": {"per_class": 400},
                    "balance": {"priority": ["original", "trim", "crop", "flip", "augment"]}},
                   "400 guarded five-crops per class (80 by default) after the originals and their crops to the ink"),
    "three_members": ({"vote_filter": {"train": {**VOTE_TRAIN, "members": ["resnet", "alexnet", "vgg"]}}},
                      "the vote ensemble of its three strongest members (benchmarks.cleaning: precision 0.72 vs 0.69, "
                      "0.78x the training); configs/dcai2021.yaml's own ensemble since 152101b, so from there on "
                      "it equals `default`"),
    "variations_stronger": ({"variations": {"rotate": 15, "shear": 15, "scale": [0.75, 1.15], "translate": 0.1,
                                            "stroke": 0.03}},
                            "the default mix with wider variations: 15 degrees of rotation and slant, scale "
                            "0.75-1.15, shifts of 10%, stroke 3%"),
    "no_trims": ({"balance": {"priority": ["original", "crop", "variation", "augment", "flip", "trim"]}},
                 "the default mix with crops to the ink last (so none fit): the test images are not cropped, so "
                 "their slots go to one hand's variations of the whole image"),
    "noisy_below_0.3": ({"vote_filter": {"min_label_prob": 0.3}},
                        "the vote filter acts when the ensemble gives the label less than 0.3 (0.2 by default; "
                        "benchmarks.cleaning: recall 0.65 at precision 0.54 vs 0.53 at 0.69)"),
    "originals_twice": ({"balance": {"original_copies": 2}},
                        "every original twice (balance.original_copies), before the crops and variations: the "
                        "test images are originals, so they weigh twice against the generated images"),
    "originals_thrice": ({"balance": {"original_copies": 3}},
                         "every original three times: about 80% of each class's slots are originals"),
    "class_mix_originals": ({"balance": {"class_mix": "originals"}},
                            "each class's share of the 10k slots follows its share of the cleaned originals, not uniform"),
    "vote_40_epochs": ({"vote_filter": {"train": {**VOTE_TRAIN, "epochs": 40}}},
                       "stronger vote members: the real ensemble trained 40 epochs instead of 20, so the out-of-fold "
                       "probabilities the filter reads are better informed"),
    "variations_guard_0.98": ({"variations": {"min_ink_kept": 0.98}},
                              "variations redrawn when the affine step loses more than 2% of the ink (10% "
                              "before it became the default), five_crop's guard: ~7% of the 10% rule's draws "
                              "lose 2-10%, a cut stroke that can turn viii into vii"),
    "val_originals": ({"split": {"val_originals_only": True}},
                      "val holds originals only, so the best-val checkpoint is chosen on the test's kind of image"),
    "neighbours_20": ({"vote_filter": {"neighbours": 20}},
                      "the vote filter reads the labels of each original's 20 nearest training images in the "
                      "members' feature spaces instead of their probabilities (benchmarks.cleaning: precision "
                      "0.74 vs 0.66, recall 0.51 vs 0.49)"),
    "neighbours_20_remove": ({"vote_filter": {"neighbours": 20, "action": "remove"}},
                             "neighbours_20 removing its noisy flags instead of relabelling them: a wrong relabel "
                             "is copied into every crop and variation of the image, a wrong removal loses one image"),
    "variations_elastic": ({"variations": {"probability": {"stroke": 0.7, "blur": 0.3, "noise": 0.3, "tone": 0.5,
                                                           "elastic": 0.5}}},
                           "half of the variations also bend their strokes elastically (up to 4% of the side, "
                           "smoothed over 10%): a hand's shape changes within a numeral, not only as a whole"),
    "variations_milder": ({"variations": {"rotate": 5, "shear": 5, "scale": [0.9, 1.05], "translate": 0.05}},
                          "variations closer to their originals (5 degrees of rotation and slant, scale 0.9-1.05, "
                          "shifts of 5%): wider variations, elastic bends and looser guards all scored lower"),
    "slots_8000": ({"balance": {"per_class": 800}},
                   "8,000 of the 10,000 slots (800 per class): the originals, their crops and trims stay, the "
                   "variations drop from ~420 to ~220 per class, and each epoch has a fifth fewer steps"),
    "vote_antialias": ({"vote_filter": {"train": {**VOTE_TRAIN, "antialias": True}}},
                       "the vote members read antialiased 32x32 images instead of the loader's (out of fold 0.865 vs "
                       "0.837, the same time); the fixed model still reads the loader's"),
    "variations_aspect_0.2": ({"variations": {"aspect": 0.2}},
                              "variations also stretched: width to height ratio x or / up to 1.2 (vii is taken for "
                              "viii and vi, and the classes' ink is 1.22 vs 1.32 wide to high: width is a cue to unlearn)"),
    "variations_aspect_0.4": ({"variations": {"aspect": 0.4}},
                              "variations stretched up to 1.4 either way, about the spread of a class's own ink "
                              "ratios (log sd 0.23-0.28 for iii..x)"),
    "hard_examples_4": ({"balance": {"hard_example_weight": 4}},
                        "the variations' slots drawn with weight 1 + 4 x (1 - p), p the vote ensemble's out-of-fold "
                        "probability of their original's label: the kept variations' originals average p 0.68 "
                        "instead of 0.75, more variants of what the model is likely to get wrong"),
    "easy_examples_0.9": ({"balance": {"hard_example_weight": -0.9}},
                          "the other direction of hard_examples_4: the variations' slots drawn with weight "
                          "1 - 0.9 x (1 - p), so fewer variants of the originals the ensemble doubts (the kept "
                          "variations' originals average p 0.80 instead of 0.75)"),
    "synthetic_100": ({"ingest": {"sources": [*COMPETITION_SOURCES,
                                              {"path": "data/builtin/pool", "name": "synth", "role": "synthetic"}]},
                       "balance": {"role_budget": {"synthetic": 100}}},
                      "the built-in generator's 100 numerals per class (pen strokes, 16 synthetic writers) beside "
                      "the competition's originals, budgeted to those 100 (no crops or variations of them): they "
                      "take 10% of the slots from the variations. Other hands' vii and viii, counted stroke by stroke"),
    "stroke_guard_0.6": ({"variations": {"stroke_min_ink_kept": 0.6}},
                         "the variations' thinning weakened until 60% of the ink is left: the full 2% (5 px at the "
                         "data's ~250 px, its strokes 4-7 px wide) leaves under half the ink of most originals, and an "
                         "erased stroke changes the numeral (vii is taken for vi and iii, viii for iii)"),
    "stroke_keep_runs": ({"variations": {"stroke_keep_runs": True}},
                         "the stroke-count guard without stroke_guard_0.6's 60% ink floor (which scored lower): "
                         "a stroke change of either sign weakened while it changes how many strokes a line across "
                         "the ink's middle crosses, so no iii thickens into ii and no viii thins into vii"),
    "crops_400": ({"five_crop": {"per_class": 400}},
                  "400 guarded five-crops per class instead of 80, in the default's priority (after the originals, "
                  "before the trims): ~320 of each class's ~460 variation slots go to crops, the winners' own variant "
                  "(85% of the width and height, no stroke, blur or tone change: closer to the original)"),
    "vote_kernels": ({"vote_filter": {"train": {**VOTE_TRAIN, "jit_compile": False}}},
                     "the vote members trained on TensorFlow's own kernels instead of XLA: 0.39-0.45x vote_train's "
                     "time, the same procedure with other float sums (the default at 8c09563 and at 091658c)"),
    "score_kernels": ({"train_score": {"speed": {**TRAIN_SPEED, "jit_compile": False}}},
                      "the default's submission, the fixed model trained on TensorFlow's own kernels instead of XLA "
                      "(train_score.speed.jit_compile: false; the default of configs/dcai2021.yaml at 2f42f76): the same "
                      "recipe with other float sums, 0.92x the training time"),
    "spread_over_originals": ({"balance": {"spread_over_originals": True}},
                              "the default's variations drawn for the slots so that every original's first comes before "
                              "any original's second: originals without a variation 194 instead of 686 of 2,613, none "
                              "with more than 3 (the random draw gave up to 8); the crops are all kept either way"),
    "variations_shape_only": ({"variations": {"probability": {"stroke": 0.7, "blur": 0, "noise": 0, "tone": 0,
                                                              "elastic": 0}}},
                              "the default's variations without their photometric steps (no blur, paper grain or "
                              "tone change; stroke width and the affine step as before): what those steps are worth "
                              "when the test images come from the same scans as the originals"),
    "fixed_member": ({"vote_filter": {"train": {**VOTE_TRAIN, "members": ["resnet", "alexnet", "vgg", "fixed"]}}},
                     "the default's vote ensemble plus the fixed model's own architecture as a fourth member "
                     "(appended, so the first three keep their seeds): the model that is scored, judging the labels"),
    "label_book_source": ({"ingest": {"sources": [*COMPETITION_SOURCES,
                                                  {"path": from_repo("../shared/data/dcai2021/label_book"),
                                                   "name": "label_book", "role": "label_book"}]},
                           "balance": {"role_priority": ["label_book", "competition", "handwritten", "synthetic"]}},
                          "the competition's label book (52 images, 5-6 per class, drawn like the hidden test set) "
                          "as a source beside the train/val folders, first in every kind's role order so its crops, "
                          "trims and variations take slots too; scored on the test half, the label book then no "
                          "longer a test"),
    "non_numerals_300": ({"vote_filter": {"train": {**VOTE_TRAIN, "non_numerals": {
        **VOTE_TRAIN["non_numerals"], "per_fold": 300}}}},
                         "the vote members learn an 11th class of 300 made-up non-numerals per fold (the originals' "
                         "tiles shuffled, numerals on their side, two overlaid), so a doodle's probability goes "
                         "there and its label's below the noisy threshold"),
    "label_guard_variations": ({"label_guard": {"kinds": ["variation"]}},
                               "the default's variations that the out-of-fold vote members read below 0.5 for their "
                               "label, while they read the original at 0.5 or more, left out before balance (about a "
                               "fifth of the 15,000: iii merged into ii, vii and viii thinned): the ink guard sees "
                               "only ink lost to the frame (the default since c60c0af)"),
    "label_guard_all": ({"label_guard": {"kinds": ["variation", "crop", "trim"]}},
                        "the label guard on every generated kind that takes slots: besides the variations, the "
                        "five crops and the crops to the ink the out-of-fold members misread (56 of 800 and 328 of "
                        "2,604 on the default's data) give their slots to variations"),
    "no_label_guard": ({"label_guard": {"kinds": []}},
                       "the default with the label guard off: the default before c60c0af, to pair seeds the "
                       "default at 94764eb did not run"),
    "label_guard_0.7": ({"label_guard": {"min_label_prob": 0.7}},
                        "the default's label guard stricter: a variation is left out when the out-of-fold members "
                        "read its label below 0.7 while they read the original at 0.7 or more (3,631 of 15,000 "
                        "rejected on the default's data, against 3,093 at 0.5)"),
    "label_guard_0.3": ({"label_guard": {"min_label_prob": 0.3}},
                        "the default's label guard more lenient: a variation is left out when the out-of-fold "
                        "members read its label below 0.3 while they read the original at 0.3 or more (2,308 of "
                        "15,000 rejected on the default's data, against 3,093 at 0.5)"),
    "raw": (None, "the competition's train/val folders as given, no pipeline"),
}
FULL_EPOCHS = 100  # the fixed model's recipe
SCORED_ON = "competition_test"  # the test set that ranks recipes (configs/dcai2021.yaml)
ORDER = ["raw", "before", "default", "no_vote_filter", "human_reviewed", "no_autoaugment", "no_five_crop",
         "augment_before_flip", "augment_before_trim", "val_originals", "variations_before_flip", "variations_first",
         "more_crops", "three_members", "variations_stronger", "no_trims", "noisy_below_0.3",
         "originals_twice", "originals_thrice", "class_mix_originals", "vote_40_epochs",
         "variations_guard_0.98", "neighbours_20", "neighbours_20_remove"]


def git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def real_data_params(params: dict, config: dict, seeds: list[int], overrides: dict) -> dict:
    """params.yaml of a clone: configs/dcai2021.yaml with its paths made absolute (they are
    relative to this checkout, and the clone lives elsewhere), the seeds, the recipe's overrides."""
    config = json.loads(json.dumps(config))
    config["ingest"]["sources"] = [from_repo(s) for s in config["ingest"]["sources"]]
    config["train_score"]["test_sets"] = {n: from_repo(p)
                                          for n, p in config["train_score"]["test_sets"].items()}
    config["train_score"]["seeds"] = list(seeds)
    for layer in (config, overrides):
        for group, values in layer.items():
            params[group].update(values)
    return params


def run_name(recipe: str, epochs: int) -> str:
    """A screening run (fewer than the recipe's 100 epochs) is a row of its own, never mixed with full runs."""
    return recipe if epochs == FULL_EPOCHS else f"{recipe}@e{epochs}"


def seed_result(scores: dict, images: int, wall: float) -> dict:
    return {"wall_seconds": round(wall, 1), "train_seconds": scores["train"]["seconds"], "images": images,
            "val": scores["val"]["accuracy"],
            "test": {name: s.get("accuracy") for name, s in scores["test"].items()},
            "per_class": {name: s["per_class"] for name, s in scores["test"].items() if s.get("per_class")}}


def run_pipeline(recipe: str, seeds: list[int], commit: str, args) -> dict[int, dict]:
    """`dvc repro` in the recipe's clone; every seed trained side by side (train_score.speed.seeds_at_once)."""
    clone = args.workdir / f"{run_name(recipe, args.epochs).replace('@', '-')}-{commit[:8]}"
    if not (clone / ".git").is_dir():
        subprocess.run(["git", "clone", "-q", "--no-checkout", str(REPO), str(clone)], check=True)
        git("checkout", "-q", commit, cwd=clone)
    params = yaml.safe_load((clone / "params.yaml").read_text())
    params = real_data_params(params, REAL_DATA, seeds, RECIPES[recipe][0])
    params["train_score"]["speed"]["seeds_at_once"] = args.at_once
    params["train_score"]["epochs"] = args.epochs
    corrections = clone / params["clean"]["corrections"]
    if recipe == "human_reviewed":
        write_corrections(args.review, corrections)
    (clone / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(clone / "src")}
    subprocess.run([str(BIN / "dvc"), "cache", "dir", str(args.workdir / "dvc-cache")], cwd=clone, env=env, check=True)
    log = args.workdir / f"{clone.name}.log"
    start = time.perf_counter()
    with open(log, "a") as fh:
        done = subprocess.run([str(BIN / "dvc"), "repro"], cwd=clone, env=env, stdout=fh, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise RuntimeError(f"{recipe} seeds {seeds}: dvc repro failed, see {log}")
    wall = time.perf_counter() - start
    score = json.loads((clone / "metrics/score.json").read_text())
    package = json.loads((clone / "metrics/package.json").read_text())
    return {int(s): {**seed_result(r, package["train"] + package["val"], wall),
                     "identical_in_training": {n: t.get("identical_in_training") for n, t in score["test"].items()}}
            for s, r in score["per_seed"].items()}


def run_raw(seeds: list[int], args) -> dict[int, dict]:
    """The fixed model on the data as provided: its train/ and val/ folders are the submission."""
    from dcai.seeds import train_seeds
    test_sets = {n: (REPO / p).resolve() for n, p in REAL_DATA["train_score"]["test_sets"].items()}
    start = time.perf_counter()
    trained = train_seeds(seeds, args.data, test_sets, args.epochs, args.workdir / "raw-weights", TRAIN_SPEED, None,
                          args.at_once)
    wall = time.perf_counter() - start
    return {seed: seed_result(r[0], r[0]["train"]["images"] + r[0]["val"]["n"], wall) for seed, r in trained.items()}


def load_results(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def save_results(path: Path, results: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def runs_at(results: dict, commit: str) -> dict[str, list[dict]]:
    """The finished runs of one commit, per run name (recipe or recipe@eN), one per seed."""
    runs = {}
    for key, r in results.items():
        name, _, c = key.split("|")
        if c == commit:
            runs.setdefault(name, []).append(r)
    return runs


def table(results: dict, commit: str) -> str:
    """Markdown: one row per recipe, test accuracies as mean ± std [min-max] over seeds."""
    rows = runs_at(results, commit)
    sets = sorted({name for runs in rows.values() for r in runs for name in r["test"]})
    lines = [f"| recipe | seeds | images | {' | '.join(sets)} | val | wall min (longest training) |",
             "|---|---|---|" + "---|" * len(sets) + "---|---|"]
    def order(name):  # full runs first, each recipe's screening runs after it
        recipe, _, epochs = name.partition("@e")
        return ORDER.index(recipe) if recipe in ORDER else len(ORDER), -int(epochs or FULL_EPOCHS)
    for recipe in sorted(rows, key=order):
        runs = rows[recipe]

        def cell(values):
            values = [v for v in values if v is not None]
            if not values:
                return "n/a"
            mean, std = mean_and_sd(values)
            if len(values) == 1:
                return f"{mean:.3f}"
            return f"{mean:.3f} ± {std:.3f} [{min(values):.3f}-{max(values):.3f}]"
        walls = f"{runs[0]['wall_seconds'] / 60:.0f} ({max(r['train_seconds'] for r in runs) / 60:.0f})"
        lines.append(f"| {recipe} | {len(runs)} | {runs[0]['images']} | "
                     + " | ".join(cell([r["test"].get(s) for r in runs]) for s in sets)
                     + f" | {cell([r['val'] for r in runs])} | {walls} |")
    return "\n".join(lines)


def recipe_means(results: dict, commit: str, test_set: str) -> dict[str, float]:
    scores = {name: [r["test"][test_set] for r in runs if r["test"].get(test_set) is not None]
              for name, runs in runs_at(results, commit).items()}
    return {name: sum(v) / len(v) for name, v in scores.items() if v}


def screening_agreement(results: dict, commit: str, test_set: str = SCORED_ON) -> list[dict]:
    """Per screening length: how the short runs rank the recipes that also have full runs."""
    from scipy.stats import spearmanr

    means = recipe_means(results, commit, test_set)
    lengths = sorted({int(n.partition("@e")[2]) for n in means if "@e" in n})
    found = []
    for epochs in lengths:
        recipes = [r for r in ORDER if r in means and run_name(r, epochs) in means]
        if len(recipes) < 2:
            continue
        full = [means[r] for r in recipes]
        short = [means[run_name(r, epochs)] for r in recipes]
        pairs = [{"pair": (a, b), "full_gap": means[a] - means[b],
                  "same_order": (means[a] - means[b]) * (means[run_name(a, epochs)] - means[run_name(b, epochs)]) > 0}
                 for i, a in enumerate(recipes) for b in recipes[i + 1:]]
        rho = spearmanr(full, short).statistic if len(recipes) > 2 else float("nan")
        found.append({"epochs": epochs, "recipes": recipes, "spearman": float(rho), "pairs": pairs})
    return found


def agreement_text(found: list[dict]) -> str:
    lines = []
    for a in found:
        agree = sum(p["same_order"] for p in a["pairs"])
        lines.append(f"\nScreening at {a['epochs']} epochs vs full {FULL_EPOCHS} ({SCORED_ON}, means over seeds), "
                     f"{len(a['recipes'])} recipes: Spearman {a['spearman']:.2f}, "
                     f"{agree} of {len(a['pairs'])} pairs in the same order")
        for p in sorted(a["pairs"], key=lambda p: -abs(p["full_gap"])):
            lines.append(f"  {p['pair'][0]} - {p['pair'][1]}: full {100 * p['full_gap']:+.1f} points, "
                         f"{'same order' if p['same_order'] else 'ORDER FLIPPED'}")
    return "\n".join(lines)


def parse_spec(spec: str, default_commit: str) -> tuple[str, list[str]]:
    """`recipe` (at the default commit) or `recipe:c1+c2`: the recipe's seeds at those
    commits (prefixes), pooled. Pool only commits whose recipe params are the same."""
    name, _, commits = spec.partition(":")
    return name, [c for c in commits.split("+") if c] or [default_commit]


def seed_runs(results: dict, name: str, commits: list[str], test_set: str = SCORED_ON) -> dict[int, dict]:
    """Each seed's finished run of `name` at any of `commits`; a seed measured at two of them
    is one training counted twice, so that is refused."""
    runs, where = {}, {}
    for key, r in results.items():
        run, seed, commit = key.split("|")
        if run != name or not any(commit.startswith(c) for c in commits) or r["test"].get(test_set) is None:
            continue
        if int(seed) in runs:
            raise ValueError(f"{name}: seed {seed} was measured at {where[int(seed)][:8]} and {commit[:8]}; "
                             "pool commits that ran different seeds")
        runs[int(seed)], where[int(seed)] = r, commit
    return runs


def run_scores(runs: dict[int, dict], test_set: str) -> dict[int, float]:
    return {seed: r["test"][test_set] for seed, r in runs.items()}


def seed_scores(results: dict, name: str, commits: list[str], test_set: str = SCORED_ON) -> dict[int, float]:
    return run_scores(seed_runs(results, name, commits, test_set), test_set)


def class_means(runs: list[dict], test_set: str) -> dict[str, float] | None:
    """Each class's accuracy on `test_set`, averaged over the runs; None when a run has no
    classes recorded (results from before they were kept)."""
    per_run = [r.get("per_class", {}).get(test_set) for r in runs]
    if not per_run or any(p is None for p in per_run):
        return None
    return {c: sum(p[c] for p in per_run) / len(per_run) for c in CLASSES if c in per_run[0]}


def class_text(name_a: str, a: list[dict], name_b: str, b: list[dict], test_set: str) -> str:
    """Where B's accuracy differs from A's, class by class: which numerals a recipe moves."""
    mean_a, mean_b = class_means(a, test_set), class_means(b, test_set)
    if mean_a is None or mean_b is None:
        return f"Per class: not recorded for every seed of {name_a} and {name_b}"
    return (f"Per class on {test_set}, {name_a} -> {name_b} (means over seeds; B - A in points):\n  "
            + "\n  ".join(f"{c:>4}: {mean_a[c]:.3f} -> {mean_b[c]:.3f} ({100 * (mean_b[c] - mean_a[c]):+.1f})"
                           for c in mean_a if c in mean_b))


def full_run_spreads(results: dict, test_set: str = SCORED_ON) -> list[list[float]]:
    """Per (recipe, commit) full pipeline run, its seeds' scores: what the seed spread is
    estimated from. raw (no pipeline, far noisier) and screening runs are left out."""
    groups = {}
    for key, r in results.items():
        run, _, commit = key.split("|")
        if run == "raw" or "@e" in run or r["test"].get(test_set) is None:
            continue
        groups.setdefault((run, commit), []).append(r["test"][test_set])
    return list(groups.values())


def compare_text(results: dict, spec_a: str, spec_b: str, commit: str, test_set: str = SCORED_ON) -> str:
    """B against A on `test_set`: both means, their difference with its standard error and
    Welch's test, and how many seeds a gap of that size needs against the pooled seed spread."""
    lines, sides = [], []
    for spec in (spec_a, spec_b):
        name, commits = parse_spec(spec, commit)
        runs = seed_runs(results, name, commits, test_set)
        scores = run_scores(runs, test_set)
        if len(scores) < 2:
            raise ValueError(f"{spec}: {len(scores)} seed(s) in the results; a comparison needs 2 or more per side")
        mean, sd = mean_and_sd(list(scores.values()))
        lines.append(f"{name} ({len(scores)} seeds: {', '.join(str(s) for s in sorted(scores))}; "
                     f"at {', '.join(c[:8] for c in commits)}): {mean:.4f} ± {sd:.4f}")
        sides.append((name, list(scores.values()), list(runs.values())))
    (name_a, a, runs_a), (name_b, b, runs_b) = sides
    w = welch(a, b)
    lines.append(f"{name_b} - {name_a} on {test_set}: {100 * w['diff']:+.2f} points, standard error "
                 f"{100 * w['se']:.2f} (Welch t {w['t']:.2f}, {w['dof']:.1f} dof, two-sided p {w['p']:.2f})")
    sd, dof = pooled_sd(full_run_spreads(results, test_set))
    gap = abs(w["diff"]) or 0.01
    lines.append(f"Seed spread pooled over the full runs in these results: {100 * sd:.2f} points ({dof} dof). "
                 f"Seeds per recipe to resolve a true gap of {100 * gap:.1f} points at "
                 f"{RESOLVING_STANDARD_ERRORS:.0f} standard errors: {seeds_per_recipe(sd, gap)}; "
                 f"of 1 point: {seeds_per_recipe(sd, 0.01)}")
    lines.append(class_text(name_a, runs_a, name_b, runs_b, test_set))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(REPO.parent / "shared/data/dcai2021"))
    parser.add_argument("--review", type=Path, default=REPO.parent / "shared/data/dcai2021_review/manual_review.csv",
                        help="the manual review, for the human_reviewed reference only")
    parser.add_argument("--workdir", default=str(REPO / "benchmarks/results/recipes"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[123, 124, 125])
    parser.add_argument("--at-once", type=int, default=3, help="seeds trained side by side (one process each)")
    parser.add_argument("--epochs", type=int, default=100,
                        help="train_score.epochs of every run; below 100 a screening run, kept as <recipe>@e<N>")
    parser.add_argument("--only", nargs="+", choices=list(RECIPES))
    parser.add_argument("--table", action="store_true", help="print the finished runs and stop")
    parser.add_argument("--commit", help="the commit to measure, or with --table to print (default: HEAD)")
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"),
                        help="print B against A on the test half and stop; each `recipe` (at --commit) or "
                             "`recipe:commit+commit` (its seeds at those commits, pooled)")
    args = parser.parse_args()
    args.data, args.workdir = Path(args.data).resolve(), Path(args.workdir).resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    commit = git("rev-parse", args.commit or "HEAD")
    results_path = args.workdir / "results.json"
    results = load_results(results_path)
    if args.table:
        print(f"Commit {commit[:8]}:\n\n{table(results, commit)}")
        print(agreement_text(screening_agreement(results, commit)))
        return 0
    if args.compare:
        try:
            print(compare_text(results, *args.compare, commit))
        except ValueError as error:
            print(f"recipes: {error}", file=sys.stderr)
            return 1
        return 0
    if not (args.data / "train").is_dir():
        print(f"recipes: no competition data at {args.data} (train/ missing); pass --data", file=sys.stderr)
        return 1
    if not args.commit and git("status", "--porcelain", "--untracked-files=no"):
        print("recipes: uncommitted changes are not measured; runs use commit " + commit[:8], file=sys.stderr)
    for recipe in args.only or ORDER:
        name = run_name(recipe, args.epochs)
        todo = [seed for seed in args.seeds if f"{name}|{seed}|{commit}" not in results]
        if not todo:
            print(f"recipes: {name}: seeds {args.seeds} done before, skipped", flush=True)
            continue
        print(f"recipes: {name} seeds {todo} ({RECIPES[recipe][1]}) ...", flush=True)
        finished = run_raw(todo, args) if recipe == "raw" else run_pipeline(recipe, todo, commit, args)
        results = load_results(results_path)
        for seed, result in finished.items():
            results[f"{name}|{seed}|{commit}"] = result
            print(f"recipes: {name} seed {seed}: {result}", flush=True)
        save_results(results_path, results)
    print(f"\nCommit {commit[:8]}, data {args.data}, {args.epochs} epochs of the fixed model per run:\n")
    print(table(load_results(results_path), commit))
    print(agreement_text(screening_agreement(load_results(results_path), commit)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
