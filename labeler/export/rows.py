"""The rows of the export CSV: hand labels, and the latest run's predictions for the rest."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from labeler.store import Store

# Export columns after the contract ones. `calibrated` (auto rows): 1 where the confidence was
# calibrated on held-out labels of its class, 0 for a class with a single hand label.
EXTRA_COLUMNS = ("entropy", "ood", "prediction_set", "calibrated")


def export_rows(store: Store, item_ids: np.ndarray, paths: Sequence[str]) -> list[dict]:
    """One dict per image, keyed by the export columns, in the order of item_ids (N,) int64 and
    their paths (N,). An image flagged out-of-distribution keeps its flag and loses its label."""
    human = {lab.item_id: lab for lab in store.labels()}
    run = store.latest_run()
    auto, extras = {}, {}
    uncalibrated: set[str] | None = None  # unknown for runs made before it was recorded
    if run is not None:
        auto = {p[0]: p for p in store.predictions(run.id)}
        extras = store.prediction_extras(run.id)
        if "uncalibrated" in run.params:
            uncalibrated = set(run.params["uncalibrated"])
    rows = []
    for item_id, path in zip(item_ids.tolist(), paths, strict=True):
        row: dict = {"path": path}
        if item_id in human:
            lab = human[item_id]
            row |= {
                "label": lab.label,
                "source": "human",
                "annotator": lab.annotator,
                "labeled_at": lab.labeled_at,
            }
        elif item_id in auto:
            _, label, conf, margin, entropy = auto[item_id]
            ood, prediction_set = extras[item_id]
            row |= {
                "label": label,
                "source": "auto",
                "confidence": conf,
                "margin": margin,
                "method": run.method,
                "model": run.model,
                "labeled_at": run.created_at,
                "entropy": entropy,
                "ood": int(ood),
                "prediction_set": _joined(prediction_set),
                "calibrated": None if uncalibrated is None else int(label not in uncalibrated),
            }
            if ood:  # fits no class: flagged, not forced into one
                row |= {"label": None, "confidence": None, "margin": None, "calibrated": None}
        rows.append(row)
    return rows


def _joined(prediction_set: list[str] | None) -> str | None:
    """A prediction set as one export cell: a JSON list of class names (None: not computed)."""
    return None if prediction_set is None else json.dumps(prediction_set, ensure_ascii=False)
