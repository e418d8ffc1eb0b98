"""The strategy contract: a `Pool` in, ranked `Suggestion`s out, each with its reason.

`Strategy.suggest` validates its input once and enforces the promises every strategy makes:
never a labeled image, never two near-duplicates in one batch, at most n, deterministic for a
pool and seed. Subclasses implement `_suggest` on the unlabeled candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from labeler.config import NEAR_DUPLICATE_COSINE
from labeler.errors import LabelerError


@dataclass(frozen=True)
class Pool:
    """What a strategy sees of the project.

    vectors: (N, D) float32, L2-normalised, every present image.
    labeled: (N,) bool, True where the expert has labeled the image.
    proba: (N, C) float32 current predicted probabilities, or None before any fit.
    classes: (C,) class names, the columns of proba (or of the labels when there is no proba).
    seed: seeds every random choice (k-means starts, sampling).
    labels: (N,) int64 index into classes of each labeled image's label, −1 for unlabeled; None
        when unknown.
    committee: (K, N, C) float32 probabilities of K different heads, for disagreement; or None.
    """

    vectors: np.ndarray
    labeled: np.ndarray
    proba: np.ndarray | None = None
    classes: tuple[str, ...] = ()
    seed: int = 0
    labels: np.ndarray | None = None
    committee: np.ndarray | None = None

    @property
    def label_counts(self) -> np.ndarray:
        """(C,) int64 labels per class of `classes` (zeros when labels are unknown)."""
        if self.labels is None:
            return np.zeros(len(self.classes), dtype=np.int64)
        return np.bincount(self.labels[self.labels >= 0], minlength=len(self.classes))

    def validate(self) -> None:
        """Raise LabelerError naming the first inconsistency between the fields."""
        if self.vectors.ndim != 2:
            raise LabelerError(f"pool vectors must be (N, D), got shape {self.vectors.shape}")
        n = len(self.vectors)
        if self.labeled.shape != (n,) or self.labeled.dtype != bool:
            raise LabelerError(
                f"pool labeled must be a bool array of shape ({n},), got {self.labeled.dtype} "
                f"{self.labeled.shape}"
            )
        if self.proba is not None and self.proba.shape != (n, len(self.classes)):
            raise LabelerError(
                f"pool proba must be (N, C) = ({n}, {len(self.classes)}) to match the vectors "
                f"and classes, got {self.proba.shape}"
            )
        if self.labels is not None:
            if self.labels.shape != (n,) or ((self.labels >= 0) != self.labeled).any():
                raise LabelerError(
                    "pool labels must give a class index (≥ 0) exactly for the labeled rows "
                    "and −1 for the others"
                )
            if self.labels.max(initial=-1) >= len(self.classes):
                raise LabelerError(f"pool labels index beyond the {len(self.classes)} classes")
        if self.committee is not None and (
            self.committee.ndim != 3 or self.committee.shape[1:] != (n, len(self.classes))
        ):
            raise LabelerError(
                f"pool committee must be (K, N, C) with N = {n} and C = {len(self.classes)}, "
                f"got {self.committee.shape}"
            )


VIEW_CLASSES = 2  # classes named in the model's view of a suggestion ("A 0.50 vs B 0.49")


@dataclass(frozen=True)
class Suggestion:
    """An image worth labeling, and why, in two parts: `why`, what the strategy saw, true of the
    pool it was picked from (e.g. "typical of a group of 120 similar images with no label when
    picked"); and the model's view of the image when picked, `top`, led by `lead` ("uncertain"
    when the model's doubt picked it, "model" when it only informs). `reason` is the sentence as
    of the pick (what `labeler suggest` writes); `reason_with` writes the model's view from a
    later prediction, so that a card showing that prediction gives the same numbers.
    """

    index: int  # row of the pool
    score: float  # higher = more useful; comparable within one batch only
    why: str  # "" when the model's view is the whole reason
    lead: str = ""  # "" when the reason gives no model's view
    top: tuple[tuple[str, float], ...] = ()  # (class, probability), most probable first
    first: bool = False  # the model's view comes before `why`

    @property
    def reason(self) -> str:
        """One short sentence for the expert."""
        return self.reason_with(self.top)

    def reason_with(
        self, top: Sequence[tuple[str, float]], *, percent: bool = False, lead: str | None = None
    ) -> str:
        """The sentence with the model's view "lead: A 0.50 vs B 0.49" (`percent`: "A 50% vs
        B 49%") from `top` (class, probability), most probable first, instead of the view it was
        picked with, led by `lead` instead of its own if given; without a lead or a top, `why`
        alone."""
        number = "{:.0%}" if percent else "{:.2f}"
        named = " vs ".join(f"{c} {number.format(p)}" for c, p in top[:VIEW_CLASSES])
        lead = self.lead if lead is None else lead
        view = f"{lead}: {named}" if self.lead and named else ""
        parts = (view, self.why) if self.first else (self.why, view)
        return "; ".join(part for part in parts if part)


class Strategy:
    """Base class of every strategy; `name` is its registry key."""

    name = "base"
    needs_proba = False  # True: refuses a pool without predictions
    needs_committee = False  # True: refuses a pool without a committee of heads

    def suggest(self, pool: Pool, n: int, *, exclude: Sequence[int] = ()) -> list[Suggestion]:
        """Up to n suggestions, most useful first; [] when nothing is left to label. Rows in
        `exclude` (skipped by the expert, or on another expert's card) are never suggested, but
        do not hide the unlabeled images near them."""
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise LabelerError(f"the number of suggestions must be at least 1, got {n!r}")
        pool.validate()
        if self.needs_proba and pool.proba is None:
            raise LabelerError(
                f"strategy {self.name!r} needs predictions; label images of at least two classes "
                "first, or use 'auto'"
            )
        if self.needs_committee and pool.committee is None:
            raise LabelerError(
                f"strategy {self.name!r} needs the predictions of several heads (a committee); "
                "label images of at least two classes first, or use 'auto'"
            )
        candidates = np.setdiff1d(np.flatnonzero(~pool.labeled), np.asarray(exclude, np.int64))
        if len(candidates) == 0:
            return []
        return _without_near_duplicates(pool, self._suggest(pool, candidates, int(n)), int(n))

    def _suggest(self, pool: Pool, candidates: np.ndarray, n: int) -> list[Suggestion]:
        """Suggestions among `candidates` (K,) int64 rows of the pool, best first."""
        raise NotImplementedError


def _without_near_duplicates(pool: Pool, got: list[Suggestion], n: int) -> list[Suggestion]:
    """The contract's safety net: the first n, skipping labeled rows and near-duplicates."""
    kept: list[Suggestion] = []
    for s in got:
        if len(kept) == n:
            break
        if pool.labeled[s.index]:
            raise AssertionError(f"strategy suggested labeled row {s.index}")  # a bug, not input
        v = pool.vectors[[k.index for k in kept]]
        if kept and float((v @ pool.vectors[s.index]).max()) >= NEAR_DUPLICATE_COSINE:
            continue
        kept.append(s)
    return kept
