"""The independent trainings of a stage give the same results here, in local processes and as
tasks on a Ray instance (the stage's work travels through Ray's object store, not the disk)."""
import numpy as np
import pytest

from dcai.compute import local_address, run_tasks
from dcai.vote import out_of_fold_probs, stratified_folds


def scaled(shared, k, offset):
    return {"k": k, "value": float(shared["x"][k] * 2 + offset)}


def test_tasks_return_in_task_order_and_report_each_as_it_finishes():
    seen = []
    shared = {"x": np.arange(5.0)}
    tasks = [(k, 1) for k in range(5)]
    here = run_tasks(scaled, tasks, shared, on_done=lambda i, r: seen.append(i))
    assert [r["value"] for r in here] == [1.0, 3.0, 5.0, 7.0, 9.0] and sorted(seen) == list(range(5))
    assert run_tasks(scaled, tasks, shared, processes=2) == here
    assert local_address(None) and not local_address("auto") and not local_address("ray://head:10001")


def tiny_ensemble(**compute):
    rng = np.random.default_rng(4)
    labels = np.repeat(np.arange(10), 3)
    x = rng.uniform(0, 1, (30, 32, 32, 1)).astype(np.float32)
    folds = stratified_folds(labels, 2, seed=2)
    return out_of_fold_probs(x, labels, ["lenet5"], folds, 1, 16, 1e-3, 3, compute=compute)


def test_the_vote_ensemble_is_the_same_in_local_processes_and_on_ray():
    pytest.importorskip("ray", reason="Ray is the cluster extra: pip install -e '.[cluster]'")
    local = tiny_ensemble(processes=2, threads=1)
    on_ray = tiny_ensemble(address="local", threads=1)
    np.testing.assert_array_equal(on_ray["probs"], local["probs"])
    assert on_ray["probs"].sum() == pytest.approx(30)  # every image predicted once, by the fold that did not see it


ORPHAN_PARENT = """
import os, sys, time
sys.path.insert(0, {here!r})
from dcai.compute import run_tasks
from orphan_task import record_and_wait

run_tasks(record_and_wait, [({here!r},), ({here!r},)], {{}}, processes=2)
"""


def test_workers_of_a_killed_stage_stop_instead_of_training_on(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import REPO

    (tmp_path / "orphan_task.py").write_text(
        "import os, time\n"
        "def record_and_wait(shared, here):\n"
        "    open(os.path.join(here, f'worker_{os.getpid()}'), 'w').close()\n"
        "    time.sleep(120)\n")
    parent = subprocess.Popen([sys.executable, "-c", ORPHAN_PARENT.format(here=str(tmp_path))],
                              env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    deadline = time.monotonic() + 60
    while len(workers := [int(p.name.split("_")[1]) for p in tmp_path.glob("worker_*")]) < 2:
        assert time.monotonic() < deadline and parent.poll() is None, "the workers never started"
        time.sleep(0.2)
    parent.send_signal(signal.SIGKILL)  # no cleanup runs: the pool cannot tell its workers
    parent.wait()

    def alive(pid):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        with open(f"/proc/{pid}/stat") as fh:  # a zombie has stopped; only its exit status is left
            return fh.read().split(") ")[-1][0] != "Z"

    deadline = time.monotonic() + 20
    while any(alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(w) for w in workers), "the killed stage's workers still run"
