"""The vote ensemble's training: stratified folds, out-of-fold predictions."""
import numpy as np

from dcai.vote import member_agreement, out_of_fold_probs, stratified_folds
from test_vote_rules import one_hot_probs


def test_folds_are_stratified_and_cover_everything():
    labels = np.repeat(np.arange(10), [30, 31, 29, 30, 30, 28, 32, 30, 30, 30])
    folds = stratified_folds(labels, 5, seed=0)
    assert set(folds.tolist()) == set(range(5))
    for c in range(10):
        counts = np.bincount(folds[labels == c], minlength=5)
        assert counts.max() - counts.min() <= 1
    assert np.bincount(folds).max() - np.bincount(folds).min() <= 1
    assert (stratified_folds(labels, 5, seed=0) == folds).all() and (stratified_folds(labels, 5, seed=1) != folds).any()


def test_no_image_is_predicted_by_a_model_that_saw_it(tmp_path):
    # Noise images with arbitrary labels: nothing to generalize from, everything to memorize.
    # A member that saw an image predicts its label (measured: accuracy 1.0 when every fold
    # trains on all images); a member that did not is at chance (0.1).
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 4)
    x = rng.uniform(0, 1, (40, 32, 32, 1)).astype(np.float32)
    folds = stratified_folds(labels, 4, seed=2)
    result = out_of_fold_probs(x, labels, ["lenet5"], folds, epochs=30, batch_size=8, learning_rate=3e-3, seed=3,
                               shift=0, weights_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"lenet5_fold{f}.weights.h5" for f in range(4)]
    probs = result["probs"][0]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)  # every image was predicted
    assert (probs.argmax(axis=1) == labels).mean() <= 0.3
    again = out_of_fold_probs(x, labels, ["lenet5"], folds, epochs=1, batch_size=16, learning_rate=1e-3, seed=3)
    again2 = out_of_fold_probs(x, labels, ["lenet5"], folds, epochs=1, batch_size=16, learning_rate=1e-3, seed=3)
    np.testing.assert_array_equal(again["probs"], again2["probs"])  # a fixed seed repeats, byte for byte


def test_member_agreement_is_the_share_of_pairs_that_agree():
    assert member_agreement(one_hot_probs([[0, 1, 2, 3], [0, 1, 2, 4]])) == 0.75
    assert member_agreement(one_hot_probs([[0, 1, 2, 3]])) == 1.0


def test_an_interrupted_run_resumes_without_retraining_what_finished(tmp_path, monkeypatch):
    import dcai.vote_models
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(10), 2)
    x = rng.uniform(0, 1, (20, 32, 32, 1)).astype(np.float32)
    folds = stratified_folds(labels, 2, seed=2)
    args = (x, labels, ["lenet5", "allconv"], folds, 1, 16, 1e-3, 3)
    first = out_of_fold_probs(*args, weights_dir=tmp_path / "w1", resume_dir=tmp_path / "resume")
    assert first["resumed"] == 0 and len(list((tmp_path / "resume").glob("*.npz"))) == 4
    # killed after three of the four models: the fourth is retrained, the others are taken
    sorted((tmp_path / "resume").glob("allconv_fold1-*.npz"))[0].unlink()
    built = []
    real_build = dcai.vote_models.build_member
    monkeypatch.setattr(dcai.vote_models, "build_member", lambda *a, **k: built.append(a[0]) or real_build(*a, **k))
    again = out_of_fold_probs(*args, weights_dir=tmp_path / "w2", resume_dir=tmp_path / "resume")
    assert built == ["allconv"] and again["resumed"] == 3
    np.testing.assert_array_equal(again["probs"][:, folds == 0], first["probs"][:, folds == 0])
    for name in ("lenet5_fold0", "lenet5_fold1", "allconv_fold0"):  # the same weights, byte for byte
        assert (tmp_path / f"w1/{name}.weights.h5").read_bytes() == (tmp_path / f"w2/{name}.weights.h5").read_bytes()
    # another setting is another model: nothing is taken
    other = out_of_fold_probs(x, labels, ["lenet5"], folds, 1, 16, 2e-3, 3, resume_dir=tmp_path / "resume")
    assert other["resumed"] == 0
    # the same member in another place of the list starts from other weights: nothing is taken
    moved = out_of_fold_probs(x, labels, ["allconv"], folds, 1, 16, 1e-3, 3, resume_dir=tmp_path / "resume")
    assert moved["resumed"] == 0
    # compiled by XLA, its float sums differ: another model
    compiled = out_of_fold_probs(*args, jit_compile=True, resume_dir=tmp_path / "resume")
    assert compiled["resumed"] == 0


