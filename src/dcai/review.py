"""Contact sheets for people: scan thousands of images in minutes, then write corrections.

    python -m dcai.review data/cleaned/manifest.csv                    # the whole dataset, per class
    python -m dcai.review reports/clean_removed.csv --group-by reason  # what a stage removed
    dcai-review MANIFEST --ids flagged.csv --out reports/review/flagged

Writes one PNG per group (thumbnails captioned with their id) and an HTML page with the
same thumbnails and selectable ids, to copy into data/corrections.yaml.
"""
import argparse
import base64
import html
import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from .atomic import atomic_write_bytes, atomic_write_text
from .reports import read_rows_csv, reason_kind

THUMB = 96
CAPTION = 14
COLUMNS = 12


def _thumbnail(path: str) -> Image.Image:
    try:
        image = Image.open(path).convert("L")
    except (OSError, ValueError):
        return Image.new("L", (THUMB, THUMB), 128)  # shown gray: the sheet still renders
    image.thumbnail((THUMB, THUMB))
    return image


def contact_sheet(rows: list[dict], caption_key: str = "id", columns: int = COLUMNS) -> Image.Image:
    """A grid of thumbnails, each captioned with its row's `caption_key`."""
    font = ImageFont.load_default(size=11)
    n_rows = max(1, -(-len(rows) // columns))
    cell_w, cell_h = THUMB + 4, THUMB + CAPTION + 4
    sheet = Image.new("L", (columns * cell_w, n_rows * cell_h), 255)
    draw = ImageDraw.Draw(sheet)
    for k, row in enumerate(rows):
        x, y = (k % columns) * cell_w, (k // columns) * cell_h
        thumb = _thumbnail(row["path"])
        sheet.paste(thumb, (x + (THUMB - thumb.size[0]) // 2 + 2, y + (THUMB - thumb.size[1]) // 2 + 2))
        draw.rectangle((x + 1, y + 1, x + THUMB + 2, y + THUMB + 2), outline=200)
        draw.text((x + 2, y + THUMB + 3), str(row.get(caption_key, ""))[:16], fill=0, font=font)
    return sheet


def samples_by_class(rows: list[dict], per_class: int, seed: int) -> Image.Image:
    """A seeded sample of up to `per_class` images of each class, a row per class."""
    import random

    rng = random.Random(seed)
    sample = []
    for members in group_rows(rows, "label").values():
        sample += rng.sample(members, min(per_class, len(members)))
    return contact_sheet(sample, caption_key="label", columns=per_class)


def group_rows(rows: list[dict], group_by: str) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for row in rows:
        key = reason_kind(row[group_by]) if group_by == "reason" else row[group_by]
        groups.setdefault(key or "(none)", []).append(row)
    return dict(sorted(groups.items()))


def write_review(rows: list[dict], out_dir: Path, title: str, group_by: str = "label") -> list[Path]:
    """Write `<group>.png` per group and `index.html`; return the PNG paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    pngs, sections = [], []
    for group, members in group_rows(rows, group_by).items():
        buf = io.BytesIO()
        contact_sheet(members).save(buf, format="PNG")
        png = out_dir / f"{group.replace('/', '_').replace(' ', '_')}.png"
        atomic_write_bytes(png, buf.getvalue())
        pngs.append(png)
        cells = []
        for row in members:
            thumb = io.BytesIO()
            _thumbnail(row["path"]).save(thumb, format="PNG")
            detail = html.escape(row.get("reason") or row.get("original_path", ""))
            cells.append(f'<figure title="{detail}"><img src="data:image/png;base64,'
                         f'{base64.b64encode(thumb.getvalue()).decode()}"><figcaption>{html.escape(row["id"])}'
                         f'<br><small>{html.escape(row["label"])}</small></figcaption></figure>')
        sections.append(f"<h2>{html.escape(group)} ({len(members)})</h2>\n<div>{''.join(cells)}</div>")
    page = (f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif}figure{display:inline-block;margin:4px;text-align:center;"
            f"font:11px monospace}}img{{border:1px solid #ccc;max-width:{THUMB}px;max-height:{THUMB}px}}</style>"
            f"<h1>{html.escape(title)}</h1><p>{len(rows)} images. Hover for the original path or reason; "
            "copy an id into data/corrections.yaml.</p>\n" + "\n".join(sections))
    atomic_write_text(out_dir / "index.html", page)
    return pngs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="dcai-review", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("manifest", type=Path, help="a manifest or report CSV with id, label and path columns")
    parser.add_argument("--ids", type=Path, help="only the images listed (by id) in this CSV")
    parser.add_argument("--group-by", default="label", help="column to group by (label, reason, kind, ...)")
    parser.add_argument("--out", type=Path, default=Path("reports/review"))
    args = parser.parse_args(argv)
    rows = read_rows_csv(args.manifest)
    if args.ids:
        wanted = {r["id"] for r in read_rows_csv(args.ids)}
        rows = [r for r in rows if r["id"] in wanted]
    write_review(rows, args.out, title=f"{args.manifest} by {args.group_by}", group_by=args.group_by)
    print(f"{len(rows)} images -> {args.out}/index.html")


if __name__ == "__main__":
    main()
