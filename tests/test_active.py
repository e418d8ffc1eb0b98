"""Tests for labeler.active: the strategy contract, planted answers, scores and batch selection."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from labeler.active import Pool, Suggestion, available_strategies, create_strategy
from labeler.active.clusters import cluster_representatives
from labeler.active.scores import entropy_score, least_confidence_score, margin_score
from labeler.active.select import top_k_diverse
from labeler.config import NEAR_DUPLICATE_COSINE
from labeler.errors import LabelerError
from labeler.index import l2_normalize

CLASSES = ("cat", "dog", "bird")


def _planted_clusters(
    sizes: list[int], *, dim: int = 16, spread: float = 0.05, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors in well-separated clusters of the given sizes, shuffled; and their cluster."""
    rng = np.random.default_rng(seed)
    centres = l2_normalize(rng.normal(size=(len(sizes), dim)))
    cluster = np.repeat(np.arange(len(sizes)), sizes)
    vectors = l2_normalize(centres[cluster] + spread * rng.normal(size=(len(cluster), dim)))
    order = rng.permutation(len(cluster))
    return vectors[order], cluster[order]


def _contract_pool(seed: int = 0) -> Pool:
    """60 images with exact duplicates among the most uncertain ones, 12 of them labeled; with
    predictions, labels and a committee of 3 heads, so that every strategy can run."""
    rng = np.random.default_rng(seed)
    n, dim = 60, 12
    vectors = l2_normalize(rng.normal(size=(n, dim)))
    proba = rng.dirichlet([0.3, 0.3, 0.3], size=n).astype(np.float32)
    # Rows 40..49 are exact copies of rows 0..9 (same image twice), which are made the most
    # ambiguous of the pool: a strategy without duplicate filtering would pick both copies.
    vectors[40:50] = vectors[0:10]
    proba[0:10] = [0.34, 0.33, 0.33]
    proba[40:50] = proba[0:10]
    labeled = np.zeros(n, dtype=bool)
    labeled[[0, 1, 2, 20, 21, 22, 23, 24, 25, 26, 27, 28]] = True  # incl. ambiguous ones
    labels = np.where(labeled, np.arange(n) % 3, -1)
    committee = np.stack([proba, np.roll(proba, 1, axis=1), proba[:, [1, 0, 2]]])
    committee[:, 40:50] = committee[:, 0:10]
    return Pool(vectors, labeled, proba, CLASSES, seed, labels, committee)


def _needs(name: str) -> str | None:
    """The error a strategy gives on a pool without predictions, or None if it runs."""
    strategy = create_strategy(name)
    if strategy.needs_committee:
        return "committee"
    return "needs predictions" if strategy.needs_proba else None


def _check_batch(pool: Pool, got: list[Suggestion], n: int) -> None:
    assert len(got) <= n
    assert all(isinstance(s, Suggestion) for s in got)
    indices = [s.index for s in got]
    assert len(set(indices)) == len(indices)
    assert all(0 <= i < len(pool.vectors) for i in indices)
    assert not pool.labeled[indices].any(), "a labeled image was suggested"
    assert all(isinstance(s.reason, str) and s.reason.strip() for s in got)
    assert all(np.isfinite(s.score) for s in got)
    if len(got) > 1:
        v = pool.vectors[indices]
        cos = v @ v.T
        np.fill_diagonal(cos, -1.0)
        assert cos.max() < NEAR_DUPLICATE_COSINE, "two near-duplicates in one batch"


# ----- the contract, for every registered strategy -----------------------------------------------


def test_registry() -> None:
    expected = {
        "auto", "representative", "typiclust", "coreset", "margin", "entropy",
        "least-confidence", "density", "disagreement", "diverse-margin", "badge", "balanced",
    }  # fmt: skip
    assert expected <= set(available_strategies())
    assert create_strategy().name == "auto"
    with pytest.raises(LabelerError, match="unknown strategy"):
        create_strategy("oracle")