def _thin_stroke_image(path):
    """320x320 paper with a 2-pixel stroke on columns the loader's 10x downscale never samples:
    output column j interpolates input columns 10j+4 and 10j+5 (half-pixel centres)."""
    from PIL import Image

    pixels = np.full((320, 320), 255, np.uint8)
    pixels[40:280, 157:159] = 0
    Image.fromarray(pixels).save(path)
    return str(path)


def test_antialiased_member_input_keeps_a_stroke_the_loader_drops(tmp_path):
    from dcai.vote import images_for_members

    path = _thin_stroke_image(tmp_path / "i.png")
    assert images_for_members([path]).max() == 0  # the competition's loader: the stroke is gone
    kept = images_for_members([path], antialias=True)
    assert kept.shape == (1, 32, 32, 1) and kept.max() == 1.0
    assert set(np.flatnonzero(kept[0, 10, :, 0] > 0)) <= {15, 16}  # where the stroke was, nowhere else
    assert images_for_members([path], 48, True).shape == (1, 48, 48, 1)


def test_members_train_on_the_input_size_they_are_given():
    from dcai.vote import member_input

    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(10), 2)
    x = rng.uniform(0, 1, (20, 48, 48, 1)).astype(np.float32)
    result = out_of_fold_probs(x, labels, ["lenet5"], stratified_folds(labels, 2, seed=2), 1, 16, 1e-3, 3)
    assert result["probs"].shape == (1, 20, 10)
    # a votes file records its members' input; one written before that was the loader's 32x32
    assert member_input({"input_size": np.array(48), "antialias": np.array(True)}) == (48, True)
    assert member_input({"probs": None}) == (32, False)


def test_a_member_input_too_small_for_the_members_is_refused():
    import pytest

    from dcai.vote import check_member_input

    check_member_input(48)
    for bad in (16, 32.5, True, "32"):
        with pytest.raises(ValueError, match="input_size"):
            check_member_input(bad)


def test_a_member_compiled_once_trains_each_fold_as_if_built_and_compiled_anew(monkeypatch):
    # vgg has batch norm, dropout's seed state and Adam's moments: every one must start each fold afresh
    from dcai import vote

    rng = np.random.default_rng(4)
    labels = np.repeat(np.arange(10), 3)
    shared = {"x": rng.uniform(0, 1, (30, 32, 32, 1)).astype(np.float32), "y": labels,
              "folds": stratified_folds(labels, 3, seed=2)}
    settings = (2, 8, 1e-3, 3, 1, True)  # epochs, batch, learning rate, seed, shift, XLA
    monkeypatch.setattr(vote, "_COMPILED", {})
    vote.train_member(shared, "vgg", 0, 0, *settings)
    (kept_model, _), = vote._COMPILED.values()
    reused = vote.train_member(shared, "vgg", 0, 1, *settings)
    assert [m for m, _ in vote._COMPILED.values()] == [kept_model]  # fold 1 ran on fold 0's compiled model
    monkeypatch.setattr(vote, "_COMPILED", {})
    anew = vote.train_member(shared, "vgg", 0, 1, *settings)
    np.testing.assert_array_equal(reused["probs"], anew["probs"])


