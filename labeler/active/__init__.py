"""Active learning: which unlabeled images to ask the expert about next.

A strategy turns a `Pool` into ranked `Suggestion`s, each with the reason it was chosen. Scoring
(`scores`) is kept apart from batch selection (`select`, `clusters`); strategies (`strategies`,
and the default policy in `policy`) combine one of each. Every strategy keeps the contract of
`base.Strategy`: never a labeled image, no two near-duplicates in one batch, a reason each.
`make_pool` builds a pool from vectors and expert labels; `learning` estimates the accuracy of
the auto-labels from those labels alone.
"""

from __future__ import annotations

from collections.abc import Callable

from labeler.active.base import Pool, Strategy, Suggestion
from labeler.active.fitting import make_pool
from labeler.active.policy import Auto
from labeler.active.strategies import (
    Badge,
    Balanced,
    Coreset,
    Density,
    Disagreement,
    DiverseMargin,
    Entropy,
    LeastConfidence,
    Margin,
    Representative,
    TypiClust,
)
from labeler.errors import LabelerError

__all__ = [
    "DEFAULT_STRATEGY",
    "Pool",
    "Strategy",
    "Suggestion",
    "available_strategies",
    "create_strategy",
    "make_pool",
    "register_strategy",
]

DEFAULT_STRATEGY = "auto"

_REGISTRY: dict[str, Callable[[], Strategy]] = {
    s.name: s
    for s in (
        Auto,
        Representative,
        TypiClust,
        Coreset,
        Margin,
        Entropy,
        LeastConfidence,
        Density,
        Disagreement,
        DiverseMargin,
        Badge,
        Balanced,
    )
}


def register_strategy(name: str, factory: Callable[[], Strategy]) -> None:
    """Make `factory()` available as `create_strategy(name)` and `--strategy name`."""
    _REGISTRY[name] = factory


def available_strategies() -> list[str]:
    return sorted(_REGISTRY)


def create_strategy(name: str = DEFAULT_STRATEGY) -> Strategy:
    if name not in _REGISTRY:
        raise LabelerError(
            f"unknown strategy {name!r}; available: {', '.join(available_strategies())}"
        )
    return _REGISTRY[name]()
