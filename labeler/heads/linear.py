"""Feature extraction + a classic classifier: logistic regression (the linear probe) and a SVM.

Both are fitted on the features of `FeatureMap` (power transform, pool centring, L2 norm), the
standard few-shot "linear probe" baseline (Chen et al. 2019; Tian et al. 2020). Their held-out
logits come from refitting on stratified folds.
"""

from __future__ import annotations

import numpy as np

from labeler.heads.base import Head
from labeler.heads.features import POWER, FeatureMap
from labeler.heads.graph import KnnGraph

LOGREG_C = 10.0  # inverse L2 strength; unit-norm features need little regularisation
SVM_C = 1.0
MAX_ITERATIONS = 1000


class _LinearHead(Head):
    """A scikit-learn linear classifier on `FeatureMap` features; subclasses pick it."""

    def __init__(self, *, C: float, power: float | None = POWER) -> None:
        self.C = C
        self.power = power

    def _classifier(self):
        raise NotImplementedError

    def _fit(
        self, X: np.ndarray, y: np.ndarray, X_pool: np.ndarray | None, graph: KnnGraph | None
    ) -> None:
        pool = X_pool if X_pool is not None and len(X_pool) else X
        self.features_ = FeatureMap.fit(pool, power=self.power)
        self._single = len(np.unique(y)) < 2
        if not self._single:
            self.model_ = self._classifier().fit(self.features_.transform(X), y)

    def _logits(self, X: np.ndarray) -> np.ndarray:
        if self._single:
            return np.zeros((len(X), len(self.classes_)), dtype=np.float32)
        scores = self._scores(self.features_.transform(X))
        return scores.astype(np.float32)

    def _scores(self, Z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _loo_logits(
        self, X: np.ndarray, y: np.ndarray, X_pool: np.ndarray | None, graph: KnnGraph | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        return self._refit_oof(X, y, X_pool, graph)


class LogisticProbe(_LinearHead):
    """Multinomial logistic regression; logits are its log-probabilities."""

    name = "logreg"

    def __init__(self, *, C: float = LOGREG_C, power: float | None = POWER) -> None:
        super().__init__(C=C, power=power)

    def _classifier(self):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.C, max_iter=MAX_ITERATIONS)

    def _scores(self, Z: np.ndarray) -> np.ndarray:
        return self.model_.predict_log_proba(Z)


class LinearSVM(_LinearHead):
    """One-vs-rest linear SVM; logits are its margins (decision values)."""

    name = "svm"

    def __init__(self, *, C: float = SVM_C, power: float | None = POWER) -> None:
        super().__init__(C=C, power=power)

    def _classifier(self):
        from sklearn.svm import LinearSVC

        return LinearSVC(C=self.C, max_iter=MAX_ITERATIONS)

    def _scores(self, Z: np.ndarray) -> np.ndarray:
        d = self.model_.decision_function(Z)
        return np.stack([-d / 2, d / 2], axis=1) if d.ndim == 1 else d
