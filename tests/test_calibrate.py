"""Tests for labeler.calibrate: softmax, NLL, temperature fitting, top-2 summary scores."""

from __future__ import annotations

import math

import numpy as np
import pytest

from labeler.calibrate import (
    TEMPERATURE_BOUNDS,
    conformal_threshold,
    ece_noise_floor,
    expected_calibration_error,
    fit_temperature,
    nll,
    precision_coverage,
    prediction_sets,
    softmax,
    threshold_for_precision,
    top2_scores,
)


def test_softmax_known_values() -> None:
    p = softmax(np.array([[0.0, math.log(2.0)], [1.0, 1.0], [0.0, math.log(3.0)]]))
    assert p.dtype == np.float32
    np.testing.assert_allclose(p, [[1 / 3, 2 / 3], [0.5, 0.5], [0.25, 0.75]], rtol=1e-6)


def test_softmax_is_shift_invariant_and_does_not_overflow() -> None:
    logits = np.random.default_rng(0).normal(size=(6, 4)) * 5
    np.testing.assert_allclose(softmax(logits + 1000.0), softmax(logits), atol=1e-6)
    p = softmax(np.array([[1000.0, 0.0, -1000.0]]))
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p, [[1.0, 0.0, 0.0]], atol=1e-7)
    np.testing.assert_allclose(softmax(logits).sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(softmax(np.array([[3.0]])), [[1.0]])


def test_nll_known_values() -> None:
    logits = np.array([[0.0, math.log(3.0)], [math.log(3.0), 0.0]])
    y = np.array([1, 1])
    # Probabilities of the true class: 3/4 and 1/4.
    assert nll(logits, y, 1.0) == pytest.approx(-(math.log(0.75) + math.log(0.25)) / 2)
    # At T = 2 the logits halve: p = sqrt(3) / (1 + sqrt(3)) and its complement.
    p = math.sqrt(3.0) / (1.0 + math.sqrt(3.0))
    assert nll(logits, y, 2.0) == pytest.approx(-(math.log(p) + math.log(1 - p)) / 2)
    # Extreme logits stay finite.
    assert math.isfinite(nll(np.array([[1000.0, -1000.0]]), np.array([1]), 1.0))
    assert nll(np.array([[1000.0, -1000.0]]), np.array([1]), 1.0) == pytest.approx(2000.0)


@pytest.mark.parametrize("true_t", [0.3, 1.0, 2.5, 8.0])
def test_fit_temperature_recovers_a_planted_temperature(true_t: float) -> None:
    """Labels drawn from softmax(s), logits given as s * T: the best temperature is T."""
    rng = np.random.default_rng(int(true_t * 10))
    n, c = 6000, 4
    scores = rng.normal(size=(n, c)) * 2.0
    p = softmax(scores).astype(np.float64)
    y = (rng.random((n, 1)) > np.cumsum(p, axis=1)).sum(axis=1)  # one categorical draw per row
    y = np.minimum(y, c - 1)
    fitted = fit_temperature((scores * true_t).astype(np.float32), y)
    assert fitted == pytest.approx(true_t, rel=0.08)
    # It is a minimum of the NLL.
    logits = scores * true_t
    assert nll(logits, y, fitted) <= nll(logits, y, fitted * 1.2)
    assert nll(logits, y, fitted) <= nll(logits, y, fitted / 1.2)


@pytest.mark.parametrize("scale", [1.0, 10.0])
def test_every_held_out_row_right_gives_the_rule_of_succession_not_certainty(scale) -> None:
    # Perfectly separated logits: the NLL keeps falling as T → 0; the mean confidence is set to
    # (N + 1) / (N + 2) instead of running to 1.
    logits = np.array([[0.5, -0.5], [-0.5, 0.5], [2.0, -1.0]] * 2) * scale
    y = np.array([0, 1, 0] * 2)
    t = fit_temperature(logits, y)
    assert TEMPERATURE_BOUNDS[0] < t < TEMPERATURE_BOUNDS[1]
    assert softmax(logits / t).max(axis=1).mean() == pytest.approx(7 / 8, abs=1e-6)
    # Two rows wrong: the plain NLL minimum, checked against a fine grid.
    wrong = np.array([0, 1, 0, 0, 1, 1])
    grid = np.exp(np.linspace(*np.log(TEMPERATURE_BOUNDS), 4001))
    best = grid[np.argmin([nll(logits, wrong, g) for g in grid])]
    assert fit_temperature(logits, wrong) == pytest.approx(best, rel=0.01)


def test_fit_temperature_stays_within_its_bounds() -> None:
    # Logits that point the wrong way on all rows: the flattest softmax (upper bound) is best.
    logits = np.array([[0.5, -0.5], [-0.5, 0.5]] * 10)
    y = np.array([0, 1] * 10)
    assert fit_temperature(logits, 1 - y) == pytest.approx(TEMPERATURE_BOUNDS[1], rel=0.01)
    # All right but too weak to reach (N + 1) / (N + 2) even at the lower bound: the bound.
    assert fit_temperature(logits * 1e-3, y) == pytest.approx(TEMPERATURE_BOUNDS[0], rel=0.01)


def test_top2_scores_on_a_hand_made_matrix() -> None:
    proba = np.array(
        [
            [0.7, 0.2, 0.1],
            [0.1, 0.45, 0.45],  # a tie: margin 0
            [0.0, 0.0, 1.0],  # certain: entropy 0
            [1 / 3, 1 / 3, 1 / 3],  # uniform: entropy ln 3
        ],
        dtype=np.float32,
    )
    pred, confidence, margin, entropy = top2_scores(proba)
    assert pred[0] == 0 and pred[2] == 2 and pred[1] in (1, 2)
    np.testing.assert_allclose(confidence, [0.7, 0.45, 1.0, 1 / 3], rtol=1e-6)
    np.testing.assert_allclose(margin, [0.5, 0.0, 1.0, 0.0], atol=1e-6)
    expected_entropy = [
        -(0.7 * math.log(0.7) + 0.2 * math.log(0.2) + 0.1 * math.log(0.1)),
        -(0.1 * math.log(0.1) + 2 * 0.45 * math.log(0.45)),
        0.0,
        math.log(3.0),
    ]
    np.testing.assert_allclose(entropy, expected_entropy, atol=1e-6)
    assert entropy.dtype == np.float32


def test_top2_scores_with_one_class() -> None:
    pred, confidence, margin, entropy = top2_scores(np.ones((3, 1), dtype=np.float32))
    np.testing.assert_array_equal(pred, [0, 0, 0])
    np.testing.assert_allclose(confidence, 1.0)
    np.testing.assert_allclose(margin, 1.0)
    np.testing.assert_allclose(entropy, 0.0, atol=1e-7)


def test_top2_scores_with_no_rows() -> None:
    pred, confidence, margin, entropy = top2_scores(np.empty((0, 3), dtype=np.float32))
    assert pred.shape == confidence.shape == margin.shape == entropy.shape == (0,)


# ----- ECE, precision thresholds, conformal sets -------------------------------------------------


def test_ece_known_values() -> None:
    # Two bins: confidences 0.95 (4 rows, 3 correct) and 0.55 (2 rows, 2 correct).
    conf = np.array([0.95] * 4 + [0.55] * 2)
    correct = np.array([1, 1, 1, 0, 1, 1], dtype=bool)
    expected = (4 / 6) * abs(0.75 - 0.95) + (2 / 6) * abs(1.0 - 0.55)
    assert expected_calibration_error(conf, correct) == pytest.approx(expected)
    assert expected_calibration_error(np.array([1.0]), np.array([True])) == 0.0
    assert expected_calibration_error(np.array([]), np.array([], dtype=bool)) == 0.0


def test_ece_is_small_for_sampled_labels() -> None:
    """Correctness drawn with probability = confidence: ECE → 0 as rows grow."""
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.3, 1.0, 50_000)
    assert expected_calibration_error(conf, rng.random(50_000) < conf) < 0.01
    assert expected_calibration_error(conf, rng.random(50_000) < conf**2) > 0.1


