"""What a difference between two recipes' mean scores can tell, given how much one seed moves.

A 100-epoch run of the fixed model moves by about a point from seed to seed, and the
order of float sums alone moves it as much (README, score_kernels), so a recipe's mean
over 3 seeds carries about half a point of noise and a difference of two such means
about 0.8. These are the plain statistics to say so: Welch's t-test for two recipes'
seeds, the seed spread pooled over many recipes, and how many seeds per recipe a gap
of a given size needs before it stands out from that spread.
"""
import math

from scipy import stats

RESOLVING_STANDARD_ERRORS = 2.0  # a gap counts as seen when it is this many standard errors wide


def mean_and_sd(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1); the sd is nan for a single value."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, float("nan")
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def welch(a: list[float], b: list[float]) -> dict:
    """Mean of b minus mean of a, its standard error, and Welch's two-sided t-test."""
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"each side needs at least 2 seeds, got {len(a)} and {len(b)}")
    (mean_a, sd_a), (mean_b, sd_b) = mean_and_sd(a), mean_and_sd(b)
    var_a, var_b = sd_a ** 2 / len(a), sd_b ** 2 / len(b)
    se = math.sqrt(var_a + var_b)
    diff = mean_b - mean_a
    if se == 0:
        return {"diff": diff, "se": 0.0, "t": math.copysign(math.inf, diff) if diff else 0.0,
                "dof": len(a) + len(b) - 2, "p": 0.0 if diff else 1.0}
    dof = (var_a + var_b) ** 2 / (var_a ** 2 / (len(a) - 1) + var_b ** 2 / (len(b) - 1))
    t = diff / se
    return {"diff": diff, "se": se, "t": t, "dof": dof, "p": float(2 * stats.t.sf(abs(t), dof))}


def pooled_sd(groups: list[list[float]]) -> tuple[float, int]:
    """The seed spread shared by many recipes: sqrt(sum of (n-1) var / sum of (n-1)), and
    its degrees of freedom. Groups with one seed say nothing about the spread."""
    squares, dof = 0.0, 0
    for values in groups:
        if len(values) < 2:
            continue
        _, sd = mean_and_sd(values)
        squares += (len(values) - 1) * sd ** 2
        dof += len(values) - 1
    if dof == 0:
        raise ValueError("no recipe has two seeds: the seed spread is unknown")
    return math.sqrt(squares / dof), dof


def seeds_per_recipe(sd: float, gap: float, z: float = RESOLVING_STANDARD_ERRORS) -> int:
    """Seeds each of two recipes needs so that a true gap of `gap` is z standard errors of
    their difference: n = 2 (z sd / gap)^2."""
    if gap == 0:
        raise ValueError("a gap of 0 is never resolved")
    return max(2, math.ceil(2 * (z * sd / abs(gap)) ** 2))
