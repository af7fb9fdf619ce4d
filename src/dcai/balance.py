"""Balance: merge the originals and the generated streams into a class-balanced pool
that fits the competition's batch-counted size rule whatever the split does."""
import zlib
from collections import Counter
from pathlib import Path

import numpy as np

from .budget import check_budget_params
from .classes import CLASS_INDEX, CLASSES
from .manifest import derived_row, read_manifest

STREAMS = {  # manifest -> the kinds of image it holds
    Path("data/filtered/manifest.csv"): ("original", "trim"),
    Path("data/five_crop/manifest.csv"): ("crop",),
    Path("data/flips/manifest.csv"): ("flip",),
    Path("data/autoaugment/manifest.csv"): ("augment",),
    Path("data/variations/manifest.csv"): ("variation",),
}
OVER_TARGET = "over the class target"
OVER_ROLE_BUDGET = "over the per-class budget of its source role"


def read_streams(manifests: dict[Path, tuple[str, ...]] = STREAMS) -> dict[str, list[dict]]:
    """Every image of the manifests, by kind (only the kinds each manifest is listed with)."""
    streams: dict[str, list[dict]] = {}
    for path, kinds in manifests.items():
        for row in read_manifest(path):
            if row["kind"] in kinds:
                streams.setdefault(row["kind"], []).append(row)
    return streams


def leave_out(streams: dict[str, list[dict]], rejected: list[dict]) -> tuple[dict[str, list[dict]], list[dict]]:
    """The streams without the rejected images (label_guard's rows: id, reason), and the rows
    left out with their reason. A rejected id that no stream holds is an error: the guard
    judged other images than balance is given."""
    reasons = {r["id"]: r["reason"] for r in rejected}
    kept, out = {}, []
    for kind, rows in streams.items():
        kept[kind] = [r for r in rows if r["id"] not in reasons]
        out += [{**r, "reason": reasons[r["id"]]} for r in rows if r["id"] in reasons]
    if len(out) != len(reasons):
        missing = sorted(set(reasons) - {r["id"] for r in out})
        raise ValueError(f"label_guard rejected {len(missing)} images no stream holds (e.g. id {missing[0]}): "
                         "rerun label_guard")
    return kept, out


def safe_total(max_images: int, batch_size: int) -> int:
    """The most images that fit the rule for any train/val division of them.

    ceil(a/b) + ceil(c/b) <= (a + c + 2(b - 1)) / b, so a + c <= max - 2(b - 1) always fits.
    """
    return max_images - 2 * (batch_size - 1)


def repeat_originals(originals: list[dict], copies: int) -> list[dict]:
    """`copies - 1` more rows of each original (kind "repeat"): the same file under another id,
    so the fixed model sees each original `copies` times an epoch. The test images are
    originals, and this weighs them against the generated images without transforming them."""
    if not isinstance(copies, int) or isinstance(copies, bool) or copies < 1:
        raise ValueError(f"balance.original_copies must be a whole number >= 1, got {copies!r}")
    return [derived_row(row, f"repeat{k}", "repeat", f"repeat {k}", row["path"], (row["width"], row["height"]))
            for k in range(2, copies + 1) for row in originals]


