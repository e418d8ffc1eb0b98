"""The head contract: a classifier on cached embedding vectors.

Input is validated once at the public boundary (`fit`, `predict_proba`); subclasses implement the
private `_fit` and `_logits`. Probabilities are a softmax of the logits divided by a temperature
that `fit` calibrates on held-out logits of the labeled set (leave-one-out or out-of-fold), so
that no label scores itself. Those held-out logits stay on the head (`oof_`) for `auto` and for
the thresholds of `labeler.calibrate`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np

from labeler.calibrate import fit_temperature, softmax
from labeler.errors import LabelerError
from labeler.folds import held_out_folds
from labeler.heads.graph import KnnGraph

MISSING_CLASS_GAP = 20.0  # held-out logit of a class absent from a fold: row minimum minus this


class Head:
    """Base class of every head.

    Attributes after `fit`:
        classes_: (C,) object array of class names, sorted.
        temperature_: float, the calibrated softmax temperature.
        oof_: held-out logits of the labeled rows, or None: a pair (rows (K,) int64 indices
            into the fitted X, logits (K, C) float32 before the temperature).
    """

    name: str = "base"  # the registry key: `create_head` sets the one the head was made under
    transductive: bool = False  # True: predictions depend on the pool given to fit

    def fit(
        self,
        X: np.ndarray,
        y: Sequence[str],
        *,
        X_pool: np.ndarray | None = None,
        graph: KnnGraph | None = None,
    ) -> Head:
        """Fit on labeled vectors.

        Args:
            X: (N, D) float32, the labeled images' embeddings.
            y: (N,) class names.
            X_pool: (M, D) float32, optional unlabeled pool, for heads that use it (centring,
                transduction). M may be 0. The labeled images may be in it too.
            graph: the kNN graph of X_pool as `pool_graph(X_pool)` makes it, when cached;
                heads that need one build it otherwise.
        """
        X = _check_matrix(X, "X")
        y = np.asarray(y, dtype=object).reshape(-1)
        if len(y) != len(X):
            raise LabelerError(f"X has {len(X)} rows but y has {len(y)} labels; pass one per row")
        if len(X) == 0:
            raise LabelerError("no labeled images to fit on; label at least one image per class")
        if X_pool is not None:
            X_pool = _check_matrix(X_pool, "X_pool", dim=X.shape[1])
        if graph is not None:
            if X_pool is None:
                raise LabelerError("a kNN graph was given without its pool; pass X_pool too")
            graph.check(len(X_pool))
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        self.dim_ = X.shape[1]
        self._pool = X_pool
        self._fit(X, y_idx, X_pool, graph)
        self.oof_ = self._loo_logits(X, y_idx, X_pool, graph)
        self.temperature_ = 1.0
        if self.oof_ is not None:
            rows, logits = self.oof_
            self.temperature_ = fit_temperature(logits, y_idx[rows])
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(M, D) → (M, C) float32 calibrated probabilities, columns in `classes_` order."""
        self._check_fitted()
        X = _check_matrix(X, "X", dim=self.dim_)
        if not len(X):
            return np.zeros((0, len(self.classes_)), dtype=np.float32)
        return softmax(self._logits(X) / self.temperature_)

    def predict_pool_proba(self) -> np.ndarray:
        """(M, C) float32 calibrated probabilities of the X_pool rows given to fit.

        For a transductive head these are its transductive predictions (label propagation's
        node scores); `predict_proba(X_pool)` would be its out-of-sample rule instead.
        """
        self._check_fitted()
        if self._pool is None:
            raise LabelerError(f"head {self.name!r} was fitted without X_pool; pass X_pool to fit")
        return softmax(self._pool_logits(self._pool) / self.temperature_)

    def describe(self) -> str:
        """What was fitted, in a few words, starting with `name` (`auto` says what it chose)."""
        return self.name

    def _check_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            raise LabelerError(f"head {self.name!r} is not fitted; call fit() first")

    # -- for subclasses --------------------------------------------------------------------------

    def _fit(
        self, X: np.ndarray, y: np.ndarray, X_pool: np.ndarray | None, graph: KnnGraph | None
    ) -> None:
        """X (N, D) float32, y (N,) int class indices into classes_; X_pool and graph as in fit."""
        raise NotImplementedError

    def _logits(self, X: np.ndarray) -> np.ndarray:
        """(M, D) → (M, C) float32 uncalibrated logits."""
        raise NotImplementedError

    def _pool_logits(self, X_pool: np.ndarray) -> np.ndarray:
        """(M, C) logits of the pool given to fit; transductive heads override this."""
        return self._logits(X_pool)

    def _loo_logits(
        self, X: np.ndarray, y: np.ndarray, X_pool: np.ndarray | None, graph: KnnGraph | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Held-out logits of the fitted rows: (rows (K,) int64, logits (K, C)), or None.

        Each row's logits come from the head fitted without it (leave-one-out or out of fold).
        Rows whose class has no other labeled example are left out: nothing could predict them.
        """
        return None

    def _refit_oof(
        self, X: np.ndarray, y: np.ndarray, X_pool: np.ndarray | None, graph: KnnGraph | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """`_loo_logits` by refitting a copy of this head on stratified folds.

        For heads cheap to refit. A class absent from a fold's training rows gets the logit
        (row minimum − MISSING_CLASS_GAP) in that fold's rows.
        """
        split = held_out_folds(y)
        if split is None or len(self.classes_) < 2:
            return None
        fold, keep = split
        logits = np.zeros((len(y), len(self.classes_)), dtype=np.float32)
        for f in np.unique(fold[keep]):
            train, test = fold != f, fold == f
            present = np.unique(y[train])
            clone = copy.copy(self)
            clone.classes_ = self.classes_[present]
            clone._fit(X[train], np.searchsorted(present, y[train]), X_pool, graph)
            part = clone._logits(X[test])
            out = np.repeat(
                part.min(axis=1, keepdims=True) - MISSING_CLASS_GAP, len(self.classes_), 1
            )
            out[:, present] = part
            logits[test] = out
        rows = np.flatnonzero(keep)
        return rows, logits[rows]


def _check_matrix(X: np.ndarray, name: str, *, dim: int | None = None) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise LabelerError(f"{name} must be a 2-D array (N, D), got shape {X.shape}")
    if dim is not None and X.shape[1] != dim:
        raise LabelerError(f"{name} has {X.shape[1]} columns but the head expects {dim}")
    if not np.isfinite(X).all():
        raise LabelerError(f"{name} contains NaN or infinite values; re-embed the images")
    return X
