"""Classifier heads on cached vectors: one contract (`Head`), a string-keyed registry."""

from __future__ import annotations

from collections.abc import Callable

from labeler.errors import LabelerError
from labeler.heads.base import Head
from labeler.heads.protonet import ProtoNet

__all__ = ["Head", "ProtoNet", "available_heads", "create_head", "register_head"]

DEFAULT_HEAD = "protonet"

_REGISTRY: dict[str, Callable[..., Head]] = {}


def register_head(name: str, factory: Callable[..., Head]) -> None:
    """Make `factory(**options)` available as `create_head(name)` and `--method name`."""
    _REGISTRY[name] = factory


def available_heads() -> list[str]:
    return sorted(_REGISTRY)


def create_head(name: str = DEFAULT_HEAD, **options: object) -> Head:
    if name not in _REGISTRY:
        raise LabelerError(f"unknown method {name!r}; available: {', '.join(available_heads())}")
    return _REGISTRY[name](**options)


register_head("protonet", ProtoNet)
