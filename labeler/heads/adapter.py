"""Metric learning on the frozen vectors: a small adapter trained on the expert's labels.

- `MetricAdapter`: a low-rank residual map z → normalise(z + U Vᵀ z), U initialised at 0 (so it
  starts as SimpleShot), trained with the episodic prototypical loss (Snell et al. 2017: N-way
  K-shot episodes drawn from the labels); then nearest prototype in the adapted space.
- `RelationHead`: a learned similarity (Sung et al. 2018, "Relation Networks"): an MLP scores a
  (query, prototype) pair from [|q − p|, q ⊙ p], on top of their cosine, trained on the same
  episodes.

Both train on the CPU in about a second at these sizes (a fixed step budget, seeded). On
Fashion-MNIST embeddings they beat ProtoNet by 1-1.5 points at 20 labels a class but not at 5,
and stay below the logistic probe (README, Benchmarks). Tried and dropped for doing no better:
batch-hard triplet and supervised contrastive losses for the adapter, and first-order
Reptile meta-learning of its initial weights.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from labeler.config import PROTONET_TEMPERATURE
from labeler.heads.features import POWER, FeatureHead
from labeler.heads.graph import KnnGraph

ADAPTER_STEPS = 50  # optimiser steps of the adapter and relation heads
ADAPTER_LR = 1e-3
ADAPTER_RANK = 64  # rank of the adapter's residual map
ADAPTER_WEIGHT_DECAY = 1e-3
_RELATION_BLOCK = 1024  # queries related at a time: bounds the (block, C, 2D) pair tensor


class _Residual(nn.Module):
    """z → normalise(z + U Vᵀ z): a low-rank residual map (D → r → D), U starting at zero."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.down = nn.Linear(dim, min(ADAPTER_RANK, dim), bias=False)
        self.up = nn.Linear(min(ADAPTER_RANK, dim), dim, bias=False)
        nn.init.zeros_(self.up.weight)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(z + self.up(self.down(z)), dim=1)


