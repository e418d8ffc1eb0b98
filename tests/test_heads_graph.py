"""Tests for the kNN graph, label propagation and the transductive heads, against oracles and on
planted structures where transduction must beat a prototype rule."""

from __future__ import annotations

import numpy as np
import pytest

from labeler.errors import LabelerError
from labeler.heads import LabelPropagation, ProtoNet, create_head, pool_graph
from labeler.heads.features import FeatureMap
from labeler.heads.graph import (
    KnnGraph,
    knn_graph,
    neighbours_in,
    normalized_affinity,
    propagate,
)
from labeler.index.faiss_index import l2_normalize


def _unit_rows(n: int, d: int, seed: int) -> np.ndarray:
    return l2_normalize(np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32))


def test_knn_graph_matches_a_brute_force_oracle() -> None:
    Z = _unit_rows(40, 6, 0)
    graph = knn_graph(Z, 5)
    sims = Z @ Z.T
    np.fill_diagonal(sims, -np.inf)
    expected = np.argsort(-sims, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(graph.neighbours, expected)
    np.testing.assert_allclose(graph.similarities, np.take_along_axis(sims, expected, 1), atol=1e-5)
    assert (graph.neighbours != np.arange(40)[:, None]).all()


def test_knn_graph_pads_a_pool_smaller_than_k() -> None:
    graph = knn_graph(_unit_rows(3, 4, 1), 5)
    assert graph.neighbours.shape == (3, 5)
    assert (graph.neighbours[:, 2:] == -1).all() and (graph.similarities[:, 2:] == 0).all()
    single = knn_graph(_unit_rows(1, 4, 2), 3)
    assert (single.neighbours == -1).all()


def test_knn_graph_excludes_self_among_duplicates() -> None:
    Z = np.repeat(_unit_rows(2, 4, 3), 3, axis=0)  # each vector three times
    graph = knn_graph(Z, 2)
    assert (graph.neighbours != np.arange(6)[:, None]).all()
    np.testing.assert_allclose(graph.similarities, 1.0, atol=1e-5)  # its two duplicates


def test_graph_check_names_the_mismatch() -> None:
    graph = knn_graph(_unit_rows(10, 4, 4), 3)
    graph.check(10)
    with pytest.raises(LabelerError, match="pool has 11 rows"):
        graph.check(11)
    with pytest.raises(LabelerError, match="outside the pool"):
        KnnGraph(graph.neighbours + 5, graph.similarities).check(10)


def test_propagation_solves_the_linear_system() -> None:
    """F = (I − αS)^-1 Y, checked against a dense solve."""
    Z = _unit_rows(60, 5, 5)
    S = normalized_affinity(knn_graph(Z, 6))
    assert abs(S - S.T).max() < 1e-12  # symmetric
    Y = np.zeros((60, 3))
    Y[[0, 1, 2], [0, 1, 2]] = 1
    F = propagate(S, Y, alpha=0.9)
    np.testing.assert_allclose(F, np.linalg.solve(np.eye(60) - 0.9 * S.toarray(), Y), atol=1e-4)


def test_normalized_affinity_joins_extra_nodes_both_ways() -> None:
    Zp, Zl = _unit_rows(20, 4, 6), _unit_rows(2, 4, 7)
    S = normalized_affinity(knn_graph(Zp, 3), neighbours_in(Zp, Zl, 3)).toarray()
    assert S.shape == (22, 22)
    for i, row in enumerate(neighbours_in(Zp, Zl, 3).neighbours):
        assert (S[20 + i, row] > 0).all() and (S[row, 20 + i] > 0).all()


def _two_arcs(per_arc: int = 150, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two arcs of one circle (20°–160° and 200°–340°, in 8-D): chains with 40° gaps between
    them. One seed at the start of each arc leaves the far third of each arc nearer, in angle,
    to the other arc's seed: a nearest-prototype rule gets that wrong."""
    rng = np.random.default_rng(seed)
    angles = np.radians(
        np.concatenate([np.linspace(20, 160, per_arc), np.linspace(200, 340, per_arc)])
    )
    X2 = np.stack([np.cos(angles), np.sin(angles)], 1) * rng.normal(1.0, 0.02, (2 * per_arc, 1))
    X = np.concatenate([X2, rng.normal(scale=0.01, size=(len(X2), 6))], axis=1)
    return X.astype(np.float32), np.repeat([0, 1], per_arc)


def test_label_propagation_follows_the_manifold_where_prototypes_cannot() -> None:
    X, y = _two_arcs()
    support = np.array([0, 150])  # one end of each arc
    labels = ["a", "b"]
    lp = LabelPropagation().fit(X[support], labels, X_pool=X)
    lp_acc = (lp.predict_pool_proba().argmax(axis=1) == y).mean()
    proto = ProtoNet().fit(X[support], labels, X_pool=X)
    proto_acc = (proto.predict_proba(X).argmax(axis=1) == y).mean()
    assert lp_acc > 0.97 and proto_acc < 0.85, (lp_acc, proto_acc)


def test_a_cached_graph_gives_the_same_predictions() -> None:
    X, _ = _two_arcs(seed=1)
    support = np.array([3, 160])
    graph = pool_graph(X)
    with_graph = LabelPropagation().fit(X[support], ["a", "b"], X_pool=X, graph=graph)
    without = LabelPropagation().fit(X[support], ["a", "b"], X_pool=X)
    np.testing.assert_allclose(with_graph.predict_pool_proba(), without.predict_pool_proba())
    with pytest.raises(LabelerError, match="without its pool"):
        LabelPropagation().fit(X[support], ["a", "b"], graph=graph)
    with pytest.raises(LabelerError, match="rebuild it"):
        LabelPropagation().fit(X[support], ["a", "b"], X_pool=X[:-1], graph=graph)


def test_class_mass_normalisation_protects_a_seed_in_a_sparse_region() -> None:
    """A dense class and a diffuse one: without balancing, the dense seed's mass floods."""
    rng = np.random.default_rng(3)
    dense = rng.normal(scale=0.3, size=(300, 4)) + np.array([4, 0, 0, 0])
    diffuse = rng.normal(scale=1.2, size=(300, 4)) + np.array([0, 4, 0, 0])
    X = (np.concatenate([dense, diffuse]) + 10).astype(np.float32)
    y = np.repeat([0, 1], 300)
    support = np.array([0, 300])
    accs = {}
    for balance in (True, False):
        head = LabelPropagation(balance=balance).fit(X[support], ["d", "s"], X_pool=X)
        accs[balance] = (head.predict_pool_proba().argmax(axis=1) == y).mean()
    assert accs[True] >= accs[False] and accs[True] > 0.95, accs


def test_held_out_logits_never_use_the_rows_own_label() -> None:
    X, y = _two_arcs(seed=2)
    rows = np.array([0, 30, 60, 90, 150, 180, 210, 240])
    labels = np.array(["a", "b"], dtype=object)[y[rows]]
    labels[1] = "b"  # row 30 lies on arc a but is labeled b
    head = LabelPropagation().fit(X[rows], list(labels), X_pool=X)
    oof_rows, logits = head.oof_
    assert list(oof_rows) == list(range(8))
    assert head.classes_[logits[1].argmax()] == "a"  # its neighbours, not its own label


def test_out_of_sample_rows_follow_their_neighbours() -> None:
    X, y = _two_arcs(seed=4)
    head = LabelPropagation().fit(X[[0, 150]], ["a", "b"], X_pool=X[::2])
    proba = head.predict_proba(X[1::2])  # rows not in the pool
    assert (proba.argmax(axis=1) == y[1::2]).mean() > 0.95
    np.testing.assert_allclose(head.predict_proba(X[5:6]), head.predict_proba(X)[5:6], atol=1e-6)


def test_predict_pool_proba_needs_a_pool() -> None:
    X, _ = _two_arcs()
    head = create_head("protonet").fit(X[[0, 150]], ["a", "b"])
    with pytest.raises(LabelerError, match="without X_pool"):
        head.predict_pool_proba()
    pooled = create_head("protonet").fit(X[[0, 150]], ["a", "b"], X_pool=X)
    np.testing.assert_allclose(pooled.predict_pool_proba(), pooled.predict_proba(X), atol=1e-6)


def test_bdcspn_rectifies_prototypes_towards_the_pool() -> None:
    """Support drawn from each class's edge: rectified prototypes move to the class centres."""
    rng = np.random.default_rng(5)
    centres = np.array([[5.0, 0, 0, 0], [0, 5.0, 0, 0], [0, 0, 5.0, 0]])
    y = np.repeat(np.arange(3), 200)
    X = (centres[y] + rng.normal(scale=0.8, size=(600, 4)) + 6).astype(np.float32)
    edge = [int(np.argmax(X[y == c] @ [1, 1, 1, 3])) + 200 * c for c in range(3)]
    names = ["p", "q", "r"]
    plain = create_head("protonet").fit(X[edge], names, X_pool=X)
    rect = create_head("bdcspn").fit(X[edge], names, X_pool=X)
    true_protos = l2_normalize(np.stack([rect._embed(X[y == c]).mean(0) for c in range(3)]))
    gain = (rect.prototypes_ * true_protos).sum(1) - (plain.prototypes_ * true_protos).sum(1)
    assert (gain > 0).all(), gain


def test_feature_map_power_transform_only_for_non_negative_pools() -> None:
    rng = np.random.default_rng(6)
    pos = rng.random((50, 4)).astype(np.float32)
    fm = FeatureMap.fit(pos)
    assert fm.power == 0.5
    np.testing.assert_allclose(fm.center, np.sqrt(pos.astype(np.float64)).mean(0), atol=1e-6)
    expected = np.sqrt(pos) - fm.center
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(fm.transform(pos), expected, atol=1e-5)
    assert FeatureMap.fit(pos - 0.5).power is None
    assert FeatureMap.fit(pos, power=None).power is None


def test_pool_graph_is_remembered_for_the_last_pool() -> None:
    from labeler.heads.propagation import remember_pool_graph

    X, _ = _two_arcs(seed=5)
    first = pool_graph(X)
    assert pool_graph(X) is first  # the same pool: not searched again
    assert pool_graph(X.copy()) is not first  # another array: searched
    seeded = KnnGraph(first.neighbours[:, ::-1].copy(), first.similarities[:, ::-1].copy())
    remember_pool_graph(X, seeded)
    assert pool_graph(X) is seeded
    with pytest.raises(LabelerError, match="rebuild it"):
        remember_pool_graph(X[:-1], seeded)


def test_big_pools_get_an_approximate_graph_close_to_the_exact_one() -> None:
    """IVF above exact_max: planted clusters, nearly the same neighbours as the exact search."""
    rng = np.random.default_rng(9)
    centres = rng.normal(size=(20, 16)) * 3
    Z = l2_normalize(
        (centres[rng.integers(0, 20, 3000)] + rng.normal(size=(3000, 16))).astype(np.float32)
    )
    exact = knn_graph(Z, 5)
    approx = knn_graph(Z, 5, exact_max=1000)
    recall = np.mean(
        [len(set(a) & set(b)) / 5 for a, b in zip(exact.neighbours, approx.neighbours, strict=True)]
    )
    assert recall > 0.9, recall
    assert (approx.neighbours != np.arange(3000)[:, None]).all()
    approx.check(3000)
