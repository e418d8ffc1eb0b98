"""labeler: few-shot image labeling with calibrated auto-labels and active learning."""

__version__ = "0.1.0"
