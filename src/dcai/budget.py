"""The competition's size rule, counted the way its scorer counts: in batches.

(batches(train) + batches(val)) * batch_size must not exceed max_images, where
batches(n) = ceil(n / batch_size). So 9,500 + 500 images (1,188 + 63 = 1,251 batches,
10,008 slots) is rejected although it is 10,000 images.
"""


def batches(n: int, batch_size: int) -> int:
    return -(-n // batch_size)


def counted_size(n_train: int, n_val: int, batch_size: int) -> int:
    return (batches(n_train, batch_size) + batches(n_val, batch_size)) * batch_size


def fits_budget(n_train: int, n_val: int, max_images: int, batch_size: int) -> bool:
    return counted_size(n_train, n_val, batch_size) <= max_images


def check_budget_params(max_images, batch_size, classes: int) -> None:
    """package.max_images and package.batch_size as the rule needs them; ValueError names the key."""
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"package.batch_size must be a whole number >= 1, got {batch_size!r}")
    least = classes + 2 * (batch_size - 1)  # one image per class, whatever the split's rounding
    if not isinstance(max_images, int) or isinstance(max_images, bool) or max_images < least:
        raise ValueError(f"package.max_images must be a whole number >= {least} (one image per class at "
                         f"batch size {batch_size}), got {max_images!r}")
