"""Ensemble vote filter, the slow half: out-of-fold probabilities from several networks.

No image is ever scored by a model that saw it: in-sample probabilities collapse to 0/1
and hide label noise. Training (here) and flagging (vote_rules.py, instant) are separate
modules and separate stages, so changing a threshold or an action never retrains a model.
"""
import hashlib
import io
import time
from pathlib import Path

import numpy as np

from .atomic import atomic_write_bytes
from .classes import CLASS_INDEX, CLASSES
from .images import IMAGE_SIZE
from .probabilities import softmax


def stratified_folds(labels: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold number per sample; every class is dealt round-robin over the folds in a seeded order."""
    rng = np.random.default_rng(seed)
    folds = np.empty(len(labels), dtype=np.int64)
    offset = 0
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        folds[rng.permutation(idx)] = (np.arange(len(idx)) + offset) % k
        offset += len(idx)  # spreads the classes' leftovers over different folds
    return folds


def check_member_input(size) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size < IMAGE_SIZE[0]:
        raise ValueError(f"vote_filter.train.input_size must be a whole number of pixels, at least {IMAGE_SIZE[0]} "
                         f"(the members' layers are sized for 32x32 or more), not {size!r}")


def images_for_members(paths: list[str], size: int = IMAGE_SIZE[0], antialias: bool = False) -> np.ndarray:
    """(N, size, size, 1) float32, ink 1 and paper 0, each image scaled so its darkest ink is 1
    (faint pencil and heavy marker look alike to the members)."""
    from .images import decode_like_loader

    ink = 1.0 - decode_like_loader(paths, (size, size), antialias)[..., :1] / 255.0
    return ink / np.maximum(ink.max(axis=(1, 2, 3), keepdims=True), 1e-6)


def member_input(votes) -> tuple[int, bool]:
    """(size, antialias) of the images the members of a votes file (oof.npz) were trained on;
    files from before these were recorded were 32x32 as the loader makes them."""
    if "input_size" not in votes:
        return IMAGE_SIZE[0], False
    return int(votes["input_size"]), bool(votes["antialias"])


def member_outputs(votes) -> int:
    """The outputs of the members of a votes file (oof.npz): the classes, and one more when they
    learnt made-up non-numerals (their probability is kept as `non_numeral`)."""
    return len(CLASSES) + (1 if "non_numeral" in votes else 0)


def jittered_batches(x: np.ndarray, y: np.ndarray, epochs: int, batch_size: int, seed: int, shift: int):
    """`epochs` reshuffled passes, each image shifted by up to `shift` pixels.

    The shift is a stateless random crop of a padded image, seeded by the image's place in
    the stream, so the same seed gives the same batches, and the model itself stays free
    of random layers (which XLA cannot compile).
    """
    import tensorflow as tf

    size = x.shape[1:]

    def jitter(index, example):
        image, label = example
        padded = tf.pad(image, [[shift, shift], [shift, shift], [0, 0]])
        crop_seed = tf.stack([tf.constant(seed, tf.int64), index])
        return tf.image.stateless_random_crop(padded, size, seed=crop_seed), label

    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return ds.repeat(epochs).enumerate().map(jitter).batch(batch_size).prefetch(2)


def init_seed(seed: int, m: int, fold: int) -> int:
    """The initial weights' seed of member number `m`'s model of `fold`."""
    return seed + 100 * m + fold


def fold_key(x_digest: str, y: np.ndarray, folds: np.ndarray, name: str, m: int, fold: int, epochs: int,
             batch_size: int, learning_rate: float, seed: int, shift: int, jit_compile: bool = False,
             non_numerals: tuple | None = None) -> str:
    """What one member's model of one fold depends on: the images, labels and fold split, and its
    settings, its initial weights' seed included (it follows the member's place in the list),
    whether XLA compiled it (its float sums differ from TensorFlow's own kernels'), and the
    made-up non-numerals it learnt beside the classes, if any."""
    h = hashlib.sha256((f"{x_digest}|{name}|{fold}|{epochs}|{batch_size}|{learning_rate!r}|{seed}|{shift}"
                       f"|{init_seed(seed, m, fold)}{'|xla' if jit_compile else ''}"
                       + (f"|non_numerals{non_numerals!r}" if n_outputs(non_numerals) > len(CLASSES) else "")).encode())
    h.update(np.ascontiguousarray(y, np.int64).tobytes())
    h.update(np.ascontiguousarray(folds, np.int64).tobytes())
    return h.hexdigest()[:20]


_COMPILED = {}  # per process: (member, input shape, learning rate, XLA) -> (compiled model, Adam's start)


def compiled_member(name: str, weights_seed: int, input_shape: tuple, learning_rate: float, jit_compile: bool,
                    n_outputs: int = len(CLASSES)):
    """Member `name` with the initial weights of `weights_seed` and a fresh Adam, compiled.

    XLA compiles a model's training and prediction steps for 3-4 seconds (measured on 1
    thread, where a fold trains for 20-70). So each process compiles a member once and, for
    its later folds, sets every variable of that model (weights, batch-norm statistics,
    dropout's seed state, Adam's moments and step) to what a newly built one holds: the same
    computation from the same state, so the same bytes as building and compiling it anew.
    """
    import tensorflow as tf

    from .vote_models import build_member

    fresh = build_member(name, n_outputs, weights_seed, input_shape=input_shape)
    key = (name, tuple(input_shape), learning_rate, jit_compile, n_outputs)
    if key not in _COMPILED:
        fresh.compile(optimizer=tf.keras.optimizers.Adam(learning_rate, name="adam"),  # its name is in the file too
                      loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=jit_compile)
        fresh.optimizer.build(fresh.trainable_variables)
        _COMPILED[key] = (fresh, [v.numpy() for v in fresh.optimizer.variables])
        return fresh
    model, adam_start = _COMPILED[key]
    for kept, new in zip(model.variables, fresh.variables, strict=True):
        kept.assign(new)
    for kept, start in zip(model.optimizer.variables, adam_start, strict=True):
        kept.assign(start)
    return model


def with_non_numerals(x: np.ndarray, y: np.ndarray, non_numerals: tuple | None, seed: int):
    """The training images and labels, plus `non_numerals` (per_fold, kinds, turn-invariant class
    indices) made-up non-numerals labelled len(CLASSES), the class after the last."""
    if not non_numerals or not non_numerals[0]:
        return x, y
    from .non_numerals import make_non_numerals

    per_fold, kinds, turn_invariant = non_numerals
    extra = make_non_numerals(x, y, per_fold, list(kinds), list(turn_invariant), seed)
    return np.concatenate([x, extra]), np.concatenate([y, np.full(per_fold, len(CLASSES), y.dtype)])


def n_outputs(non_numerals: tuple | None) -> int:
    """The members' outputs: the classes, and one for "none of them" when they learn non-numerals."""
    return len(CLASSES) + (1 if non_numerals and non_numerals[0] else 0)


