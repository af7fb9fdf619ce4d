"""`dvc repro` of the whole pipeline on tiny built-in data, in a temporary copy of the repo."""
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import REPO
from dcai.classes import CLASSES
from dcai.manifest import read_manifest
from dcai.reports import read_rows_csv
from dcai.show import BREAKDOWNS

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent
TINY = {
    "make_builtin": {"pool_per_class": 12, "test_per_class": 3, "writers": 4},
    "holdout": {"fraction": 0.2},
    "vote_filter": {"train": {"members": ["lenet5", "allconv"], "folds": 2, "epochs": 1, "batch_size": 32,
                              "learning_rate": 0.001, "seed": 1, "input_size": 32, "antialias": True,
                              "jit_compile": True,
                              "non_numerals": {"per_fold": 8, "kinds": ["jigsaw", "rotated", "overlay"],
                                               "turn_invariant": ["x"]}},
                    "action": "review"},  # one epoch of training flags at random: report, do not remove
    "five_crop": {"per_class": 4},
    "autoaugment": {"per_class": 10},
    "variations": {"per_class": 6},
    "label_guard": {"kinds": ["variation", "augment", "trim"]},
    "balance": {"per_class": 24, "priority": ["original", "crop", "variation", "flip", "trim", "augment"],
                "hard_example_weight": 2, "spread_over_originals": True},
    "split": {"val_fraction": 0.2},
    "train_score": {"epochs": 2, "seeds": [1, 2]},
}
STAGES = ("make_builtin", "ingest", "holdout", "clean", "standardize", "vote_train", "vote_filter", "five_crop",
          "autoaugment", "variations", "flips", "label_guard", "balance", "split", "package", "train_score")


def run(cmd, cwd, env):
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def queue_status(dvc, cwd, env, attempts=5):
    """`dvc queue status`, asked again when it caught a worker's info file half written (dvc exits with
    'Expecting value' from its JSON reader while a busy worker is still writing it); any other failure fails."""
    for attempt in range(1, attempts + 1):
        result = subprocess.run([dvc, "queue", "status"], cwd=cwd, env=env, capture_output=True, text=True)
        if result.returncode == 0 or "Expecting value" not in result.stderr or attempt == attempts:
            break
        time.sleep(2)
    assert result.returncode == 0, f"dvc queue status failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the project as a fresh clone would have it, with tiny params."""
    root = tmp_path_factory.mktemp("project")
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout.split()
    for rel in files:
        src = REPO / rel
        generated = (rel.startswith(("data/", "models/", "reports/", "metrics/"))
                     and not rel.startswith("data/corrections/") and not rel.endswith(".gitignore"))
        if src.is_file() and not generated:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, root / rel)
    params = yaml.safe_load((root / "params.yaml").read_text())
    for group, values in TINY.items():
        params[group].update(values)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(root / "src")}
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"],
                ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "tiny"]):
        run(cmd, root, env)
    run([str(BIN / "dvc"), "repro"], root, env)
    return root, env


def predict_with(weights, folder):
    from dcai.fixed_model import build_fixed_model
    from dcai.images import load_class_folder

    model = build_fixed_model()
    model.load_weights(str(weights))
    x, _, _ = load_class_folder(folder)
    return model.predict(x, verbose=0).argmax(axis=1)


def sheet_tiles(png) -> int:
    """Thumbnails on a contact sheet: each cell has its frame drawn in gray 200 at (1, 1)."""
    from dcai.review import CAPTION, THUMB

    sheet = np.asarray(Image.open(png))
    cell_w, cell_h = THUMB + 4, THUMB + CAPTION + 4
    return sum(int(sheet[y + 1, x + 1] == 200) for y in range(0, sheet.shape[0], cell_h)
               for x in range(0, sheet.shape[1], cell_w))


def metrics(root, name):
    return json.loads((root / "metrics" / f"{name}.json").read_text())


