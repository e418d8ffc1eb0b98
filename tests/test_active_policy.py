"""Tests for the default policy `auto`, pools built from labels, the accuracy estimate from labels
alone, and the simulation benchmark (on synthetic pools: no download)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from test_active import CLASSES, _planted_clusters

from labeler.active import Pool, create_strategy, make_pool
from labeler.active.policy import uncertainty_weight
from labeler.active.stopping import estimate_auto_label_accuracy
from labeler.autolabel import fit_on_pool
from labeler.bench.active import RANDOM, draw_pool, plot, simulate, summarise
from labeler.bench.data import synthetic_pool
from labeler.config import AUTO_UNCERTAINTY_LABELS_PER_CLASS
from labeler.errors import LabelerError
from labeler.heads import create_head

# ----- the default policy ------------------------------------------------------------------------


def _phase_pool(labels_per_class: int) -> tuple[Pool, np.ndarray]:
    """3 classes × labels_per_class labels, one in each planted group but the two biggest (0
    and 1), so that labels + a batch of 2 = the number of groups; random predictions."""
    n_groups = 3 * labels_per_class + 2
    vectors, cluster = _planted_clusters(
        [30 - g // 2 for g in range(n_groups)], dim=48, spread=0.02, seed=11
    )
    labeled = np.zeros(len(vectors), bool)
    for g in range(2, n_groups):
        labeled[np.flatnonzero(cluster == g)[0]] = True
    labels = np.where(labeled, np.arange(len(vectors)) % 3, -1)
    proba = np.random.default_rng(1).dirichlet([1, 1, 1], size=len(vectors)).astype(np.float32)
    return Pool(vectors, labeled, proba, CLASSES, labels=labels), cluster


def test_uncertainty_weight_grows_with_labels_per_class() -> None:
    pool, _ = _phase_pool(2)
    assert uncertainty_weight(replace(pool, proba=None)) == 0.0
    assert uncertainty_weight(pool) == pytest.approx(2 / AUTO_UNCERTAINTY_LABELS_PER_CLASS)
    full, _ = _phase_pool(AUTO_UNCERTAINTY_LABELS_PER_CLASS + 2)
    assert uncertainty_weight(full) == 1.0


def test_auto_asks_typical_then_uncertain_images_of_unlabeled_groups(monkeypatch) -> None:
    monkeypatch.setattr("labeler.active.policy.AUTO_UNCERTAINTY_LABELS_PER_CLASS", 4)
    early, cluster = _phase_pool(1)  # weight 1/4
    got = create_strategy("auto").suggest(early, 2)
    assert [cluster[s.index] for s in got] == [0, 1]  # the uncovered groups, biggest first
    for s in got:  # the group, then the model's view: its two most probable classes
        assert s.why.startswith("typical of a group of") and s.why.endswith("no label when picked")
        (a, p), (b, q) = s.top
        assert s.reason == f"{s.why}; model: {a} {p:.2f} vs {b} {q:.2f}"
        assert p == early.proba[s.index].max() and CLASSES.index(a) == early.proba[s.index].argmax()

    late, cluster = _phase_pool(4)  # weight 1
    got = create_strategy("auto").suggest(late, 2)
    assert sorted(cluster[s.index] for s in got) == [0, 1]
    margin = 1 - np.diff(np.sort(late.proba, axis=1)[:, -2:], axis=1)[:, 0]
    for s in got:
        members = np.flatnonzero(cluster == cluster[s.index])
        assert s.index == members[np.argmax(margin[members])]  # pure uncertainty inside
        assert s.reason.startswith("least confident: ") and "; typical of a group of " in s.reason


def test_auto_fills_with_far_images_when_groups_run_out(monkeypatch) -> None:
    monkeypatch.setattr("labeler.active.clusters.MAX_CLUSTERS", 2)
    vectors, cluster = _planted_clusters([4, 4], seed=2, spread=0.3)
    got = create_strategy("auto").suggest(Pool(vectors, np.zeros(8, bool)), 6)
    assert len(got) == 6
    assert sorted(cluster[s.index] for s in got[:2]) == [0, 1]
    assert all(s.reason.startswith(("typical of", "an image unlike")) for s in got[:2])
    assert all(s.reason.startswith("the image least like those labeled or picked") for s in got[2:])
    assert [s.score for s in got] == sorted((s.score for s in got), reverse=True)


# ----- pools from labels -------------------------------------------------------------------------


def test_make_pool_fits_the_head_and_indexes_the_labels() -> None:
    raw, _ = synthetic_pool(n_classes=3, per_class=20, dim=8, seed=0)
    rows = np.array([0, 1, 20, 21, 40])
    names = ["a", "a", "b", "b", "c"]
    pool = make_pool(raw, rows, names, committee=True)
    assert pool.classes == ("a", "b", "c")
    assert pool.labels[rows].tolist() == [0, 0, 1, 1, 2]
    assert (pool.labels[np.setdiff1d(np.arange(60), rows)] == -1).all()
    assert pool.proba.shape == (60, 3)
    np.testing.assert_allclose(pool.proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(pool.vectors, axis=1), 1.0, rtol=1e-5)
    assert pool.committee.shape[0] >= 2 and pool.committee.shape[1:] == (60, 3)
    pool.validate()

    single = make_pool(raw, rows[:2], names[:2])
    assert single.proba is None and single.committee is None and single.classes == ("a",)
    with pytest.raises(LabelerError, match="one label per distinct labeled row"):
        make_pool(raw, np.array([0, 0]), ["a", "b"])


def test_make_pool_fits_only_the_trained_labels_and_widens_to_every_class() -> None:
    raw, _ = synthetic_pool(n_classes=3, per_class=20, dim=8, seed=0)
    rows = np.array([0, 1, 20, 21, 40])
    names = ["a", "a", "b", "b", "c"]  # "c" only accepted in bulk: labeled, not trained on
    seen = []

    def fit(fit_rows, fit_names):
        seen.append((fit_rows.tolist(), list(fit_names)))
        return fit_on_pool(create_head("protonet"), raw, fit_rows, fit_names)

    trained = np.array([True, True, True, True, False])
    pool = make_pool(raw, rows, names, fit=fit, trained=trained, committee=True)
    assert seen == [([0, 1, 20, 21], ["a", "a", "b", "b"])]
    assert pool.classes == ("a", "b", "c") and pool.labeled[40] and pool.labels[40] == 2
    assert (pool.proba[:, 2] == 0).all() and (pool.committee[..., 2] == 0).all()
    np.testing.assert_allclose(pool.proba.sum(axis=1), 1.0, rtol=1e-5)
    pool.validate()
    with pytest.raises(LabelerError, match="one bool per labeled row"):
        make_pool(raw, rows, names, trained=trained[:2])


# ----- accuracy estimate from the labels alone ---------------------------------------------------


@pytest.mark.parametrize("spread", [0.3, 3.0])
def test_estimate_tracks_the_true_accuracy_of_random_labels(spread: float) -> None:
    raw, y = synthetic_pool(n_classes=4, per_class=150, dim=16, spread=spread, seed=3)
    names = np.char.mod("c%d", y).astype(object)
    rows = np.random.default_rng(0).choice(len(y), 40, replace=False)
    pool = make_pool(raw, rows, names[rows])
    rest = ~pool.labeled
    truth = np.mean(np.asarray(pool.classes)[pool.proba[rest].argmax(axis=1)] == names[rest])
    est = estimate_auto_label_accuracy(
        raw, rows, names[rows], pool.proba[rest].max(axis=1), head="protonet"
    )
    assert est.n_labels == 40 and est.checked == 40
    assert 0.0 <= est.low <= est.accuracy <= est.high <= 1.0
    assert est.low - 0.05 <= truth <= est.high + 0.05
    assert abs(est.accuracy - truth) < 0.15


def test_no_estimate_until_two_classes_have_two_labels() -> None:
    raw, _ = synthetic_pool(n_classes=3, per_class=10, dim=8, seed=0)
    conf = np.full(27, 0.9)
    rows = np.array([0, 10, 20])
    assert estimate_auto_label_accuracy(raw, rows, ["a", "b", "c"], conf, head="protonet") is None
    rows = np.array([0, 1, 10, 20])
    assert estimate_auto_label_accuracy(raw, rows, list("aabc"), conf, head="protonet") is None
    est = estimate_auto_label_accuracy(
        raw, np.array([0, 1, 10, 11, 20]), list("aabbc"), conf[:25], head="protonet"
    )
    assert est is not None and est.checked == 4 and est.n_labels == 5
    with pytest.raises(LabelerError, match="non-empty"):
        estimate_auto_label_accuracy(raw, rows, list("aabc"), conf[:0], head="protonet")
    with pytest.raises(LabelerError, match="one per row"):
        estimate_auto_label_accuracy(raw, rows, list("aab"), conf, head="protonet")


# ----- the simulation benchmark ------------------------------------------------------------------


def test_simulation_on_separable_classes(tmp_path: Path) -> None:
    raw, y = synthetic_pool(n_classes=6, per_class=40, dim=16, seed=1)
    curves = {
        name: [simulate(raw, y, name, rounds=3, batch=6, seed=s) for s in range(2)]
        for name in (RANDOM, "auto", "margin")  # margin starts with a random batch
    }
    for runs in curves.values():
        for c in runs:
            assert c.n_labels.tolist() == [6, 12, 18]
            assert ((c.accuracy >= 0) & (c.accuracy <= 1)).all()
            assert (np.diff(c.classes_found) >= 0).all()
    # Well-separated classes: the typical image of each of 6 groups is one of each class.
    assert all(c.classes_found[0] == 6 for c in curves["auto"])
    assert all(c.accuracy[0] > 0.95 for c in curves["auto"])
    lines = summarise(curves)
    assert any("area" in line and "× random" in line for line in lines)
    plot({"synthetic": curves}, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"


def test_draw_pool_balanced_and_long_tailed() -> None:
    y = np.repeat(np.arange(5), 100)
    balanced = draw_pool(y, "balanced", seed=0, per_class=30)
    assert np.bincount(y[balanced]).tolist() == [30] * 5
    tail = draw_pool(y, "long-tailed", seed=0, max_per_class=80, imbalance=10)
    sizes = sorted(np.bincount(y[tail]).tolist())
    assert sizes[-1] == 80 and sizes[0] == 8
    with pytest.raises(ValueError, match="unknown pool"):
        draw_pool(y, "skewed", seed=0)
