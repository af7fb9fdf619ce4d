"""Stage vote_train: out-of-fold class probabilities of every original, from every member."""
import shutil
import sys
from pathlib import Path

import numpy as np

from dcai.atomic import atomic_dir, write_json
from dcai.classes import CLASS_INDEX, CLASSES
from dcai.manifest import read_manifest
from dcai.non_numerals import check_non_numerals
from dcai.params import load_params
from dcai.vote import (check_member_input, images_for_members, label_indices, member_agreement, out_of_fold_probs,
                       stratified_folds)

IN = Path("data/standardized/manifest.csv")
OUT = Path("data/vote")
MODELS = Path("models/vote")
RESUME = Path("models/.resume/vote_train")  # finished models of an interrupted run; not a DVC output
NO_NON_NUMERALS = {"per_fold": 0, "kinds": []}


def non_numeral_settings(p: dict) -> tuple | None:
    """(per_fold, kinds, indices of the classes a quarter turn leaves alike), or None when off."""
    if not p["per_fold"]:
        return None
    return p["per_fold"], tuple(p["kinds"]), tuple(CLASS_INDEX[c] for c in p.get("turn_invariant") or ())


def main() -> None:
    group = load_params("vote_filter")
    p, speed = group["train"], group["speed"]
    compute = load_params("compute")
    try:
        check_member_input(p["input_size"])
        made_up = p.get("non_numerals", NO_NON_NUMERALS)  # a params file from before the knob: none
        check_non_numerals(made_up)
        non_numerals = non_numeral_settings(made_up)
    except ValueError as err:
        sys.exit(f"vote_train: {err}")
    processes = max(1, speed["models_at_once"])
    rows = [r for r in read_manifest(IN) if r["kind"] == "original"]
    labels = label_indices(rows)
    folds = stratified_folds(labels, p["folds"], p["seed"])
    x = images_for_members([r["path"] for r in rows], p["input_size"], p["antialias"])
    with atomic_dir(MODELS) as models_tmp:
        result = out_of_fold_probs(x, labels, p["members"], folds, p["epochs"], p["batch_size"], p["learning_rate"],
                                   p["seed"], jit_compile=p["jit_compile"], weights_dir=models_tmp, resume_dir=RESUME,
                                   compute={"processes": processes, "threads": max(1, speed["threads"] // processes),
                                            "address": compute["address"], "gpus_per_task": compute["gpus_per_task"]},
                                   non_numerals=non_numerals)
    if result["resumed"]:
        print(f"vote_train: {result['resumed']} models taken from the interrupted run in {RESUME}")
    # the classes' probabilities stay where every rule reads them; what the members gave
    # "none of them" (the rest, when they learnt non-numerals) is kept beside them
    probs, non_numeral = result["probs"][..., :len(CLASSES)], result["probs"][..., len(CLASSES):]
    extra = {"non_numeral": non_numeral[..., 0]} if non_numeral.shape[-1] else {}
    with atomic_dir(OUT) as tmp:
        np.savez_compressed(tmp / "oof.npz", probs=probs, labels=labels, folds=folds, **extra,
                            ids=np.array([r["id"] for r in rows]), members=np.array(p["members"]),
                            input_size=p["input_size"], antialias=p["antialias"])
    ensemble = probs.mean(axis=0).argmax(axis=1)
    write_json("metrics/vote_train.json", {
        "images": len(rows), "folds": p["folds"], "members": p["members"],
        "oof_accuracy": {name: round(float((probs[m].argmax(1) == labels).mean()), 4)
                         for m, name in enumerate(p["members"])},
        "oof_accuracy_ensemble": round(float((ensemble == labels).mean()), 4),
        "member_agreement": member_agreement(probs), "seconds_per_member": result["seconds"],
        "non_numerals_per_fold": made_up["per_fold"],
        "originals_most_likely_no_numeral": int((result["probs"].mean(axis=0).argmax(axis=1) >= len(CLASSES)).sum()),
    })
    shutil.rmtree(RESUME, ignore_errors=True)  # the outputs are written: nothing left to resume
    print(f"vote_train: out-of-fold accuracy of the ensemble {float((ensemble == labels).mean()):.3f}")


if __name__ == "__main__":
    main()
