"""The ten classes and their fixed order (the order fixes the label index of the model)."""

CLASSES = ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x")
CLASS_INDEX = {name: k for k, name in enumerate(CLASSES)}


def normalize_class(name: str) -> str | None:
    """Map a folder name to a class (case-insensitive); None when it is not one."""
    key = name.strip().lower()
    return key if key in CLASS_INDEX else None