@pytest.mark.parametrize("name", available_strategies())
def test_strategy_contract(name: str) -> None:
    pool = _contract_pool()
    strategy = create_strategy(name)
    unlabeled = int((~pool.labeled).sum())
    for n in (1, 5, 100):
        got = strategy.suggest(pool, n)
        _check_batch(pool, got, n)
        assert 1 <= len(got) <= min(n, unlabeled)
    # Deterministic for one pool.
    assert strategy.suggest(pool, 5) == strategy.suggest(pool, 5)
    # Excluded rows are never suggested, and hide none of the others: with every unlabeled
    # image but one excluded, that one is suggested.
    first = [s.index for s in strategy.suggest(pool, 5)]
    got = strategy.suggest(pool, 5, exclude=first)
    _check_batch(pool, got, 5)
    assert got and not set(first) & {s.index for s in got}
    unlabeled_rows = np.flatnonzero(~pool.labeled)
    last = [s.index for s in strategy.suggest(pool, 3, exclude=unlabeled_rows[1:])]
    assert last == [unlabeled_rows[0]]

    # Everything labeled: nothing to suggest.
    done = replace(pool, labeled=np.ones(len(pool.vectors), bool), labels=np.zeros(60, int))
    assert strategy.suggest(done, 5) == []
    # One image left: that one.
    one_left = np.ones(len(pool.vectors), bool)
    one_left[33] = False
    labels = np.where(one_left, 0, -1)
    got = strategy.suggest(replace(pool, labeled=one_left, labels=labels), 3)
    assert [s.index for s in got] == [33]

    for bad_n in (0, -1, 2.5, True):
        with pytest.raises(LabelerError, match="at least 1"):
            strategy.suggest(pool, bad_n)


@pytest.mark.parametrize("name", available_strategies())
def test_strategy_without_predictions(name: str) -> None:
    pool = _contract_pool()
    cold = Pool(vectors=pool.vectors, labeled=np.zeros(len(pool.vectors), bool))
    if _needs(name):
        with pytest.raises(LabelerError, match=_needs(name)):
            create_strategy(name).suggest(cold, 3)
    else:
        got = create_strategy(name).suggest(cold, 3)
        _check_batch(cold, got, 3)
        assert len(got) == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"labeled": np.zeros(59, bool)}, "labeled must be a bool array of shape"),
        ({"labeled": np.zeros(60, int)}, "labeled must be a bool array of shape"),
        ({"proba": np.full((60, 2), 0.5, np.float32)}, r"proba must be \(N, C\)"),
        ({"labels": np.full(60, -1)}, "class index"),
        ({"labels": np.where(_contract_pool().labeled, 7, -1)}, "beyond the 3 classes"),
        ({"committee": np.ones((2, 60, 2), np.float32)}, "committee must be"),
        ({"vectors": np.ones(60, np.float32)}, "vectors must be"),
    ],
)
def test_inconsistent_pools_are_refused(change: dict, message: str) -> None:
    with pytest.raises(LabelerError, match=message):
        create_strategy("margin").suggest(replace(_contract_pool(), **change), 3)


def test_uncertainty_strategies_skip_duplicates_of_the_most_uncertain() -> None:
    pool = _contract_pool()
    for name in ("margin", "entropy", "least-confidence"):
        got = [s.index for s in create_strategy(name).suggest(pool, 7)]
        # The 7 unlabeled ambiguous images 3..9, each once: their copies 43..49 are skipped.
        assert sorted(got) == list(range(3, 10)), name


# ----- planted answers ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_representative_picks_one_per_cluster_biggest_first(seed: int) -> None:
    sizes = [40, 25, 12]
    vectors, cluster = _planted_clusters(sizes, seed=seed)
    pool = Pool(vectors=vectors, labeled=np.zeros(len(vectors), bool), seed=seed)
    got = create_strategy("representative").suggest(pool, 3)
    assert [cluster[s.index] for s in got] == [0, 1, 2]
    assert [s.score for s in got] == pytest.approx([40 / 77, 25 / 77, 12 / 77])
    for s, size in zip(got, sizes, strict=True):
        assert f"group of {size} " in s.reason
    # TypiClust and auto (which is TypiClust while there are no labels) take the same groups.
    typical = create_strategy("typiclust").suggest(pool, 3)
    assert [cluster[s.index] for s in typical] == [0, 1, 2]
    assert create_strategy("auto").suggest(pool, 3) == typical


def test_representative_ignores_labeled_clusters_and_maps_back_to_pool_rows() -> None:
    vectors, cluster = _planted_clusters([30, 20, 10], seed=5)
    labeled = cluster == 0
    pool = Pool(vectors=vectors, labeled=labeled, seed=1)
    got = create_strategy("representative").suggest(pool, 2)
    assert [cluster[s.index] for s in got] == [1, 2]
    assert [s.score for s in got] == pytest.approx([20 / 30, 10 / 30])