def train_member(shared: dict, name: str, m: int, fold: int, epochs: int, batch_size: int, learning_rate: float,
                 seed: int, shift: int, jit_compile: bool = False, non_numerals: tuple | None = None) -> dict:
    """One task: member `name` trained on every fold but `fold`, predicting `fold`. Returns the
    held-out probabilities (one column per output) and the weights as bytes (a worker elsewhere
    has no shared disk)."""
    import tempfile

    start = time.perf_counter()
    x, y, folds = shared["x"], shared["y"], shared["folds"]
    train, held_out = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
    model = compiled_member(name, init_seed(seed, m, fold), x.shape[1:], learning_rate, jit_compile,
                            n_outputs(non_numerals))
    x_train, y_train = with_non_numerals(x[train], y[train], non_numerals, seed + fold)
    model.fit(jittered_batches(x_train, y_train, epochs, batch_size, seed + fold, shift),
              shuffle=False, verbose=0)  # the stream is already shuffled, and seeded
    probs = softmax(model.predict(x[held_out], batch_size=256, verbose=0))
    with tempfile.TemporaryDirectory() as tmp:
        model.save_weights(Path(tmp) / "m.weights.h5")
        weights = (Path(tmp) / "m.weights.h5").read_bytes()
    return {"probs": probs, "weights": weights, "seconds": time.perf_counter() - start}


