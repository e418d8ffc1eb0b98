"""Tests for the newer scores, selections and strategies of labeler.active: loop oracles and
planted answers."""

from __future__ import annotations

import numpy as np
import pytest
from test_active import CLASSES, _planted_clusters

from labeler.active import Pool, create_strategy
from labeler.active.clusters import best_per_cluster, typical_clusters
from labeler.active.scores import (
    disagreement_score,
    distance_to_labeled_score,
    typicality_score,
)
from labeler.active.select import badge, class_balanced, k_center_greedy
from labeler.index import l2_normalize

# ----- scores ------------------------------------------------------------------------------------


def test_disagreement_is_zero_when_heads_agree_and_grows_with_conflict() -> None:
    agree = np.array([[0.6, 0.3, 0.1]] * 3, dtype=np.float32)
    conflict = np.array([[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9]])
    mild = np.array([[0.6, 0.3, 0.1], [0.5, 0.4, 0.1], [0.6, 0.3, 0.1]])
    committee = np.stack([agree, conflict, mild], axis=1)  # (K=3, N=3, C=3)
    got = disagreement_score(committee)
    assert got.dtype == np.float32 and got.shape == (3,)
    assert got[0] == pytest.approx(0.0, abs=1e-6)
    assert got[1] > got[2] > 0
    # Mean KL to the consensus, by hand for row 2.
    consensus = mild.mean(axis=0)
    kl = [(p * np.log(p / consensus)).sum() for p in mild]
    assert got[2] == pytest.approx(np.mean(kl), rel=1e-5)


def test_distance_to_labeled_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    v = l2_normalize(rng.normal(size=(40, 8)))
    labeled = v[[3, 17, 29]]
    expected = 1.0 - (v @ labeled.T).max(axis=1)
    np.testing.assert_allclose(distance_to_labeled_score(v, labeled), expected, atol=1e-5)
    assert (distance_to_labeled_score(v, v[:0]) == 2.0).all()


def test_typicality_is_highest_in_the_dense_core_and_lowest_for_outliers() -> None:
    rng = np.random.default_rng(1)
    core = l2_normalize(np.array([[1.0, 0, 0, 0]]) + 0.02 * rng.normal(size=(30, 4)))
    halo = l2_normalize(np.array([[1.0, 0, 0, 0]]) + 0.3 * rng.normal(size=(10, 4)))
    outlier = l2_normalize(np.array([[0.0, 0, 1, 0]]))
    v = np.concatenate([core, halo, outlier])
    t = typicality_score(v, k=5)
    assert t.dtype == np.float32
    assert t[:30].min() > t[30:40].max() > t[40]
    # Brute-force definition on one row.
    d = np.sort(1.0 - v @ v[0])[1:6]
    assert t[0] == pytest.approx(1.0 / (d.mean() + 1e-6), rel=1e-3)
    assert typicality_score(v[:1]).tolist() == [1.0]


# ----- selection ---------------------------------------------------------------------------------


@pytest.mark.parametrize("n_centres", [0, 1, 4])
def test_k_center_greedy_matches_a_loop_oracle(n_centres: int) -> None:
    rng = np.random.default_rng(n_centres)
    v = l2_normalize(rng.normal(size=(50, 5)))
    centres = l2_normalize(rng.normal(size=(n_centres, 5)))
    picks, dist = k_center_greedy(v, centres, 6)
    covered = [c for c in centres]
    for rank, i in enumerate(picks):
        nearest = [min(1 - float(x @ c) for c in covered) if covered else None for x in v]
        if covered:
            assert i == int(np.argmax(nearest))
            assert dist[rank] == pytest.approx(nearest[i], abs=1e-5)
        else:
            assert np.isinf(dist[rank])
        covered.append(v[i])
    assert len(set(picks.tolist())) == 6


def test_badge_distances_equal_those_of_explicit_gradient_embeddings() -> None:
    rng = np.random.default_rng(2)
    proba = rng.dirichlet([1, 1, 1], size=25)
    v = l2_normalize(rng.normal(size=(25, 4)))
    a = proba.copy()
    a[np.arange(25), a.argmax(axis=1)] -= 1
    g = (a[:, :, None] * v[:, None, :]).reshape(25, -1)  # (N, C·D), what badge avoids building
    picks = badge(proba, v, 6, seed=0)
    assert picks[0] == np.argmax((g * g).sum(axis=1))  # the longest gradient first
    assert len(set(picks.tolist())) == 6
    # A confident row has a tiny gradient: far less likely than uncertain rows to be picked.
    proba[:20] = [0.998, 0.001, 0.001]
    for seed in range(5):
        assert (badge(proba, v, 5, seed=seed) >= 20).sum() >= 4


def test_class_balanced_takes_the_least_labeled_class_first() -> None:
    rng = np.random.default_rng(3)
    v = l2_normalize(rng.normal(size=(12, 6)))
    groups = np.array([0] * 6 + [1] * 4 + [2] * 2)
    scores = np.linspace(1.0, 0.0, 12)  # class 0 holds every top score
    got = class_balanced(scores, groups, 5, counts=np.array([5, 0, 1]), vectors=v)
    # Class 1 (0 labels) gets two turns before class 2 (1 label) and class 0 (5 labels) any.
    assert groups[got].tolist() == [1, 1, 2, 1, 2]
    assert got[0] == 6  # class 1's best score
    dup = v.copy()
    dup[7] = dup[6]  # class 1's second best is a copy of its best: skipped
    got = class_balanced(scores, groups, 2, counts=np.array([5, 0, 1]), vectors=dup)
    assert got.tolist() == [6, 8]


