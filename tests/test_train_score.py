"""The scores and the kept weights are those of the best-val epoch, not of the last one."""
import numpy as np
import tensorflow as tf

from conftest import numeral_image
from dcai.classes import CLASSES
from dcai.fixed_model import build_fixed_model
from dcai.images import load_class_folder
from dcai.train_score import train_and_score

SPEED = {"jit_compile": False, "steps_per_execution": 1, "prefetch": 1, "data_threads": 1}


class RuinTheLastValidation(tf.keras.callbacks.Callback):
    """Zero every weight just before the last epoch's validation: every logit is 0, so every
    image is predicted as class i, which val does not hold: that epoch scores 0."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs, self.epoch = epochs, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_test_begin(self, logs=None):
        if self.epoch == self.epochs - 1:
            self.model.set_weights([np.zeros_like(w) for w in self.model.get_weights()])


def submission(root):
    for split, per_class, classes in (("train", 3, CLASSES), ("val", 2, CLASSES[1:])):
        for c, name in enumerate(classes):
            (root / split / name).mkdir(parents=True)
            for k in range(per_class):
                numeral_image(48, 40, strokes=c % 4 + 1, ink=20 * k).save(root / split / name / f"{k}.png")
    return root


def test_scores_and_weights_come_from_the_best_val_epoch(tmp_path):
    sub = submission(tmp_path / "sub")
    weights = tmp_path / "best.weights.h5"
    scores, _, _ = train_and_score(sub, {"val_again": sub / "val"}, 2, 7, weights, SPEED,
                                   callbacks=[RuinTheLastValidation(2)])
    curve = scores["train"]["val_accuracy_per_epoch"]
    assert curve[1] == 0.0 and curve[0] > 0.0  # the last epoch was ruined, the first was not
    assert scores["train"]["best_epoch"] == 1
    assert scores["val"]["accuracy"] == curve[0]
    assert scores["test"]["val_again"]["accuracy"] == curve[0]  # test sets are scored with the best weights too
    model = build_fixed_model()
    model.load_weights(str(weights))  # the file kept is the best epoch's
    x, y, _ = load_class_folder(sub / "val")
    assert round(float((model.predict(x, verbose=0).argmax(axis=1) == y).mean()), 4) == curve[0]