def test_the_members_cost_table_is_what_the_built_members_compute():
    import tensorflow as tf

    from dcai.vote_models import MEMBERS, MULTIPLY_ADDS, build_member

    def multiply_adds(model):
        total = 0
        for layer in model.layers:
            if isinstance(layer, tf.keras.layers.Conv2D):
                total += int(np.prod(layer.output.shape[1:3])) * int(np.prod(layer.kernel.shape))
            elif isinstance(layer, tf.keras.layers.Dense):
                total += int(np.prod(layer.kernel.shape))
        return total / 1e6

    counted = {name: multiply_adds(build_member(name, 10, 0)) for name in MEMBERS}
    assert set(MULTIPLY_ADDS) == set(MEMBERS)
    for name in MEMBERS:
        assert abs(MULTIPLY_ADDS[name] - counted[name]) < 0.01, (name, counted[name])


def test_the_costliest_models_are_trained_first(monkeypatch):
    import dcai.compute
    from dcai import vote

    started = []
    monkeypatch.setattr(dcai.compute, "run_tasks", lambda fn, tasks, *a, **k: started.extend(t[0] for t in tasks))
    labels = np.repeat(np.arange(10), 2)
    x = np.zeros((20, 32, 32, 1), np.float32)
    vote.out_of_fold_probs(x, labels, ["lenet5", "resnet", "alexnet"], stratified_folds(labels, 2, seed=2), 1, 16,
                           1e-3, 3)
    assert started == ["alexnet"] * 2 + ["resnet"] * 2 + ["lenet5"] * 2


def test_a_members_weights_file_is_the_same_bytes_whatever_the_process_built_before(tmp_path, monkeypatch):
    from dcai import vote

    rng = np.random.default_rng(5)
    labels = np.repeat(np.arange(10), 2)
    x = rng.uniform(0, 1, (20, 32, 32, 1)).astype(np.float32)
    folds = stratified_folds(labels, 2, seed=2)
    monkeypatch.setattr(vote, "_COMPILED", {})  # each run as in a worker that compiled nothing yet
    out_of_fold_probs(x, labels, ["vgg"], folds, 1, 16, 1e-3, 3, weights_dir=tmp_path / "first")
    monkeypatch.setattr(vote, "_COMPILED", {})
    out_of_fold_probs(x, labels, ["lenet5", "vgg"], folds, 1, 16, 1e-3, 3, weights_dir=tmp_path / "later")
    monkeypatch.setattr(vote, "_COMPILED", {})
    again = out_of_fold_probs(x, labels, ["vgg"], folds, 1, 16, 1e-3, 3, weights_dir=tmp_path / "again")
    for fold in (0, 1):
        name = f"vgg_fold{fold}.weights.h5"
        assert (tmp_path / "first" / name).read_bytes() == (tmp_path / "again" / name).read_bytes()
    assert again["probs"].shape == (1, 20, 10)


def test_the_fixed_member_is_the_fixed_models_graph_on_the_members_input():
    import tensorflow as tf

    from dcai.fixed_model import build_fixed_model
    from dcai.vote_models import BN_MOMENTUM, build_member

    def conv_kernels(layers):
        return [tuple(layer.kernel.shape) for layer in layers if isinstance(layer, tf.keras.layers.Conv2D)]

    def norms(layers):
        return [layer for layer in layers if isinstance(layer, tf.keras.layers.BatchNormalization)]

    member = build_member("fixed", 10, 0)
    base = build_fixed_model().get_layer("resnet50_cut")
    fixed_kernels = conv_kernels(base.layers)
    assert conv_kernels(member.layers) == [fixed_kernels[0][:2] + (1,) + fixed_kernels[0][3:], *fixed_kernels[1:]]
    assert len(norms(member.layers)) == len(norms(base.layers)) == 11
    assert all(layer.momentum == BN_MOMENTUM for layer in norms(member.layers))
    assert member.output_shape == (None, 10)
