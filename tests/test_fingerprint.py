"""The digest that makes DVC re-run ingest when a source folder outside the repo changes."""
import os

import pytest

from dcai.fingerprint import folder_digest


def test_the_digest_changes_with_content_names_and_files_but_not_with_time(tmp_path):
    (tmp_path / "i").mkdir()
    (tmp_path / "i" / "a.png").write_bytes(b"one")
    (tmp_path / "i" / "b.png").write_bytes(b"two")
    first = folder_digest(tmp_path)
    assert first["files"] == 2
    os.utime(tmp_path / "i" / "a.png", (1, 1))
    assert folder_digest(tmp_path) == first  # touching a file is no change
    (tmp_path / "i" / "a.png").write_bytes(b"One")
    edited = folder_digest(tmp_path)
    assert edited["sha256"] != first["sha256"]
    (tmp_path / "i" / "a.png").write_bytes(b"one")
    assert folder_digest(tmp_path) == first
    (tmp_path / "i" / "b.png").rename(tmp_path / "i" / "c.png")
    assert folder_digest(tmp_path)["sha256"] != first["sha256"]  # moved or renamed: ingest's ids change
    (tmp_path / "i" / "c.png").rename(tmp_path / "i" / "b.png")
    (tmp_path / "i" / "d.png").write_bytes(b"")
    assert folder_digest(tmp_path)["files"] == 3


def test_one_bad_file_is_recorded_not_fatal(tmp_path):
    (tmp_path / "i").mkdir()
    (tmp_path / "i" / "ok.png").write_bytes(b"fine")
    os.symlink(tmp_path / "nowhere.png", tmp_path / "i" / "dangling.png")
    (tmp_path / os.fsdecode(b"caf\xe9.png")).write_bytes(b"latin-1 name")
    os.symlink(tmp_path, tmp_path / "i" / "loop")  # a link back up must not walk forever
    digest = folder_digest(tmp_path)
    assert digest["files"] == 3
    assert digest["unreadable"] == ["'i/dangling.png': No such file or directory"]


def test_a_file_given_as_a_folder_is_named_as_such(tmp_path):
    (tmp_path / "f.png").write_bytes(b"x")
    with pytest.raises(FileNotFoundError, match="a file, not a folder"):
        folder_digest(tmp_path / "f.png")
    with pytest.raises(FileNotFoundError, match="folder not found"):
        folder_digest(tmp_path / "missing")