def test_repro_runs_every_stage_and_writes_their_metrics(project):
    root, env = project
    for stage in STAGES:
        assert (root / "metrics" / f"{stage}.json").is_file() or stage == "train_score", stage
    assert metrics(root, "ingest")["images"] == 120 and metrics(root, "ingest")["skipped"] == 0
    clean = metrics(root, "clean")
    holdout = metrics(root, "holdout")
    assert holdout["held_out"] == 20 and holdout["pool"] == 100 and holdout["test_per_class"]["x"] == 2
    assert clean["images_in"] == 100 and clean["images_out"] + clean["removed"] == 100
    assert metrics(root, "standardize")["per_kind"]["trim"] == clean["images_out"]  # trimmed variants added
    vote = metrics(root, "vote_filter")
    assert vote["originals"] == clean["images_out"] and vote["images_out"] == vote["images_in"]  # review keeps all
    assert set(metrics(root, "vote_train")["oof_accuracy"]) == {"lenet5", "allconv"}
    votes = np.load(root / "data/vote/oof.npz")  # the members' input, for whoever reads their images again
    assert int(votes["input_size"]) == 32 and bool(votes["antialias"])
    assert votes["non_numeral"].shape == votes["probs"].shape[:2]  # the members learnt the made-up non-numerals too
    assert metrics(root, "autoaugment")["images_out"] == 100
    balance = metrics(root, "balance")
    assert balance["images_out"] <= 240 and all(sum(k.values()) <= 24 for k in balance["per_class"].values())
    assert all(k.get("original", 0) >= 10 for k in balance["per_class"].values())  # originals come first
    assert metrics(root, "variations")["images_out"] == 60
    assert all(k.get("variation", 0) >= 1 for k in balance["per_class"].values())  # ranked before flips
    # every original has its out-of-fold p(label), and the draw favoured the hard ones' variants
    assert balance["hard_example_weight"] == 2 and set(balance["origin_label_prob"]) >= {"original", "variation"}
    assert balance["spread_over_originals"] and set(balance["originals_without"]) >= {"variation", "crop"}
    # the guard read every variation, augment and trim with the members of its original's fold; what it rejected
    # is not in the balanced pool, and the drop report names why
    guard = metrics(root, "label_guard")
    trims = sum(r["kind"] == "trim" for r in read_manifest(root / "data/filtered/manifest.csv"))
    assert guard["judged"] == {"variation": 60, "augment": 100, "trim": trims} and guard["without_a_vote"] == 0
    assert trims > 0
    assert balance["left_out_by_label_guard"] == guard["rejected"]
    rejected = {r["id"] for r in read_rows_csv(root / "data/label_guard/rejected.csv")}
    assert not rejected & {r["id"] for r in read_manifest(root / "data/balanced/manifest.csv")}
    assert rejected <= {r["id"] for r in read_rows_csv(root / "reports/balance_dropped.csv")
                        if r["reason"].startswith("label guard: read as")}
    split = metrics(root, "split")
    assert split["train"] + split["val"] + split["dropped"] == balance["images_out"]
    package = metrics(root, "package")
    assert (package["train"], package["val"]) == (split["train"], split["val"])
    score = metrics(root, "score")
    assert score["train"]["epochs"] == 2 and score["train"]["images"] == split["train"]
    assert score["val"]["n"] == split["val"]
    for seed in ("1", "2"):  # each seed is scored at its best-val epoch
        assert score["per_seed"][seed]["val"]["accuracy"] == max(
            score["per_seed"][seed]["train"]["val_accuracy_per_epoch"])
    assert score["test"]["builtin"]["n"] == 30 and set(score["test"]["builtin"]["per_class"]) == set(CLASSES)
    assert score["test"]["holdout"]["n"] == holdout["test"]  # the held-out originals, scored beside the rest
    assert score["seeds"] == [1, 2] and set(score["per_seed"]) == {"1", "2"}
    per_seed = [score["per_seed"][s]["test"]["builtin"]["accuracy"] for s in ("1", "2")]
    spread = score["test"]["builtin"]["accuracy_spread"]
    assert spread["min"] == min(per_seed) and spread["max"] == max(per_seed)
    assert (root / "metrics/train/seed_1").is_dir() and (root / "metrics/train/seed_2").is_dir()
    plots = json.loads(run([str(BIN / "dvc"), "plots", "show", "--json"], root, env))
    assert not plots.get("errors") and "metrics/confusion/holdout.json" in plots["data"]
    assert "metrics/train/seed_2/plots/metrics/eval/accuracy.tsv" in plots["data"]
    best = str(score["best_seed"])
    assert score["per_seed"][best]["val"]["accuracy"] == max(score["per_seed"][s]["val"]["accuracy"] for s in "12")
    confusion = json.loads((root / "metrics" / "confusion" / "builtin.json").read_text())
    assert len(confusion) == 30
    # models/best.weights.h5 is the best seed's, and scores what score.json says it scores
    predicted = predict_with(root / "models" / "best.weights.h5", root / "data/builtin/test")
    builtin = score["per_seed"][best]["test"]["builtin"]
    assert round(float((predicted == np.array([CLASSES.index(r["actual"]) for r in confusion])).mean()), 4) \
        == builtin["accuracy"]
    assert [CLASSES[k] for k in predicted] == [r["predicted"] for r in confusion]
    assert sorted(p.name for p in (root / "models" / "seeds").iterdir()) == ["seed_1.weights.h5", "seed_2.weights.h5"]
    # the error sheet shows exactly the misclassified images; the sample sheet every class
    wrong = sum(r["actual"] != r["predicted"] for r in confusion)
    assert sheet_tiles(root / "reports" / "errors" / "builtin.png") == wrong
    per_class = min(12, TINY["autoaugment"]["per_class"])  # stages/autoaugment.py shows up to 12 of each class
    assert sheet_tiles(root / "reports" / "autoaugment_samples.png") == per_class * len(CLASSES)
    assert sheet_tiles(root / "reports" / "variations_samples.png") == TINY["variations"]["per_class"] * len(CLASSES)
    page = (root / "reports/report.html").read_text()
    for heading in ("Scores", "What each stage did", "Samples from each stage", "Removed and flagged",
                    "Misclassified test images", "Recipe (params.yaml)", "vote filter, noisy", "held out (test)",
                    "Images out of each stage, per class", "worst classes", "Images taken out as bad"):
        assert heading in page, heading
    assert page.count("data:image/png;base64,") >= 10 and "<td>holdout</td><td>20</td>" in page
    assert page.count("<svg") >= 5  # scores, worst classes of builtin and holdout, funnel, removals