def test_representative_reports_the_size_of_each_picks_own_group() -> None:
    """When a near-duplicate centre is dropped, the others keep their own group sizes."""
    rng = np.random.default_rng(0)
    dim = 8
    centres = l2_normalize(rng.normal(size=(3, dim)))
    vectors = l2_normalize(
        np.concatenate(
            [
                centres[0] + 0.03 * rng.normal(size=(60, dim)),  # one big, tight group: split
                np.repeat(centres[1:2], 10, axis=0),
                np.repeat(centres[2:3], 5, axis=0),
            ]
        )
    )
    for seed in range(3):
        pool = Pool(vectors=vectors, labeled=np.zeros(len(vectors), bool), seed=seed)
        got = create_strategy("representative").suggest(pool, 4)
        _check_batch(pool, got, 4)
        picks, sizes = cluster_representatives(vectors, 4, seed=seed)
        size_of = dict(zip(picks.tolist(), sizes.tolist(), strict=True))
        for s in got:
            assert f"group of {size_of[s.index]} " in s.reason
            assert s.score == pytest.approx(size_of[s.index] / len(vectors))
        assert [s.score for s in got] == sorted((s.score for s in got), reverse=True)


def _ambiguity_pool() -> tuple[Pool, list[int]]:
    rng = np.random.default_rng(3)
    n = 30
    vectors = l2_normalize(rng.normal(size=(n, 10)))
    proba = np.tile(np.float32([0.9, 0.06, 0.04]), (n, 1))
    planted = {17: [0.50, 0.49, 0.01], 4: [0.46, 0.44, 0.10], 25: [0.30, 0.60, 0.10]}
    for i, p in planted.items():
        proba[i] = p
    proba[8] = [0.5, 0.5, 0.0]  # the most ambiguous of all, but labeled
    labeled = np.zeros(n, dtype=bool)
    labeled[8] = True
    pool = Pool(vectors=vectors, labeled=labeled, proba=proba, classes=CLASSES)
    return pool, [17, 4, 25]  # by margin: 0.01, 0.02, 0.30


def test_margin_picks_the_planted_most_ambiguous_rows() -> None:
    pool, expected = _ambiguity_pool()
    got = create_strategy("margin").suggest(pool, 3)
    assert [s.index for s in got] == expected
    assert [s.score for s in got] == pytest.approx([0.99, 0.98, 0.70], abs=1e-5)
    assert got[0].reason == "least confident: cat 0.50 vs dog 0.49"
    assert got[2].reason == "least confident: dog 0.60 vs cat 0.30"


def test_badge_tells_the_models_view_without_calling_a_confident_pick_uncertain() -> None:
    """BADGE samples by distance between gradient embeddings: after its first pick, images the
    model is sure of are drawn too (here, every other image)."""
    pool, _ = _ambiguity_pool()
    proba = np.tile(np.float32([0.97, 0.02, 0.01]), (len(pool.proba), 1))
    proba[17] = [0.50, 0.49, 0.01]
    got = create_strategy("badge").suggest(replace(pool, proba=proba), 4)
    assert got[0].index == 17
    assert got[0].reason == (
        "the image whose label would change the model most; model: cat 0.50 vs dog 0.49"
    )
    assert len(got) == 4
    for s in got[1:]:
        assert s.reason == (
            "its label would change the model unlike the picks before it; model: cat 0.97 vs "
            "dog 0.02"
        )


def test_a_reason_keeps_why_and_writes_the_models_view_from_any_prediction() -> None:
    pool, _ = _ambiguity_pool()
    margin = create_strategy("margin").suggest(pool, 1)[0]
    assert (margin.why, margin.lead, margin.first) == ("", "least confident", True)
    assert [c for c, _ in margin.top] == ["cat", "dog"]
    later = [("dog", 0.61), ("cat", 0.3), ("bird", 0.09)]  # a prediction after a refit
    assert margin.reason_with(later, percent=True) == "least confident: dog 61% vs cat 30%"
    density = create_strategy("density").suggest(pool, 1)[0]
    assert density.reason.startswith("least confident: ")
    assert density.reason.endswith("; among many similar images")
    told = Suggestion(3, 1.0, "typical of a group", "model", (("cat", 0.5), ("dog", 0.49)))
    assert told.reason == "typical of a group; model: cat 0.50 vs dog 0.49"
    assert told.reason_with(later[:1]) == "typical of a group; model: dog 0.61"
    assert told.reason_with([]) == "typical of a group"  # no prediction now: no model's view
    assert replace(told, lead="").reason == "typical of a group"
    assert replace(told, first=True).reason == "model: cat 0.50 vs dog 0.49; typical of a group"


def test_entropy_picks_the_planted_most_uncertain_rows() -> None:
    pool, _ = _ambiguity_pool()
    got = create_strategy("entropy").suggest(pool, 3)
    # Entropies: 4 (0.46, 0.44, 0.10) > 25 (0.3, 0.6, 0.1) > 17 (0.50, 0.49, 0.01).
    assert [s.index for s in got] == [4, 25, 17]


