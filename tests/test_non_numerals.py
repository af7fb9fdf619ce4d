"""Made-up non-numerals: the vote members' extra class for images that are none of the classes."""
import numpy as np
import pytest

from dcai.non_numerals import check_non_numerals, make_non_numerals
from dcai.vote import out_of_fold_probs, stratified_folds
from dcai.vote_rules import VoteRules, flag


def bars(n_bars: int, size: int = 32, offset: int = 0) -> np.ndarray:
    """Vertical strokes, ink 1 on paper 0, as the members read numerals."""
    image = np.zeros((size, size, 1), np.float32)
    for b in range(n_bars):
        col = 6 + offset + 7 * b
        image[6:26, col:col + 2] = 1.0
    return image


def test_non_numerals_are_seeded_made_of_the_originals_ink_and_never_turn_a_turn_invariant_class():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (20, 32, 32, 1)).astype(np.float32)
    y = np.repeat(np.arange(2), 10)
    x[y == 1] = 0.5  # class 1 stays itself when turned: no rotated non-numeral may come from it
    made = make_non_numerals(x, y, 40, ["rotated"], [1], seed=3)
    assert made.shape == (40, 32, 32, 1) and not (made == 0.5).any()
    def pixels(images):  # each image's pixel values, wherever they sit
        return {np.sort(i, axis=None).tobytes() for i in images}

    assert pixels(made) <= pixels(x)  # a turn keeps every pixel
    tiles = make_non_numerals(x[:10], y[:10], 30, ["jigsaw"], [], seed=3)
    assert pixels(tiles) <= pixels(x)  # tiles turned and shuffled, none lost
    assert not any((t == x[:10]).all(axis=(1, 2, 3)).any() for t in tiles)  # and never the original as it was
    np.testing.assert_array_equal(make_non_numerals(x, y, 40, ["jigsaw", "rotated", "overlay"], [1], seed=3),
                                  make_non_numerals(x, y, 40, ["jigsaw", "rotated", "overlay"], [1], seed=3))
    assert (make_non_numerals(x, y, 40, ["overlay"], [1], seed=3)
            != make_non_numerals(x, y, 40, ["overlay"], [1], seed=4)).any()


def test_non_numeral_params_are_checked_with_their_names():
    check_non_numerals({"per_fold": 0, "kinds": []})
    with pytest.raises(ValueError, match="non_numerals.per_fold"):
        check_non_numerals({"per_fold": -1, "kinds": ["jigsaw"]})
    with pytest.raises(ValueError, match="non_numerals.kinds"):
        check_non_numerals({"per_fold": 10, "kinds": ["scribble"]})


def test_members_that_learn_non_numerals_move_a_non_numerals_label_probability_there():
    # Numerals i, ii, iii as 1-3 upright strokes, shifted about; among the i's, four planted
    # images of strokes lying down (no numeral). Members that learn made-up non-numerals
    # (strokes turned on their side among them) give those four's label less probability.
    xs, ys = [], []
    for c in range(3):
        for k in range(16):
            xs.append(np.roll(bars(c + 1), k % 4 - 2, axis=1))
            ys.append(c)
    planted = [np.rot90(bars(3, offset=k % 3 - 1)) for k in range(4)]
    x = np.stack(xs + planted).astype(np.float32)
    y = np.array(ys + [0] * 4, np.int64)
    folds = stratified_folds(y, 4, seed=0)
    common = dict(epochs=12, batch_size=8, learning_rate=3e-3, seed=5, shift=1)
    plain = out_of_fold_probs(x, y, ["lenet5"], folds, **common)["probs"]
    taught = out_of_fold_probs(x, y, ["lenet5"], folds, non_numerals=(60, ("rotated",), ()), **common)["probs"]
    assert plain.shape == (1, len(x), 10) and taught.shape == (1, len(x), 11)
    np.testing.assert_allclose(taught.sum(axis=2), 1.0, rtol=1e-5)
    odd = np.arange(len(xs), len(x))
    assert taught[0, odd, 10].mean() > 0.5  # most of the planted four's probability is "none of them"
    assert taught[0, odd, 0].mean() < plain[0, odd, 0].mean() - 0.2
    rules = VoteRules("vote", 0.2, 9.0, "remove", 0.7)
    flags = flag(taught[..., :10], y, rules, taught[..., 10])
    flagged = [i for i in odd if flags[i]]
    assert len(flagged) >= 3 and len(flagged) > sum(1 for i in odd if flag(plain, y, rules)[i])
    assert all("most likely no numeral" in flags[i][1] for i in flagged)  # the report says why
