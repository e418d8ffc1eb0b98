"""Active learning: which unlabeled images to ask the expert about next.

A strategy turns a `Pool` into ranked `Suggestion`s, each with the reason it was chosen. Scoring
(`scores`) is kept apart from batch selection (`select`); strategies combine the two. Strategies
never suggest a labeled image, and no two suggestions of one batch are near-duplicates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from labeler.active.scores import entropy_score, margin_score
from labeler.active.select import cluster_representatives, top_k_diverse
from labeler.errors import LabelerError

__all__ = [
    "Pool",
    "Suggestion",
    "available_strategies",
    "create_strategy",
    "register_strategy",
]

DEFAULT_STRATEGY = "auto"


@dataclass(frozen=True)
class Pool:
    """What a strategy sees of the project.

    vectors: (N, D) float32, L2-normalised, every present image.
    labeled: (N,) bool, True where the expert has labeled the image.
    proba: (N, C) float32 current predicted probabilities, or None before any fit.
    classes: (C,) class names, the columns of proba.
    """

    vectors: np.ndarray
    labeled: np.ndarray
    proba: np.ndarray | None = None
    classes: tuple[str, ...] = ()
    seed: int = 0


@dataclass(frozen=True)
class Suggestion:
    index: int  # row of the pool
    score: float  # higher = more useful; comparable within one batch only
    reason: str


class Strategy:
    name = "base"

    def suggest(self, pool: Pool, n: int) -> list[Suggestion]:
        """Up to n suggestions, most useful first; [] when nothing is left to label."""
        if n < 1:
            raise LabelerError(f"the number of suggestions must be at least 1, got {n}")
        candidates = np.flatnonzero(~pool.labeled)
        if len(candidates) == 0:
            return []
        return self._suggest(pool, candidates, n)

    def _suggest(self, pool: Pool, candidates: np.ndarray, n: int) -> list[Suggestion]:
        raise NotImplementedError


class Representative(Strategy):
    """Cold start: the image nearest each k-means centre of the unlabeled pool, largest first."""

    name = "representative"

    def _suggest(self, pool: Pool, candidates: np.ndarray, n: int) -> list[Suggestion]:
        vectors = pool.vectors[candidates]
        picks, sizes = cluster_representatives(vectors, n, seed=pool.seed)
        keep = top_k_diverse(sizes.astype(np.float32), vectors[picks], n)
        picks, sizes = picks[keep], sizes[keep]  # filter both, so each pick keeps its own size
        total = len(candidates)
        return [
            Suggestion(
                index=int(candidates[i]),
                score=size / total,
                reason=f"representative: centre of a group of {size} similar unlabeled "
                f"images ({size / total:.0%} of them)",
            )
            for i, size in zip(picks.tolist(), sizes.tolist(), strict=True)
        ]


class _Uncertainty(Strategy):
    """Highest uncertainty score among the unlabeled, without near-duplicates in one batch."""

    score_fn: Callable[[np.ndarray], np.ndarray]

    def _suggest(self, pool: Pool, candidates: np.ndarray, n: int) -> list[Suggestion]:
        if pool.proba is None:
            raise LabelerError(
                f"strategy {self.name!r} needs predictions; label a few images first or use "
                "'representative'"
            )
        proba = pool.proba[candidates]
        scores = type(self).score_fn(proba)
        picks = top_k_diverse(scores, pool.vectors[candidates], n)
        return [
            Suggestion(int(candidates[i]), float(scores[i]), _uncertain_reason(proba[i], pool))
            for i in picks
        ]


def _uncertain_reason(p: np.ndarray, pool: Pool) -> str:
    top = np.argsort(-p)[:2]
    parts = [f"{pool.classes[c]} {p[c]:.2f}" for c in top]
    return "uncertain: " + " vs ".join(parts)


class Margin(_Uncertainty):
    name = "margin"
    score_fn = staticmethod(margin_score)


class Entropy(_Uncertainty):
    name = "entropy"
    score_fn = staticmethod(entropy_score)


class Auto(Strategy):
    """Representative images until two classes have predictions, then the smallest margins."""

    name = "auto"

    def _suggest(self, pool: Pool, candidates: np.ndarray, n: int) -> list[Suggestion]:
        if pool.proba is None or len(pool.classes) < 2:
            return Representative()._suggest(pool, candidates, n)
        return Margin()._suggest(pool, candidates, n)


_REGISTRY: dict[str, Callable[[], Strategy]] = {
    s.name: s for s in (Auto, Representative, Margin, Entropy)
}


def register_strategy(name: str, factory: Callable[[], Strategy]) -> None:
    _REGISTRY[name] = factory


def available_strategies() -> list[str]:
    return sorted(_REGISTRY)


def create_strategy(name: str = DEFAULT_STRATEGY) -> Strategy:
    if name not in _REGISTRY:
        raise LabelerError(
            f"unknown strategy {name!r}; available: {', '.join(available_strategies())}"
        )
    return _REGISTRY[name]()
