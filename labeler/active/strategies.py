"""The strategies: each is one score and one selection, with the reason an expert reads: what
the strategy saw, and for those that read the predictions, the model's view of the image.

The default policy, `auto`, combines them and lives in `labeler.active.policy`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from labeler.active.base import VIEW_CLASSES, Pool, Strategy, Suggestion
from labeler.active.clusters import best_per_cluster, cluster_representatives, typical_clusters
from labeler.active.scores import (
    disagreement_score,
    entropy_score,
    least_confidence_score,
    margin_score,
    typicality_score,
)
from labeler.active.select import badge, class_balanced, k_center_greedy, top_k_diverse
from labeler.config import NEAR_DUPLICATE_COSINE
from labeler.wording import plural

UNCERTAIN, MODEL = "least confident", "model"  # leads of the model's view: doubt picked, or informs
FITS_NO_CLASS = "fits no class"  # said of an image flagged out-of-distribution (`labeler.ood`)


def with_view(
    pool: Pool, row: int, score: float, why: str = "", *, lead: str = UNCERTAIN, first: bool = True
) -> Suggestion:
    """Pool row `row` suggested with the model's view of it in its reason ("uncertain: cat 0.50
    vs dog 0.49; why"): its most probable classes, from the pool's probabilities."""
    p = pool.proba[row]
    top = np.argsort(-p, kind="stable")[:VIEW_CLASSES]
    view = tuple((pool.classes[c], float(p[c])) for c in top)
    return Suggestion(int(row), float(score), why, lead, view, first)


def fits_no_class_reason(s: Suggestion) -> str:
    """`s.reason` for an image flagged as fitting no class: said where the model's view is, which
    stays as the model's guess ("fits no class; model: cat 0.45 vs dog 0.42"), not its doubt."""
    if s.lead and s.top:
        return s.reason_with(s.top, lead=f"{FITS_NO_CLASS}; {MODEL}")
    return "; ".join(part for part in (s.reason, FITS_NO_CLASS) if part)


def group_reason(size: int, labeled: int) -> str:
    """'typical of a group of 120 similar images with no label when picked' (or 'with only 2
    labeled when picked'), which stays true as labels come; 'an image unlike any other, with no
    label when picked' for a group of one."""
    state = ("no label" if labeled == 0 else f"only {labeled} labeled") + " when picked"
    if size == 1:
        return f"an image unlike any other, with {state}"
    return f"typical of a group of {size} similar images with {state}"


def rows_mask(rows: np.ndarray, n: int) -> np.ndarray:
    """(n,) bool, True at `rows`."""
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    return mask


class Representative(Strategy):
    """Cold start: the image nearest each k-means centre of the unlabeled pool, largest first."""

    name = "representative"

    def _suggest(self, pool: Pool, candidates: np.ndarray, n: int) -> list[Suggestion]:
        vectors = pool.vectors[candidates]
        picks, sizes = cluster_representatives(vectors, n, seed=pool.seed)
        total = len(candidates)
        return [
            Suggestion(
                index=int(candidates[i]),
                score=size / total,
                why=f"representative: centre of a group of {size} similar unlabeled "
                f"images ({size / total:.0%} of them)",
            )
            for i, size in zip(picks.tolist(), sizes.tolist(), strict=True)
        ]


class TypiClust(Strategy):
    """The most typical image of each group that has no label yet, biggest groups first."""

    name = "typiclust"

    def _suggest(self, pool: Pool, candidates: np.ndarray, n: int) -> list[Suggestion]:
        pickable = rows_mask(candidates, len(pool.vectors))
        got = typical_clusters(pool.vectors, pool.labeled, n, pickable=pickable, seed=pool.seed)
        return [
            Suggestion(int(i), float(p), group_reason(s, k))
            for i, s, k, p in zip(got.indices, got.sizes, got.labeled, got.priority, strict=True)
        ]


class Coreset(Strategy):
    """k-center greedy: the image farthest from everything labeled or already picked."""

    name = "coreset"

    def _suggest(self, pool: Pool, candidates: np.ndarray, n: int) -> list[Suggestion]:
        return farthest(pool, candidates, [], n)


def farthest(pool: Pool, candidates: np.ndarray, taken: list[int], n: int) -> list[Suggestion]:
    """k-center greedy among the candidates not `taken`, away from the labeled and the taken.

    Scores are negative (−1, −2, …, in picking order), to rank below any pick made before.
    """
    rest = np.setdiff1d(candidates, taken)
    if taken:  # no near-duplicate of a pick already in the batch
        near = (pool.vectors[rest] @ pool.vectors[taken].T).max(axis=1) >= NEAR_DUPLICATE_COSINE
        rest = rest[~near]
    centres = pool.vectors[np.union1d(np.flatnonzero(pool.labeled), taken).astype(np.int64)]
    picks, dist = k_center_greedy(pool.vectors[rest], centres, n)
    return [
        Suggestion(
            int(rest[i]),
            -float(rank),
            "the image least like those labeled or picked before it"
            + (f" (closest similarity {1 - d:.2f})" if np.isfinite(d) else ", an outlier"),
        )
        for rank, (i, d) in enumerate(zip(picks, dist, strict=True), start=1)
    ]


class _ScoreTopK(Strategy):
    """The highest scores among the unlabeled, without near-duplicates in one batch."""

    needs_proba = True
    why = ""  # what the reason says after the model's view

    def score(self, pool: Pool, candidates: np.ndarray) -> np.ndarray:
        """(K,) float32 scores of the candidates."""
        raise NotImplementedError

    def suggestion(self, pool: Pool, row: int, score: float) -> Suggestion:
        return with_view(pool, row, score, self.why)

    def _suggest(self, pool: Pool, candidates: np.ndarray, n: int) -> list[Suggestion]:
        scores = self.score(pool, candidates)
        picks = top_k_diverse(scores, pool.vectors[candidates], n)
        return [self.suggestion(pool, int(candidates[i]), float(scores[i])) for i in picks]


