"""Seeds trained side by side in their own processes train exactly as a lone run does."""
import shutil

import numpy as np
import pytest

from dcai.fixed_model import build_fixed_model
from dcai.seeds import train_seed, train_seeds
from test_train_score import submission

SPEED = {"jit_compile": True, "steps_per_execution": 4, "prefetch": 1, "data_threads": 1, "intra_op_threads": 2,
         "inter_op_threads": 2}


def weights_of(path):
    model = build_fixed_model()
    model.load_weights(str(path))
    return model.get_weights()


def test_seeds_at_once_match_the_same_seeds_trained_alone(tmp_path):
    sub = submission(tmp_path / "sub")
    tests = {"again": sub / "val"}
    together = train_seeds([5, 6], sub, tests, 2, tmp_path / "together", SPEED, tmp_path / "live", at_once=2)
    assert list(together) == [5, 6]
    _, alone, _, errors_alone = train_seed(5, sub, tests, 2, tmp_path / "alone.weights.h5", SPEED, None)
    scores = together[5][0]
    assert scores["train"]["val_accuracy_per_epoch"] == alone["train"]["val_accuracy_per_epoch"]
    assert scores["val"] == alone["val"] and scores["test"] == alone["test"]
    for a, b in zip(weights_of(tmp_path / "together/seed_5.weights.h5"), weights_of(tmp_path / "alone.weights.h5")):
        # 1 thread vs the test's: only sums reorder. atol covers the conv biases ahead of batch norm,
        # which get no real gradient: their ~1e-6 values are rounding noise (1.1e-5 apart on an AMD EPYC)
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=5e-5)
    assert together[5][2] == errors_alone
    other = weights_of(tmp_path / "together/seed_6.weights.h5")
    assert not all(np.allclose(a, b) for a, b in zip(other, weights_of(tmp_path / "alone.weights.h5")))
    assert (tmp_path / "live/seed_6/plots/metrics/eval/accuracy.tsv").is_file()  # curves per seed


def test_the_time_left_is_the_mean_epoch_times_the_epochs_to_go():
    from dcai.seeds import time_left
    assert time_left([10.0, 20.0], 6) == "about 60 s left"   # 15 s x 4 to go; in seconds below 90
    assert time_left([30.0, 30.0], 6) == "about 2 min left"
    assert time_left([10.0], 1) == "done"


def test_an_interrupted_run_takes_the_finished_seeds_and_trains_the_rest_as_before(tmp_path):
    import json
    sub = submission(tmp_path / "sub")
    tests = {"again": sub / "val"}
    resume = tmp_path / "resume"
    first = train_seeds([5, 6], sub, tests, 1, tmp_path / "w1", SPEED, None, at_once=2, resume_dir=resume)
    entries = {p.name.split("-")[0]: p for p in resume.iterdir()}
    assert sorted(entries) == ["seed_5", "seed_6"]
    # killed before seed 6 finished; seed 5's entry carries a mark, to see that it is taken, not retrained
    shutil.rmtree(entries["seed_6"])
    result = json.loads((entries["seed_5"] / "result.json").read_text())
    result[0]["mark"] = "taken"
    (entries["seed_5"] / "result.json").write_text(json.dumps(result))
    again = train_seeds([5, 6], sub, tests, 1, tmp_path / "w2", SPEED, None, at_once=2, resume_dir=resume)
    assert again[5][0]["mark"] == "taken" and (tmp_path / "w2/seed_5.weights.h5").is_file()
    assert again[6][0]["val"] == first[6][0]["val"] and again[6][1] == first[6][1]  # 1 thread, as in the first run


def test_a_finished_seed_is_taken_only_for_the_same_inputs_and_settings():
    from dcai.seeds import seed_key
    key = seed_key("digest", 100, 5, SPEED, 1)
    assert key == seed_key("digest", 100, 5, {**SPEED, "seeds_at_once": 9}, 1)  # how many at once: no matter
    assert len({key, seed_key("other", 100, 5, SPEED, 1), seed_key("digest", 99, 5, SPEED, 1),
                seed_key("digest", 100, 6, SPEED, 1), seed_key("digest", 100, 5, {**SPEED, "prefetch": 9}, 1),
                seed_key("digest", 100, 5, SPEED, 2)}) == 6


@pytest.mark.parametrize("jit_compile", [True, False])
def test_a_seed_trained_again_gives_the_same_weights_to_the_bit(tmp_path, jit_compile):
    """Deterministic with XLA and with TensorFlow's own kernels alike: train_score.speed.jit_compile
    changes how the sums run, never whether a run repeats."""
    sub = submission(tmp_path / "sub")
    speed = {**SPEED, "jit_compile": jit_compile}
    runs = [train_seed(5, sub, {}, 1, tmp_path / f"{k}.weights.h5", speed, None) for k in (1, 2)]
    assert runs[0][1]["train"]["val_accuracy_per_epoch"] == runs[1][1]["train"]["val_accuracy_per_epoch"]
    first, again = weights_of(tmp_path / "1.weights.h5"), weights_of(tmp_path / "2.weights.h5")
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
