"""Where a stage's independent trainings run: here, in processes on this machine, or as
tasks on a Ray cluster (https://docs.ray.io), with the same results.

A task is `fn(shared, *args)`: `shared` holds the arrays every task reads (images, labels),
sent once (to each local process, or into Ray's object store, so workers need no shared
filesystem), and a task returns everything it made (numbers, and files as bytes). Each task
gets `threads` TensorFlow threads, whichever way it runs: the thread count changes the order
of float sums, so it is part of what a task computes.
"""
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable

_SHARED = {}  # what a local worker process received once, at its start
ORPHAN_CHECK_SECONDS = 2  # how often a local worker looks whether the stage that started it still runs


def local_address(address: str | None) -> bool:
    return address in (None, "", "none", "local-processes")


def set_tf_threads(threads: int) -> None:
    """TensorFlow's thread pools are fixed at its first op: a process that already ran one
    (a reused Ray worker, which got the same count from the task before) keeps its pools."""
    if not threads:
        return
    import tensorflow as tf
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        pass


def _exit_when_orphaned(parent: int) -> None:
    """A stage killed outright (SIGKILL, or SIGTERM to it alone) cannot stop its pool: its
    workers would train on, unseen, for up to an hour, slowing whatever runs next. A worker
    whose parent is gone is re-parented, so it exits; a killed run resumes from what finished."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_SECONDS)
    os._exit(1)


def _start_worker(shared: dict, threads: int, parent: int) -> None:
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()
    _SHARED.update(shared)
    set_tf_threads(threads)


def _local_task(fn: Callable, args: tuple):
    return fn(_SHARED, *args)


def _ray_task(fn: Callable, shared: dict, threads: int, args: tuple):
    set_tf_threads(threads)
    return fn(shared, *args)


def run_tasks(fn: Callable, tasks: list[tuple], shared: dict, processes: int = 1, threads: int = 0,
              address: str | None = None, cpus_per_task: float = 1, gpus_per_task: float = 0,
              on_done: Callable | None = None) -> list:
    """Run `fn(shared, *task)` for every task; return the results in task order.

    `address` None: here (processes 1) or in `processes` spawned local processes. Otherwise a
    Ray cluster: "auto" (a node started with `ray start`), "ray://host:10001", or "local" (a
    Ray instance started for this run); each task asks Ray for `cpus_per_task` CPUs and
    `gpus_per_task` GPUs. `on_done(index, result)` is called as each task finishes, in the
    order they finish (to keep finished work when a run is interrupted).
    """
    results = [None] * len(tasks)

    def finished(index, result):
        results[index] = result
        if on_done is not None:
            on_done(index, result)

    if not tasks:
        return results
    if not local_address(address):
        _run_on_ray(fn, tasks, shared, threads, address, cpus_per_task, gpus_per_task, finished)
    elif processes <= 1:
        set_tf_threads(threads)
        for index, args in enumerate(tasks):
            finished(index, fn(shared, *args))
    else:
        context = multiprocessing.get_context("spawn")  # TensorFlow must not be forked
        with ProcessPoolExecutor(min(processes, len(tasks)), mp_context=context, initializer=_start_worker,
                                 initargs=(shared, threads, os.getpid())) as pool:
            futures = {pool.submit(_local_task, fn, args): index for index, args in enumerate(tasks)}
            for future in as_completed(futures):
                finished(futures[future], future.result())
    return results


def _run_on_ray(fn, tasks, shared, threads, address, cpus_per_task, gpus_per_task, finished) -> None:
    try:
        import ray
    except ImportError as err:
        raise RuntimeError(f"compute.address is {address!r}, but Ray is not installed: "
                           "pip install -e '.[cluster]'") from err
    started_here = not ray.is_initialized()
    # Ray renices its workers to 15; beside any other work on the machine a training then
    # crawls (measured: 10x slower per step). A Ray instance started here runs them at 0;
    # for a cluster, start its nodes with RAY_worker_niceness=0 (README).
    os.environ.setdefault("RAY_worker_niceness", "0")
    if started_here:
        # workers import this project from the driver's folder (runtime_env) when they do not have it
        src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = {"py_modules": [os.path.join(src, "dcai")]} if address not in ("local",) else {}
        ray.init(address=None if address == "local" else address, runtime_env=env or None,
                 include_dashboard=False, log_to_driver=True, configure_logging=False)
    try:
        remote = ray.remote(_ray_task).options(num_cpus=cpus_per_task, num_gpus=gpus_per_task)
        shared_ref = ray.put(shared)
        pending = {remote.remote(fn, shared_ref, threads, args): index for index, args in enumerate(tasks)}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                finished(pending.pop(ref), ray.get(ref))
    finally:
        if started_here:
            ray.shutdown()
