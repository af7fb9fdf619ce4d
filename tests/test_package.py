import os
import zipfile

import pytest

from conftest import numeral_image
from dcai.budget import batches, counted_size, fits_budget
from dcai.classes import CLASSES
from dcai.package import ZIP_DATE, SubmissionError, check_counts, check_decodes, make_zip, write_submission


def test_the_size_rule_is_counted_in_batches():
    assert batches(9500, 8) == 1188 and batches(500, 8) == 63
    assert counted_size(9500, 500, 8) == 10_008
    assert not fits_budget(9500, 500, 10_000, 8)   # 10,000 images, but 1,251 batches
    assert fits_budget(9496, 504, 10_000, 8)       # 1,187 + 63 = 1,250 batches
    assert fits_budget(9501, 499, 10_000, 8) is False
    with pytest.raises(SubmissionError, match="1188 \\+ 63 batches"):
        check_counts(9500, 500, 10_000, 8)
    check_counts(9496, 504, 10_000, 8)
    with pytest.raises(SubmissionError, match="both train and val"):
        check_counts(100, 0, 10_000, 8)


def _rows(tmp_path):
    rows = []
    for k, (label, split) in enumerate([("i", "train"), ("iv", "train"), ("x", "val")]):
        path = tmp_path / f"img{k}.png"
        numeral_image(strokes=k + 1).save(path)
        rows.append({"id": f"id{k}", "label": label, "split": split, "path": str(path)})
    return rows


def test_submission_has_the_competition_layout_and_a_deterministic_zip(tmp_path):
    out = tmp_path / "submission"
    write_submission(_rows(tmp_path), out)
    for split in ("train", "val"):
        assert sorted(p.name for p in (out / split).iterdir()) == sorted(CLASSES)
    assert (out / "train" / "iv" / "id1.png").is_file() and (out / "val" / "x" / "id2.png").is_file()
    check_decodes(out)
    make_zip(out, tmp_path / "a.zip")
    for path in out.rglob("*"):  # the files' own times must not matter either
        os.utime(path, (1_700_000_000, 1_700_000_000))
    make_zip(out, tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    # a zip stores times to 2 seconds, so two zips made a moment apart can agree by luck:
    # check the stored time itself, the fixed date, not the clock's
    assert {info.date_time for info in zipfile.ZipFile(tmp_path / "a.zip").infolist()} == {ZIP_DATE}
    names = zipfile.ZipFile(tmp_path / "a.zip").namelist()
    assert "train/iv/id1.png" in names and "val/x/id2.png" in names


def test_a_file_tensorflow_cannot_decode_is_named(tmp_path):
    out = tmp_path / "submission"
    write_submission(_rows(tmp_path), out)
    (out / "train" / "i" / "id0.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    with pytest.raises(SubmissionError, match="train/i/id0.png"):
        check_decodes(out)