def class_targets(originals: list[dict], total: int, per_class: int | None, class_mix: str) -> dict[str, int]:
    """How many of the `total` slots each class gets.

    uniform: the same for every class. originals: in proportion to the class's originals
    (after cleaning), the data's own estimate of how often each numeral is written; the
    remainder goes to the largest fractions (ties in class order). `per_class` caps either.
    """
    cap = min(per_class or total, total)
    if class_mix == "uniform":
        return dict.fromkeys(CLASSES, min(cap, total // len(CLASSES)))
    if class_mix != "originals":
        raise ValueError(f"balance.class_mix must be uniform or originals, got {class_mix!r}")
    counts = Counter(r["label"] for r in originals)
    seen = sum(counts[c] for c in CLASSES)
    if seen == 0:
        raise ValueError("balance.class_mix is originals, but there are no originals to follow")
    exact = {c: total * counts[c] / seen for c in CLASSES}
    shares = {c: int(exact[c]) for c in CLASSES}
    by_fraction = sorted(CLASSES, key=lambda c: (-(exact[c] - shares[c]), CLASSES.index(c)))
    for c in by_fraction[:total - sum(shares.values())]:
        shares[c] += 1
    return {c: min(cap, n) for c, n in shares.items()}


def origin_label_probs(originals: list[dict], vote_ids: list[str], probs: np.ndarray) -> dict[str, float]:
    """Each voted original's out-of-fold probability (mean over the members) of its label,
    after the vote filter (a relabelled original: of its new label), by origin id. `probs` is
    vote_train's (members, images, classes) array."""
    mean = probs.mean(axis=0)
    row_of = {i: k for k, i in enumerate(vote_ids)}
    return {r["origin_id"]: float(mean[row_of[r["origin_id"]], CLASS_INDEX[r["label"]]])
            for r in originals if r["origin_id"] in row_of}


def hard_example_weights(label_probs: dict[str, float], strength: float) -> dict[str, float]:
    """Each original's weight, 1 + strength x (1 - p(label)). The images made from an original
    get its weight in the draw for a slot: above 0, the budget holds more variants of the
    originals the ensemble finds hard; between -1 and 0, fewer (a doubtful original's variants
    copy its doubt). Originals the ensemble did not vote on keep weight 1 (`draw_order`)."""
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or strength <= -1:
        raise ValueError(f"balance.hard_example_weight must be a number above -1 (a weight must stay above 0), "
                         f"got {strength!r}")
    return {origin: 1.0 + strength * (1.0 - p) for origin, p in label_probs.items()}


def stream_rng(seed: int, label: str, kind: str) -> np.random.Generator:
    """The draw of one class's images of one kind, from its own random stream. One generator
    shared by every (class, kind) would let a stream that fills no slot (say AutoAugment's,
    below the variations in the priority) still move what the others draw: a sweep of its size
    would change the submission by chance alone."""
    return np.random.default_rng([seed, CLASS_INDEX[label], zlib.crc32(kind.encode())])


def draw_order(members: list[dict], rng: np.random.Generator, weights: dict[str, float] | None) -> np.ndarray:
    """A seeded random order of `members`; with weights (by origin), a weighted draw without
    replacement: sorting log(u) / w descending picks each next image with chance in proportion
    to its weight (Efraimidis & Spirakis 2006)."""
    if weights is None:
        return rng.permutation(len(members))
    w = np.array([weights.get(r["origin_id"], 1.0) for r in members], dtype=np.float64)
    keys = np.log(rng.random(len(members))) / w
    return np.argsort(-keys, kind="stable")


def spread_over_originals(members: list[dict], order) -> list[int]:
    """`order` re-sorted, stably, by how many images of the same original come before each one:
    every original's first image, then every original's second, and so on. A random draw
    of ~400 variations from a class's ~260 originals leaves a quarter of them with none and
    gives some up to eight; spread, each gets one or two (on the test half no better, README)."""
    seen: dict[str, int] = {}
    rounds = []
    for k in order:
        origin = members[k]["origin_id"]
        rounds.append(seen.get(origin, 0))
        seen[origin] = rounds[-1] + 1
    return [k for _, k in sorted(zip(rounds, order), key=lambda pair: pair[0])]


def originals_without(rows: list[dict]) -> dict[str, int]:
    """Per derived kind, how many kept originals have no kept image of that kind."""
    originals = {r["id"] for r in rows if r["kind"] == "original"}
    kinds = sorted({r["kind"] for r in rows} - {"original", "repeat"})
    return {kind: len(originals - {r["origin_id"] for r in rows if r["kind"] == kind}) for kind in kinds}


def _role(row: dict) -> str:
    return row.get("role") or "competition"


def cap_to_budget(streams: dict[str, list[dict]], priority: list[str], per_class: int | None,
                  max_images: int, batch_size: int, seed: int, role_priority: list[str] | None = None,
                  role_budget: dict[str, int | None] | None = None,
                  class_mix: str = "uniform",
                  origin_weights: dict[str, float] | None = None,
                  spread: bool = False) -> tuple[list[dict], list[dict], dict[str, int]]:
    """Fill each class up to its target (`class_targets`) from the streams in priority order.

    Within a stream, sources come in `role_priority` order (a seeded random sample within
    a role; each class's stream has its own generator, `stream_rng`), and a role with a
    budget gives at most that many images per class, whatever their kind. With
    `origin_weights` (`hard_example_weights`) the sample within a role is weighted by the
    image's origin. With `spread` the sample takes every original's first image of a kind
    before any original's second (`spread_over_originals`).
    Returns (kept, dropped, targets per class).
    """
    check_budget_params(max_images, batch_size, len(CLASSES))
    if per_class is not None and (not isinstance(per_class, int) or per_class < 1):
        raise ValueError(f"balance.per_class must be null or a whole number >= 1, got {per_class!r}")
    unknown = set(streams) - set(priority)
    if unknown:
        raise ValueError(f"balance.priority does not rank the streams {sorted(unknown)}")
    role_priority = list(role_priority or [])
    role_budget = {r: b for r, b in (role_budget or {}).items() if b is not None}
    roles = {_role(r) for rows in streams.values() for r in rows}
    unranked = roles - set(role_priority)
    if role_priority and unranked:
        raise ValueError(f"balance.role_priority does not rank the roles {sorted(unranked)}")
    rank = {r: k for k, r in enumerate(role_priority)}
    total = safe_total(max_images, batch_size)
    targets = class_targets(streams.get("original", []), total, per_class, class_mix)
    kept, dropped = [], []
    for label in CLASSES:
        room = targets[label]
        used = dict.fromkeys(role_budget, 0)
        for kind in priority:
            members = [r for r in streams.get(kind, []) if r["label"] == label]
            order = draw_order(members, stream_rng(seed, label, kind), origin_weights)
            if spread:
                order = spread_over_originals(members, order)
            order = sorted(order, key=lambda k: rank.get(_role(members[k]), 0))
            for k in order:
                row, role = members[k], _role(members[k])
                if role in role_budget and used[role] >= role_budget[role]:
                    dropped.append({**row, "reason": f"{OVER_ROLE_BUDGET} ({role}: {role_budget[role]})"})
                elif room == 0:
                    dropped.append({**row, "reason": f"{OVER_TARGET} ({targets[label]})"})
                else:
                    kept.append(row)
                    room -= 1
                    if role in used:
                        used[role] += 1
    return kept, dropped, targets