@pytest.mark.parametrize("n", [300, 3000])
def test_ece_noise_floor_is_the_mean_ece_of_calibrated_draws(n: int) -> None:
    rng = np.random.default_rng(3)
    conf = rng.uniform(0.3, 1.0, n)
    sampled = [expected_calibration_error(conf, rng.random(n) < conf) for _ in range(400)]
    assert ece_noise_floor(conf) == pytest.approx(np.mean(sampled), rel=0.1)
    assert ece_noise_floor(np.ones(n)) == 0.0 and ece_noise_floor(np.array([])) == 0.0


def test_precision_coverage() -> None:
    conf = np.array([0.95, 0.92, 0.5, 0.99])
    correct = np.array([True, False, True, True])
    assert precision_coverage(conf, correct, 0.9) == (pytest.approx(2 / 3), 0.75)
    precision, coverage = precision_coverage(conf, correct, 0.999)
    assert np.isnan(precision) and coverage == 0.0


@pytest.mark.parametrize("ties", [False, True])
def test_threshold_for_precision_against_brute_force(ties: bool) -> None:
    rng = np.random.default_rng(1)
    conf = rng.uniform(0.4, 1.0, 300)
    if ties:  # runs of equal confidences, as saturated or unreached images give
        conf = np.round(conf, 1)
    for target in (0.8, 0.9, 0.95):
        threshold, coverage = threshold_for_precision(conf, target=target)
        feasible = [t for t in conf if conf[conf >= t].mean() >= target]
        assert threshold == pytest.approx(min(feasible))
        assert coverage == pytest.approx((conf >= threshold).mean())


