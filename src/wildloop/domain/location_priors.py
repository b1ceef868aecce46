"""Location priors: which classes a camera can see, applied to a box's class scores.

A moose is not at a desert waterhole. A camera's allow-list names the classes that live there;
a prediction of another class is either rolled up to a parent class that is allowed ("deer"
for a "moose" where only deer of another kind occur; "animal" at worst) or dropped (``hard``),
or has its score multiplied by a factor so an allowed class can win (``soft``). Classes a
generic detector names (empty, person, vehicle) are always allowed, and so is the roll-up.
A camera without an allow-list is left alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

PriorMode = Literal["off", "hard", "soft"]
MODES: tuple[PriorMode, ...] = ("off", "hard", "soft")
ALWAYS_ALLOWED = frozenset({"empty", "blank", "person", "human", "vehicle"})


@dataclass(frozen=True)
class LocationPrior:
    """One camera's allow-list (case-insensitive names) and optional roll-up parent."""

    allowed: frozenset[str]
    rollup: str | None = None

    @classmethod
    def of(cls, allowed: Iterable[str], rollup: str | None = None) -> LocationPrior:
        return cls(frozenset(a.strip().lower() for a in allowed if a.strip()), rollup or None)

    def allows(self, name: str) -> bool:
        key = name.lower()
        if not self.allowed or key in ALWAYS_ALLOWED:
            return True
        return key in self.allowed or (self.rollup is not None and key == self.rollup.lower())


def apply_prior(
    scores: Mapping[str, float],
    prior: LocationPrior | None,
    mode: PriorMode,
    factor: float,
) -> tuple[str, float] | None:
    """The box's (class, score) after the prior, or None when a hard filter drops it.

    ``scores`` holds every class the model scored for the box (at least its top class).
    ``hard``: the top class stands when allowed, otherwise the box becomes the roll-up with
    the top score (the model is as sure it saw an animal) or is dropped without one.
    ``soft``: scores of classes not allowed are multiplied by ``factor`` and the best wins.
    """
    if not scores:
        return None
    top = max(scores, key=lambda c: scores[c])
    if mode == "off" or prior is None or prior.allows(top):
        return top, scores[top]
    if mode == "hard":
        return (prior.rollup, scores[top]) if prior.rollup is not None else None
    weighted = {c: s * (1.0 if prior.allows(c) else factor) for c, s in scores.items()}
    best = max(weighted, key=lambda c: weighted[c])
    return best, weighted[best]
