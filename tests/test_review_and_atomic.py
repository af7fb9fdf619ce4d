"""dcai-review's sheets and page; atomic outputs; the label-book warning."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import REPO, numeral_image
from dcai.atomic import atomic_dir
from dcai.manifest import write_manifest
from dcai.reports import write_rows_csv
from dcai.review import CAPTION, THUMB, main as review_main
from dcai.train_score import NOT_A_TEST, label_book_warning


def tiles(png) -> int:
    sheet = np.asarray(Image.open(png))
    return sum(int(sheet[y + 1, x + 1] == 200) for y in range(0, sheet.shape[0], THUMB + CAPTION + 4)
               for x in range(0, sheet.shape[1], THUMB + 4))


def test_review_renders_a_sheet_per_group_and_a_page_of_selectable_ids(tmp_path, capsys):
    rows = []
    for k, label in enumerate(["i", "i", "i", "v", "x"]):
        path = tmp_path / f"{k}.png"
        numeral_image(strokes=k % 3 + 1).save(path)
        rows.append({"id": f"img{k}", "origin_id": f"img{k}", "label": label, "path": str(path),
                     "reason": "blank: ink 0" if k < 2 else "page photo: 0.5"})
    write_manifest(tmp_path / "manifest.csv", rows)
    review_main([str(tmp_path / "manifest.csv"), "--out", str(tmp_path / "by_label")])
    assert sorted(p.name for p in (tmp_path / "by_label").glob("*.png")) == ["i.png", "v.png", "x.png"]
    assert tiles(tmp_path / "by_label/i.png") == 3 and tiles(tmp_path / "by_label/x.png") == 1
    page = (tmp_path / "by_label/index.html").read_text()
    assert re.findall(r"<figcaption>(img\d)", page) == [f"img{k}" for k in range(5)]
    assert page.count("data:image/png;base64,") == 5 and "<h2>i (3)</h2>" in page
    write_rows_csv(tmp_path / "removed.csv", rows, ("id", "label", "reason", "path"))  # a stage's report
    review_main([str(tmp_path / "removed.csv"), "--group-by", "reason", "--out", str(tmp_path / "by_reason")])
    assert sorted(p.name for p in (tmp_path / "by_reason").glob("*.png")) == ["blank.png", "page_photo.png"]
    assert tiles(tmp_path / "by_reason/page_photo.png") == 3
    assert 'title="blank: ink 0"' in (tmp_path / "by_reason/index.html").read_text()
    review_main([str(tmp_path / "manifest.csv"), "--ids", str(tmp_path / "removed.csv"), "--out", str(tmp_path / "x")])
    assert "5 images" in capsys.readouterr().out


def test_a_crash_inside_a_stage_leaves_the_old_output_and_no_half_written_one(tmp_path):
    out = tmp_path / "out"
    with atomic_dir(out) as tmp:
        (tmp / "a.png").write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_dir(out) as tmp:
            (tmp / "a.png").write_bytes(b"new, half")
            raise RuntimeError("crash")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary folder left behind
    assert (out / "a.png").read_bytes() == b"old"
    with atomic_dir(out) as tmp:
        (tmp / "b.png").write_bytes(b"new")
    assert sorted(p.name for p in out.iterdir()) == ["b.png"]  # replaced whole, nothing stale kept


def test_a_killed_stage_leaves_the_old_output_and_the_next_run_sweeps_its_leftovers(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"old")
    code = ("import os; from dcai.atomic import atomic_dir\n"
            f"with atomic_dir({str(out)!r}) as tmp:\n"
            "    (tmp / 'a.png').write_bytes(b'half'); os.kill(os.getpid(), 9)\n")
    assert subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(REPO / "src")}
                          ).returncode == -9
    assert (out / "a.png").read_bytes() == b"old"
    assert len(list(tmp_path.glob(".out.*"))) == 1  # what SIGKILL leaves
    other = tmp_path / ".other.1.abc"
    other.mkdir()  # another output's temporary: not this stage's to remove
    with atomic_dir(out) as tmp:
        assert len(list(tmp_path.glob(".out.*"))) == 1  # only the live one
        (tmp / "a.png").write_bytes(b"new")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.1.abc", "out"]


def test_training_on_a_label_book_source_carries_a_warning():
    rows = [{"id": "a", "role": "competition"}, {"id": "b", "role": "label_book"}, {"id": "c", "role": "label_book"}]
    assert label_book_warning(rows) == {"label_book_images_in_training": 2, "warning": NOT_A_TEST}
    assert label_book_warning(rows[:1]) == {} and label_book_warning([{"id": "d"}]) == {}