def test_rows_at_chance_are_never_accepted() -> None:
    conf = np.array([1.0] * 90 + [0.25] * 10)  # 4 classes: ten images no label reaches
    assert threshold_for_precision(conf, target=0.9) == (0.25, 1.0)  # the guesses go in
    assert threshold_for_precision(conf, target=0.9, chance=0.25) == (1.0, 0.9)
    assert threshold_for_precision(np.full(5, 0.25), target=0.2, chance=0.25) == (np.inf, 0.0)


def test_threshold_for_precision_refusals() -> None:
    conf = np.array([0.5, 0.7])
    assert threshold_for_precision(np.array([0.5, 0.6]), target=0.9) == (float("inf"), 0.0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        threshold_for_precision(conf, target=1.0)


def test_conformal_sets_cover_at_the_promised_rate() -> None:
    """Labels sampled from the probabilities (calibrated): coverage ≥ 1 − α, sets non-empty."""
    rng = np.random.default_rng(2)

    def sample(n):
        proba = softmax(rng.normal(size=(n, 5)) * 2.0).astype(np.float64)
        y = (rng.random((n, 1)) > np.cumsum(proba, axis=1)).sum(axis=1).clip(0, 4)
        return proba, y

    cal_p, cal_y = sample(2000)
    test_p, test_y = sample(20000)
    for alpha in (0.05, 0.2):
        qhat = conformal_threshold(cal_p[np.arange(2000), cal_y], alpha=alpha)
        sets = prediction_sets(test_p, qhat)
        coverage = sets[np.arange(len(test_y)), test_y].mean()
        assert 1 - alpha - 0.015 <= coverage <= 1 - alpha + 0.03, (alpha, coverage)
        assert sets.sum(axis=1).min() >= 1
    assert conformal_threshold(np.array([0.9, 0.8]), alpha=0.1) == 1.0  # too few to promise
