"""Feature extraction + a classic classifier: logistic regression (the linear probe) and a SVM.

Both are fitted on the features of `FeatureMap` (power transform, pool centring, L2 norm), the
standard few-shot "linear probe" baseline (Chen et al. 2019; Tian et al. 2020). Their held-out
logits come from refitting on stratified folds.

The logistic regression is scikit-learn's, fitted in the span of the labeled rows (the optimum of
an L2-penalised linear model lies there): with N labeled rows ≪ D dimensions, L-BFGS works on
N numbers a class instead of D, which keeps its refits on held-out folds cheap.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from labeler.calibrate import log_softmax
from labeler.heads.features import POWER, FeatureHead
from labeler.heads.graph import KnnGraph

LOGREG_C = 10.0  # inverse L2 strength; unit-norm features need little regularisation
SVM_C = 1.0
MAX_ITERATIONS = 1000
RANK_TOLERANCE = 1e-10  # Gram eigenvalues below this share of the largest span nothing
# scikit-learn's hint that `y` may be a regression target, given when there are more classes
# than half the rows: few-shot fits on a few labels of many classes are that by design.
FEW_SAMPLES_WARNING = r"The number of unique classes is greater than 50% of the number of samples"


@contextmanager
def few_labels_per_class() -> Iterator[None]:
    """Around a scikit-learn fit on a few labels a class: its `FEW_SAMPLES_WARNING` is not
    shown; every other warning is."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=FEW_SAMPLES_WARNING, category=UserWarning)
        yield


class _LinearHead(FeatureHead):
    """A scikit-learn linear classifier on `FeatureMap` features; subclasses pick it."""

    def __init__(self, *, C: float, power: float | None = POWER) -> None:
        self.C = C
        self.power = power

    def _classifier(self):
        raise NotImplementedError

    def _fit(
        self, X: np.ndarray, y: np.ndarray, X_pool: np.ndarray | None, graph: KnnGraph | None
    ) -> None:
        self._fit_features(X, X_pool)
        self._single = len(np.unique(y)) < 2
        if not self._single:
            with few_labels_per_class():
                self.model_ = self._classifier().fit(self._embed(X), y)

    def _scores_of(self, Z: np.ndarray) -> np.ndarray:
        if self._single:
            return np.zeros((len(Z), len(self.classes_)), dtype=np.float32)
        return self._scores(Z).astype(np.float32)

    def _scores(self, Z: np.ndarray) -> np.ndarray:
        """(N, D) embedded rows → (N, C) the classifier's scores."""
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
        return _ReducedLogistic(C=self.C)

    def _scores(self, Z: np.ndarray) -> np.ndarray:
        return log_softmax(self.model_.decision_function(Z))


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


class _ReducedLogistic:
    """scikit-learn's multinomial logistic regression, fitted in the span of the training rows.

    With Q an orthonormal basis (D, r) of the rows' span, W = Q β loses nothing (the optimum lies
    there) and ‖W‖ = ‖β‖: fitting on Z Q (N, r) is the same problem with r ≤ N parameters a class
    instead of D. Q comes from the N × N Gram matrix Z Zᵀ = V Λ Vᵀ: Q = Zᵀ V Λ^-1/2, Z Q = V Λ^1/2.
    Attributes after fit: coef_ (D, C) float32, intercept_ (C,) float32.
    """

    def __init__(self, *, C: float, tol: float = 1e-4) -> None:
        self.C = C
        self.tol = tol

    def fit(self, Z: np.ndarray, y: np.ndarray) -> _ReducedLogistic:
        """Z (N, D) float32 rows, y (N,) int classes (two or more)."""
        from sklearn.linear_model import LogisticRegression

        Z64 = Z.astype(np.float64)
        lam, V = np.linalg.eigh(Z64 @ Z64.T)
        keep = lam > lam.max() * RANK_TOLERANCE
        lam, V = lam[keep], V[:, keep]
        Q = Z64.T @ (V / np.sqrt(lam))  # (D, r) orthonormal columns
        model = LogisticRegression(C=self.C, tol=self.tol, max_iter=MAX_ITERATIONS)
        model.fit(V * np.sqrt(lam), y)
        coef = Q @ model.coef_.T  # (D, C), or (D, 1) for two classes
        intercept = model.intercept_
        if coef.shape[1] == 1:  # binary: logits (−s/2, s/2) give the same probabilities
            coef, intercept = np.hstack([-coef / 2, coef / 2]), np.array([-1, 1]) * intercept / 2
        self.coef_, self.intercept_ = coef.astype(np.float32), intercept.astype(np.float32)
        return self

    def decision_function(self, Z: np.ndarray) -> np.ndarray:
        """(M, D) → (M, C) float32 logits."""
        return Z @ self.coef_ + self.intercept_
