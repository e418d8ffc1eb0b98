"""Fine-tuning the backbone on the expert's labels, for when frozen features are weak.

`finetune_backbone` trains the last blocks of a timm backbone (or all of it) with a cosine
classifier on top: data augmentation, a small learning rate for the backbone and a larger one
for the classifier, a fixed step and time budget, mixed precision on a GPU, a progress bar on
the CPU. `Project.finetune` (labeler.project) saves the weights in the project and re-embeds
every image with them.
"""

from labeler.finetune.trainer import FinetuneReport, finetune_backbone, trainable_parameters

__all__ = ["FinetuneReport", "finetune_backbone", "trainable_parameters"]
