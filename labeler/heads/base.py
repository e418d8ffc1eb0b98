"""The head contract: a classifier on cached embedding vectors.

Input is validated once at the public boundary (`fit`, `predict_proba`); subclasses implement the
private `_fit` and `_logits`. Probabilities are a softmax of the logits divided by a temperature
that `fit` calibrates on leave-one-out logits of the labeled set, so that no label scores itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from labeler.calibrate import fit_temperature, softmax
from labeler.errors import LabelerError


class Head:
    """Base class of every head.

    Attributes after `fit`:
        classes_: (C,) object array of class names, sorted.
        temperature_: float, the calibrated softmax temperature.
    """

    name: str = "base"

    def fit(self, X: np.ndarray, y: Sequence[str], *, X_pool: np.ndarray | None = None) -> Head:
        """Fit on labeled vectors.

        Args:
            X: (N, D) float32, the labeled images' embeddings.
            y: (N,) class names.
            X_pool: (M, D) float32, optional unlabeled pool, for heads that use it (centring,
                transduction). M may be 0.
        """
        X = _check_matrix(X, "X")
        y = np.asarray(y, dtype=object).reshape(-1)
        if len(y) != len(X):
            raise LabelerError(f"X has {len(X)} rows but y has {len(y)} labels; pass one per row")
        if len(X) == 0:
            raise LabelerError("no labeled images to fit on; label at least one image per class")
        if X_pool is not None:
            X_pool = _check_matrix(X_pool, "X_pool", dim=X.shape[1])
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        self.dim_ = X.shape[1]
        self._fit(X, y_idx, X_pool)
        loo = self._loo_logits(X, y_idx)
        self.temperature_ = fit_temperature(*loo) if loo is not None else 1.0
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(M, D) → (M, C) float32 calibrated probabilities, columns in `classes_` order."""
        if not hasattr(self, "classes_"):
            raise LabelerError(f"head {self.name!r} is not fitted; call fit() first")
        X = _check_matrix(X, "X", dim=self.dim_)
        return softmax(self._logits(X) / self.temperature_)

    # -- for subclasses --------------------------------------------------------------------------

    def _fit(self, X: np.ndarray, y: np.ndarray, X_pool: np.ndarray | None) -> None:
        raise NotImplementedError

    def _logits(self, X: np.ndarray) -> np.ndarray:
        """(M, D) → (M, C) float32 uncalibrated logits."""
        raise NotImplementedError

    def _loo_logits(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Leave-one-out logits (K, C) and their true class (K,) for calibration, or None."""
        return None


def _check_matrix(X: np.ndarray, name: str, *, dim: int | None = None) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise LabelerError(f"{name} must be a 2-D array (N, D), got shape {X.shape}")
    if dim is not None and X.shape[1] != dim:
        raise LabelerError(f"{name} has {X.shape[1]} columns but the head expects {dim}")
    if not np.isfinite(X).all():
        raise LabelerError(f"{name} contains NaN or infinite values; re-embed the images")
    return X
