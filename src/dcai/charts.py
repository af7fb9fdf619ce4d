"""Inline SVG charts for the report page: no plotting library and no files beside the page,
and the same numbers always give the same bytes."""
import html

# Tableau's 10 colours: one per class, told apart by most eyes
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac")
ANCHOR_COLOURS = ("#d62728", "#2ca02c", "#9467bd", "#8c564b", "#17becf")
BAR_COLOUR = "#4e79a7"
LABEL_WIDTH = 260   # px for the row labels
PLOT_WIDTH = 560    # px for the bars
ROW_HEIGHT = 22
BAR_HEIGHT = 15
NOTE_WIDTH = 300    # px for the text after a bar
FONT = 'font-family="sans-serif" font-size="12"'


def _text(x: float, y: float, text: str, anchor: str = "start", colour: str = "#222") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{colour}" {FONT}>'
            f"{html.escape(str(text))}</text>")


def _rect(x: float, y: float, w: float, h: float, colour: str, tip: str) -> str:
    return (f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{h}" fill="{colour}">'
            f"<title>{html.escape(tip)}</title></rect>")


def _svg(height: float, body: list[str], label: str) -> str:
    width = LABEL_WIDTH + PLOT_WIDTH + NOTE_WIDTH
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{html.escape(label)}" '
            f'width="{width}" height="{height:.0f}" viewBox="0 0 {width} {height:.0f}">' + "".join(body) + "</svg>")


def _legend(names: list[str], colours: list[str], y: float) -> list[str]:
    parts, x = [], LABEL_WIDTH
    for name, colour in zip(names, colours):
        parts += [_rect(x, y - 10, 10, 10, colour, name), _text(x + 14, y, name)]
        x += 22 + 7 * len(name)
    return parts


def stacked_bars(rows: list[tuple[str, dict[str, int]]], keys: list[str], label: str) -> str:
    """One horizontal bar per row, split into `keys` (e.g. classes), its total at the end."""
    top = 24
    largest = max([sum(counts.values()) for _, counts in rows] + [1])
    body = _legend(keys, [PALETTE[k % len(PALETTE)] for k in range(len(keys))], 14)
    for r, (name, counts) in enumerate(rows):
        y, x = top + r * ROW_HEIGHT, LABEL_WIDTH
        body.append(_text(LABEL_WIDTH - 6, y + BAR_HEIGHT - 3, name, "end"))
        for k, key in enumerate(keys):
            w = PLOT_WIDTH * counts.get(key, 0) / largest
            if w > 0:
                body.append(_rect(x, y, w, BAR_HEIGHT, PALETTE[k % len(PALETTE)], f"{name}, {key}: {counts[key]}"))
                x += w
        body.append(_text(x + 4, y + BAR_HEIGHT - 3, f"{sum(counts.values()):,}"))
    return _svg(top + len(rows) * ROW_HEIGHT + 4, body, label)


def count_bars(rows: list[tuple[str, int]], label: str) -> str:
    """One horizontal bar per row, its count at the end."""
    largest = max([n for _, n in rows] + [1])
    body = []
    for r, (name, n) in enumerate(rows):
        y = 4 + r * ROW_HEIGHT
        w = PLOT_WIDTH * n / largest
        body += [_text(LABEL_WIDTH - 6, y + BAR_HEIGHT - 3, name, "end"),
                 _rect(LABEL_WIDTH, y, w, BAR_HEIGHT, BAR_COLOUR, f"{name}: {n}"),
                 _text(LABEL_WIDTH + w + 4, y + BAR_HEIGHT - 3, f"{n:,}")]
    return _svg(8 + len(rows) * ROW_HEIGHT, body, label)


def accuracy_bars(rows: list[tuple[str, float, float, float, str]], anchors: dict[str, dict[str, float]],
                  label: str) -> str:
    """Accuracy on a 0-1 axis: a bar at the mean, a whisker from min to max over seeds, and each
    anchor (another version's or a reference score) as a coloured tick on the rows it has.
    Rows are (name, mean, min, max, note)."""
    names = list(anchors)
    colours = [ANCHOR_COLOURS[k % len(ANCHOR_COLOURS)] for k in range(len(names))]
    top = 24 if names else 4
    body = _legend(names, colours, 14) if names else []
    for r, (name, mean, low, high, note) in enumerate(rows):
        y = top + r * (ROW_HEIGHT + 4)
        mid = y + BAR_HEIGHT / 2
        body += [_text(LABEL_WIDTH - 6, y + BAR_HEIGHT - 3, name, "end"),
                 _rect(LABEL_WIDTH, y, PLOT_WIDTH, BAR_HEIGHT, "#f0f0f0", "0 to 1"),
                 _rect(LABEL_WIDTH, y, PLOT_WIDTH * mean, BAR_HEIGHT, BAR_COLOUR, f"{name}: mean {mean:.4f}")]
        if high > low:
            x0, x1 = LABEL_WIDTH + PLOT_WIDTH * low, LABEL_WIDTH + PLOT_WIDTH * high
            body.append(f'<path d="M{x0:.1f} {mid:.1f}H{x1:.1f}M{x0:.1f} {y + 3:.1f}V{y + BAR_HEIGHT - 3:.1f}'
                        f'M{x1:.1f} {y + 3:.1f}V{y + BAR_HEIGHT - 3:.1f}" stroke="#111" stroke-width="1.5">'
                        f"<title>{html.escape(f'{name}: min {low:.4f}, max {high:.4f}')}</title></path>")
        for anchor, colour in zip(names, colours):
            if name in anchors[anchor]:
                x = LABEL_WIDTH + PLOT_WIDTH * anchors[anchor][name]
                body.append(f'<path d="M{x:.1f} {y - 3:.1f}V{y + BAR_HEIGHT + 3:.1f}" stroke="{colour}" '
                            f'stroke-width="3"><title>{html.escape(f"{anchor}: {anchors[anchor][name]:.4f}")}'
                            "</title></path>")
        body.append(_text(LABEL_WIDTH + PLOT_WIDTH + 6, y + BAR_HEIGHT - 3, note))
    return _svg(top + len(rows) * (ROW_HEIGHT + 4) + 4, body, label)
