"""Train the fixed model on a submission and score it on val and on test sets.

Faithful to the recipe, faster than its loader: every image is decoded and resized
once into memory (the same pixels `image_dataset_from_directory` gives), the training
set is reshuffled every epoch, batches are prefetched, and the step runs under XLA with
several steps per call into the graph.
"""
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from .classes import CLASSES
from .fixed_model import BATCH_SIZE, best_val_checkpoint, build_fixed_model, compile_fixed_model
from .images import load_class_folder
from .probabilities import log_softmax, softmax


def set_threads(intra_op: int, inter_op: int) -> None:
    """Must run before TensorFlow executes its first op; 0 leaves TensorFlow's default."""
    if intra_op:
        tf.config.threading.set_intra_op_parallelism_threads(intra_op)
    if inter_op:
        tf.config.threading.set_inter_op_parallelism_threads(inter_op)


def one_hot(labels: np.ndarray) -> np.ndarray:
    return np.eye(len(CLASSES), dtype=np.float32)[labels]


def batches_per_pass(n: int) -> int:
    return -(-n // BATCH_SIZE)


def _input_options(data_threads: int) -> tf.data.Options:
    """On 2 cores, a 1-thread input pipeline leaves the cores to the training step
    (measured: 6.5 vs 7.2 ms per step with TensorFlow's default pool)."""
    options = tf.data.Options()
    if data_threads:
        options.threading.private_threadpool_size = data_threads
        options.threading.max_intra_op_parallelism = 1
    return options


def shuffled_batches(pixels: np.ndarray, labels: np.ndarray, seed: int, prefetch: int = 2,
                     data_threads: int = 1) -> tf.data.Dataset:
    """Endless passes over the data, each in a new random order, batched within a pass.

    Pass k is epoch k when `fit` runs `batches_per_pass(n)` steps per epoch: the same
    batches as a finite dataset, but one iterator lives across epochs instead of being
    torn down and rebuilt at every epoch's end. Shuffling indices and gathering each
    batch from one in-memory tensor is cheaper per step than shuffling a buffer of
    image tensors.
    """
    x, y = tf.constant(pixels), tf.constant(one_hot(labels))

    def gather(idx):
        return tf.gather(x, idx), tf.gather(y, idx)

    ds = tf.data.Dataset.range(len(pixels)).shuffle(len(pixels), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(BATCH_SIZE).map(gather).repeat().prefetch(prefetch).with_options(_input_options(data_threads))


def ordered_batches(pixels: np.ndarray, labels: np.ndarray, prefetch: int = 2,
                    data_threads: int = 1) -> tf.data.Dataset:
    ds = tf.data.Dataset.from_tensor_slices((pixels, one_hot(labels))).batch(BATCH_SIZE).prefetch(prefetch)
    return ds.with_options(_input_options(data_threads))


def steps_per_call(steps_per_epoch: int, most: int) -> int:
    """The largest number of steps per call into the graph, at most `most`, that divides
    an epoch: Keras would otherwise run the last call past the epoch's end, into the
    next pass, and make more updates than the recipe."""
    return max(d for d in range(1, max(1, most) + 1) if steps_per_epoch % d == 0)


class EpochTimer(tf.keras.callbacks.Callback):
    """Wall time spent in the training part of each epoch (validation excluded)."""

    def __init__(self):
        super().__init__()
        self.train_seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_test_begin(self, logs=None):
        if hasattr(self, "_start"):
            self.train_seconds.append(time.perf_counter() - self._start)
            del self._start


def score_predictions(logits: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy, cross-entropy loss and per-class accuracy (classes absent are left out)."""
    if len(labels) == 0:
        return {"n": 0}
    log_probs = log_softmax(logits)
    predicted = logits.argmax(axis=1)
    per_class = {}
    for k, name in enumerate(CLASSES):
        mask = labels == k
        if mask.any():
            per_class[name] = round(float((predicted[mask] == k).mean()), 4)
    return {
        "n": int(len(labels)),
        "accuracy": round(float((predicted == labels).mean()), 4),
        "loss": round(float(-log_probs[np.arange(len(labels)), labels].mean()), 4),
        "per_class": per_class,
    }


def confusion_rows(logits: np.ndarray, labels: np.ndarray) -> list[dict]:
    """One row per image, as `dvc plots` draws a confusion matrix."""
    return [{"actual": CLASSES[a], "predicted": CLASSES[p]} for a, p in zip(labels, logits.argmax(axis=1))]


def misclassified(logits: np.ndarray, labels: np.ndarray, paths: list[str]) -> list[dict]:
    """The images a test set got wrong, most confident mistakes first, for a person to look at."""
    probs = softmax(logits)
    wrong = [i for i in range(len(labels)) if probs[i].argmax() != labels[i]]
    rows = [{"path": paths[i], "true": CLASSES[labels[i]], "predicted": CLASSES[int(probs[i].argmax())],
             "p": round(float(probs[i].max()), 3)} for i in wrong]
    for row in rows:
        row["caption"] = f"{row['true']}>{row['predicted']} {row['p']:.2f}"
    return sorted(rows, key=lambda r: -r["p"])


def load_training_data(submission: Path, test_sets: dict[str, Path]) -> dict:
    """Every image a training reads, decoded once: {"train": (x, y, paths), "val": ..., "tests": {name: ...}}."""
    return {"train": load_class_folder(Path(submission) / "train"), "val": load_class_folder(Path(submission) / "val"),
            "tests": {name: load_class_folder(path) for name, path in test_sets.items()}}


def train_and_score(submission: Path | None, test_sets: dict[str, Path], epochs: int, seed: int,
                    weights_path: Path, speed: dict, callbacks: list | None = None,
                    verbose: int = 2, data: dict | None = None) -> tuple[dict, dict, dict]:
    """Train on submission/train, pick the best epoch on submission/val, score every set.
    `data` instead of the folders: {"train": (x, y, paths), "val": ..., "tests": {name: ...}},
    as load_training_data decodes them.

    Returns (scores, confusion rows per test set, misclassified images per test set).
    """
    if data is None:
        data = load_training_data(submission, test_sets)
    train_x, train_y, _ = data["train"]
    val_x, val_y, _ = data["val"]
    tests = data["tests"]

    steps = batches_per_pass(len(train_x))
    chunk = steps_per_call(steps, speed["steps_per_execution"])
    model = build_fixed_model(seed)
    compile_fixed_model(model, jit_compile=speed["jit_compile"], steps_per_execution=chunk)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    timer = EpochTimer()
    start = time.perf_counter()
    history = model.fit(
        shuffled_batches(train_x, train_y, seed, speed["prefetch"], speed["data_threads"]), steps_per_epoch=steps,
        validation_data=ordered_batches(val_x, val_y, speed["prefetch"], speed["data_threads"]),
        epochs=epochs, callbacks=[best_val_checkpoint(str(weights_path)), timer, *(callbacks or [])],
        shuffle=False,  # the dataset reshuffles itself every pass; fit cannot shuffle a tf.data input
        verbose=verbose)
    wall = time.perf_counter() - start
    model.load_weights(str(weights_path))

    val_acc = history.history["val_accuracy"]
    scores = {
        "train": {
            "images": int(len(train_x)), "epochs": epochs, "best_epoch": int(np.argmax(val_acc)) + 1,
            "val_accuracy_per_epoch": [round(float(a), 4) for a in val_acc],
            "seconds": round(wall, 1), "steps_per_execution": chunk,
            "ms_per_step": round(1000 * float(np.median(timer.train_seconds)) / steps, 2),
        },
        "val": score_predictions(model.predict(val_x, batch_size=BATCH_SIZE, verbose=0), val_y),
        "test": {},
    }
    confusion, errors = {}, {}
    for name, (x, y, paths) in tests.items():
        logits = model.predict(x, batch_size=BATCH_SIZE, verbose=0) if len(x) else np.zeros((0, len(CLASSES)))
        scores["test"][name] = score_predictions(logits, y)
        confusion[name] = confusion_rows(logits, y)
        errors[name] = misclassified(logits, y, paths)
    return scores, confusion, errors


NOT_A_TEST = ("a label_book source is in the training data: the label book's score is no longer a test "
              "of unseen images")


def label_book_warning(submission_rows: list[dict]) -> dict:
    """score.json's warning when images of a `label_book` source role were trained on."""
    n = sum(1 for r in submission_rows if r.get("role") == "label_book")
    return {"label_book_images_in_training": n, "warning": NOT_A_TEST} if n else {}


def _spread(values: list[float]) -> dict:
    """Mean, sample standard deviation (0 for one value), min and max of one score over seeds."""
    v = np.asarray(values, dtype=float)
    return {"mean": round(float(v.mean()), 4), "std": round(float(v.std(ddof=1)) if len(v) > 1 else 0.0, 4),
            "min": round(float(v.min()), 4), "max": round(float(v.max()), 4)}


def _summarize_set(per_seed: list[dict]) -> dict:
    if not per_seed or per_seed[0].get("n", 0) == 0:
        return {"n": 0}
    classes = per_seed[0]["per_class"]
    return {"n": per_seed[0]["n"], "accuracy": _spread([s["accuracy"] for s in per_seed])["mean"],
            "accuracy_spread": _spread([s["accuracy"] for s in per_seed]),
            "loss": _spread([s["loss"] for s in per_seed])["mean"],
            "per_class": {c: _spread([s["per_class"][c] for s in per_seed])["mean"] for c in classes}}


def summarize_seeds(per_seed: dict[int, dict]) -> dict:
    """One score per test set over several trainings of the same submission.

    `accuracy` is the mean over seeds (so `dvc metrics diff` compares means) and
    `accuracy_spread` its std/min/max; each seed's own scores stay under `per_seed`.
    """
    runs = list(per_seed.values())
    return {
        "seeds": list(per_seed),
        "val": _summarize_set([r["val"] for r in runs]),
        "test": {name: _summarize_set([r["test"][name] for r in runs]) for name in runs[0]["test"]},
        "train": {"images": runs[0]["train"]["images"], "epochs": runs[0]["train"]["epochs"],
                  "seconds": round(sum(r["train"]["seconds"] for r in runs), 1)},
        "per_seed": {str(seed): r for seed, r in per_seed.items()},
    }
