"""Tests for labeler.ood: planted outliers are flagged; the false-flag rate is the promised one."""

from __future__ import annotations

import numpy as np
import pytest

from labeler.errors import LabelerError
from labeler.folds import held_out_folds
from labeler.heads import pool_graph
from labeler.heads.features import pool_features
from labeler.heads.graph import PROPAGATION_ALPHA, knn_graph, neighbours_in, normalized_affinity
from labeler.ood import OodDetector, _held_out_similarity, _SeedShare


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
    detector = OodDetector(alpha=0.02).fit(X, y, X_pool=pool, graph=pool_graph(pool))
    assert detector.held_out_.shape == (100, 2)  # similarity, seed share
    assert detector.flags(unknown).mean() > 0.95
    assert detector.flags(known).mean() < 0.08
    assert detector.scores(unknown).max() < detector.scores(known).mean()
    flags = detector.pool_flags()
    assert flags[-len(unknown) :].mean() > 0.95 and flags[: -len(unknown)].mean() < 0.08


def test_false_flags_stay_near_alpha_on_exchangeable_data() -> None:
    rates = []
    for seed in range(8):
        X, y, known, _ = _world(seed, 25)
        detector = OodDetector(alpha=0.1).fit(X, y, X_pool=known, graph=pool_graph(known))
        rates.append(detector.flags(known).mean())
    assert np.mean(rates) < 0.14, rates


def test_too_few_labels_flag_nothing() -> None:
    X, y, known, unknown = _world(1, 5)  # 20 labels: below 1/0.02 − 1
    pool = np.concatenate([known, unknown])
    detector = OodDetector(alpha=0.02).fit(X, y, X_pool=pool, graph=pool_graph(pool))
    assert detector.scores(unknown).min() == pytest.approx(1 / 21)  # the lowest p-value possible
    assert not detector.flags(unknown).any() and not detector.pool_flags().any()
    assert detector.labels_short == 49 - 20  # and says how many labels it lacks
    X, y, _, _ = _world(1, 13)  # 52 labels: enough
    assert OodDetector(alpha=0.02).fit(X, y, X_pool=pool).labels_short == 0
    assert OodDetector(alpha=0.1).fit(X[:9], y[:9], X_pool=pool).labels_short == 0  # 1/10 ≥ α
    with pytest.raises(LabelerError, match="between 0 and 1"):
        OodDetector(alpha=0.0)


def test_held_out_scores_match_a_loop_oracle() -> None:
    X, y, known, _ = _world(2, 3)
    detector = OodDetector().fit(X, y, X_pool=known)
    Z = detector.features_.transform(X)
    _, yi = np.unique(y, return_inverse=True)
    sums = np.zeros((4, Z.shape[1]))
    np.add.at(sums, yi, Z)
    got = _held_out_similarity(Z, yi, sums.astype(np.float32))
    np.testing.assert_allclose(got, detector.held_out_[:, 0], rtol=1e-5)
    for i in range(len(Z)):
        others = [Z[i] @ Z[j] for j in range(len(Z)) if j != i]
        protos = []
        for c in range(4):
            members = [Z[j] for j in range(len(Z)) if yi[j] == c and j != i]
            if members:
                p = np.sum(members, axis=0)
                protos.append(Z[i] @ (p / np.linalg.norm(p)))
        assert got[i] == pytest.approx(max(others + protos), abs=1e-5)


def test_seed_share_matches_a_dense_oracle() -> None:
    X, y, known, unknown = _world(3, 4)
    _, yi = np.unique(y, return_inverse=True)
    fmap, Zp = pool_features(np.concatenate([known[::10], unknown[:50]]))  # 50 a class + 50
    Z = fmap.transform(X)
    graph = knn_graph(Zp, 10)
    share = _SeedShare(Zp, Z, yi, graph)
    S = normalized_affinity(graph, neighbours_in(Zp, Z, 10)).toarray().astype(np.float64)
    solve = np.linalg.inv(np.eye(len(S)) - PROPAGATION_ALPHA * S)
    m, n = len(Zp), len(Z)
    reach = solve.sum(axis=1)  # every node a seed
    np.testing.assert_allclose(share.pool, solve[:m, m:].sum(axis=1) / reach[:m], rtol=2e-3)
    fold, held = held_out_folds(yi)  # 4 labels a class: 4 folds, each holds one of each class
    assert held.all() and len(np.unique(fold)) == 4
    want = np.empty(n)
    for f in np.unique(fold):
        seeds = m + np.flatnonzero(fold != f)
        rows = np.flatnonzero(fold == f)
        want[rows] = n / len(seeds) * solve[np.ix_(m + rows, seeds)].sum(axis=1) / reach[m + rows]
    np.testing.assert_allclose(share.held_out, want, rtol=2e-3)
    # The unknown class, a group no label reaches, gets a far smaller share than the known ones.
    assert share.pool[200:].max() < 0.1 * share.pool[:200].min()


def test_a_lone_odd_image_is_flagged_by_its_similarity() -> None:
    X, y, known, _ = _world(4, 25)
    rng = np.random.default_rng(99)  # not _world's seed: its first draws are the class means
    odd = (rng.normal(size=(3, 16)) * 40.0).astype(np.float32)  # far from everything, scattered
    pool = np.concatenate([X, known, odd])
    detector = OodDetector(alpha=0.05).fit(X, y, X_pool=pool, graph=pool_graph(pool))
    assert detector.pool_flags()[-3:].all()


def test_without_a_graph_the_similarity_alone_decides_at_the_full_level() -> None:
    X, y, known, unknown = _world(0, 25)
    pool = np.concatenate([X, known, unknown])
    detector = OodDetector(alpha=0.02).fit(X, y, X_pool=pool)
    assert detector.held_out_.shape == (100, 1) and list(detector.pool_parts()) == ["similarity"]
    # 100 held out at alpha 0.02: the two lowest p-values, 1/101 and 2/101, are flagged.
    scores = detector.scores(unknown)
    np.testing.assert_array_equal(detector.flags(unknown), scores <= 0.02)
    assert detector.flags(unknown).mean() > 0.95
    with pytest.raises(LabelerError, match="without its pool"):
        OodDetector().fit(X, y, graph=pool_graph(pool))


def test_combined_p_value_matches_a_loop_oracle() -> None:
    X, y, known, unknown = _world(5, 6)
    pool = np.concatenate([known, unknown])
    detector = OodDetector().fit(X, y, X_pool=pool, graph=pool_graph(pool))
    held = detector.held_out_
    parts = np.stack(list(detector.pool_parts().values()), axis=1)[::97]
    h = len(held)

    def own_p(j, s, skip=None):  # a score's conformal p-value against the other held-out rows
        return (1 + sum(held[k, j] <= s for k in range(h) if k != skip)) / (h + 1)

    held_t = [min(own_p(j, held[i, j], skip=i) for j in range(2)) for i in range(h)]
    for row, score in zip(parts, detector.pool_scores()[::97], strict=True):
        t = min(own_p(j, row[j]) for j in range(2))
        assert score == pytest.approx((1 + sum(u < t for u in held_t)) / (h + 1))
