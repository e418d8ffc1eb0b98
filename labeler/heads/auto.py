"""`auto`: per project, a blend of heads chosen from the expert's labels alone.

Each candidate head is fitted and calibrated (its own held-out logits and temperature); `auto`
then searches a grid of blend weights (a weighted product of the candidates' calibrated
probabilities, a geometric ensemble) for the lowest negative log-likelihood on the same held-out
rows, and calibrates the blend's temperature on them. The held-out rows come from the same
stratified folds (`labeler.folds`) for every candidate: a cross-validation on the labels alone.
No held-out rows (one label per class): the prior choice, label propagation, which the benchmark
found best with few labels.
"""

from __future__ import annotations

import itertools

import numpy as np

from labeler.calibrate import fit_temperature, log_softmax, nll
from labeler.errors import LabelerError
from labeler.heads.base import Head
from labeler.heads.graph import KnnGraph

AUTO_CANDIDATES = ("labelprop", "logreg")  # a transductive and an inductive family
AUTO_PRIOR = (1.0, 0.0)  # blend weights when the labels cannot be cross-validated
AUTO_WEIGHT_STEPS = 5  # weights searched per candidate: 0, 1/4, …, 1 (summing to 1)


class Auto(Head):
    """Attributes after fit: heads_ (fitted candidates), weights_ (C,) float, choice_ (str)."""

    name = "auto"
    transductive = True

    def __init__(
        self,
        *,
        candidates: tuple[str, ...] = AUTO_CANDIDATES,
        prior: tuple[float, ...] = AUTO_PRIOR,
    ) -> None:
        if len(candidates) != len(prior) or not candidates:
            raise LabelerError(
                f"auto needs one prior weight per candidate; got candidates {candidates} and "
                f"prior {prior}"
            )
        self.candidates = tuple(candidates)
        self.prior = np.asarray(prior, dtype=np.float64)

    def _fit(
        self, X: np.ndarray, y: np.ndarray, X_pool: np.ndarray | None, graph: KnnGraph | None
    ) -> None:
        from labeler.heads import create_head

        labels = self.classes_[y]
        self.heads_ = [
            create_head(name).fit(X, labels, X_pool=X_pool, graph=graph) for name in self.candidates
        ]
        held_out = [h.oof_ for h in self.heads_]
        self.weights_, self._oof = self.prior, None
        if all(h is not None for h in held_out):
            rows = held_out[0][0]
            if all(np.array_equal(rows, h[0]) for h in held_out):
                logs = [
                    log_softmax(h[1] / m.temperature_)
                    for h, m in zip(held_out, self.heads_, strict=True)
                ]
                self.weights_ = _best_weights(np.stack(logs), y[rows])
                self._oof = (rows, np.tensordot(self.weights_, np.stack(logs), axes=1))
        self.choice_ = self._describe(labels, held_out)

    def describe(self) -> str:
        return f"{self.name}: {self.choice_}"

    def _describe(self, labels: np.ndarray, held_out: list) -> str:
        parts = " + ".join(
            f"{w:.2f} {name}"
            for w, name in zip(self.weights_, self.candidates, strict=True)
            if w > 0
        )
        if self._oof is None:
            return (
                f"{parts} (one label per class: nothing to cross-validate or calibrate on, so the "
                "prior choice, and confidences that are not calibrated)"
            )
        rows = self._oof[0]
        truth = labels[rows]
        scores = [  # each candidate at its own temperature, as the blend search saw it
            (name, nll(h[1], self.classes_.searchsorted(truth), m.temperature_), h[1])
            for name, m, h in zip(self.candidates, self.heads_, held_out, strict=True)
        ]
        losses = ", ".join(f"{name} {loss:.2f}" for name, loss, _ in scores)
        accs = ", ".join(
            f"{name} {np.mean(self.classes_[logits.argmax(axis=1)] == truth):.0%}"
            for name, _, logits in scores
        )
        y, blend = self.classes_.searchsorted(truth), self._oof[1]
        blended = nll(blend, y, fit_temperature(blend, y))
        return (
            f"{parts} (chosen by out-of-fold log-loss, lower is better: {losses}, blend "
            f"{blended:.2f}; out-of-fold accuracy: {accs})"
        )

    def _blend(self, logs: list[np.ndarray]) -> np.ndarray:
        out = np.zeros_like(logs[0])
        for w, log_p in zip(self.weights_, logs, strict=True):
            if w > 0:
                out += w * log_p
        return out.astype(np.float32)

    def _logits(self, X: np.ndarray) -> np.ndarray:
        return self._blend([np.log(np.maximum(h.predict_proba(X), 1e-12)) for h in self.heads_])

    def _pool_logits(self, X_pool: np.ndarray) -> np.ndarray:
        return self._blend([np.log(np.maximum(h.predict_pool_proba(), 1e-12)) for h in self.heads_])

    def _loo_logits(
        self, X: np.ndarray, y: np.ndarray, X_pool: np.ndarray | None, graph: KnnGraph | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        return self._oof


def _best_weights(logs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Blend weights (H,) on the simplex grid minimising the held-out NLL of (H, K, C) log-probs.

    Each blend is scored at its own best temperature; ties go to the earlier grid point.
    """
    steps = np.linspace(0.0, 1.0, AUTO_WEIGHT_STEPS)
    best, best_nll = None, np.inf
    for w in itertools.product(steps, repeat=len(logs)):
        if not np.isclose(sum(w), 1.0):
            continue
        blend = np.tensordot(np.asarray(w), logs, axes=1)
        score = nll(blend, y, fit_temperature(blend, y))
        if score < best_nll - 1e-9:
            best, best_nll = np.asarray(w), score
    return best
