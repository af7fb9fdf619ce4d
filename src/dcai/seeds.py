"""Several seeds of the fixed model at once: one process per seed, the cores divided.

On 2 CPU cores one training of this small model uses them poorly: a step of 8 images is
bound by small ops (batch norm, Adam, element-wise), which do not split across threads.
Measured here (2,000 images, 250 steps per epoch, XLA, 8 steps per call): one process with
2 threads 13.2 ms per step; two processes with 1 thread each 15.5 ms per step each, i.e.
7.75 ms per step of either (1.7x the throughput); three 22.5 ms each (7.5 ms).

Each process trains exactly as a lone run: its own seed, initial weights, reshuffled
batches, Adam state and best-val checkpoint; only the thread count differs, which changes
nothing but the order of float sums. Processes are spawned (TensorFlow must not be forked).
"""
import hashlib
import json
import multiprocessing
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import tensorflow as tf

from .train_score import set_threads, train_and_score


class EpochLog(tf.keras.callbacks.Callback):
    """One line per epoch and seed, so interleaved processes stay readable, with the time left
    at this seed's mean epoch so far."""

    def __init__(self, seed: int, epochs: int):
        super().__init__()
        self.seed, self.epochs, self.seconds = seed, epochs, []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.seconds.append(time.perf_counter() - self._start)
        print(f"train_score seed {self.seed}: epoch {epoch + 1}/{self.epochs} "
              f"loss {logs.get('loss', float('nan')):.4f} accuracy {logs.get('accuracy', float('nan')):.4f} "
              f"val_accuracy {logs.get('val_accuracy', float('nan')):.4f} "
              f"({self.seconds[-1]:.1f} s, {time_left(self.seconds, self.epochs)})", flush=True)


def time_left(seconds: list[float], total: int) -> str:
    """'about 12 min left' from the steps done so far (their mean) and the steps to go."""
    left = sum(seconds) / len(seconds) * (total - len(seconds))
    if left <= 0:
        return "done"
    return f"about {left / 60:.0f} min left" if left >= 90 else f"about {left:.0f} s left"


def train_seed(seed: int, submission: Path, test_sets: dict, epochs: int, weights: Path, speed: dict,
               live_dir: Path | None, threads: int = 0) -> tuple[int, dict, dict, dict]:
    """One seed's training and scores. `threads` > 0 sets TensorFlow's pools first (a fresh
    process only: they cannot change once TensorFlow has run an op)."""
    if threads:
        set_threads(threads, threads)
    callbacks = [EpochLog(seed, epochs)]
    if live_dir is None:
        scores, confusion, errors = train_and_score(submission, test_sets, epochs, seed, weights, speed,
                                                    callbacks=callbacks, verbose=0)
        return seed, scores, confusion, errors
    from dvclive import Live
    from dvclive.keras import DVCLiveCallback

    with Live(dir=str(live_dir), dvcyaml=None, save_dvc_exp=False) as live:
        scores, confusion, errors = train_and_score(submission, test_sets, epochs, seed, weights, speed,
                                                    callbacks=[DVCLiveCallback(live=live), *callbacks], verbose=0)
    # dvclive's summary holds the last epoch, not the best one scored: only the curves stay
    (Path(live_dir) / "metrics.json").unlink(missing_ok=True)
    return seed, scores, confusion, errors


def folder_digest(folder: Path) -> str:
    """sha256 of every file's relative path and bytes, in sorted order."""
    h = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode("utf-8", "surrogateescape") + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def seed_key(inputs: str, epochs: int, seed: int, speed: dict, threads: int) -> str:
    """What one seed's training depends on: the submission and test sets (digest), its settings."""
    settings = {k: v for k, v in speed.items() if k != "seeds_at_once"}
    return hashlib.sha256(json.dumps([inputs, epochs, seed, settings, threads], sort_keys=True).encode()).hexdigest()[:20]


def keep_seed(entry: Path, result: tuple, weights: Path, live_dir: Path | None) -> None:
    """A finished seed: scores, confusion and errors, weights and curves, renamed into place whole."""
    tmp = entry.parent / f".{entry.name}.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "result.json").write_text(json.dumps(list(result)))
    shutil.copyfile(weights, tmp / "weights.h5")
    if live_dir is not None and Path(live_dir).is_dir():
        shutil.copytree(live_dir, tmp / "live")
    shutil.rmtree(entry, ignore_errors=True)
    os.replace(tmp, entry)


def take_seed(entry: Path, weights: Path, live_dir: Path | None) -> tuple:
    shutil.copyfile(entry / "weights.h5", weights)
    if live_dir is not None and (entry / "live").is_dir():
        shutil.rmtree(live_dir, ignore_errors=True)
        shutil.copytree(entry / "live", live_dir)
    return tuple(json.loads((entry / "result.json").read_text()))


def train_seeds(seeds: list[int], submission: Path, test_sets: dict, epochs: int, weights_dir: Path,
                speed: dict, live_root: Path | None, at_once: int,
                resume_dir: Path | None = None) -> dict[int, tuple[dict, dict, dict]]:
    """Train every seed, `at_once` at a time in their own processes (1: here, one after the
    other). Returns seed -> (scores, confusion rows, misclassified rows), in `seeds` order.

    With `resume_dir`, each finished seed is kept there under a key of its inputs and settings,
    and a run interrupted and started again takes those instead of retraining them. The
    remaining seeds get the thread count the whole run would have given them (it changes the
    order of float sums), so a resumed run computes what an uninterrupted one does."""
    weights_dir.mkdir(parents=True, exist_ok=True)

    def job(seed):
        return (seed, submission, test_sets, epochs, weights_dir / f"seed_{seed}.weights.h5", speed,
                live_root / f"seed_{seed}" if live_root else None)

    at_once = max(1, min(at_once, len(seeds)))
    threads = max(1, speed["intra_op_threads"] // at_once) if at_once > 1 else 0
    done, entries = {}, {}
    if resume_dir is not None:
        inputs = folder_digest(submission) + "".join(folder_digest(t) for _, t in sorted(test_sets.items()))
        inputs += json.dumps(sorted(test_sets))
        for seed in seeds:
            entries[seed] = Path(resume_dir) / f"seed_{seed}-{seed_key(inputs, epochs, seed, speed, threads)}"
            if (entries[seed] / "result.json").is_file():
                done[seed] = take_seed(entries[seed], job(seed)[4], job(seed)[6])
                print(f"train_score seed {seed}: taken from the interrupted run ({entries[seed]})", flush=True)

    def finished(seed, result):
        done[seed] = tuple(json.loads(json.dumps(list(result))))  # as a resumed seed's would read
        if seed in entries:
            keep_seed(entries[seed], result, job(seed)[4], job(seed)[6])

    todo = [s for s in seeds if s not in done]
    if threads == 0:
        for seed in todo:
            finished(seed, train_seed(*job(seed))[1:])
    elif todo:
        with ProcessPoolExecutor(min(at_once, len(todo)), mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(train_seed, *job(s), threads): s for s in todo}
            for future in as_completed(futures):
                finished(futures[future], future.result()[1:])
    return {seed: tuple(done[seed]) for seed in seeds}
