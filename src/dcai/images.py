"""Loading class folders exactly as the competition's loader does, but once, into memory.

`tf.keras.utils.image_dataset_from_directory` lists bmp/gif/jpeg/png files under each
class folder, decodes each with `tf.io.decode_image(channels=3, expand_animations=False)`
(grayscale replicated to RGB) and resizes it bilinearly, without keeping the aspect
ratio, to 32x32 float32 in [0, 255]. Doing the same once, in parallel, and training from
the arrays gives the model the same pixels without decoding every file every epoch.
"""
import os
from pathlib import Path

import numpy as np

from .classes import CLASS_INDEX, CLASSES

LOADER_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
IMAGE_SIZE = (32, 32)


def list_class_folder(folder: str | Path) -> tuple[list[str], np.ndarray]:
    """Files the loader would take, in a stable order, and their class indices.

    Class folders that are absent are simply empty (a test set may lack classes).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: folder not found")
    paths, labels = [], []
    for name in CLASSES:
        class_dir = folder / name
        if not class_dir.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(class_dir):
            dirnames.sort()
            for fname in sorted(filenames):
                if fname.lower().endswith(LOADER_FORMATS):
                    paths.append(os.path.join(dirpath, fname))
                    labels.append(CLASS_INDEX[name])
    return paths, np.array(labels, dtype=np.int64)


def decode_like_loader(paths: list[str], size: tuple[int, int] = IMAGE_SIZE, antialias: bool = False) -> np.ndarray:
    """(N, *size, 3) float32 pixels; at the default size and without antialiasing, exactly as
    the competition's loader makes them.

    Another `size`, or `antialias` (each output pixel averages the input pixels it covers
    instead of interpolating the nearest four, so thin strokes are not dropped), are for
    the vote members only: the fixed model always sees the loader's own pixels."""
    import tensorflow as tf

    def decode(path):
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        return tf.image.resize(image, size, method="bilinear", antialias=antialias)

    if not paths:
        return np.zeros((0, *size, 3), np.float32)
    ds = tf.data.Dataset.from_tensor_slices(paths).map(decode, num_parallel_calls=tf.data.AUTOTUNE,
                                                       deterministic=True)
    return np.concatenate([b.numpy() for b in ds.batch(512)], axis=0)


def load_class_folder(folder: str | Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(pixels, class indices, paths) of a class-folder dataset."""
    paths, labels = list_class_folder(folder)
    return decode_like_loader(paths), labels, paths
