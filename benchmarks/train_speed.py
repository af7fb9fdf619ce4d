"""Wall time per seed: the plain competition recipe vs. this project's train_score, alone and
with several seeds side by side.

All train the same fixed model on the same folders, in fresh processes one after the other
on this machine, and are scored on the same test set:

- plain: `image_dataset_from_directory` (decodes every file every epoch), TensorFlow's
  default threads, no XLA, one step per call, as the competition's script did;
- fast: `dcai.train_score.train_and_score` with the `train_score.speed` params, one seed;
- group K: K seeds (seed, seed+1, ...) side by side, one process each, the threads divided
  (`dcai.seeds.train_seeds`, as train_score.speed.seeds_at_once does);
- group KxA: the same K seeds, A at a time (seeds_at_once: A): fewer processes alive at once,
  so less memory. With 2 cores, 2 and 4 at a time give each process 1 thread: the same scores.
- with --kernels, fast and every group again with `train_score.speed.jit_compile: false`
  (rows `fast-kernels`, `group4x2-kernels`, ...): TensorFlow's own kernels instead of XLA,
  in the same run, so the two are measured on the same machine under the same load.
- towers K: the other way to train K seeds at once, measured here before choosing: K copies
  of the fixed model in one XLA-compiled graph, one process, the loss a sum over the towers
  (so each tower's gradient is its own; one Adam over all their variables is K Adams, its
  update being element-wise), each tower fed its own reshuffled batches and checkpointed on
  its own best val epoch. On 2 CPU cores it is slower than the processes (README).

Each run's peak memory is the largest sum of proportional set sizes (PSS) over its process
and every process it started, sampled a few times a second: what the machine holds for
them. Summing resident sizes (RSS) would count TensorFlow's shared libraries once per
process (about 0.26 GiB each, measured).

    python -m benchmarks.train_speed                       # 5 epochs: speed only
    python -m benchmarks.train_speed --groups 2 4          # and 2 and 4 seeds side by side
    python -m benchmarks.train_speed --groups 4 4x2        # 4 seeds: all at once vs 2 at a time
    python -m benchmarks.train_speed --groups 4x2 --towers 4   # 4 seeds: processes vs one graph
    python -m benchmarks.train_speed --groups 4x2 --kernels     # and all of it without XLA
    python -m benchmarks.train_speed --epochs 100 --seeds 123 124   # speed and accuracy

Data: ../shared/data/dcai2021 (train/, val/, label_book/) when present, else the
pipeline's data/submission and data/builtin/test.
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import psutil  # installed with dvc

MEMORY_SAMPLE_SECONDS = 0.25

SHARED = Path("../shared/data/dcai2021")


def default_data() -> tuple[Path, Path]:
    if (SHARED / "train").is_dir():
        return SHARED, SHARED / "label_book"
    return Path("data/submission"), Path("data/builtin/test")


def run_plain(data: Path, test: Path, epochs: int, seed: int, weights: Path) -> dict:
    import numpy as np
    import tensorflow as tf

    from dcai.classes import CLASSES
    from dcai.fixed_model import BATCH_SIZE, best_val_checkpoint, build_fixed_model, compile_fixed_model
    from dcai.train_score import EpochTimer

    def load(folder, shuffle=True):
        return tf.keras.utils.image_dataset_from_directory(
            folder, labels="inferred", label_mode="categorical", class_names=list(CLASSES),
            shuffle=shuffle, seed=seed, batch_size=BATCH_SIZE, image_size=(32, 32))

    train, val = load(data / "train"), load(data / "val")
    model = build_fixed_model(seed)
    compile_fixed_model(model)
    timer = EpochTimer()
    start = time.perf_counter()
    model.fit(train, validation_data=val, epochs=epochs, callbacks=[best_val_checkpoint(str(weights)), timer],
              verbose=2)
    wall = time.perf_counter() - start
    model.load_weights(str(weights))
    steps = int(train.cardinality())
    _, test_acc = model.evaluate(load(test, shuffle=False), verbose=0)
    return {"ms_per_step": 1000 * float(np.median(timer.train_seconds)) / steps, "seconds": wall,
            "test_accuracy": float(test_acc)}


KERNELS = "-kernels"  # a recipe name's suffix: the same run with jit_compile false


def speed_params(kernels: bool) -> dict:
    from dcai.params import load_params

    speed = load_params("train_score")["speed"]
    return {**speed, "jit_compile": False} if kernels else speed


def run_fast(data: Path, test: Path, epochs: int, seed: int, weights: Path, kernels: bool = False) -> dict:
    from dcai.train_score import set_threads, train_and_score

    speed = speed_params(kernels)
    set_threads(speed["intra_op_threads"], speed["inter_op_threads"])
    scores, _, _ = train_and_score(data, {"test": test}, epochs, seed, weights, speed)
    return {"ms_per_step": scores["train"]["ms_per_step"], "seconds": scores["train"]["seconds"],
            "test_accuracy": scores["test"]["test"]["accuracy"]}


def group_size(recipe: str) -> tuple[int, int]:
    """'group4' -> (4 seeds, 4 at once); 'group4x2' -> (4 seeds, 2 at once)."""
    seeds, _, at_once = recipe.removeprefix("group").partition("x")
    return int(seeds), int(at_once or seeds)


def run_group(data: Path, test: Path, epochs: int, seed: int, k: int, at_once: int, workdir: Path,
              kernels: bool = False) -> dict:
    import numpy as np

    from dcai.seeds import train_seeds

    start = time.perf_counter()
    trained = train_seeds(list(range(seed, seed + k)), data, {"test": test}, epochs,
                          workdir / f"group{k}x{at_once}{KERNELS if kernels else ''}", speed_params(kernels), None,
                          at_once=at_once)
    wall = time.perf_counter() - start
    scores = [r[0] for r in trained.values()]
    return {"ms_per_step": float(np.median([s["train"]["ms_per_step"] for s in scores])) / at_once, "seconds": wall / k,
            "test_accuracy": float(np.mean([s["test"]["test"]["accuracy"] for s in scores]))}


def run_towers(data: Path, test: Path, epochs: int, seed: int, k: int) -> dict:
    import numpy as np
    import tensorflow as tf

    from dcai.fixed_model import BATCH_SIZE, LEARNING_RATE, build_fixed_model
    from dcai.params import load_params
    from dcai.train_score import (EpochTimer, batches_per_pass, load_training_data, set_threads, shuffled_batches,
                                  steps_per_call)

    speed = load_params("train_score")["speed"]
    set_threads(speed["intra_op_threads"], speed["inter_op_threads"])
    loaded = load_training_data(data, {"test": test})
    (train_x, train_y, _), (val_x, val_y, _) = loaded["train"], loaded["val"]
    seeds = list(range(seed, seed + k))
    models = [build_fixed_model(s) for s in seeds]
    variables = [v for m in models for v in m.trainable_variables]
    optimizer = tf.keras.optimizers.Adam(learning_rate=LEARNING_RATE)
    optimizer.build(variables)
    loss = tf.keras.losses.CategoricalCrossentropy(from_logits=True)
    steps = batches_per_pass(len(train_x))
    chunk = steps_per_call(steps, speed["steps_per_execution"])

    @tf.function(jit_compile=speed["jit_compile"])
    def train_chunk(chunk_batches):
        # a Python loop, unrolled in the graph: XLA's while loop over the steps ran 10x slower here.
        # A pass's last batch is short: that chunk is traced once more, for its shapes.
        for towers_batches in chunk_batches:
            with tf.GradientTape() as tape:
                total = tf.add_n([loss(y, m(x, training=True)) for m, (x, y) in zip(models, towers_batches)])
            optimizer.apply_gradients(zip(tape.gradient(total, variables), variables))

    feed = iter(tf.data.Dataset.zip(tuple(shuffled_batches(train_x, train_y, s, speed["prefetch"],
                                                           speed["data_threads"]) for s in seeds)))
    best = [(-1.0, None)] * k
    timer, start = EpochTimer(), time.perf_counter()
    for epoch in range(epochs):
        timer.on_epoch_begin(epoch)
        for _ in range(steps // chunk):
            train_chunk(tuple(next(feed) for _ in range(chunk)))
        timer.on_test_begin()
        for i, m in enumerate(models):
            acc = float((m.predict(val_x, batch_size=BATCH_SIZE, verbose=0).argmax(1) == val_y).mean())
            if acc > best[i][0]:
                best[i] = (acc, m.get_weights())
        print(f"towers{k}: epoch {epoch + 1}/{epochs} best val_accuracy {[round(b[0], 4) for b in best]} "
              f"({timer.train_seconds[-1]:.1f} s training)", flush=True)
    wall = time.perf_counter() - start
    test_x, test_y, _ = loaded["tests"]["test"]
    accuracies = []
    for m, (_, weights) in zip(models, best):
        m.set_weights(weights)
        accuracies.append(float((m.predict(test_x, batch_size=BATCH_SIZE, verbose=0).argmax(1) == test_y).mean()))
    return {"ms_per_step": 1000 * float(np.median(timer.train_seconds)) / steps / k, "seconds": wall / k,
            "test_accuracy": float(np.mean(accuracies))}


def tree_pss(process: psutil.Process) -> int:
    """Proportional set size of a process and all its descendants, in bytes: pages shared
    between them count once in total (processes may end while we look)."""
    total = 0
    for p in [process, *process.children(recursive=True)]:
        try:
            total += p.memory_full_info().pss
        except psutil.Error:
            pass
    return total


def run_measuring_memory(command: list[str]) -> float:
    """Run a command to its end; return its process tree's peak memory (PSS) in GiB."""
    child = subprocess.Popen(command)
    watched, peak = psutil.Process(child.pid), 0
    while child.poll() is None:
        try:
            peak = max(peak, tree_pss(watched))
        except psutil.Error:
            pass
        time.sleep(MEMORY_SAMPLE_SECONDS)
    if child.returncode != 0:
        raise subprocess.CalledProcessError(child.returncode, command)
    return peak / 2**30


