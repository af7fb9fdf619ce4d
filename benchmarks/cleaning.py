"""Automatic cleaning measured against a person's review of the competition's data.

    python -m benchmarks.cleaning --run DIR          # DIR: a project folder after `dvc repro vote_filter`
                                                     # on the competition data (fully automatic)
    python -m benchmarks.cleaning --run DIR --json out.json
    python -m benchmarks.cleaning --run DIR --members resnet alexnet vgg   # a smaller ensemble
    python -m benchmarks.cleaning --run DIR --tta-shift 2   # held-out folds re-predicted with shifted copies
    python -m benchmarks.cleaning --run DIR --with-runs DIR2 DIR3   # the members of three vote runs pooled

The base is the 2,880 provided images and ../shared/data/dcai2021_review/manual_review.csv
(keep / remove / relabel). An image is *acted on* when the pipeline removes or relabels it
for any reason but being a duplicate whose twin stays in the data; a *hit* is an acted-on
image the review flags (remove or relabel). Precision = hits / acted on, recall = hits /
flagged; relabel agreement is over images both relabel. The review only measures: nothing
here feeds a decision about an image back into the recipe. Originals of other sources (an
ingest role other than competition, e.g. the built-in generator's as synthetic) are voted on
with the rest, as in the pipeline, but left out of every count: the review covers the
competition's images only.

The vote rules are re-applied to the cached out-of-fold probabilities (data/vote/oof.npz),
so a threshold sweep costs nothing; clean's removals are read from its report. `--members`
votes with some of the cached members only: what dropping a member would do, without training;
`--with-runs` pools the members of other vote runs on the same originals: what a bigger ensemble would do.
The rows "neighbours k=..." read, instead of the probabilities, the labels of each image's k
nearest training images in the members' feature spaces (vote_filter.neighbours; features from
the run's kept member weights, models/vote, about 20 s). The rows "outliers k=..." ask
whether what the review removes (doodles, scribbles, numerals in another style) looks like
no training image at all: cleanlab's OutOfDistribution score (distance to the k nearest
training images, any class) in every member's feature space, ranked. `--tta-shift N`
re-predicts every held-out fold with the run's kept member weights (models/vote/) averaged
over the image and 8 copies moved by N pixels: whether test-time augmentation would make the
members' out-of-fold probabilities better evidence, without training.
"""
import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from dcai.classes import CLASSES  # noqa: E402
from dcai.reports import reason_kind  # noqa: E402
from dcai.vote_rules import VoteRules, decide, flag  # noqa: E402

TWIN_KEPT = ("duplicate", "near duplicate")  # the image's content stays in the data: not an action
TARGET_PRECISION = 0.7  # the target: precision >= 0.7 at recall >= 0.7
REVIEW = REPO.parent / "shared/data/dcai2021_review/manual_review.csv"


def review_key(original_path: str) -> str:
    """train/<class>/<file> or val/<class>/<file>: how the review names an image."""
    parts = Path(original_path).parts
    return "/".join(parts[-3:])


