"""Stage report: everything the pipeline wrote -> reports/report.html, one self-contained page."""
import sys
from pathlib import Path

from dcai.atomic import atomic_write_text
from dcai.params import load_params
from dcai.report import build_report

OUT = Path("reports/report.html")


def main() -> int:
    p = load_params("report")
    page = build_report(Path("."), p["title"], p["samples_per_stage"], p["seed"], p["anchors"], p["worst_classes"])
    atomic_write_text(OUT, page)
    print(f"report: {OUT} ({len(page) // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
