"""The real-data configuration, the human-reviewed reference and the cleaning benchmark's counting."""
import numpy as np
import pytest
import yaml

from benchmarks.cleaning import score
from benchmarks.human_review import corrections_from_review
from conftest import REPO, competition_rows, needs_dcai2021
from dcai.config import ConfigError, apply_config
from dcai.corrections import load_corrections, match_corrections

REVIEW = REPO.parent / "shared/data/dcai2021_review/manual_review.csv"


def test_a_config_merges_into_params_keeping_comments_and_refuses_unknown_keys(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("ingest:\n  sources:\n    - data/a   # the demo\n  max_side: 10\n"
                      "train_score:\n  seeds: [1]  # one\n  test_sets:\n    builtin: t\n")
    config = tmp_path / "c.yaml"
    config.write_text("ingest:\n  sources: [data/b]\ntrain_score:\n  test_sets:\n    real: r\n")
    apply_config(config, params)
    merged = yaml.safe_load(params.read_text())
    assert merged == {"ingest": {"sources": ["data/b"], "max_side": 10},
                      "train_score": {"seeds": [1], "test_sets": {"real": "r"}}}  # a mapping value replaces whole
    assert "# one" in params.read_text()
    config.write_text("train_score:\n  seed: [2]\n")
    with pytest.raises(ConfigError, match="train_score.seed: no such key"):
        apply_config(config, params)
    config.write_text("nope:\n  x: 1\n")
    with pytest.raises(ConfigError, match="nope: no such group"):
        apply_config(config, params)


def test_the_shipped_config_is_fully_automatic_and_names_keys_params_has(tmp_path):
    config = yaml.safe_load((REPO / "configs/dcai2021.yaml").read_text())
    assert load_corrections(REPO / config["clean"]["corrections"]) == []  # nobody's decision enters it
    feeds = [*config["ingest"]["sources"], config["clean"]["corrections"]]
    assert not any("test_half" in f or "review" in f for f in feeds)
    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text())
    apply_config(REPO / "configs/dcai2021.yaml", tmp_path / "params.yaml")  # every key exists


@needs_dcai2021
def test_the_shipped_config_points_at_the_real_data():
    config = yaml.safe_load((REPO / "configs/dcai2021.yaml").read_text())
    for path in [*config["ingest"]["sources"], *config["train_score"]["test_sets"].values()]:
        assert (REPO / path).is_dir(), path


@needs_dcai2021
def test_the_human_reviewed_corrections_name_real_images(tmp_path):
    entries = corrections_from_review(REVIEW)
    assert sum("remove" in e for e in entries) == 264 and sum("relabel" in e for e in entries) == 108
    rows = competition_rows()
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(entries))
    assert len(match_corrections(load_corrections(tmp_path / "c.yaml"), rows)) == 372


def test_cleaning_precision_recall_and_relabel_agreement_are_counted_as_defined():
    review = {f"train/i/{k}.png": {"action": a, "corrected_label": c}
              for k, (a, c) in enumerate([("remove", ""), ("relabel", "ii"), ("relabel", "v"), ("keep", ""),
                                          ("keep", ""), ("relabel", "x")])}
    acted = {"train/i/0.png": ("remove", None), "train/i/1.png": ("relabel", "ii"), "train/i/2.png": ("relabel", "iv"),
             "train/i/3.png": ("remove", None), "train/i/4.png": ("relabel", "v")}
    s = score(acted, review)
    assert (s["acted_on"], s["hits"], s["flagged_by_review"]) == (5, 3, 4)
    assert s["precision"] == 0.6 and s["recall"] == 0.75
    assert s["relabel_agreement"] == 0.5 and s["relabel_agreement_n"] == 2  # 1 agrees, 2 names another class
    assert s["relabels"] == 3 and s["relabels_the_review_keeps"] == 1


def test_screening_runs_are_rows_of_their_own_after_the_full_run():
    from benchmarks.recipes import run_name, table
    assert run_name("default", 100) == "default" and run_name("default", 30) == "default@e30"
    run = {"wall_seconds": 60, "train_seconds": 60, "images": 10, "val": 0.9, "test": {"t": 0.5}}
    results = {"default@e30|1|c": {**run, "test": {"t": 0.25}}, "default|1|c": run, "raw@e30|1|c": run,
               "default|1|other": {**run, "test": {"t": 0.75}}}
    rows = [line.split(" | ")[0].strip("| ") for line in table(results, "c").splitlines()[2:]]
    assert rows == ["raw@e30", "default", "default@e30"]
    assert "0.750" not in table(results, "c")


