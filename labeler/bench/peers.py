"""The peers the few-shot benchmark compares against, run on the same embeddings in the same run.

easyfsl's methods through their feature-level API (backbone = identity: the "images" given to
them are our embeddings), each with the feature preprocessing its paper uses: SimpleShot,
BD-CSPN, TIM, LaplacianShot and TransductiveFinetuning on centred (pool mean) and L2-normalised
features ("CL2N"); PT-MAP on L2-normalised features through its own power transform; Prototypical
Networks on the raw features. Their hyper-parameters are easyfsl's defaults. scikit-learn's
LogisticRegression (linear probe) and LabelSpreading (kNN graph) on the raw features.

Every peer is a function (support X (S, D), support y (S,) int 0..C-1, pool X (M, D)) →
(M, C) float probabilities of the pool rows; transductive peers see the whole pool.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Peer = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _easyfsl(method: str, *, centre: bool, normalise: bool) -> Peer:
    def run(Xs: np.ndarray, ys: np.ndarray, Xp: np.ndarray) -> np.ndarray:
        import easyfsl.methods
        import torch

        cls = getattr(easyfsl.methods, method)
        model = cls(
            feature_centering=torch.from_numpy(Xp.mean(axis=0)) if centre else None,
            feature_normalization=2 if normalise else None,
            use_softmax=True,
        )
        model.process_support_set(torch.from_numpy(Xs), torch.from_numpy(ys))
        with torch.no_grad():
            out = model(torch.from_numpy(Xp)).double().numpy()
        out = np.clip(np.nan_to_num(out), 0.0, None)  # LaplacianShot, PT-MAP: soft assignments
        total = out.sum(axis=1, keepdims=True)
        return np.where(total > 0, out / np.where(total > 0, total, 1), 1.0 / out.shape[1])

    return run


def _logistic_regression(Xs: np.ndarray, ys: np.ndarray, Xp: np.ndarray) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000).fit(Xs, ys).predict_proba(Xp)


def _label_spreading(Xs: np.ndarray, ys: np.ndarray, Xp: np.ndarray) -> np.ndarray:
    from sklearn.semi_supervised import LabelSpreading

    X = np.concatenate([Xs, Xp])
    y = np.concatenate([ys, np.full(len(Xp), -1)])
    model = LabelSpreading(kernel="knn", n_neighbors=10).fit(X, y)
    return model.label_distributions_[len(Xs) :]


PEERS: dict[str, Peer] = {
    "easyfsl:ProtoNet": _easyfsl("PrototypicalNetworks", centre=False, normalise=False),
    "easyfsl:SimpleShot": _easyfsl("SimpleShot", centre=True, normalise=True),
    "easyfsl:BD-CSPN": _easyfsl("BDCSPN", centre=True, normalise=True),
    "easyfsl:TIM": _easyfsl("TIM", centre=True, normalise=True),
    "easyfsl:LaplacianShot": _easyfsl("LaplacianShot", centre=True, normalise=True),
    "easyfsl:PT-MAP": _easyfsl("PTMAP", centre=False, normalise=True),
    "easyfsl:TransductiveFT": _easyfsl("TransductiveFinetuning", centre=True, normalise=True),
    "sklearn:LogisticRegression": _logistic_regression,
    "sklearn:LabelSpreading": _label_spreading,
}
