"""The offsets of `tf.image.stateless_random_crop`, for a whole stream of seeds at once.

The vote members' batches shift every image by a random crop seeded by (seed, the image's
place in the stream). Asking TensorFlow for each offset is one op call per image: measured
on 1 thread, 45,000 images (one fold's 20 epochs) spent 1.3 s in those calls against 0.1 s
for the rest of the input pipeline. TensorFlow draws the offsets from Philox-4x32-10 keyed
by the seed, so NumPy can draw them all at once, the same numbers;
tests/test_stateless_crop.py checks them against TensorFlow's own op.
"""
import numpy as np

_M = (np.uint64(0xD2511F53), np.uint64(0xCD9E8D57))  # Philox-4x32's multipliers
_W = (np.uint32(0x9E3779B9), np.uint32(0xBB67AE85))  # its key schedule's increments
_SCRAMBLE_KEY = (np.uint32(0x3EC8F720), np.uint32(0x02461E29))  # TensorFlow's key for turning a seed into a key
_LOW = np.uint64(0xFFFFFFFF)
_ROUNDS = 10
_INT32_MAX = np.uint32(2**31 - 1)  # stateless_random_crop draws int32s below int32's max


def _low(v: np.ndarray) -> np.ndarray:
    return (v & _LOW).astype(np.uint32)


def _high(v: np.ndarray) -> np.ndarray:
    return (v >> np.uint64(32)).astype(np.uint32)


def philox(counter: list, key: tuple) -> list:
    """One Philox-4x32-10 block per element: `counter` is 4 arrays of uint32, `key` 2."""
    c = [np.asarray(v, np.uint32) for v in counter]
    k0, k1 = (np.full(c[0].shape, v, np.uint32) for v in key)  # arrays: their sums wrap silently, as uint32 do
    for r in range(_ROUNDS):
        p0, p1 = _M[0] * c[0].astype(np.uint64), _M[1] * c[2].astype(np.uint64)
        c = [_high(p1) ^ c[1] ^ k0, _low(p1), _high(p0) ^ c[3] ^ k1, _low(p0)]
        if r < _ROUNDS - 1:
            k0, k1 = k0 + _W[0], k1 + _W[1]
    return c


def stateless_uint32(seed: int, second: np.ndarray) -> list:
    """The first Philox block TensorFlow's stateless ops draw for the seeds (seed, second[i]):
    the seed is scrambled into a key and a counter, as TensorFlow's GenerateKey does."""
    s1 = np.atleast_1d(np.asarray(second, np.int64)).astype(np.uint64)
    s0 = np.full(s1.shape, seed, np.int64).astype(np.uint64)
    mix = philox([_low(s0), _high(s0), _low(s1), _high(s1)], _SCRAMBLE_KEY)
    zero = np.zeros_like(mix[0])
    return philox([zero, zero, mix[2], mix[3]], (mix[0], mix[1]))


def crop_offsets(seed: int, indices: np.ndarray, limit: int) -> np.ndarray:
    """(len(indices), 2) int64: the row and column offsets that
    `tf.image.stateless_random_crop(image, size, seed=[seed, index])` takes from an image
    `limit - 1` pixels taller and wider than `size`."""
    block = stateless_uint32(seed, indices)
    return np.stack([(block[d] % _INT32_MAX).astype(np.int64) % limit for d in range(2)], axis=1)