def test_screening_agreement_ranks_recipes_by_their_mean_test_score():
    from benchmarks.recipes import agreement_text, screening_agreement
    run = {"wall_seconds": 60, "train_seconds": 60, "images": 10, "val": 0.9}
    full = {"raw": [0.60, 0.62], "before": [0.80, 0.78], "default": [0.82, 0.83]}
    short = {"raw": [0.50, 0.52], "before": [0.74, 0.70], "default": [0.71, 0.72]}  # before and default flip
    results = {f"{name}{suffix}|{i}|c": {**run, "test": {"competition_test": v}}
               for recipes, suffix in ((full, ""), (short, "@e25")) for name, values in recipes.items()
               for i, v in enumerate(values)}
    results["default@e25|9|other"] = {**run, "test": {"competition_test": 0.99}}  # another commit: ignored
    [found] = screening_agreement(results, "c")
    assert found["epochs"] == 25 and found["recipes"] == ["raw", "before", "default"]
    assert abs(found["spearman"] - 0.5) < 1e-9
    flipped = [p["pair"] for p in found["pairs"] if not p["same_order"]]
    assert flipped == [("before", "default")]
    assert "2 of 3 pairs in the same order" in agreement_text([found])



def test_welch_gives_the_difference_its_standard_error_and_degrees_of_freedom():
    from benchmarks.seed_stats import welch
    # two recipes, 3 seeds each, sd 2 points each, means 3 points apart
    w = welch([0.80, 0.82, 0.84], [0.83, 0.85, 0.87])
    assert w["diff"] == pytest.approx(0.03)
    assert w["se"] == pytest.approx((2 * 0.02 ** 2 / 3) ** 0.5)  # 0.0163
    assert w["dof"] == pytest.approx(4.0)                         # equal spreads: n_a + n_b - 2
    assert w["t"] == pytest.approx(0.03 / 0.016330, rel=1e-4)
    assert w["p"] == pytest.approx(0.140, abs=0.002)              # t 1.84 on 4 dof, two-sided
    assert welch([0.80, 0.82, 0.84], [0.80, 0.82, 0.84])["p"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least 2 seeds"):
        welch([0.8], [0.8, 0.9])


def test_the_pooled_seed_spread_and_the_seeds_a_gap_needs():
    from benchmarks.seed_stats import pooled_sd, seeds_per_recipe
    sd, dof = pooled_sd([[0.01, 0.03], [0.02, 0.02, 0.02], [0.5]])  # one seed: no spread to pool
    assert dof == 3 and sd == pytest.approx((2 * 0.01 ** 2 / 3) ** 0.5)
    assert seeds_per_recipe(0.01, 0.01) == 8    # 2 (2 x 1 / 1)^2
    assert seeds_per_recipe(0.01, 0.005) == 32  # half the gap: four times the seeds
    assert seeds_per_recipe(0.001, 0.01) == 2
    with pytest.raises(ValueError, match="unknown"):
        pooled_sd([[0.5], [0.6]])


def test_a_comparison_pools_commits_and_refuses_a_seed_counted_twice():
    from benchmarks.recipes import compare_text, seed_scores
    run = {"wall_seconds": 60, "train_seconds": 60, "images": 10, "val": 0.9}
    scores = {("default", 1, "aaa1"): 0.80, ("default", 2, "aaa1"): 0.82, ("default", 3, "bbb2"): 0.84,
              ("milder", 1, "ccc3"): 0.83, ("milder", 2, "ccc3"): 0.85, ("milder", 3, "ccc3"): 0.87,
              ("raw", 1, "ccc3"): 0.30, ("raw", 2, "ccc3"): 0.90, ("milder@e25", 1, "ccc3"): 0.1}
    results = {f"{n}|{s}|{c}": {**run, "test": {"competition_test": v}} for (n, s, c), v in scores.items()}
    assert seed_scores(results, "default", ["aaa"]) == {1: 0.80, 2: 0.82}
    assert seed_scores(results, "default", ["aaa", "bbb"]) == {1: 0.80, 2: 0.82, 3: 0.84}
    text = compare_text(results, "default:aaa+bbb", "milder:ccc", "HEAD")
    assert "milder - default on competition_test: +3.00 points, standard error 1.63" in text
    # the spread is pooled per (recipe, commit) run, raw and screening runs left out:
    # default at aaa1 (1 dof, 1.41 points) and milder (2 dof, 2 points) give sqrt(10 / 3)
    assert "pooled over the full runs in these results: 1.83 points (3 dof)" in text
    results["default|1|bbb2"] = {**run, "test": {"competition_test": 0.9}}
    with pytest.raises(ValueError, match="seed 1 was measured at"):
        seed_scores(results, "default", ["aaa", "bbb"])
    with pytest.raises(ValueError, match="needs 2 or more"):
        compare_text(results, "default:aaa", "milder:zzz", "HEAD")


def test_a_comparison_shows_which_classes_a_recipe_moves():
    from benchmarks.recipes import compare_text, seed_result
    scores = {"train": {"seconds": 60}, "val": {"accuracy": 0.9},
              "test": {"competition_test": {"accuracy": 0.8, "per_class": {"i": 0.9, "vii": 0.5}},
                       "label_book": {"accuracy": 0.7, "per_class": {"i": 1.0, "vii": 0.2}}}}
    kept = seed_result(scores, 10, 60.0)
    assert kept["per_class"]["competition_test"] == {"i": 0.9, "vii": 0.5}
    better_vii = {**kept, "per_class": {"competition_test": {"i": 0.8, "vii": 0.75}}}
    results = {"default|1|aaa": kept, "default|2|aaa": kept, "milder|1|aaa": kept, "milder|2|aaa": better_vii}
    text = compare_text(results, "default", "milder", "aaa")
    # classes in numeral order, each the mean over the seeds: vii (0.5 + 0.75) / 2
    assert text.endswith("     i: 0.900 -> 0.850 (-5.0)\n   vii: 0.500 -> 0.625 (+12.5)")
    results["milder|3|aaa"] = {k: v for k, v in kept.items() if k != "per_class"}  # kept before classes were
    assert compare_text(results, "default", "milder", "aaa").endswith("not recorded for every seed of default and milder")


def test_cleaning_votes_with_the_named_cached_members_only():
    import numpy as np
    import pytest
    from benchmarks.cleaning import member_probs
    probs = np.arange(3 * 2 * 10, dtype=np.float32).reshape(3, 2, 10)
    oof = {"probs": probs, "members": np.array(["resnet", "alexnet", "vgg"])}
    assert member_probs(oof, None) is probs
    assert np.array_equal(member_probs(oof, ["vgg", "resnet"]), probs[[2, 0]])
    with pytest.raises(SystemExit, match="lenet5"):
        member_probs(oof, ["lenet5"])


def test_pooled_votes_put_other_runs_members_beside_by_original_and_refuse_other_originals():
    import numpy as np
    import pytest
    from benchmarks.cleaning import pooled_votes
    rng = np.random.default_rng(0)
    ids, labels = np.array(["a", "b", "c", "d"]), np.array([0, 1, 2, 1])
    mine = {"ids": ids, "labels": labels, "folds": np.array([0, 1, 0, 1]),
            "probs": rng.uniform(size=(2, 4, 10)).astype(np.float32), "members": np.array(["resnet", "vgg"])}
    order = np.array([2, 0, 3, 1])  # the other run listed its originals in another order
    theirs = {"ids": ids[order], "labels": labels[order], "members": np.array(["alexnet"]),
              "probs": rng.uniform(size=(1, 4, 10)).astype(np.float32)}
    pooled = pooled_votes(mine, [("runB", theirs)])
    assert list(pooled["members"]) == ["resnet", "vgg", "runB/alexnet"]
    assert pooled["probs"].shape == (3, 4, 10) and np.array_equal(pooled["probs"][:2], mine["probs"])
    for k, i in enumerate(order):  # each original's row is its own, whatever order the run wrote
        assert np.array_equal(pooled["probs"][2, i], theirs["probs"][0, k])
    with pytest.raises(SystemExit, match="other originals"):
        pooled_votes(mine, [("runC", {**theirs, "ids": np.array(["a", "b", "c", "e"])})])
    with pytest.raises(SystemExit, match="other labels"):
        pooled_votes(mine, [("runD", {**theirs, "labels": np.array([2, 0, 1, 0])})])


def test_the_best_threshold_keeps_precision_and_maximises_recall():
    import numpy as np

    from benchmarks.cleaning import best_recall_at

    # most suspicious first: hit, hit, miss, hit, miss, miss, hit; 5 flagged in all (one never scored)
    suspicion = np.array([7, 6, 5, 4, 3, 2, 1], float)
    flagged = np.array([1, 1, 0, 1, 0, 0, 1], bool)
    best = best_recall_at(suspicion, flagged, total_flagged=5, min_precision=0.7)
    assert best == {"min_precision": 0.7, "max_recall": 0.6, "acted_on": 4, "precision": 0.75}
    assert best_recall_at(suspicion, ~flagged, 3, 0.7)["max_recall"] == 0.0


def test_test_time_shifts_move_the_ink_and_keep_the_image_itself():
    from benchmarks.cleaning import shifted_views

    x = np.zeros((1, 8, 8, 1), np.float32)
    x[0, 3, 4, 0] = 1.0
    views = shifted_views(x, 2)
    assert len(views) == 9 and all(v.shape == x.shape for v in views)
    assert np.array_equal(views[4], x)  # the middle view is the image unmoved
    where = {tuple(np.argwhere(v[0, :, :, 0] == 1.0)[0]) for v in views}
    assert where == {(3 + dy, 4 + dx) for dy in (2, 0, -2) for dx in (2, 0, -2)}
    edge = np.zeros((1, 8, 8, 1), np.float32)
    edge[0, 0, 0, 0] = 1.0
    assert sum(v.sum() for v in shifted_views(edge, 1)) == 4  # moved off the page it is gone, not wrapped


def test_an_image_unlike_any_training_image_is_the_most_atypical():
    from benchmarks.cleaning import outlier_rank

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16)) * 5
    labels = np.repeat(np.arange(3), 20)
    feats = centres[labels] + rng.normal(size=(60, 16)) * 0.1
    feats[7] = -centres.sum(axis=0)  # far from every class: a doodle among numerals
    folds = np.arange(60) % 2
    ranks = outlier_rank([[feats, feats], [feats * 2, feats * 2]], folds, k=5)
    assert ranks.shape == (60,) and 0 <= ranks.min() and ranks.max() <= 1
    assert np.argmax(ranks) == 7 and ranks[7] == 1.0  # first for both members


