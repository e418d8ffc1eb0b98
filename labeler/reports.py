"""What the facade's commands report: `Project.predict`'s `PredictReport`, `import_labels`'
`ImportReport` and `status`'s `ProjectStatus`, with the texts status shows before any
prediction or estimate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

from labeler.active.stopping import AccuracyEstimate

NO_PREDICTION = "never (run `labeler predict`)"  # status' last_prediction before any
NO_ESTIMATE = "none yet (it needs two labels in each of two classes, then predict)"
NOT_FOR_THESE_LABELS = "none for the labels now (they changed since): run `labeler predict`"
EVERY_IMAGE_LABELED = "every image has a label, so there are no auto-labels to estimate"
CHECK_INTERRUPTED = (
    "none: the last predict was interrupted while checking the labels; run `labeler predict` "
    "again to make it"
)


@dataclass
class PredictReport:
    method: str
    model: str
    labeled: int
    predicted: int
    classes: list[str]
    temperature: float
    estimate: AccuracyEstimate | None = None  # of the auto-labels' accuracy, from the labels
    choice: str = ""  # what the head chose (auto: which heads, blended how, and why)
    target_precision: float = 0.0
    threshold: float = float("inf")  # confidence to auto-accept at for target_precision
    coverage: float = 0.0  # estimated share of the predicted images accepted at it
    ood: int = 0  # images flagged as fitting no class
    ood_short: int = 0  # labels still needed before any image can be flagged (0: flags work)
    set_size: float | None = None  # mean classes in a conformal prediction set, when asked for
    uncalibrated: list[str] = field(default_factory=list)  # classes with one hand label
    seen_by_backbone: int = 0  # hand labels the backbone was fine-tuned on (checks optimistic)


class ProjectStatus(TypedDict):
    """`Project.status()`, in the order `labeler status` prints it; no value is ever None."""

    images: int  # present, embedded images
    images_root: str  # the folder they are scanned from
    model: str  # the embedder that made the vectors, e.g. 'efficientnet_lite0@112'
    labeled: int  # images with a label (expert or accepted)
    gone_labeled: int  # labels of images gone from the folder, kept until they come back
    classes: dict[str, int]  # class name -> its labels, in order of creation
    skipped: list[tuple[str, str]]  # (path, reason) of files that could not be used
    last_prediction: str  # 'METHOD at TIME' of the latest `predict`, or NO_PREDICTION
    estimated_accuracy: str  # '0.78 (95% interval 0.70-0.85) from 40 labels', or why none
    fine_tuned_on: int  # labels the backbone was fine-tuned on; checks on them are optimistic


@dataclass(frozen=True)
class ImportReport:
    changed: int  # labels set or changed
    labeled: int  # images with a label after the import, in all
    unlabeled: list[int]  # lines of the CSV with a path but no label, skipped
    new_classes: list[str] = field(default_factory=list)  # classes the file created
    encoding: str = "utf-8"  # what the CSV was read as (`labelcsv.LabelRows.encoding`)
    # (path, old label, its annotator, new label) of labels the file replaced, in path order
    replaced: list[tuple[str, str, str, str]] = field(default_factory=list)
    unchanged: int = 0  # images the file gave the label they had already
    gone: int = 0  # labels given to images gone from the folder: kept until they come back
    rows: int = 0  # rows of the file with a path and a label
    kept_annotator: int = 0  # rows whose annotator came from the file's annotator column
    kept_time: int = 0  # rows whose time came from the file's labeled_at column
    unread_times: list[int] = field(default_factory=list)  # lines whose labeled_at is no time
    # (path, label, other path, other label): labeled images, after the import, whose
    # byte-identical copy has another label (`Project.disagreeing_copies`)
    disagreeing_copies: list[tuple[str, str, str, str]] = field(default_factory=list)


def estimate_text(
    point: tuple[int, float, float, float] | None,
    *,
    any_recorded: bool,
    every_labeled: bool,
    check_interrupted: bool = False,
) -> str:
    """'0.78 (95% interval 0.70-0.85) from 40 labels', of the estimate for the labels now; when
    there is none, EVERY_IMAGE_LABELED when nothing is left to auto-label, CHECK_INTERRUPTED
    when the predict for the labels now was stopped while checking them, else NO_ESTIMATE, or
    NOT_FOR_THESE_LABELS once some other set was estimated."""
    if every_labeled:
        return EVERY_IMAGE_LABELED
    if point is None and check_interrupted:
        return CHECK_INTERRUPTED
    if point is None:
        return NOT_FOR_THESE_LABELS if any_recorded else NO_ESTIMATE
    n, accuracy, low, high = point
    return f"{accuracy:.2f} (95% interval {low:.2f}-{high:.2f}) from {n} labels"
