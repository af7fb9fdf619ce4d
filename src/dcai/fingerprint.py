"""Content fingerprints of folders that live outside DVC's view.

Sources and test sets can be anywhere (`../shared/...`, a mounted disk), and DVC cannot
take a list from params.yaml as a stage's dependencies. A cheap stage that always runs
writes a digest of their contents; the stages that read them depend on that file, so
they re-run exactly when a source's content changes, and not otherwise.
"""
import hashlib
import os
from pathlib import Path


def folder_digest(folder: str | Path) -> dict:
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: folder not found")
    digest = hashlib.sha256()
    files = 0
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
            files += 1
    return {"path": folder.as_posix(), "files": files, "sha256": digest.hexdigest()}
