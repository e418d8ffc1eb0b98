"""Zero-shot labels from class names: text prototypes as a prior for the image prototypes.

CLIP (Radford et al. 2021) embeds images and text in one space; the class names, written into
prompts, give text prototypes (`labeler.embed.clip_backend.text_embeddings`) that label images
with no example, and steady the prototypes while examples are few.

    labeler init PROJECT --images DIR --backbone clip --checkpoint ViT-B-32.pt
    labeler predict PROJECT --method zeroshot
"""

from __future__ import annotations

import numpy as np

from labeler.config import PROTONET_TEMPERATURE
from labeler.errors import LabelerError
from labeler.heads.features import FeatureMap
from labeler.heads.graph import KnnGraph
from labeler.heads.protonet import ProtoNet
from labeler.index.faiss_index import l2_normalize

TEXT_PRIOR_WEIGHT = 1.0  # the text prototype counts as this many labeled examples


class ZeroShotPrior(ProtoNet):
    """ProtoNet whose prototypes start from the class names: each is the normalised sum of the
    class's normalised examples and TEXT_PRIOR_WEIGHT times its text prototype, so one label
    or none still has a sensible prototype. Features are L2-normalised, not centred (the text
    lives in CLIP's raw space). Without text it is ProtoNet on uncentred features.

    Options: class_text maps class names to (D,) text embeddings of the same CLIP model.
    """

    name = "zeroshot"

    def __init__(
        self,
        *,
        class_text: dict[str, np.ndarray] | None = None,
        weight: float = TEXT_PRIOR_WEIGHT,
        temperature: float = PROTONET_TEMPERATURE,
    ) -> None:
        super().__init__(temperature=temperature, power=None)
        self.class_text = class_text or {}
        self.weight = weight

    def _fit(
        self, X: np.ndarray, y: np.ndarray, X_pool: np.ndarray | None, graph: KnnGraph | None
    ) -> None:
        self.features_ = FeatureMap(power=None, center=np.zeros(X.shape[1], dtype=np.float32))
        self.scale_ = np.float32(1.0)
        prior = np.zeros((len(self.classes_), X.shape[1]), dtype=np.float32)
        for c, name in enumerate(self.classes_):
            if str(name) in self.class_text:
                text = np.asarray(self.class_text[str(name)], dtype=np.float32).reshape(-1)
                if text.shape != (X.shape[1],):
                    raise LabelerError(
                        f"the text prototype of {name!r} has {text.size} dimensions, the images "
                        f"{X.shape[1]}: embed both with the same CLIP checkpoint"
                    )
                prior[c] = self.weight * l2_normalize(text[None])[0]
        self._set_prototypes(self._embed(X), y, prior)
