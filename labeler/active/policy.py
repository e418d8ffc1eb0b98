"""The default policy, `auto`: what `labeler suggest` and the UI's review queue ask for.

With no labels it is TypiClust: the most typical image of each of the biggest groups of similar
images, which in the low-budget regime beats random and uncertainty by far, because a head cannot
predict a class it has no label for (Hacohen et al. 2022). As labels accumulate it moves to
uncertainty within diversity: the groups without labels stay the unit of diversity, but both
the order of the groups and the pick inside each are weighted towards the images the model is
unsure of, reaching pure uncertainty at AUTO_UNCERTAINTY_LABELS_PER_CLASS labels per class.
"""

from __future__ import annotations

import numpy as np

from labeler.active.base import Pool, Strategy, Suggestion
from labeler.active.clusters import typical_clusters
from labeler.active.scores import margin_score
from labeler.active.select import top_k_diverse
from labeler.active.strategies import (
    MODEL,
    UNCERTAIN,
    farthest,
    group_reason,
    rows_mask,
    with_view,
)
from labeler.config import AUTO_UNCERTAINTY_LABELS_PER_CLASS

UNCERTAINTY_FIRST = 0.5  # from this weight on, a reason leads with the model's hesitation


def uncertainty_weight(pool: Pool) -> float:
    """0 with no predictions, growing linearly to 1 at AUTO_UNCERTAINTY_LABELS_PER_CLASS labels
    per predicted class."""
    if pool.proba is None or len(pool.classes) < 2:
        return 0.0
    per_class = int(pool.labeled.sum()) / len(pool.classes)
    return min(1.0, per_class / AUTO_UNCERTAINTY_LABELS_PER_CLASS)


class Auto(Strategy):
    """Typical images of unlabeled groups first; uncertain ones of them as labels accumulate."""

    name = "auto"

    def _suggest(self, pool: Pool, candidates: np.ndarray, n: int) -> list[Suggestion]:
        w = uncertainty_weight(pool)
        uncertainty = margin_score(pool.proba) if w > 0 else None
        got = typical_clusters(
            pool.vectors,
            pool.labeled,
            n,
            uncertainty=uncertainty,
            uncertainty_weight=w,
            pickable=rows_mask(candidates, len(pool.vectors)),
            seed=pool.seed,
        )
        lead = UNCERTAIN if w >= UNCERTAINTY_FIRST else MODEL
        out = []
        for i, size, labeled, priority in zip(
            got.indices, got.sizes, got.labeled, got.priority, strict=True
        ):
            why = group_reason(int(size), int(labeled))
            if w == 0:
                out.append(Suggestion(int(i), float(priority), why))
            else:
                out.append(with_view(pool, i, priority, why, lead=lead, first=lead == UNCERTAIN))
        # Two groups can meet in near-duplicates; keep the first of each such pair.
        out = [out[k] for k in top_k_diverse(-np.arange(len(out)), pool.vectors[got.indices], n)]
        if len(out) < n:  # fewer groups with unlabeled images than asked: fill by coverage
            out += farthest(pool, candidates, [s.index for s in out], n - len(out))
        return out
