"""The base of the heads that score by similarity over a temperature and are cheap to refit."""

from __future__ import annotations

import numpy as np

from labeler.config import PROTONET_TEMPERATURE
from labeler.heads.features import POWER, FeatureHead
from labeler.heads.graph import KnnGraph


class SimilarityHead(FeatureHead):
    """A `FeatureHead` whose logits are similarities divided by a temperature; its held-out
    logits come from refitting it on stratified folds.

    Keyword options, which subclasses take as `**options` next to their own:
        temperature: divides the similarities (before calibration).
        power: the exponent of the power transform, or None for none.
    """

    def __init__(
        self, *, temperature: float = PROTONET_TEMPERATURE, power: float | None = POWER
    ) -> None:
        self.base_temperature = temperature
        self.power = power

    def _loo_logits(
        self, X: np.ndarray, y: np.ndarray, X_pool: np.ndarray | None, graph: KnnGraph | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        return self._refit_oof(X, y, X_pool, graph)