def test_cleaning_scores_the_competition_images_and_leaves_other_sources_out(tmp_path):
    """A run with another source beside the competition's: its originals are voted on, as in the
    pipeline, but the review knows only the competition's images, so they are left out of every count."""
    import csv

    from benchmarks.cleaning import measure
    from dcai.classes import CLASSES

    ids = [f"c{k}" for k in range(8)] + ["s0", "s1"]
    roles = ["competition"] * 8 + ["synthetic"] * 2
    labels = np.array([k % 2 for k in range(10)])  # i and ii
    probs = np.full((1, 10, len(CLASSES)), 0.01)
    probs[0, np.arange(10), labels] = 0.91
    for k, other in ((6, 4), (8, 4)):  # c6 and s0: the ensemble is sure of another class (v)
        probs[0, k] = 0.005
        probs[0, k, labels[k]], probs[0, k, other] = 0.05, 0.91
    probs[0, 7] = 0.1  # c7: unsure of every class, the label included: removed
    probs[0, 7, labels[7]] = 0.05
    (tmp_path / "data/ingested").mkdir(parents=True)
    (tmp_path / "data/vote").mkdir()
    (tmp_path / "reports").mkdir()
    with open(tmp_path / "data/ingested/manifest.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, ["id", "role", "original_path"])
        w.writeheader()
        for i, role, y in zip(ids, roles, labels):
            w.writerow({"id": i, "role": role, "original_path": f"/data/{'train' if role == 'competition' else 'pool'}"
                                                                f"/{CLASSES[y]}/{i}.png"})
    np.savez(tmp_path / "data/vote/oof.npz", probs=probs, labels=labels, folds=np.arange(10) % 2,
             ids=np.array(ids), members=np.array(["resnet"]))
    (tmp_path / "reports/clean_removed.csv").write_text(  # clean removed a synthetic image and a competition one
        "id,reason,original_path\n"
        "s9,conflict: duplicates disagree on the label (s9=i s8=ii),/data/pool/i/s9.png\n"
        "c9,blank: ink fraction 0.0000 < 0.001,/data/train/i/c9.png\n")
    with open(tmp_path / "data/ingested/manifest.csv", "a", newline="") as fh:
        fh.write("s9,synthetic,/data/pool/i/s9.png\nc9,competition,/data/train/i/c9.png\n")
    review = {f"train/{CLASSES[y]}/c{k}.png": {"action": "keep", "corrected_label": ""} for k, y in enumerate(labels[:8])}
    review["train/i/c6.png"] = {"action": "relabel", "corrected_label": "v"}
    review["train/i/c9.png"] = {"action": "remove", "corrected_label": ""}
    vote_params = {k: v for k, v in yaml.safe_load((REPO / "params.yaml").read_text())["vote_filter"].items()
                   if k != "train"}
    result = measure(tmp_path, review, vote_params)
    configured = result["rules"]["vote filter as configured"]
    # c6 relabelled to the review's class (a hit), c7 removed (the review keeps it); s0's relabel is not counted
    assert (configured["acted_on"], configured["hits"], configured["relabels"]) == (2, 1, 1)
    assert configured["relabel_agreement"] == 1.0
    assert result["originals_voted"] == 10 and result["originals_of_other_sources"] == 2
    assert result["oof_accuracy_ensemble"] == 0.75  # over the 8 reviewed: c6 and c7 are wrong
    assert (result["rules"]["clean: all"]["acted_on"], result["rules"]["clean: all"]["hits"]) == (1, 1)  # c9, not s9

    del review["train/i/c0.png"]  # a competition image the review lacks is still an error
    with pytest.raises(SystemExit, match="not in the review"):
        measure(tmp_path, review, vote_params)
