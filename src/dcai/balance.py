"""Balance: merge the originals and the generated streams into a class-balanced pool
that fits the competition's batch-counted size rule whatever the split does."""
import numpy as np

from .classes import CLASSES

OVER_TARGET = "over the class target"


def safe_total(max_images: int, batch_size: int) -> int:
    """The most images that fit the rule for any train/val division of them.

    ceil(a/b) + ceil(c/b) <= (a + c + 2(b - 1)) / b, so a + c <= max - 2(b - 1) always fits.
    """
    return max_images - 2 * (batch_size - 1)


def cap_to_budget(streams: dict[str, list[dict]], priority: list[str], per_class: int | None,
                  max_images: int, batch_size: int, seed: int) -> tuple[list[dict], list[dict], int]:
    """Fill each class up to its target from the streams in priority order.

    Within a stream the choice is a seeded random sample. Returns (kept, dropped, target).
    """
    unknown = set(streams) - set(priority)
    if unknown:
        raise ValueError(f"balance.priority does not rank the streams {sorted(unknown)}")
    total = safe_total(max_images, batch_size)
    target = min(per_class or total // len(CLASSES), total // len(CLASSES))
    rng = np.random.default_rng(seed)
    kept, dropped = [], []
    for label in CLASSES:
        room = target
        for kind in priority:
            members = [r for r in streams.get(kind, []) if r["label"] == label]
            order = rng.permutation(len(members)) if members else []
            take = [members[k] for k in order[:room]]
            kept += take
            dropped += [{**members[k], "reason": f"{OVER_TARGET} ({target})"} for k in order[room:]]
            room -= len(take)
    return kept, dropped, target
