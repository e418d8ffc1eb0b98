"""Tests for the accuracy estimate from labels alone (labeler.active.stopping): its interval on
planted residuals, lone labels as stand-ins for unlabeled classes, and its coverage over seeded
labeling sessions whose true accuracy is known."""

from __future__ import annotations

import numpy as np
import pytest

from labeler.active import make_pool
from labeler.active.stopping import estimate_auto_label_accuracy, prediction_powered_interval
from labeler.bench.active import RANDOM, simulate, summarise
from labeler.bench.data import synthetic_pool

# ----- the interval on planted residuals ---------------------------------------------------------


@pytest.mark.parametrize("k", [4, 10, 40])
def test_checks_that_all_agree_give_the_rule_of_succession_not_a_point(k: int) -> None:
    confidence = np.ones(200)  # every auto-label certain, every check right and certain
    low, mid, high = prediction_powered_interval(confidence, np.zeros(k))
    assert mid == pytest.approx((k + 1) / (k + 2))
    assert 0.0 <= low < mid < high <= 1.0  # the old interval was the point 1.00 (1.00-1.00)


def _coverage(k: int, draw, seeds: int) -> tuple[float, float]:
    """Share of seeds whose interval holds the pool's true accuracy, and the mean width.

    draw(rng, n) → (confidence (n,), correct (n,) bool) of n images; the first k are checked.
    """
    held, width = [], []
    for seed in range(seeds):
        confidence, correct = draw(np.random.default_rng(seed), 500 + k)
        low, _, high = prediction_powered_interval(confidence[k:], correct[:k] - confidence[:k])
        held.append(low <= correct[k:].mean() <= high)
        width.append(high - low)
    return float(np.mean(held)), float(np.mean(width))


@pytest.mark.parametrize(("k", "p"), [(10, 0.9), (30, 0.95)])
def test_interval_holds_a_planted_accuracy_near_one(k: int, p: float) -> None:
    # Confidence tells nothing (0.8 everywhere): right with probability p. The normal interval
    # on the residuals' own variance held the truth 69% (k=10) and 79% (k=30) of the time here
    # (every check right gave a zero-width interval); this one 99% and 98%.
    def draw(rng, n):
        return np.full(n, 0.8), rng.random(n) < p

    coverage, width = _coverage(k, draw, seeds=400)
    assert coverage >= 0.93
    assert width < 0.45


@pytest.mark.parametrize("shift", [0.0, 0.15])
def test_interval_holds_the_accuracy_of_calibrated_and_overconfident_heads(shift: float) -> None:
    # Right with probability confidence - shift; the residuals correct the drift. Held the truth
    # 96% and 95% of the time (the normal interval: 91% and 92%).
    def draw(rng, n):
        confidence = rng.uniform(0.5, 1.0, n)
        return confidence, rng.random(n) < confidence - shift

    coverage, width = _coverage(20, draw, seeds=400)
    assert 0.92 <= coverage <= 0.99
    assert width < 0.45


# ----- lone labels stand for the images of classes with no label ---------------------------------


def test_a_lone_label_is_checked_as_wrong() -> None:
    raw, y = synthetic_pool(n_classes=3, per_class=20, dim=8, spread=0.2, seed=0)  # separable
    rows = np.array([0, 1, 2, 20, 21, 22, 40])
    names = ["a", "a", "a", "b", "b", "b", "c"]
    conf = np.full(len(y) - len(rows), 0.95)
    with_lone = estimate_auto_label_accuracy(raw, rows, names, conf, head="protonet")
    without = estimate_auto_label_accuracy(raw, rows[:-1], names[:-1], conf, head="protonet")
    assert (with_lone.checked, with_lone.alone, with_lone.n_labels) == (6, 1, 7)
    assert (without.checked, without.alone) == (6, 0)
    # Its heads never saw class c, so it is wrong, with the confidence of a or b: its residual
    # (correct - confidence) is negative, where a right check's is at least 0. The estimates are
    # mean confidence + the mean of 6 + 2 (without) or 7 + 2 residuals (with it).
    lone = 9 * (with_lone.accuracy - 0.95) - 8 * (without.accuracy - 0.95)
    assert -1.0 < lone < -0.3


def _session(seed: int, *, n_labels: int) -> tuple[bool, float, float]:
    """Random labels on a seeded pool of 6 overlapping classes, some with no label: (the 95%
    interval held the true accuracy of the auto-labels, error of the estimate, width)."""
    raw, y = synthetic_pool(n_classes=6, per_class=30, dim=8, spread=1.0, seed=seed)
    names = np.char.mod("c%d", y).astype(object)
    rows = np.random.default_rng(seed).choice(len(y), n_labels, replace=False)
    pool = make_pool(raw, rows, names[rows])
    rest = ~pool.labeled
    predicted = np.asarray(pool.classes, dtype=object)[pool.proba[rest].argmax(axis=1)]
    truth = np.mean(predicted == names[rest])
    est = estimate_auto_label_accuracy(
        raw, rows, names[rows], pool.proba[rest].max(axis=1), head="protonet"
    )
    if est is None:
        return True, np.nan, np.nan
    return bool(est.low <= truth <= est.high), est.accuracy - truth, est.high - est.low


def test_coverage_over_sessions_with_unlabeled_classes_is_near_nominal() -> None:
    # 12 random labels of 6 classes: about one class in six has no label, and its images are
    # auto-labeled wrong. Checking only classes with two labels, with a normal interval, held the
    # truth in 48% of these sessions (8 points optimistic, mean width 0.07); this one in 88%
    # (4.5 points pessimistic, mean width 0.36).
    got = np.array([_session(seed, n_labels=12) for seed in range(60)], dtype=float)
    estimated = np.isfinite(got[:, 1])
    assert estimated.sum() >= 50
    held, err, width = got[estimated].T
    assert held.mean() >= 0.85
    assert abs(err.mean()) < 0.08
    assert width.mean() < 0.45


# ----- the benchmark reports the interval's width ------------------------------------------------


def test_simulation_reports_the_width_of_the_interval() -> None:
    raw, y = synthetic_pool(n_classes=4, per_class=30, dim=8, seed=2)
    runs = {RANDOM: [simulate(raw, y, RANDOM, rounds=3, batch=8, seed=s) for s in range(2)]}
    for c in runs[RANDOM]:
        assert np.array_equal(np.isnan(c.width), np.isnan(c.estimate))
        assert (c.width[np.isfinite(c.width)] > 0).all()
    assert any("mean width" in line for line in summarise(runs))