def test_auto_stays_typical_with_a_single_class() -> None:
    vectors, _ = _planted_clusters([10, 6], seed=2)
    proba = np.ones((len(vectors), 1), dtype=np.float32)
    pool = Pool(vectors, np.zeros(len(vectors), bool), proba, ("cat",))
    got = create_strategy("auto").suggest(pool, 2)
    assert [s.reason for s in got] == [
        "typical of a group of 10 similar images with no label when picked",
        "typical of a group of 6 similar images with no label when picked",
    ]


# ----- scores ------------------------------------------------------------------------------------


def test_scores_on_a_hand_made_matrix() -> None:
    proba = np.array([[0.7, 0.2, 0.1], [0.5, 0.5, 0.0], [1.0, 0.0, 0.0]], dtype=np.float32)
    np.testing.assert_allclose(margin_score(proba), [0.5, 1.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(least_confidence_score(proba), [0.3, 0.5, 0.0], atol=1e-6)
    np.testing.assert_allclose(
        entropy_score(proba),
        [-(0.7 * np.log(0.7) + 0.2 * np.log(0.2) + 0.1 * np.log(0.1)), np.log(2.0), 0.0],
        atol=1e-6,
    )
    for score in (margin_score, entropy_score, least_confidence_score):
        assert score(proba).dtype == np.float32


# ----- selection ---------------------------------------------------------------------------------


def _oracle_top_k_diverse(scores, vectors, n, max_cosine):
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    taken = []
    for i in order:
        if len(taken) == n:
            break
        if any(float(np.dot(vectors[i], vectors[j])) >= max_cosine for j in taken):
            continue
        taken.append(i)
    return taken


@pytest.mark.parametrize("seed", range(5))
def test_top_k_diverse_matches_a_loop_oracle(seed: int) -> None:
    rng = np.random.default_rng(seed)
    vectors = l2_normalize(rng.normal(size=(80, 6)))
    # Plant near-duplicates and exact duplicates of high scorers, and tied scores.
    vectors[60:70] = l2_normalize(vectors[0:10] + 0.01 * rng.normal(size=(10, 6)))
    vectors[70:75] = vectors[0:5]
    scores = rng.random(80).astype(np.float32)
    scores[60:75] = scores[np.r_[0:10, 0:5]]
    scores[[11, 12, 13]] = scores[10]
    for n in (1, 7, 30, 200):
        for max_cosine in (NEAR_DUPLICATE_COSINE, 0.5):
            got = top_k_diverse(scores, vectors, n, max_cosine=max_cosine)
            assert got.dtype == np.int64
            assert got.tolist() == _oracle_top_k_diverse(scores, vectors, n, max_cosine)


def test_top_k_diverse_never_takes_a_near_duplicate() -> None:
    v = l2_normalize(np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.05], [0.0, 1.0]]))
    got = top_k_diverse(np.array([4.0, 3.0, 2.0, 1.0]), v, 4)
    assert got.tolist() == [0, 3]  # 1 is an exact copy of 0; 2 is at cosine 0.9988
    assert top_k_diverse(np.empty(0), np.empty((0, 2)), 3).tolist() == []


def test_cluster_representatives_on_planted_clusters() -> None:
    sizes = [25, 15, 9, 4]
    vectors, cluster = _planted_clusters(sizes, dim=10, spread=0.1, seed=9)
    picks, got_sizes = cluster_representatives(vectors, 4, seed=0)
    assert picks.dtype == got_sizes.dtype == np.int64
    assert cluster[picks].tolist() == [0, 1, 2, 3]
    assert got_sizes.tolist() == sizes
    for c, pick in enumerate(picks):
        members = np.flatnonzero(cluster == c)
        centre = l2_normalize(vectors[members].mean(axis=0, keepdims=True))[0]
        assert pick == members[np.argmax(vectors[members] @ centre)]


def test_cluster_representatives_with_duplicates_and_small_pools() -> None:
    rng = np.random.default_rng(4)
    distinct = l2_normalize(rng.normal(size=(3, 8)))
    vectors = np.repeat(distinct, [5, 3, 2], axis=0)  # 10 rows, only 3 different images
    picks, sizes = cluster_representatives(vectors, 6)
    assert len(picks) == 3  # no more representatives than different images
    assert sorted(sizes.tolist(), reverse=True) == sizes.tolist() == [5, 3, 2]
    assert len({tuple(vectors[p]) for p in picks}) == 3
    picks, sizes = cluster_representatives(vectors[:1], 4)
    assert picks.tolist() == [0] and sizes.tolist() == [1]
    picks, sizes = cluster_representatives(np.empty((0, 8), dtype=np.float32), 4)
    assert picks.shape == sizes.shape == (0,)
