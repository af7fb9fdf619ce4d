"""Content fingerprints of folders that live outside DVC's view.

Sources and test sets can be anywhere (`../shared/...`, a mounted disk), and DVC cannot
take a list from params.yaml as a stage's dependencies. A cheap stage that always runs
writes a digest of their contents; the stages that read them depend on that file, so
they re-run exactly when a source's content changes, and not otherwise.

One bad file never stops the fingerprint: a file that cannot be read (a dangling link,
no permission) enters the digest by its name and error, so ingest, which reports it,
still runs, and re-runs when it becomes readable. Names are digested as raw bytes, so a
name that is not valid UTF-8 is fine too.
"""
import hashlib
import os
from pathlib import Path

from .ingest import walk_files


def folder_digest(folder: str | Path) -> dict:
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: folder not found" if not folder.exists() else f"{folder}: a file, not a folder")
    digest = hashlib.sha256()
    files, unreadable = 0, []
    for path in walk_files(folder):  # ingest's walk: linked folders followed, loops not
        rel = os.fsencode(path.relative_to(folder))
        digest.update(rel + b"\0")
        try:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        except OSError as err:
            digest.update(f"unreadable: {err.strerror}".encode())
            unreadable.append(f"{os.fsdecode(rel)!r}: {err.strerror}")
        files += 1
    out = {"path": folder.as_posix(), "files": files, "sha256": digest.hexdigest()}
    if unreadable:
        out["unreadable"] = unreadable
    return out