def out_of_fold_probs(x: np.ndarray, y: np.ndarray, members: list[str], folds: np.ndarray, epochs: int,
                      batch_size: int, learning_rate: float, seed: int, shift: int = 3, jit_compile: bool = False,
                      weights_dir: Path | None = None, resume_dir: Path | None = None, compute: dict | None = None,
                      non_numerals: tuple | None = None) -> dict:
    """Train every member on every fold's complement and predict the fold.

    Returns probs (members x N x outputs: the classes, then with `non_numerals` the probability
    of none of them), the training indices of each fold's models, the
    seconds of training per member and how many models were `resumed`. With `weights_dir`,
    every model's weights are kept there as <member>_fold<f>.weights.h5. With `resume_dir`,
    each finished model (its held-out probabilities and weights) is kept there under a key of
    everything it depends on, and a run interrupted and started again takes those instead of
    retraining them: the result is the same bytes. The models are independent tasks, run as
    `compute` says (dcai.compute.run_tasks: processes, threads, address, gpus_per_task).
    """
    from tqdm import tqdm

    from .compute import run_tasks
    from .vote_models import MULTIPLY_ADDS

    n_folds = int(folds.max()) + 1
    probs = np.zeros((len(members), len(x), n_outputs(non_numerals)), np.float32)
    train_index = [np.flatnonzero(folds != f) for f in range(n_folds)]
    x_digest = hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest() + str(x.shape) + str(x.dtype)
    if weights_dir is not None:
        Path(weights_dir).mkdir(parents=True, exist_ok=True)
    models = [(m, name, f) for m, name in enumerate(members) for f in range(n_folds)]
    entries = {}
    if resume_dir is not None:
        entries = {(m, f): Path(resume_dir) / (f"{name}_fold{f}-" + fold_key(
                       x_digest, y, folds, name, m, f, epochs, batch_size, learning_rate, seed, shift, jit_compile,
                       non_numerals)) for m, name, f in models}
    seconds = dict.fromkeys(members, 0.0)
    progress = tqdm(total=len(models), desc="vote_train", unit="model")  # its ETA covers every member

    def place(m, name, f, held_out_probs, weights):
        probs[m, folds == f] = held_out_probs
        if weights_dir is not None:
            (Path(weights_dir) / f"{name}_fold{f}.weights.h5").write_bytes(weights)
        progress.update()

    todo = []
    for m, name, f in models:
        entry = entries.get((m, f))
        if entry is not None and entry.with_suffix(".npz").is_file():
            place(m, name, f, np.load(entry.with_suffix(".npz"))["probs"], entry.with_suffix(".weights.h5").read_bytes())
        else:
            todo.append((m, name, f))
    resumed = len(models) - len(todo)
    todo.sort(key=lambda task: -MULTIPLY_ADDS.get(task[1], 0))  # longest first: the run ends on a short one

    def finished(index, result):
        m, name, f = todo[index]
        if (m, f) in entries:
            keep_finished(entries[(m, f)], result["weights"], result["probs"])
        seconds[name] += result["seconds"]
        progress.set_description(f"vote_train: {name} fold {f} done")
        place(m, name, f, result["probs"], result["weights"])

    compute = compute or {}
    run_tasks(train_member, [(name, m, f, epochs, batch_size, learning_rate, seed, shift, jit_compile,
                              non_numerals) for m, name, f in todo],
              {"x": x, "y": y, "folds": folds}, processes=compute.get("processes", 1),
              threads=compute.get("threads", 0), address=compute.get("address"),
              gpus_per_task=compute.get("gpus_per_task", 0), on_done=finished)
    progress.close()
    return {"probs": probs, "train_index": train_index, "resumed": resumed,
            "seconds": {name: round(t, 1) for name, t in seconds.items()}}


def keep_finished(entry: Path, weights: bytes, held_out_probs: np.ndarray) -> None:
    """Weights first, probabilities last, each written whole: an entry with its .npz is complete."""
    atomic_write_bytes(entry.with_suffix(".weights.h5"), weights)
    buf = io.BytesIO()
    np.savez(buf, probs=held_out_probs)
    atomic_write_bytes(entry.with_suffix(".npz"), buf.getvalue())


def member_agreement(probs: np.ndarray) -> float:
    """Mean share of member pairs that predict the same class."""
    votes = probs.argmax(axis=2)
    m = len(votes)
    if m < 2:
        return 1.0
    pairs = [(votes[a] == votes[b]).mean() for a in range(m) for b in range(a + 1, m)]
    return round(float(np.mean(pairs)), 4)


def label_indices(rows: list[dict]) -> np.ndarray:
    return np.array([CLASS_INDEX[r["label"]] for r in rows], dtype=np.int64)
