import numpy as np
import tensorflow as tf

from dcai.classes import CLASSES
from dcai.fixed_model import (BATCH_SIZE, CUT_LAYER, LEARNING_RATE, PARAMETERS, best_val_checkpoint,
                              build_fixed_model, compile_fixed_model)
from dcai.images import decode_like_loader, list_class_folder, load_class_folder
from dcai.train_score import batches_per_pass, misclassified, score_predictions, shuffled_batches, steps_per_call, summarize_seeds


def test_the_graph_is_the_competition_model():
    model = build_fixed_model()
    assert model.count_params() == PARAMETERS == 232_330
    base = model.get_layer("resnet50_cut")
    assert base.layers[-1].name == CUT_LAYER == "conv2_block3_out"
    assert base.output.shape[1:] == (8, 8, 256)
    assert isinstance(model.layers[-2], tf.keras.layers.GlobalAveragePooling2D)
    head = model.layers[-1]
    assert isinstance(head, tf.keras.layers.Dense) and head.units == 10
    assert head.activation is tf.keras.activations.linear  # logits
    # preprocess_input: RGB->BGR and ImageNet mean subtraction, inside the model
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    by_hand = head(model.layers[-2](base(tf.keras.applications.resnet.preprocess_input(x.copy()))))
    np.testing.assert_allclose(model(x), by_hand, rtol=1e-5, atol=1e-5)


def test_the_seed_fixes_the_initial_weights():
    a, b, c = build_fixed_model(123), build_fixed_model(123), build_fixed_model(124)
    assert all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))
    assert not all(np.array_equal(x, y) for x, y in zip(a.get_weights(), c.get_weights()))


def test_the_recipe_is_adam_1e4_on_logits_batch_8_best_val_checkpoint():
    model = build_fixed_model()
    compile_fixed_model(model)
    assert BATCH_SIZE == 8
    assert isinstance(model.optimizer, tf.keras.optimizers.Adam)
    assert LEARNING_RATE == 1e-4 and np.isclose(float(model.optimizer.learning_rate), 1e-4)
    assert isinstance(model.loss, tf.keras.losses.CategoricalCrossentropy) and model.loss.get_config()["from_logits"]
    ckpt = best_val_checkpoint("w.weights.h5")
    assert (ckpt.monitor, ckpt.mode, ckpt.save_best_only, ckpt.save_weights_only) == ("val_accuracy", "max", True, True)


def test_fast_settings_still_make_one_update_per_batch():
    # 21 images: 3 batches of 8, 8, 5 per epoch, whatever the steps per call
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 255, (21, 32, 32, 3)).astype(np.float32), rng.integers(0, 10, 21)
    model = build_fixed_model()
    compile_fixed_model(model, jit_compile=True, steps_per_execution=3)
    steps = batches_per_pass(21)
    assert steps == 3 and steps_per_call(steps, 2) == 1 and steps_per_call(steps, 8) == 3
    assert steps_per_call(342, 8) == 6 and steps_per_call(1187, 8) == 1
    model.fit(shuffled_batches(x, y, seed=1), steps_per_epoch=steps, epochs=2, verbose=0)
    assert int(model.optimizer.iterations) == 6


def test_shuffled_batches_reshuffle_every_epoch_and_cover_every_image():
    x = np.arange(20, dtype=np.float32)[:, None, None, None] * np.ones((1, 32, 32, 3), np.float32)
    batches = list(shuffled_batches(x, np.arange(20) % 10, seed=4).take(2 * batches_per_pass(20)))
    assert [len(b[0]) for b in batches] == [8, 8, 4, 8, 8, 4]  # a pass never spills into the next
    epochs = [np.concatenate([b[0][:, 0, 0, 0].numpy() for b in batches[k:k + 3]]) for k in (0, 3)]
    assert all(sorted(e.tolist()) == list(range(20)) for e in epochs)
    assert epochs[0].tolist() != epochs[1].tolist()


def test_in_memory_pixels_equal_the_competition_loader(make_class_tree):
    root = make_class_tree(per_class=3, classes=("i", "iv", "x"), size=(97, 61))
    (root / "iv" / "notes.txt").write_text("the loader ignores this")
    for name in CLASSES:  # the competition's loader insists on every class folder
        (root / name).mkdir(exist_ok=True)
    paths, labels = list_class_folder(root)
    pixels = decode_like_loader(paths)
    reference = tf.keras.utils.image_dataset_from_directory(
        root, labels="inferred", label_mode="int", class_names=list(CLASSES), shuffle=False,
        batch_size=8, image_size=(32, 32))
    ref_x = np.concatenate([b[0].numpy() for b in reference])
    ref_y = np.concatenate([b[1].numpy() for b in reference])
    assert pixels.shape == (9, 32, 32, 3) and pixels.dtype == np.float32
    np.testing.assert_array_equal(labels, ref_y)
    np.testing.assert_array_equal(pixels, ref_x)


def test_a_test_set_may_lack_classes(make_class_tree):
    root = make_class_tree(per_class=2, classes=("ii", "vi"))
    x, y, _ = load_class_folder(root)
    assert len(x) == 4 and set(y.tolist()) == {1, 5}
    logits = np.eye(10)[[1, 1, 5, 1]]
    scores = score_predictions(logits, y)
    assert scores["accuracy"] == 0.75 and scores["per_class"] == {"ii": 1.0, "vi": 0.5}
    assert score_predictions(np.zeros((0, 10)), np.zeros(0, int)) == {"n": 0}


def test_misclassified_images_are_listed_most_confident_first():
    logits = np.log(np.array([[0.9] + [0.1 / 9] * 9, [0.2, 0.7] + [0.1 / 8] * 8, [0.1, 0.05, 0.85] + [0.0] * 7]) + 1e-9)
    rows = misclassified(logits, np.array([0, 0, 1]), ["a.png", "b.png", "c.png"])
    assert [(r["path"], r["true"], r["predicted"]) for r in rows] == [("c.png", "ii", "iii"), ("b.png", "i", "ii")]
    assert rows[0]["caption"] == "ii>iii 0.85"


def test_scores_over_seeds_report_mean_and_spread_per_test_set():
    def run(acc, val):
        return {"train": {"images": 80, "epochs": 1, "seconds": 2.0}, "val": {"n": 8, "accuracy": val, "loss": 1.0,
                "per_class": {"i": val}}, "test": {"lb": {"n": 4, "accuracy": acc, "loss": 2.0, "per_class": {"i": acc}},
                                                   "empty": {"n": 0}}}
    summary = summarize_seeds({1: run(0.5, 0.25), 2: run(1.0, 0.75), 3: run(0.75, 0.5)})
    lb = summary["test"]["lb"]
    assert lb["accuracy"] == 0.75 and lb["accuracy_spread"] == {"mean": 0.75, "std": 0.25, "min": 0.5, "max": 1.0}
    assert lb["per_class"] == {"i": 0.75} and summary["val"]["accuracy"] == 0.5
    assert summary["test"]["empty"] == {"n": 0} and summary["seeds"] == [1, 2, 3]
    assert summary["train"]["seconds"] == 6.0 and summary["per_seed"]["2"]["test"]["lb"]["accuracy"] == 1.0
    assert summarize_seeds({7: run(0.5, 0.5)})["test"]["lb"]["accuracy_spread"]["std"] == 0.0
