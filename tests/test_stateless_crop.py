"""The vote members' shifted batches: the same images as one TensorFlow crop op per image."""
import numpy as np
import tensorflow as tf

from dcai.stateless_crop import crop_offsets
from dcai.vote import jittered_batches


def test_crop_offsets_are_tensorflows_own():
    places = np.array([0, 1, 2, 7, 999, 45_139, 2**31 + 5, 2**40 + 3], np.int64)
    for seed in (17, 18, 0, -5, 123_456_789_012):
        for shift in (1, 3):
            size = (32, 32, 1)
            image = tf.reshape(tf.range((32 + 2 * shift) ** 2, dtype=tf.int64), (32 + 2 * shift, 32 + 2 * shift, 1))
            theirs = []
            for place in places:
                crop = tf.image.stateless_random_crop(image, size, seed=tf.constant([seed, place], tf.int64))
                first = int(crop[0, 0, 0])  # the crop's first pixel says where it starts
                theirs.append(divmod(first, 32 + 2 * shift))
            np.testing.assert_array_equal(crop_offsets(seed, places, 2 * shift + 1), theirs)


def per_image_batches(x, y, epochs, batch_size, seed, shift):
    """The pipeline jittered_batches replaced: one stateless crop op per image."""
    size = x.shape[1:]

    def jitter(index, example):
        image, label = example
        padded = tf.pad(image, [[shift, shift], [shift, shift], [0, 0]])
        return tf.image.stateless_random_crop(padded, size, seed=tf.stack([tf.constant(seed, tf.int64), index])), label

    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return ds.repeat(epochs).enumerate().map(jitter).batch(batch_size)


def test_shifted_batches_are_the_per_image_crops_to_the_byte():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (45, 32, 32, 1)).astype(np.float32)
    y = rng.integers(0, 10, 45)
    for epochs, batch_size, seed, shift in ((3, 8, 17, 3), (2, 64, 20, 2), (1, 16, 5, 0)):
        ours = list(jittered_batches(x, y, epochs, batch_size, seed, shift))
        theirs = list(per_image_batches(x, y, epochs, batch_size, seed, shift))
        assert len(ours) == len(theirs)
        for (a, a_label), (b, b_label) in zip(ours, theirs):
            assert a.dtype == b.dtype and a_label.dtype == b_label.dtype
            np.testing.assert_array_equal(a.numpy(), b.numpy())
            np.testing.assert_array_equal(a_label.numpy(), b_label.numpy())