class MetricAdapter(FeatureHead):
    """Nearest prototype (cosine) after an adapter trained on episodes drawn from the labels.

    Needs two labels in some class to train; otherwise it is SimpleShot (the adapter is zero).
    """

    name = "adapter"

    def __init__(
        self,
        *,
        steps: int = ADAPTER_STEPS,
        temperature: float = PROTONET_TEMPERATURE,
        power: float | None = POWER,
        seed: int = 0,
    ) -> None:
        self.steps, self.seed = steps, seed
        self.base_temperature = temperature
        self.power = power

    def _fit(
        self, X: np.ndarray, y: np.ndarray, X_pool: np.ndarray | None, graph: KnnGraph | None
    ) -> None:
        self._fit_features(X, X_pool)
        Z = torch.from_numpy(self.features_.transform(X))
        labels = torch.from_numpy(y)
        self.module_ = _Residual(Z.shape[1])
        self._train(Z, labels)
        with torch.no_grad():
            A = self.module_(Z)
        self.prototypes_ = _prototypes(A, labels, len(self.classes_))

    def _train(self, Z: torch.Tensor, y: torch.Tensor) -> None:
        if torch.bincount(y).max() < 2:
            return
        gen = torch.Generator().manual_seed(self.seed)
        opt = torch.optim.AdamW(
            self.module_.parameters(), lr=ADAPTER_LR, weight_decay=ADAPTER_WEIGHT_DECAY
        )
        for _ in range(self.steps):
            opt.zero_grad()
            episode_loss(self.module_, Z, y, gen, self.base_temperature).backward()
            opt.step()

    def _scores_of(self, Z: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            A = self.module_(torch.from_numpy(np.ascontiguousarray(Z)))
            return ((A @ self.prototypes_.T) / self.base_temperature).numpy()

    def _loo_logits(
        self, X: np.ndarray, y: np.ndarray, X_pool: np.ndarray | None, graph: KnnGraph | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        return self._refit_oof(X, y, X_pool, graph)


class RelationHead(FeatureHead):
    """Class score = cos(q, p) / T + MLP([|q − p|, q ⊙ p]) for each class prototype p; the MLP's
    output layer starts at zero (so untrained, e.g. with one label a class, it is SimpleShot) and
    is trained on episodes."""

    name = "relation"

    def __init__(
        self,
        *,
        steps: int = ADAPTER_STEPS,
        hidden: int = 64,
        temperature: float = PROTONET_TEMPERATURE,
        power: float | None = POWER,
    ) -> None:
        self.steps, self.hidden, self.power = steps, hidden, power
        self.base_temperature = temperature

    def _fit(
        self, X: np.ndarray, y: np.ndarray, X_pool: np.ndarray | None, graph: KnnGraph | None
    ) -> None:
        self._fit_features(X, X_pool)
        Z = torch.from_numpy(self.features_.transform(X))
        labels = torch.from_numpy(y)
        torch.manual_seed(0)
        self.module_ = nn.Sequential(
            nn.Linear(2 * Z.shape[1], self.hidden), nn.ReLU(), nn.Linear(self.hidden, 1)
        )
        nn.init.zeros_(self.module_[2].weight)
        self.prototypes_ = _prototypes(Z, labels, len(self.classes_))
        if torch.bincount(labels).max() < 2:
            return
        gen = torch.Generator().manual_seed(0)
        opt = torch.optim.AdamW(self.module_.parameters(), lr=ADAPTER_LR)
        for _ in range(self.steps):
            support, query = _episode(labels, gen)
            protos = _prototypes(Z[support], labels[support], len(self.classes_))
            logits = self._relate(Z[query], protos)
            loss = nn.functional.cross_entropy(logits, labels[query])
            opt.zero_grad()
            loss.backward()
            opt.step()

    def _relate(self, Q: torch.Tensor, P: torch.Tensor) -> torch.Tensor:
        """(Nq, D) queries, (C, D) prototypes → (Nq, C) relation scores."""
        pairs = torch.cat([(Q[:, None] - P[None]).abs(), Q[:, None] * P[None]], dim=2)
        return Q @ P.T / self.base_temperature + self.module_(pairs).squeeze(2)

    def _scores_of(self, Z: np.ndarray) -> np.ndarray:
        out = np.empty((len(Z), len(self.classes_)), dtype=np.float32)
        with torch.no_grad():
            for start in range(0, len(Z), _RELATION_BLOCK):
                block = torch.from_numpy(np.ascontiguousarray(Z[start : start + _RELATION_BLOCK]))
                out[start : start + _RELATION_BLOCK] = self._relate(block, self.prototypes_)
        return out

    def _loo_logits(
        self, X: np.ndarray, y: np.ndarray, X_pool: np.ndarray | None, graph: KnnGraph | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        return self._refit_oof(X, y, X_pool, graph)


# -- episodes and losses ---------------------------------------------------------------------------


def _episode(y: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Support and query row indices: in each class a random half (at least one) is support and
    the rest query (singleton classes are support only)."""
    order = torch.randperm(len(y), generator=gen)
    order = order[torch.argsort(y[order], stable=True)]  # grouped by class, shuffled within
    counts = torch.bincount(y)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(len(y)) - starts[y[order]]  # position within its class
    is_support = rank < torch.clamp(counts[y[order]] // 2, min=1)
    return order[is_support], order[~is_support]


def _prototypes(A: torch.Tensor, y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """(C, D) unit class means of rows A (N, D) with classes y (N,)."""
    onehot = nn.functional.one_hot(y, n_classes).to(A.dtype)
    return nn.functional.normalize(onehot.T @ A, dim=1)


def episode_loss(
    module: nn.Module, Z: torch.Tensor, y: torch.Tensor, gen: torch.Generator, temperature: float
) -> torch.Tensor:
    """The prototypical loss of one episode drawn from the labels (all classes, half of each)."""
    support, query = _episode(y, gen)
    A = module(Z)
    protos = _prototypes(A[support], y[support], int(y.max()) + 1)
    return nn.functional.cross_entropy(A[query] @ protos.T / temperature, y[query])
