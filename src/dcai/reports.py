"""Small CSV reports of what a stage skipped or removed, and why."""
import csv
import io
from pathlib import Path

from .atomic import atomic_write_text


def write_rows_csv(path: str | Path, rows: list[dict], columns: tuple[str, ...]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def reason_kind(reason: str) -> str:
    """The general kind of a reason, without the specifics after a colon."""
    return reason.split(":", 1)[0].split(" (", 1)[0].strip()


def read_rows_csv(path: str | Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