def test_the_submission_has_the_competition_layout_and_traces_to_sources(project):
    root, _ = project
    sub = root / "data" / "submission"
    for split in ("train", "val"):
        assert sorted(p.name for p in (sub / split).iterdir()) == sorted(CLASSES)
    names = [n for n in zipfile.ZipFile(root / "data" / "submission.zip").namelist() if n.endswith(".png")]
    rows = read_manifest(sub / "manifest.csv")
    assert len(names) == len(rows) == metrics(root, "package")["total"]
    kinds = {r["kind"] for r in rows}
    assert "original" in kinds and kinds <= {"original", "trim", "crop", "flip", "augment", "variation"}
    for row in rows:
        assert (sub / row["split"] / row["label"] / f"{row['id']}.png").is_file()
        assert row["original_path"].startswith("data/builtin/pool/") and row["id"].startswith(row["origin_id"])
    sides = {}
    for row in rows:
        sides.setdefault(row["origin_id"], set()).add(row["split"])
    assert all(len(s) == 1 for s in sides.values())  # no transformed twin across train and val


def test_the_same_params_give_the_same_bytes(project):
    """Every curation stage run again from scratch writes the same files."""
    root, env = project
    outputs = ("data/ingested/manifest.csv", "data/cleaned/manifest.csv", "data/standardized/manifest.csv",
               "data/autoaugment/manifest.csv", "data/variations/manifest.csv", "data/balanced/manifest.csv", "data/split/manifest.csv",
               "data/submission.zip")
    before = {p: (root / p).read_bytes() for p in outputs}
    run([str(BIN / "dvc"), "repro", "-f", "package"], root, env)
    assert {p: (root / p).read_bytes() for p in outputs} == before


def test_a_changed_source_folder_makes_ingest_stale(project):
    """Sources live outside DVC's view: their fingerprint is what makes ingest re-run."""
    root, env = project
    dvc = str(BIN / "dvc")
    extra = root / "data/builtin/pool/i/extra.png"
    shutil.copyfile(sorted((root / "data/builtin/pool/ii").glob("*.png"))[0], extra)
    try:
        run([dvc, "repro", "-s", "fingerprint"], root, env)
        assert "ingest" in json.loads(run([dvc, "status", "--json"], root, env))
    finally:
        extra.unlink()
        run([dvc, "repro", "-s", "fingerprint"], root, env)
    assert "ingest" not in json.loads(run([dvc, "status", "--json"], root, env))


def stale_after(root, env, group: str, key: str, value) -> set[str]:
    """The stages `dvc status` calls stale once params[group][key] = value (then restored)."""
    original = (root / "params.yaml").read_text()
    params = yaml.safe_load(original)
    params[group][key] = value
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        return set(json.loads(run([str(BIN / "dvc"), "status", "--json"], root, env))) - {"fingerprint"}
    finally:
        (root / "params.yaml").write_text(original)


def test_changing_a_vote_threshold_does_not_retrain_the_vote_models(project):
    root, env = project
    # only vote_filter is stale (and the report, which prints the recipe); what follows re-runs
    # only if its output changes
    assert stale_after(root, env, "vote_filter", "max_entropy", 2.0) == {"vote_filter", "report"}


def test_changing_autoaugment_leaves_the_stages_before_it_alone(project):
    root, env = project
    assert stale_after(root, env, "autoaugment", "per_class", 7) == {"autoaugment", "report"}


