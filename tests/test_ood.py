"""Tests for labeler.ood: planted outliers are flagged; the false-flag rate is the promised one."""

from __future__ import annotations

import numpy as np
import pytest

from labeler.errors import LabelerError
from labeler.ood import OodDetector


def _world(seed: int, labeled_per_class: int):
    """4 known Gaussian classes in 16-D, and one unknown class far from all of them."""
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(5, 16)) * 4.0

    def draw(c, n):
        return (means[c] + rng.normal(size=(n, 16))).astype(np.float32)

    X = np.concatenate([draw(c, labeled_per_class) for c in range(4)])
    y = np.repeat(["a", "b", "c", "d"], labeled_per_class)
    known = np.concatenate([draw(c, 500) for c in range(4)])
    unknown = draw(4, 300)
    return X, y, known, unknown


def test_planted_unknown_class_is_flagged_and_known_ones_rarely() -> None:
    X, y, known, unknown = _world(0, 25)
    pool = np.concatenate([X, known, unknown])
    detector = OodDetector(alpha=0.02).fit(X, y, X_pool=pool)
    assert np.isfinite(detector.threshold_)
    assert detector.flags(unknown).mean() > 0.95
    assert detector.flags(known).mean() < 0.08
    assert detector.scores(unknown).max() < detector.scores(known).mean()


def test_false_flags_stay_near_alpha_on_exchangeable_data() -> None:
    rates = []
    for seed in range(8):
        X, y, known, _ = _world(seed, 25)
        detector = OodDetector(alpha=0.1).fit(X, y, X_pool=known)
        rates.append(detector.flags(known).mean())
    assert np.mean(rates) < 0.14, rates


def test_too_few_labels_flag_nothing() -> None:
    X, y, known, unknown = _world(1, 5)  # 20 labels: below 1/0.02 − 1
    detector = OodDetector(alpha=0.02).fit(X, y, X_pool=known)
    assert detector.threshold_ == float("-inf")
    assert not detector.flags(unknown).any()
    with pytest.raises(LabelerError, match="between 0 and 1"):
        OodDetector(alpha=0.0)


def test_held_out_scores_match_a_loop_oracle() -> None:
    X, y, known, _ = _world(2, 3)
    detector = OodDetector().fit(X, y, X_pool=known)
    Z = detector.features_.transform(X)
    _, yi = np.unique(y, return_inverse=True)
    sums = np.zeros((4, Z.shape[1]))
    np.add.at(sums, yi, Z)
    got = detector._held_out_scores(Z, yi, sums.astype(np.float32))
    for i in range(len(Z)):
        others = [Z[i] @ Z[j] for j in range(len(Z)) if j != i]
        protos = []
        for c in range(4):
            members = [Z[j] for j in range(len(Z)) if yi[j] == c and j != i]
            if members:
                p = np.sum(members, axis=0)
                protos.append(Z[i] @ (p / np.linalg.norm(p)))
        assert got[i] == pytest.approx(max(others + protos), abs=1e-5)