def load_review(path: Path) -> dict[str, dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {r["file_path"]: r for r in csv.DictReader(fh)}


def score(acted: dict[str, tuple[str, str | None]], review: dict[str, dict]) -> dict:
    """acted: review key -> (remove | relabel, new label). Precision, recall, relabel agreement."""
    flagged = {k for k, r in review.items() if r["action"] in ("remove", "relabel")}
    hits = flagged & set(acted)
    both_relabel = [k for k, (a, _) in acted.items() if a == "relabel" and review[k]["action"] == "relabel"]
    agree = sum(1 for k in both_relabel if acted[k][1] == review[k]["corrected_label"])
    relabels = [k for k, (a, _) in acted.items() if a == "relabel"]
    return {
        "acted_on": len(acted), "hits": len(hits), "flagged_by_review": len(flagged),
        "precision": round(len(hits) / len(acted), 3) if acted else None,
        "recall": round(len(hits) / len(flagged), 3) if flagged else None,
        "relabels": len(relabels),
        "relabels_the_review_keeps": sum(1 for k in relabels if review[k]["action"] == "keep"),
        "relabel_agreement": round(agree / len(both_relabel), 3) if both_relabel else None,
        "relabel_agreement_n": len(both_relabel),
    }


def clean_actions(run: Path, keys_by_id: dict[str, str | None]) -> dict[str, dict[str, tuple[str, None]]]:
    """Per reason kind of clean's report: review key -> (remove, None), for the competition's
    images only (keys_by_id: the ingested id's review key, None for another source's)."""
    out: dict[str, dict] = {}
    with open(run / "reports/clean_removed.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            kind = reason_kind(row["reason"])
            if kind not in TWIN_KEPT and keys_by_id[row["id"]] is not None:
                out.setdefault(kind, {})[keys_by_id[row["id"]]] = ("remove", None)
    return out


def vote_actions(probs, labels, keys, rules: VoteRules, only: str | None = None) -> dict:
    """review key -> (remove | relabel, label) for what the rules do; `only` keeps one flag kind."""
    flags = flag(probs, labels, rules)
    if only:
        flags = [f if f and f[0] == only else None for f in flags]
    out = {}
    for key, (action, new_label) in zip(keys, decide(probs, labels, flags, rules)):
        if key is not None and action in ("remove", "relabel"):  # None: another source, not in the review
            out[key] = (action, new_label)
    return out


def best_recall_at(suspicion: np.ndarray, flagged: np.ndarray, total_flagged: int, min_precision: float) -> dict:
    """Acting on the n most suspicious images, for every n: the largest recall whose precision
    is at least `min_precision`. What the best threshold on this score could do, so a miss of
    the target is seen to lie in the probabilities, not in the chosen threshold."""
    order = np.argsort(-suspicion, kind="stable")
    hits = np.cumsum(flagged[order])
    acted = np.arange(1, len(order) + 1)
    ok = np.flatnonzero(hits / acted >= min_precision)
    if not len(ok):
        return {"min_precision": min_precision, "max_recall": 0.0, "acted_on": 0}
    best = ok[np.argmax(hits[ok])]
    return {"min_precision": min_precision, "max_recall": round(float(hits[best] / total_flagged), 3),
            "acted_on": int(acted[best]), "precision": round(float(hits[best] / acted[best]), 3)}


def rules_from(params: dict, **changes) -> VoteRules:
    p = {**params, **changes}
    return VoteRules(p["method"], p["min_label_prob"], p["max_entropy"], p["action"], p["relabel_min_prob"],
                     p.get("majority_vote", False), p.get("ambiguous_action", "remove"))


def shifted_views(x: np.ndarray, shift: int) -> list[np.ndarray]:
    """The images (N, H, W, C; ink 1, paper 0) and 8 copies moved by `shift` pixels along each
    axis and diagonal, paper filling the edge."""
    h, w = x.shape[1:3]
    padded = np.pad(x, [(0, 0), (shift, shift), (shift, shift), (0, 0)])
    return [padded[:, shift + dy: shift + dy + h, shift + dx: shift + dx + w]
            for dy in (-shift, 0, shift) for dx in (-shift, 0, shift)]


def voted_images(run: Path, oof) -> np.ndarray:
    """The voted originals as the members read them, in oof["ids"] order: decoded once per
    measurement and shared by the test-time shifts, the neighbour rows and the outlier rows."""
    from dcai.manifest import read_manifest
    from dcai.vote import images_for_members, member_input

    paths = {r["id"]: r["path"] for r in read_manifest(run / "data/standardized/manifest.csv")}
    return images_for_members([str(run / paths[str(i)]) for i in oof["ids"]], *member_input(oof))


def tta_probs(run: Path, oof, x: np.ndarray, shift: int) -> np.ndarray:
    """Out-of-fold probabilities again, each held-out fold predicted by the run's own model of it
    as the mean over shifted_views of the voted images x: members x N x classes, like oof["probs"]."""
    from dcai.probabilities import softmax
    from dcai.neighbours import load_fold_model
    from dcai.vote import member_outputs

    folds, probs = oof["folds"], np.zeros_like(oof["probs"])
    for m, name in enumerate(str(n) for n in oof["members"]):
        for f in range(int(folds.max()) + 1):
            model = load_fold_model(run / "models/vote", name, f, member_outputs(oof))
            held_out = np.flatnonzero(folds == f)
            probs[m, held_out] = np.mean([softmax(model.predict(v, batch_size=256, verbose=0))[:, :len(CLASSES)]
                                          for v in shifted_views(x[held_out], shift)], axis=0)
    return probs


def member_probs(oof, members: list[str] | None) -> np.ndarray:
    """The cached out-of-fold probabilities of the named members (all when None)."""
    cached = [str(m) for m in oof["members"]]
    if not members:
        return oof["probs"]
    missing = [m for m in members if m not in cached]
    if missing:
        raise SystemExit(f"cleaning: members {missing} are not in the cached ensemble {cached}")
    return oof["probs"][[cached.index(m) for m in members]]


def pooled_votes(oof: dict, others: list[tuple[str, dict]]) -> dict:
    """`oof` with the members of other vote runs on the same originals beside its own (their
    probabilities put in `oof`'s order of ids), named `<run>/<member>`: a bigger ensemble
    measured from runs already made, without training."""
    # the first run's "none of them" column covers its own members only: not carried beside the pool
    pooled = {**{k: v for k, v in oof.items() if k != "non_numeral"},
              "probs": [oof["probs"]], "members": [str(m) for m in oof["members"]]}
    ids = [str(i) for i in oof["ids"]]
    for name, other in others:
        place = {str(i): k for k, i in enumerate(other["ids"])}
        if sorted(place) != sorted(ids):
            raise SystemExit(f"cleaning: {name} voted on other originals ({len(place)} vs {len(ids)}, "
                             f"{len(set(place) ^ set(ids))} differ): pool runs on the same cleaned originals")
        order = np.array([place[i] for i in ids])
        if not np.array_equal(other["labels"][order], oof["labels"]):
            raise SystemExit(f"cleaning: {name} gives some originals other labels than the run it is pooled with")
        pooled["probs"].append(other["probs"][:, order])
        pooled["members"] += [f"{name}/{m}" for m in other["members"]]
    pooled["probs"] = np.concatenate(pooled["probs"])
    pooled["members"] = np.array(pooled["members"])
    return pooled


NEIGHBOURS = (10, 20, 30)  # the k of the neighbour rows
NEIGHBOUR_THRESHOLDS = (0.15, 0.2, 0.25)


OUTLIER_KS = (5, 20)  # the k of the outlier rows
OUTLIERS_ACTED_ON = (50, 100, 200)  # the most atypical originals removed, in the outlier rows


def run_features(run: Path, oof, x: np.ndarray, members: list[str] | None) -> list[list[np.ndarray]]:
    """[member][fold]: the voted images' (x) features under the run's kept member models."""
    from dcai.neighbours import member_features
    from dcai.vote import member_outputs

    names = members or [str(m) for m in oof["members"]]
    return member_features(run / "models/vote", names, x, int(oof["folds"].max()) + 1, member_outputs(oof))


def outlier_rank(feats: list[list[np.ndarray]], folds: np.ndarray, k: int) -> np.ndarray:
    """How atypical each image is, 0 (the most typical) .. 1: its rank by cleanlab's
    OutOfDistribution score against the training images of the fold that held it out, in every
    member's feature space, averaged over members (ranks, so no member's scale dominates)."""
    from cleanlab.outlier import OutOfDistribution

    ranks = np.zeros((len(feats), len(folds)))
    for m, per_fold in enumerate(feats):
        ood_score = np.zeros(len(folds))
        for f, fold_feats in enumerate(per_fold):
            held_out, train = np.flatnonzero(folds == f), np.flatnonzero(folds != f)
            ood = OutOfDistribution(params={"k": k})
            ood.fit(features=fold_feats[train], verbose=False)
            ood_score[held_out] = ood.score(features=fold_feats[held_out])  # low: unlike any training image
        ranks[m] = np.argsort(np.argsort(-ood_score, kind="stable"), kind="stable") / max(len(folds) - 1, 1)
    return ranks.mean(axis=0)


def outlier_rows(feats, folds: np.ndarray, keys: list[str], review: dict) -> tuple[dict, dict[int, np.ndarray]]:
    """Score rows of removing the n most atypical originals, for every k and n; the ranks per k."""
    rows, ranks = {}, {}
    for k in OUTLIER_KS:
        ranks[k] = outlier_rank(feats, folds, k)
        order = [i for i in np.argsort(-ranks[k], kind="stable") if keys[i] is not None]
        for n in OUTLIERS_ACTED_ON:
            rows[f"outliers k={k}: the {n} most atypical, remove"] = score(
                {keys[i]: ("remove", None) for i in order[:n]}, review)
    return rows, ranks


def neighbour_rows(feats, oof, keys: list[str], review: dict, vote_params: dict,
                   ks: tuple[int, ...]) -> tuple[dict, dict[int, np.ndarray]]:
    """Score rows of the neighbour evidence for every k in ks, and the evidence itself per k."""
    from dcai.neighbours import neighbour_probs

    rows, evidence = {}, {}
    for k in ks:
        evidence[k] = neighbour_probs(feats, oof["labels"], oof["folds"], k)
        for t in NEIGHBOUR_THRESHOLDS:
            rules = rules_from(vote_params, min_label_prob=t, action="relabel", relabel_min_prob=0.7)
            rows[f"neighbours k={k}: noisy p<{t}, relabel at p>=0.7"] = score(
                vote_actions(evidence[k], oof["labels"], keys, rules, "noisy"), review)
    return rows, evidence


def measure(run: Path, review: dict[str, dict], vote_params: dict, members: list[str] | None = None,
            tta_shift: int = 0, with_runs: list[Path] = ()) -> dict:
    manifest = {}
    with open(run / "data/ingested/manifest.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            # images of another source (e.g. role synthetic) are voted on beside the competition's
            # and shape the rules' evidence, but the review cannot score them: key None
            competition = row.get("role", "competition") == "competition"
            manifest[row["id"]] = review_key(row["original_path"]) if competition else None
    oof = dict(np.load(run / "data/vote/oof.npz"))
    has_models = (run / "models/vote").is_dir()
    if with_runs:  # the pooled members' features would need every run's models and folds: probabilities only
        if tta_shift or vote_params.get("neighbours", 0):
            raise SystemExit("cleaning: --with-runs pools probabilities only (no --tta-shift, no neighbours)")
        oof = pooled_votes(oof, [(str(r), dict(np.load(r / "data/vote/oof.npz"))) for r in with_runs])
        has_models = False
    x = voted_images(run, oof) if has_models or tta_shift else None
    if tta_shift:
        oof["probs"] = tta_probs(run, oof, x, tta_shift)
    probs, labels = member_probs(oof, members), oof["labels"]
    keys = [manifest[str(i)] for i in oof["ids"]]
    reviewed = np.array([k is not None for k in keys], dtype=bool)
    unknown = [k for k in keys if k is not None and k not in review]
    if unknown:
        raise SystemExit(f"cleaning: {len(unknown)} images are not in the review, e.g. {unknown[:3]}: "
                         "is the run on the competition data?")
    by_clean = clean_actions(run, manifest)
    all_clean = {k: v for acts in by_clean.values() for k, v in acts.items()}
    base = rules_from(vote_params)
    rows = {f"clean: {kind}": score(acts, review) for kind, acts in sorted(by_clean.items())}
    rows["clean: all"] = score(all_clean, review)
    for t in (0.02, 0.05, 0.1, 0.15, 0.2, 0.3):
        rows[f"vote noisy p<{t}, remove"] = score(
            vote_actions(probs, labels, keys, rules_from(vote_params, min_label_prob=t, action="remove"), "noisy"),
            review)
    for t in (0.05, 0.1, 0.2):
        for r in (0.5, 0.7, 0.9):
            rows[f"vote noisy p<{t}, relabel at p>={r}"] = score(vote_actions(
                probs, labels, keys, rules_from(vote_params, min_label_prob=t, action="relabel",
                                                relabel_min_prob=r), "noisy"), review)
    for e in (1.0, 1.25, 1.5, 1.75):
        rows[f"vote ambiguous entropy>{e}"] = score(vote_actions(
            probs, labels, keys, rules_from(vote_params, min_label_prob=0.0, max_entropy=e,
                                            ambiguous_action="remove"), "ambiguous"), review)
    rows["cleanlab find_label_issues, remove"] = score(
        vote_actions(probs, labels, keys, rules_from(vote_params, method="cleanlab", action="remove"), "noisy"),
        review)
    configured_k = vote_params.get("neighbours", 0)
    evidence, atypical = {}, {}
    if has_models:
        feats = run_features(run, oof, x, members)
        found, evidence = neighbour_rows(feats, oof, keys, review, vote_params,
                                         tuple(sorted({*NEIGHBOURS, configured_k} - {0})))
        rows.update(found)
        found, atypical = outlier_rows(feats, oof["folds"], keys, review)
        rows.update(found)
    elif configured_k:
        raise SystemExit(f"cleaning: {run / 'models/vote'} not found, and vote_filter.neighbours is {configured_k}")
    default_vote = vote_actions(evidence[configured_k] if configured_k else probs, labels, keys, base)
    rows["vote filter as configured"] = score(default_vote, review)
    pipeline = {**all_clean, **default_vote}
    rows["pipeline as configured (clean + vote filter)"] = score(pipeline, review)
    for k, r in atypical.items():  # do outliers add what the rules miss?
        beside = [keys[i] for i in np.argsort(-r, kind="stable") if keys[i] is not None and keys[i] not in pipeline]
        rows[f"pipeline + the {OUTLIERS_ACTED_ON[0]} most atypical it keeps (k={k}), removed"] = score(
            {**pipeline, **{key: ("remove", None) for key in beside[:OUTLIERS_ACTED_ON[0]]}}, review)
    ensemble = probs.mean(axis=0).argmax(axis=1)
    given_label_prob = probs.mean(axis=0)[np.arange(len(labels)), labels]
    flagged = np.array([review[k]["action"] in ("remove", "relabel") for k in keys if k is not None])
    frontier = best_recall_at(-given_label_prob[reviewed], flagged, rows["clean: all"]["flagged_by_review"], TARGET_PRECISION)
    neighbour_frontier = {k: best_recall_at(-e.mean(axis=0)[np.arange(len(labels)), labels][reviewed], flagged,
                                            rows["clean: all"]["flagged_by_review"], TARGET_PRECISION)
                          for k, e in evidence.items()}
    outlier_frontier = {k: best_recall_at(r[reviewed], flagged, rows["clean: all"]["flagged_by_review"], TARGET_PRECISION)
                        for k, r in atypical.items()}
    relabelled = [i for i, k in enumerate(keys) if k is not None and review[k]["action"] == "relabel"]
    return {
        "images": len(review), "originals_voted": len(keys), "originals_of_other_sources": int((~reviewed).sum()),
        "vote_filter": vote_params,
        "members": members or [str(m) for m in oof["members"]], "tta_shift": tta_shift,
        "oof_accuracy_ensemble": round(float((ensemble == labels)[reviewed].mean()), 4),
        "ensemble_top_class_matches_review_relabel": round(float(np.mean(
            [CLASSES[ensemble[i]] == review[keys[i]]["corrected_label"] for i in relabelled])), 3),
        "rules": rows,
        "best_threshold_on_label_prob": frontier,
        "best_threshold_on_neighbour_share": neighbour_frontier,
        "best_threshold_on_outlier_rank": outlier_frontier,
    }


def print_table(result: dict) -> None:
    print(f"{result['images']} reviewed images; {result['originals_voted']} originals voted on by "
          f"{' '.join(result['members'])}"
          f"{f' ({n} of other sources, voted on but not scored)' if (n := result.get('originals_of_other_sources')) else ''}"
          f"{f' (test-time shifts of {s} px)' if (s := result.get('tta_shift')) else ''}; ensemble "
          f"out-of-fold accuracy {result['oof_accuracy_ensemble']}; where the review relabels, the ensemble's "
          f"top class is the review's {result['ensemble_top_class_matches_review_relabel']:.0%} of the time\n")
    print("| rule | acted on | hits | precision | recall | relabels (review keeps) | relabel agreement (n) |")
    print("|---|---|---|---|---|---|---|")
    for name, s in result["rules"].items():
        agreement = "" if s["relabel_agreement"] is None else f"{s['relabel_agreement']} ({s['relabel_agreement_n']})"
        print(f"| {name} | {s['acted_on']} | {s['hits']} | {s['precision']} | {s['recall']} | "
              f"{s['relabels']} ({s['relabels_the_review_keeps']}) | {agreement} |")
    f = result["best_threshold_on_label_prob"]
    print(f"\nBest any threshold on the ensemble's p(given label) can do at precision >= {f['min_precision']}: "
          f"recall {f['max_recall']} (acting on the {f['acted_on']} least likely labels)")
    for k, f in result["best_threshold_on_neighbour_share"].items():
        print(f"The same on the share of the {k} nearest neighbours with the given label: "
              f"recall {f['max_recall']} (acting on {f['acted_on']})")
    for k, f in result.get("best_threshold_on_outlier_rank", {}).items():
        print(f"The same on how atypical an original is (outliers, k={k}): recall {f['max_recall']} "
              f"(acting on the {f['acted_on']} most atypical)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="project folder with data/vote/oof.npz")
    parser.add_argument("--review", type=Path, default=REVIEW)
    parser.add_argument("--params", type=Path, default=REPO / "params.yaml",
                        help="whose vote_filter rules are 'as configured' (default: this checkout's)")
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--members", nargs="+", help="vote with these cached members only (default: all)")
    parser.add_argument("--with-runs", nargs="+", type=Path, default=[],
                        help="other runs' vote ensembles on the same originals, their members pooled with --run's")
    parser.add_argument("--tta-shift", type=int, default=0,
                        help="re-predict the held-out folds with the kept weights, over copies moved this many pixels")
    args = parser.parse_args()
    needs = [args.review, args.run / "data/vote/oof.npz", args.run / "reports/clean_removed.csv"]
    needs += [r / "data/vote/oof.npz" for r in args.with_runs]
    for needed in needs + ([args.run / "models/vote"] if args.tta_shift else []):
        if not needed.exists():
            print(f"cleaning: {needed} not found", file=sys.stderr)
            return 1
    vote_params = yaml.safe_load(args.params.read_text())["vote_filter"]
    result = measure(args.run, load_review(args.review), {k: v for k, v in vote_params.items() if k != "train"},
                     args.members, args.tta_shift, args.with_runs)
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