def child(args) -> None:
    recipe, kernels = args.recipe.removesuffix(KERNELS), args.recipe.endswith(KERNELS)
    if recipe.startswith("towers"):
        result = run_towers(Path(args.data), Path(args.test), args.epochs, args.seed, int(recipe[6:]))
    elif recipe.startswith("group"):
        result = run_group(Path(args.data), Path(args.test), args.epochs, args.seed, *group_size(recipe),
                           Path(args.workdir), kernels)
    elif recipe == "plain":
        result = run_plain(Path(args.data), Path(args.test), args.epochs, args.seed,
                           Path(args.workdir) / f"plain-{args.seed}.weights.h5")
    else:
        result = run_fast(Path(args.data), Path(args.test), args.epochs, args.seed,
                          Path(args.workdir) / f"{args.recipe}-{args.seed}.weights.h5", kernels)
    Path(args.workdir, f"{args.recipe}-{args.seed}.json").write_text(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data, test = default_data()
    parser.add_argument("--data", default=str(data), help="folder with train/<class>/ and val/<class>/")
    parser.add_argument("--test", default=str(test), help="test folder of <class>/ images")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[123])
    parser.add_argument("--workdir", default="benchmarks/results/train_speed")
    parser.add_argument("--groups", nargs="*", default=[],
                        help="also K seeds side by side, per K; KxA: K seeds, A at a time")
    parser.add_argument("--towers", nargs="*", default=[], type=int,
                        help="also K seeds as K towers of one XLA graph in one process, per K")
    parser.add_argument("--only-groups", action="store_true", help="skip plain and fast (e.g. a memory check)")
    parser.add_argument("--kernels", action="store_true",
                        help="also fast and every group with jit_compile false (TensorFlow's kernels, no XLA)")
    parser.add_argument("--recipe", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    if args.recipe:
        child(args)
        return

    results = {}
    for seed in args.seeds:
        trainers = (*(() if args.only_groups else ("fast",)), *(f"group{k}" for k in args.groups))
        for recipe in (*(() if args.only_groups else ("plain",)), *trainers,
                       *((f"{t}{KERNELS}" for t in trainers) if args.kernels else ()),
                       *(f"towers{k}" for k in args.towers)):
            print(f"== {recipe}, seed {seed}, {args.epochs} epochs on {args.data}", flush=True)
            peak = run_measuring_memory([sys.executable, "-m", "benchmarks.train_speed", "--recipe", recipe,
                                         "--seed", str(seed), "--data", args.data, "--test", args.test,
                                         "--epochs", str(args.epochs), "--workdir", args.workdir])
            result = json.loads(Path(args.workdir, f"{recipe}-{seed}.json").read_text())
            results[(recipe, seed)] = {**result, "peak_memory_gib": round(peak, 2)}

    print(f"\n{'recipe':16} {'seed':>5} {'ms/step':>8} {'wall s per seed':>16} {'vs plain':>9} {'vs fast':>8} "
          f"{'test acc':>9} {'peak GiB':>9}")
    for (recipe, seed), r in results.items():
        base = {name: results[(name, seed)]["seconds"] if (name, seed) in results else float("nan")
                for name in ("plain", "fast")}
        ratio, to_fast = r["seconds"] / base["plain"], r["seconds"] / base["fast"]
        print(f"{recipe:16} {seed:>5} {r['ms_per_step']:>8.2f} {r['seconds']:>16.1f} {ratio:>9.2f} {to_fast:>8.2f} "
              f"{r['test_accuracy']:>9.4f} {r['peak_memory_gib']:>9.2f}")
    print("(group K[xA], towers K: wall is per seed, i.e. divided by K, ms/step by the A at once or the K towers;\n"
          " test acc is the mean over the K seeds; peak GiB is the whole run's, all its processes together)")
    summary = {f"{r}-{s}": v for (r, s), v in results.items()}
    Path(args.workdir, "summary.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