def test_best_per_cluster_spreads_the_most_uncertain_over_groups() -> None:
    vectors, cluster = _planted_clusters([20, 20, 20], seed=4)
    scores = np.where(cluster == 0, 0.9, 0.1) + 0.01 * np.arange(60) / 60
    got = best_per_cluster(scores, vectors, 3, seed=0)
    assert sorted(cluster[got].tolist()) == [0, 1, 2]  # not the 3 top scores, all in group 0
    for i in got:
        members = np.flatnonzero(cluster == cluster[i])
        assert i == members[np.argmax(scores[members])]


def test_typical_clusters_covers_new_groups_and_weighs_uncertainty() -> None:
    vectors, cluster = _planted_clusters([40, 25, 12], seed=6, spread=0.1)
    labeled = np.zeros(len(vectors), bool)
    labeled[np.flatnonzero(cluster == 0)[0]] = True
    got = typical_clusters(vectors, labeled, 2, seed=0)  # 1 label + 2 picks = 3 clusters
    assert got.labeled.tolist() == [0, 0]  # the uncovered groups, biggest first
    assert cluster[got.indices].tolist() == [1, 2]
    # With full weight on uncertainty, the most uncertain member of each group is taken.
    uncertainty = np.random.default_rng(0).random(len(vectors))
    got = typical_clusters(
        vectors, labeled, 2, uncertainty=uncertainty, uncertainty_weight=1.0, seed=0
    )
    for i in got.indices:
        members = np.flatnonzero((cluster == cluster[i]) & ~labeled)
        assert i == members[np.argmax(uncertainty[members])]


# ----- strategies on planted pools ----------------------------------------------------------------


def test_coreset_goes_to_the_group_without_labels() -> None:
    vectors, cluster = _planted_clusters([20, 20, 5], seed=7)
    labeled = cluster < 2
    labeled &= np.r_[True, np.zeros(len(cluster) - 1, bool)] | (cluster == 1)
    pool = Pool(vectors, labeled)
    got = create_strategy("coreset").suggest(pool, 2)
    assert cluster[got[0].index] in (0, 2) and cluster[got[0].index] != cluster[got[1].index]
    assert "the image least like those labeled" in got[0].reason


def test_disagreement_strategy_picks_where_heads_conflict() -> None:
    rng = np.random.default_rng(8)
    n = 20
    vectors = l2_normalize(rng.normal(size=(n, 6)))
    agree = np.tile(np.float32([0.8, 0.1, 0.1]), (n, 1))
    committee = np.stack([agree, agree.copy(), agree.copy()])
    committee[1, 5] = [0.1, 0.8, 0.1]  # one head says dog
    committee[1:, 9] = [0.1, 0.1, 0.8]  # two heads say bird
    pool = Pool(vectors, np.zeros(n, bool), agree, CLASSES, committee=committee)
    got = create_strategy("disagreement").suggest(pool, 2)
    assert sorted(s.index for s in got) == [5, 9]
    reasons = {s.index: s.reason for s in got}
    assert reasons[9] == "the 3 models disagree: 2 say 'bird', 1 says 'cat'"


def test_disagreement_reasons_say_so_where_the_committee_agrees_on_the_class() -> None:
    """The score reads whole probabilities: heads that pick one class, unequally sure, score too."""
    rng = np.random.default_rng(8)
    n = 20
    vectors = l2_normalize(rng.normal(size=(n, 6)))
    agree = np.tile(np.float32([0.8, 0.1, 0.1]), (n, 1))
    committee = np.stack([agree, agree.copy(), agree.copy()])
    committee[2, 3] = [0.41, 0.3, 0.29]  # all say cat, one barely
    pool = Pool(vectors, np.zeros(n, bool), agree, CLASSES, committee=committee)
    got = create_strategy("disagreement").suggest(pool, 2)
    assert got[0].index == 3
    assert got[0].reason == (
        "the 3 models agree on 'cat' but not on how sure (0.41 to 0.80); they agree on the class "
        "of every unlabeled image"
    )
    assert got[1].reason.startswith("the 3 models agree on 'cat', each 0.80 sure;")
    committee[1, 9] = [0.1, 0.8, 0.1]  # one head says dog: no longer unanimous
    got = create_strategy("disagreement").suggest(pool, 2)
    reasons = {s.index: s.reason for s in got}
    assert reasons == {
        9: "the 3 models disagree: 2 say 'cat', 1 says 'dog'",
        3: "the 3 models agree on 'cat' but not on how sure (0.41 to 0.80)",
    }


def test_balanced_strategy_reasons_name_the_class_and_its_labels() -> None:
    rng = np.random.default_rng(9)
    n = 30
    vectors = l2_normalize(rng.normal(size=(n, 6)))
    proba = np.tile(np.float32([0.7, 0.2, 0.1]), (n, 1))
    proba[20:] = [0.2, 0.1, 0.7]  # predicted bird
    labeled = np.zeros(n, bool)
    labeled[[0, 1, 2, 20]] = True
    labels = np.where(labeled, 0, -1)
    labels[20] = 2
    pool = Pool(vectors, labeled, proba, CLASSES, labels=labels)
    got = create_strategy("balanced").suggest(pool, 3)
    # Bird (1 label) twice, then cat (3 labels) ties with bird and wins on the class order.
    assert [s.index >= 20 for s in got] == [True, True, False]
    reason = "predicted bird, a class with 1 label; least confident: bird 0.70"
    assert got[0].reason.startswith(reason)