def _on_proba(fn: Callable[[np.ndarray], np.ndarray]) -> Callable:
    return lambda self, pool, candidates: fn(pool.proba[candidates])


class Margin(_ScoreTopK):
    name = "margin"
    score = _on_proba(margin_score)


class Entropy(_ScoreTopK):
    name = "entropy"
    score = _on_proba(entropy_score)


class LeastConfidence(_ScoreTopK):
    name = "least-confidence"
    score = _on_proba(least_confidence_score)


class Density(_ScoreTopK):
    """Information density (Settles & Craven 2008): margin × typicality, so that uncertain
    outliers, which teach little about the rest, wait."""

    name = "density"
    why = "among many similar images"

    def score(self, pool: Pool, candidates: np.ndarray) -> np.ndarray:
        typ = typicality_score(pool.vectors[candidates])
        return margin_score(pool.proba[candidates]) * typ / max(float(typ.max()), 1e-12)


class Disagreement(_ScoreTopK):
    """Query by committee: where the heads disagree most, on the class or on how sure of it
    (`disagreement_score` reads their whole probabilities)."""

    name = "disagreement"
    needs_proba = False
    needs_committee = True

    def score(self, pool: Pool, candidates: np.ndarray) -> np.ndarray:
        return disagreement_score(pool.committee[:, candidates])

    def _suggest(self, pool: Pool, candidates: np.ndarray, n: int) -> list[Suggestion]:
        scores = self.score(pool, candidates)
        picks = top_k_diverse(scores, pool.vectors[candidates], n)
        votes = pool.committee[:, candidates].argmax(axis=2)  # (K, candidates)
        everywhere = bool((votes == votes[0]).all())
        rows = candidates[picks]
        return [
            Suggestion(int(r), float(scores[i]), committee_reason(pool, r, everywhere))
            for i, r in zip(picks, rows, strict=True)
        ]


def committee_reason(pool: Pool, row: int, unanimous: bool) -> str:
    """What the committee says of pool row `row`: "the 3 models disagree: 2 say 'cat', 1 says
    'dog'", or where they all pick one class, how sure each is of it ("the 3 models agree on
    'cat' but not on how sure (0.41 to 0.88)"), and, when `unanimous` (they pick one class on
    every unlabeled image), that too."""
    members = pool.committee[:, row]  # (K, C)
    votes = np.bincount(members.argmax(axis=1), minlength=len(pool.classes))
    order = [c for c in np.argsort(-votes, kind="stable") if votes[c]]
    k = len(members)
    if len(order) > 1:
        said = [
            f"{votes[c]} {'says' if votes[c] == 1 else 'say'} {pool.classes[c]!r}" for c in order
        ]
        return f"the {k} models disagree: {', '.join(said)}"
    low, high = (f"{p:.2f}" for p in np.sort(members[:, order[0]])[[0, -1]])
    sure = f", each {low} sure" if low == high else f" but not on how sure ({low} to {high})"
    every = "; they agree on the class of every unlabeled image" if unanimous else ""
    return f"the {k} models agree on {pool.classes[order[0]]!r}{sure}{every}"


class DiverseMargin(Strategy):
    """Uncertainty within diversity: cluster the most uncertain, take the most uncertain of each."""

    name = "diverse-margin"
    needs_proba = True

    def _suggest(self, pool: Pool, candidates: np.ndarray, n: int) -> list[Suggestion]:
        scores = margin_score(pool.proba[candidates])
        picks = best_per_cluster(scores, pool.vectors[candidates], n, seed=pool.seed)
        return [
            with_view(pool, candidates[i], scores[i], "the most uncertain of its group")
            for i in picks
        ]


class Badge(Strategy):
    """BADGE: images whose gradient embeddings (how a label would change the model: the model's
    doubt times the image's vector) are long and unlike each other, by k-means++ seeding. After
    the first, a confident image can be drawn for being unlike the picks, so the model's view is
    told, not called uncertain."""

    name = "badge"
    needs_proba = True
    first_why = "the image whose label would change the model most"
    next_why = "its label would change the model unlike the picks before it"

    def _suggest(self, pool: Pool, candidates: np.ndarray, n: int) -> list[Suggestion]:
        picks = badge(pool.proba[candidates], pool.vectors[candidates], n, seed=pool.seed)
        return [  # k-means++ order: earlier = farther from the others, so scored higher
            with_view(
                pool,
                candidates[i],
                len(picks) - rank,
                self.next_why if rank else self.first_why,
                lead=MODEL,
                first=False,
            )
            for rank, i in enumerate(picks)
        ]


class Balanced(Strategy):
    """Uncertain images spread over the predicted classes, the least labeled classes first."""

    name = "balanced"
    needs_proba = True

    def _suggest(self, pool: Pool, candidates: np.ndarray, n: int) -> list[Suggestion]:
        proba = pool.proba[candidates]
        scores = margin_score(proba)
        predicted = proba.argmax(axis=1)
        counts = pool.label_counts
        picks = class_balanced(
            scores, predicted, n, counts=counts, vectors=pool.vectors[candidates]
        )
        return [
            with_view(
                pool,
                candidates[i],
                scores[i],
                f"predicted {pool.classes[predicted[i]]}, a class with "
                f"{plural(counts[predicted[i]], 'label')}",
                first=False,
            )
            for i in picks
        ]
