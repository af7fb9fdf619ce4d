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
import shutil
import time
from pathlib import Path

import tensorflow as tf

from .compute import run_tasks
from .atomic import atomic_dir
from .fingerprint import folder_digest
from .train_score import load_training_data, train_and_score


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


def seed_task(shared: dict, seed: int, epochs: int, speed: dict, with_curves: bool) -> dict:
    """One seed's training and scores, as a task: returns the scores, confusion and error rows,
    and the best-val weights and training curves as bytes."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        callbacks = [EpochLog(seed, epochs)]
        if not with_curves:
            scores, confusion, errors = train_and_score(None, {}, epochs, seed, tmp / "best.weights.h5", speed,
                                                        callbacks=callbacks, verbose=0, data=shared)
        else:
            from dvclive import Live
            from dvclive.keras import DVCLiveCallback

            with Live(dir=str(tmp / "live"), dvcyaml=None, save_dvc_exp=False) as live:
                scores, confusion, errors = train_and_score(None, {}, epochs, seed, tmp / "best.weights.h5", speed,
                                                            callbacks=[DVCLiveCallback(live=live), *callbacks],
                                                            verbose=0, data=shared)
            # dvclive's summary holds the last epoch, not the best one scored: only the curves stay
            (tmp / "live/metrics.json").unlink(missing_ok=True)
        curves = {str(f.relative_to(tmp / "live")): f.read_bytes()
                  for f in sorted((tmp / "live").rglob("*")) if f.is_file()} if with_curves else {}
        return {"result": json.loads(json.dumps([scores, confusion, errors])),
                "weights": (tmp / "best.weights.h5").read_bytes(), "curves": curves}


def write_files(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        (Path(root) / rel).parent.mkdir(parents=True, exist_ok=True)
        (Path(root) / rel).write_bytes(data)


def write_seed_files(done: dict, weights: Path, live_dir: Path | None) -> None:
    weights.parent.mkdir(parents=True, exist_ok=True)
    weights.write_bytes(done["weights"])
    if live_dir is not None:
        shutil.rmtree(live_dir, ignore_errors=True)
        write_files(live_dir, done["curves"])


def train_seed(seed: int, submission: Path, test_sets: dict, epochs: int, weights: Path, speed: dict,
               live_dir: Path | None) -> tuple[int, dict, dict, dict]:
    """One seed, here: its weights and curves written, (seed, scores, confusion, errors) returned."""
    done = seed_task(load_training_data(submission, test_sets), seed, epochs, speed, live_dir is not None)
    write_seed_files(done, weights, live_dir)
    return (seed, *done["result"])


def seed_key(inputs: str, epochs: int, seed: int, speed: dict, threads: int) -> str:
    """What one seed's training depends on: the submission and test sets (digest), its settings."""
    settings = {k: v for k, v in speed.items() if k != "seeds_at_once"}
    return hashlib.sha256(json.dumps([inputs, epochs, seed, settings, threads], sort_keys=True).encode()).hexdigest()[:20]


def keep_seed(entry: Path, done: dict) -> None:
    """A finished seed (scores, confusion, errors, weights, curves), renamed into place whole."""
    with atomic_dir(entry) as tmp:
        (tmp / "result.json").write_text(json.dumps(done["result"]))
        (tmp / "weights.h5").write_bytes(done["weights"])
        write_files(tmp / "live", done["curves"])


def take_seed(entry: Path) -> dict:
    live = entry / "live"
    return {"result": json.loads((entry / "result.json").read_text()), "weights": (entry / "weights.h5").read_bytes(),
            "curves": {str(f.relative_to(live)): f.read_bytes() for f in sorted(live.rglob("*")) if f.is_file()}}


def train_seeds(seeds: list[int], submission: Path, test_sets: dict, epochs: int, weights_dir: Path,
                speed: dict, live_root: Path | None, at_once: int, resume_dir: Path | None = None,
                compute: dict | None = None) -> dict[int, tuple[dict, dict, dict]]:
    """Train every seed, `at_once` at a time in their own processes (1: here, one after the
    other), or as tasks on a Ray cluster (`compute`: address, gpus_per_task). Returns seed ->
    (scores, confusion rows, misclassified rows), in `seeds` order; each seed's weights are
    written to weights_dir/seed_<s>.weights.h5 and its curves to live_root/seed_<s>/.

    With `resume_dir`, each finished seed is kept there under a key of its inputs and settings,
    and a run interrupted and started again takes those instead of retraining them. Every seed
    gets the thread count the whole run gives it (it changes the order of float sums), so a
    resumed run computes what an uninterrupted one does."""
    compute = compute or {}
    at_once = max(1, min(at_once, len(seeds)))
    threads = max(1, speed["intra_op_threads"] // at_once) if at_once > 1 else 0
    done, entries = {}, {}
    if resume_dir is not None:
        inputs = "".join(folder_digest(f)["sha256"] for f in [submission, *(t for _, t in sorted(test_sets.items()))])
        inputs += json.dumps(sorted(test_sets))
        for seed in seeds:
            entries[seed] = Path(resume_dir) / f"seed_{seed}-{seed_key(inputs, epochs, seed, speed, threads)}"
            if (entries[seed] / "result.json").is_file():
                done[seed] = take_seed(entries[seed])
                print(f"train_score seed {seed}: taken from the interrupted run ({entries[seed]})", flush=True)
    todo = [s for s in seeds if s not in done]

    def finished(index, result):
        seed = todo[index]
        done[seed] = result
        if seed in entries:
            keep_seed(entries[seed], result)

    if todo:
        run_tasks(seed_task, [(seed, epochs, speed, live_root is not None) for seed in todo],
                  load_training_data(submission, test_sets), processes=at_once, threads=threads,
                  address=compute.get("address"), cpus_per_task=max(1, threads or speed["intra_op_threads"]),
                  gpus_per_task=compute.get("gpus_per_task", 0), on_done=finished)
    for seed in seeds:
        write_seed_files(done[seed], Path(weights_dir) / f"seed_{seed}.weights.h5",
                         live_root / f"seed_{seed}" if live_root else None)
    return {seed: tuple(done[seed]["result"]) for seed in seeds}
