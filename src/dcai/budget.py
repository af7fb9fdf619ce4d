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
