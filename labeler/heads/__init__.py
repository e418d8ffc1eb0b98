"""Classifier heads on cached vectors: one contract (`Head`), a string-keyed registry."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import partial

from labeler.errors import LabelerError
from labeler.heads.auto import Auto
from labeler.heads.base import Head
from labeler.heads.graph import KnnGraph
from labeler.heads.linear import LinearSVM, LogisticProbe
from labeler.heads.neighbours import KNearestNeighbours, MatchingNetwork
from labeler.heads.propagation import LabelPropagation, pool_graph
from labeler.heads.protonet import BDCSPN, ProtoNet
from labeler.heads.zeroshot import ZeroShotPrior

__all__ = [
    "BDCSPN",
    "DEFAULT_HEAD",
    "DEFAULT_METHOD",
    "Auto",
    "Head",
    "KNearestNeighbours",
    "KnnGraph",
    "LabelPropagation",
    "LinearSVM",
    "LogisticProbe",
    "MatchingNetwork",
    "ProtoNet",
    "ZeroShotPrior",
    "available_heads",
    "create_head",
    "pool_graph",
    "register_head",
]

DEFAULT_HEAD = "protonet"  # fast: interactive loops (live predictions, active learning)
DEFAULT_METHOD = "auto"  # `predict`'s default: the best the labels can tell

_REGISTRY: dict[str, Callable[..., Head]] = {}


def register_head(name: str, factory: Callable[..., Head]) -> None:
    """Make `factory(**options)` available as `create_head(name)` and `--method name`."""
    _REGISTRY[name] = factory


def available_heads() -> list[str]:
    return sorted(_REGISTRY)


def create_head(name: str = DEFAULT_HEAD, **options: object) -> Head:
    """The head registered as `name`, made with `options`, named by that registry key: its
    `describe()` and the provenance it gives say what was asked for (`protonet-euclidean` is
    made by the `ProtoNet` class, whose own name is `protonet`)."""
    if name not in _REGISTRY:
        raise LabelerError(f"unknown method {name!r}; available: {', '.join(available_heads())}")
    head = _REGISTRY[name](**options)
    head.name = name
    return head


register_head("auto", Auto)
register_head("protonet", ProtoNet)
register_head("protonet-euclidean", partial(ProtoNet, metric="euclidean"))
register_head("bdcspn", BDCSPN)
register_head("matching", MatchingNetwork)
register_head("knn", KNearestNeighbours)
register_head("logreg", LogisticProbe)
register_head("svm", LinearSVM)
register_head("labelprop", LabelPropagation)
register_head("zeroshot", ZeroShotPrior)


def _lazy(module: str, name: str) -> Callable[..., Head]:
    """A factory importing `module` on first use: heads on torch keep it off the CLI's start."""

    def factory(**options: object) -> Head:
        return getattr(importlib.import_module(module), name)(**options)

    return factory


register_head("adapter", _lazy("labeler.heads.adapter", "MetricAdapter"))
register_head("relation", _lazy("labeler.heads.adapter", "RelationHead"))