def test_changing_train_score_params_reruns_only_train_score(project):
    root, env = project
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["train_score"]["epochs"] = 1
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = json.loads(run([str(BIN / "dvc"), "status", "--json"], root, env))
    # fingerprint always runs (it is how outside folders are watched); nothing else may be stale
    assert set(status) == {"train_score", "fingerprint", "report"}
    out = run([str(BIN / "dvc"), "repro"], root, env)
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    assert ran == {"fingerprint", "train_score", "report"}
    assert metrics(root, "score")["train"]["epochs"] == 1


def commit_all(root, env, message):
    # the index is rebuilt from the files' bytes: after `dvc exp run --queue` stashed and restored the
    # workspace, the index once held a rewritten metric file's new stat beside its old blob, so
    # `git add -A` took it for unchanged and the commit's metrics disagreed with its dvc.lock
    run(["git", "rm", "-r", "-q", "--cached", "--ignore-unmatch", "."], root, env)
    run(["git", "add", "-A"], root, env)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message], root, env)


def test_sweep_an_experiment_a_queue_and_compare_them(project):
    """The README's verbs: dvc exp run -S, a queued sweep, dvc metrics diff / exp show."""
    root, env = project
    dvc = str(BIN / "dvc")
    commit_all(root, env, "baseline")
    run([dvc, "exp", "run", "-n", "aa5", "-S", "autoaugment.per_class=5"], root, env)
    for n in (3, 4):
        run([dvc, "exp", "run", "--queue", "-n", f"aa{n}", "-S", f"autoaugment.per_class={n}"], root, env)
    # `queue start` leaves worker daemons behind that inherit its stdout/stderr: captured as pipes,
    # reading them would wait for the workers to exit (seen hanging); a file is never waited for
    with open(root.parent / "queue_start.log", "w") as log:
        started = subprocess.run([dvc, "queue", "start", "-j", "2"], cwd=root, env=env, stdout=log,
                                 stderr=subprocess.STDOUT)
    assert started.returncode == 0, (root.parent / "queue_start.log").read_text()
    deadline = time.monotonic() + 900
    while any(w in (status := queue_status(dvc, root, env)) for w in ("Queued", "Running")):
        assert time.monotonic() < deadline, status
        time.sleep(3)
    assert status.count("Success") == 2, status
    run([dvc, "queue", "stop"], root, env)  # an idle worker must not hold the repo's lock for the next test
    while "0 active, 0 idle" not in (status := queue_status(dvc, root, env)):
        assert time.monotonic() < deadline, status
        time.sleep(1)
    for n in (3, 4, 5):
        diff = json.loads(run([dvc, "metrics", "diff", "HEAD", f"aa{n}", "--json"], root, env))
        assert diff["metrics/autoaugment.json"]["images_out"] == {"old": 100, "new": 10 * n, "diff": 10 * n - 100}
    table = run([str(BIN / "dcai-show"), "--csv"], root, env)  # the README's view: what changed
    header = table.splitlines()[0].split(",")
    assert "autoaugment.per_class" in header, header
    # the scores are kept by its drop whether or not a 2-epoch model's score moved between experiments
    every = run([dvc, "exp", "show", "--csv"], root, env).splitlines()[0].split(",")
    shown = [h for h in every if not re.compile(BREAKDOWNS).match(h)]
    assert {"test.builtin.accuracy", "test.holdout.accuracy", "val.accuracy"} <= set(shown), shown
    assert "per_seed.1.test.builtin.accuracy" in every and "per_seed.1.test.builtin.accuracy" not in shown
    assert any(h.endswith("autoaugment.json:images_out") for h in header), header
    assert len(header) <= 25 and not any("per_class." in h or "per_seed" in h for h in header), header
    assert all(f"aa{n}," in table for n in (3, 4, 5))


def test_a_team_mate_pulls_the_curated_data_and_models_instead_of_rerunning(project, tmp_path):
    root, env = project
    dvc = str(BIN / "dvc")
    run([dvc, "remote", "add", "-d", "team", str(tmp_path / "remote")], root, env)
    run([dvc, "push"], root, env)
    commit_all(root, env, "share")
    mate = tmp_path / "mate"
    run(["git", "clone", "-q", str(root), str(mate)], tmp_path, env)
    run([dvc, "pull"], mate, env)
    assert (mate / "data/submission.zip").read_bytes() == (root / "data/submission.zip").read_bytes()
    assert (mate / "models/best.weights.h5").is_file()
    out = run([dvc, "repro"], mate, {**env, "PYTHONPATH": str(mate / "src")})
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    assert ran == {"fingerprint"}, out  # the digests of the source folders match: nothing else re-runs
