"""Stage scripts run as DVC runs them (in a project folder, reading params.yaml), on crafted inputs."""
import os
import subprocess
import sys

import numpy as np
import yaml
from PIL import Image

from conftest import REPO, numeral_image
from dcai.classes import CLASS_INDEX
from dcai.ingest import pixel_hash
from dcai.manifest import read_manifest, write_manifest
from dcai.reports import read_rows_csv


def run_stage(root, name):
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run([sys.executable, str(REPO / "stages" / f"{name}.py")], cwd=root, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done


def project(tmp_path, images: dict[str, tuple[str, Image.Image]], corrections: str, **groups):
    """A project folder with data/ingested/ holding `images` (id -> (label, image))."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for group, values in groups.items():
        params[group].update(values)
    params["clean"]["corrections"] = "corrections.yaml"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / "corrections.yaml").write_text(corrections)
    rows = []
    (tmp_path / "data/ingested/images").mkdir(parents=True)
    for uid, (label, image) in images.items():
        path = f"data/ingested/images/{uid}.png"
        image.save(tmp_path / path)
        rows.append({"id": uid, "origin_id": uid, "label": label, "path": path, "kind": "original",
                     "transforms": "", "source": "s", "role": "competition", "original_path": f"/s/{label}/{uid}.png",
                     "original_split": "", "pixel_hash": pixel_hash(image), "width": image.size[0],
                     "height": image.size[1]})
    write_manifest(tmp_path / "data/ingested/manifest.csv", rows)
    return tmp_path


def test_held_out_images_get_the_corrections_and_nothing_else(tmp_path):
    stroke = numeral_image(strokes=1)
    blank = Image.new("L", (60, 60), 255)  # clean would remove it; a test set is not cleaned
    root = project(tmp_path, {"a": ("i", stroke), "b": ("i", numeral_image(strokes=2)), "c": ("i", stroke.copy()),
                              "d": ("i", blank)},
                   "- {id: a, remove: true}\n- {id: b, relabel: ii, mirror: true}\n",
                   holdout={"fraction": 0.99, "seed": 1})
    run_stage(root, "holdout")
    test = {r["id"]: r for r in read_manifest(root / "data/holdout/test.csv")}
    assert set(test) == {"b", "c", "d"}  # a removed by the corrections; c (a's twin) and d (blank) stay
    assert test["b"]["label"] == "ii" and "mirror_h" in test["b"]["transforms"]
    held = np.asarray(Image.open(root / "data/holdout/test/ii/b.png"))
    np.testing.assert_array_equal(held, np.asarray(numeral_image(strokes=2))[:, ::-1])
    assert sorted(p.name for p in (root / "data/holdout/test/i").iterdir()) == ["c.png", "d.png"]
    assert read_manifest(root / "data/holdout/pool.csv") == []


def test_a_persons_keep_overrules_the_vote_filter(tmp_path):
    images = {uid: ("i", numeral_image(strokes=1, ink=10 * k)) for k, uid in enumerate(("a", "b", "c"))}
    root = project(tmp_path, images, "- {id: b, keep: true}\n",
                   vote_filter={"action": "remove", "min_label_prob": 0.5, "ambiguous_action": "remove"})
    (root / "data/standardized").mkdir(parents=True)
    (root / "data/vote").mkdir(parents=True)
    write_manifest(root / "data/standardized/manifest.csv", read_manifest(root / "data/ingested/manifest.csv"))
    probs = np.full((1, 3, 10), 0.01, np.float32)
    probs[0, :, CLASS_INDEX["v"]] = 0.91  # the ensemble says v for all three
    np.savez(root / "data/vote/oof.npz", probs=probs, labels=np.zeros(3, np.int64), folds=np.zeros(3, np.int64),
             ids=np.array(["a", "b", "c"]), members=np.array(["lenet5"]))
    run_stage(root, "vote_filter")
    assert [r["id"] for r in read_manifest(root / "data/filtered/manifest.csv")] == ["b"]
    report = {r["id"]: r["action"] for r in read_rows_csv(root / "reports/vote_filter.csv")}
    assert report == {"a": "remove", "b": "keep (corrections)", "c": "remove"}


def test_a_trusted_roles_originals_are_flagged_but_never_removed(tmp_path):
    images = {uid: ("i", numeral_image(strokes=1, ink=10 * k)) for k, uid in enumerate(("a", "b"))}
    root = project(tmp_path, images, "[]\n", vote_filter={"action": "remove", "min_label_prob": 0.5})
    (root / "data/standardized").mkdir(parents=True)
    (root / "data/vote").mkdir(parents=True)
    rows = read_manifest(root / "data/ingested/manifest.csv")
    rows[1]["role"] = "label_book"  # params.yaml trusts the label book's labels
    write_manifest(root / "data/standardized/manifest.csv", rows)
    probs = np.full((1, 2, 10), 0.01, np.float32)
    probs[0, :, CLASS_INDEX["v"]] = 0.91  # the ensemble says v for both
    np.savez(root / "data/vote/oof.npz", probs=probs, labels=np.zeros(2, np.int64), folds=np.zeros(2, np.int64),
             ids=np.array(["a", "b"]), members=np.array(["lenet5"]))
    run_stage(root, "vote_filter")
    assert [(r["id"], r["label"]) for r in read_manifest(root / "data/filtered/manifest.csv")] == [("b", "i")]
    report = {r["id"]: (r["flag"], r["action"]) for r in read_rows_csv(root / "reports/vote_filter.csv")}
    assert report == {"a": ("noisy", "remove"), "b": ("noisy", "keep (trusted role)")}

    params = yaml.safe_load((root / "params.yaml").read_text())
    params["vote_filter"]["trusted_roles"] = ["labelbook"]
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    done = subprocess.run([sys.executable, str(REPO / "stages/vote_filter.py")], cwd=root,
                          env={**os.environ, "PYTHONPATH": str(REPO / "src")}, capture_output=True, text=True)
    assert done.returncode == 1 and "trusted_roles ['labelbook'] are not source roles" in done.stderr


def test_vote_train_with_non_numerals_keeps_their_probability_beside_the_classes(tmp_path):
    images = {f"{label}{k}": (label, numeral_image(strokes=n, ink=8 * k))
              for n, label in enumerate(("i", "ii", "iii"), start=1) for k in range(4)}
    base = yaml.safe_load((REPO / "params.yaml").read_text())["vote_filter"]
    train = {**base["train"], "members": ["lenet5"], "folds": 2, "epochs": 1,
             "non_numerals": {**base["train"]["non_numerals"], "per_fold": 6}}
    root = project(tmp_path, images, "[]\n", vote_filter={"train": train, "speed": {"models_at_once": 1, "threads": 1}})
    (root / "data/standardized").mkdir(parents=True)
    write_manifest(root / "data/standardized/manifest.csv", read_manifest(root / "data/ingested/manifest.csv"))
    run_stage(root, "vote_train")
    votes = np.load(root / "data/vote/oof.npz")
    assert votes["probs"].shape == (1, 12, 10) and votes["non_numeral"].shape == (1, 12)
    np.testing.assert_allclose(votes["probs"].sum(axis=2) + votes["non_numeral"], 1.0, rtol=1e-5)
    assert yaml.safe_load((root / "metrics/vote_train.json").read_text())["non_numerals_per_fold"] == 6
    run_stage(root, "vote_filter")  # the rules and the report read the ten classes as before
    assert len(read_rows_csv(root / "reports/vote_filter.csv")) == 12

    params = yaml.safe_load((root / "params.yaml").read_text())
    params["vote_filter"]["train"]["non_numerals"]["kinds"] = ["doodle"]
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    done = subprocess.run([sys.executable, str(REPO / "stages/vote_train.py")], cwd=root,
                          env={**os.environ, "PYTHONPATH": str(REPO / "src")}, capture_output=True, text=True)
    assert done.returncode == 1 and "non_numerals.kinds" in done.stderr

    del params["vote_filter"]["train"]["non_numerals"]  # a params file from before the knob: ten classes
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    run_stage(root, "vote_train")
    votes = np.load(root / "data/vote/oof.npz")
    assert "non_numeral" not in votes and votes["probs"].shape == (1, 12, 10)


def bad_input_corpus(root):
    """A messy source folder: every kind of bad or awkward file a user's folders hold."""
    good = numeral_image()
    (root / "i").mkdir(parents=True)
    (root / "ii").mkdir()
    good.save(root / "i" / "good.png")
    (root / "i" / "empty.png").write_bytes(b"")
    (root / "i" / "notes.txt").write_text("not an image")
    data = (root / "i" / "good.png").read_bytes()
    (root / "ii" / "truncated.png").write_bytes(data[: len(data) // 2])
    (root / "ii" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / "xi").mkdir()
    good.save(root / "xi" / "odd.png")
    good.save(root / "stray.png")
    good.save(root / "ii" / os.fsdecode(b"caf\xe9.png"))
    os.symlink(root / "gone.png", root / "ii" / "dangling.png")
    elsewhere = root.parent / "elsewhere"  # another disk, linked into a class folder
    elsewhere.mkdir()
    good.save(elsewhere / "linked.png")
    os.symlink(elsewhere, root / "i" / "more")
    os.symlink(root / "i", elsewhere / "loop")
    Image.fromarray(np.array([[0, 2048], [4095, 4095]], dtype=np.uint16)).save(root / "ii" / "scanner12bit.png")
    Image.fromarray(np.array([[0.1, 0.9], [0.9, 0.9]], dtype=np.float32), mode="F").save(root / "ii" / "float.tif")
    frames = [Image.new("L", (8, 8), v) for v in (0, 255)]
    frames[0].save(root / "ii" / "anim.gif", save_all=True, append_images=frames[1:])
    return root


def test_a_messy_folder_ingests_with_every_bad_file_named(tmp_path):
    corpus = bad_input_corpus(tmp_path / "corpus")
    root = tmp_path / "project"
    root.mkdir()
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["ingest"]["sources"] = [str(corpus)]
    params["train_score"]["test_sets"] = {}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    run_stage(root, "fingerprint")  # one bad file never stops the fingerprint
    done = run_stage(root, "ingest")
    rows = read_manifest(root / "data/ingested/manifest.csv")
    skipped = {r["original_path"].split("/corpus/")[1]: r["reason"] for r in read_rows_csv(root / "reports/ingest_skipped.csv")}
    taken = {r["original_path"].split("/corpus/")[1]: r["transforms"] for r in rows}
    assert taken == {"i/good.png": "", "i/more/linked.png": "via_link:i/more", "ii/caf\\xe9.png": "name_not_utf8",
                     "ii/scanner12bit.png": "12bit_to_8bit", "ii/float.tif": "float_range_0.1_0.9_to_8bit",
                     "ii/anim.gif": "first_of_2_frames;P_to_L"}
    assert set(skipped) == {"i/empty.png", "i/notes.txt", "ii/truncated.png", "ii/.DS_Store", "xi/odd.png",
                            "stray.png", "ii/dangling.png", "i/more/loop"}, skipped
    assert all(reason for reason in skipped.values())
    assert "Traceback" not in done.stderr
    for name in skipped:  # every skipped file is named where the user looks
        assert name.rsplit("/", 1)[-1] in done.stderr
