"""The promotion gate: may a challenger replace the champion? Plain rules, no I/O.

"Don't deploy if worse" was a rule of thumb in the seed workflow; a model with a lower score
was deployed without being compared. Here the rule is code: both models are scored on the
same frozen test snapshot, the challenger must beat the champion's score by a margin, and no
class may lose more than a tolerance. The score is the model kind's metric: mAP50-95 (and
per-class AP50-95 over test boxes) for detectors, macro-F1 (and per-class F1 over test
windows) for audio heads; the rules are the same. Every refusal says why.

A derived copy of a model (an int8 quantisation of it) is not meant to be better, only
cheaper: it is judged against its parent by a parity rule instead (its score may not fall
more than a tolerance below the parent's).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class GateRules:
    """Thresholds of the gate (absolute units of the metric, 0..1); ``min_class_boxes`` is
    the test support (boxes or windows) a class needs before its change counts."""

    min_improvement: float = 0.005
    max_class_drop: float = 0.05
    min_class_boxes: int = 5
    require_significant: bool = False

    def __post_init__(self) -> None:
        if self.min_improvement < 0 or self.max_class_drop < 0:
            raise ValueError("gate margin and class tolerance must not be negative")
        if self.min_class_boxes < 1:
            raise ValueError("min_class_boxes must be at least 1")


@dataclass(frozen=True)
class ClassScore:
    score: float
    support: int


@dataclass(frozen=True)
class ModelScore:
    """One model's evaluation on one test snapshot, as the gate needs it: its score in
    ``metric`` and per class in ``class_metric``."""

    name: str
    snapshot_id: int
    score: float
    per_class: Mapping[str, ClassScore] = field(default_factory=dict)
    metric: str = "mAP50-95"
    class_metric: str = "AP50-95"


@dataclass(frozen=True)
class Interval:
    """A bootstrap interval for challenger minus champion score."""

    low: float
    high: float


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reasons: tuple[str, ...]
    improvement: float | None
    class_deltas: Mapping[str, float]
    unmeasured_classes: tuple[str, ...] = ()
    rule: str = "beat"  # beat: must beat the champion; parity: must match its parent

    def as_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "promote": self.promote,
            "reasons": list(self.reasons),
            "improvement": self.improvement,
            "class_deltas": dict(self.class_deltas),
            "unmeasured_classes": list(self.unmeasured_classes),
        }


def decide(
    challenger: ModelScore,
    champion: ModelScore | None,
    rules: GateRules,
    interval: Interval | None = None,
) -> GateDecision:
    """Decide promotion. Without a champion the first model is promoted; with one, every
    rule must hold, and each rule that fails adds a reason."""
    if champion is None:
        return GateDecision(
            promote=True,
            reasons=(f"no champion yet: {challenger.name} becomes the first champion",),
            improvement=None,
            class_deltas={},
        )
    if champion.snapshot_id != challenger.snapshot_id:
        return _refused(
            f"models were scored on different test snapshots ({champion.snapshot_id} vs "
            f"{challenger.snapshot_id}); evaluate both on the same one"
        )
    if champion.metric != challenger.metric:
        return _refused(
            f"{challenger.name} is scored by {challenger.metric} and {champion.name} by "
            f"{champion.metric}; only models of one kind can replace each other"
        )
    metric = challenger.metric
    improvement = challenger.score - champion.score
    deltas, unmeasured = _class_deltas(challenger, champion, rules.min_class_boxes)
    reasons: list[str] = []
    if improvement <= rules.min_improvement:
        reasons.append(
            f"{metric} {challenger.score:.4f} does not beat the champion's "
            f"{champion.score:.4f} by more than {rules.min_improvement:.4f} "
            f"(change {improvement:+.4f})"
        )
    for name, delta in sorted(deltas.items()):
        if delta < -rules.max_class_drop:
            reasons.append(
                f"class {name} drops by {-delta:.4f} {challenger.class_metric} "
                f"(more than the {rules.max_class_drop:.4f} allowed)"
            )
    if rules.require_significant:
        if interval is None:
            reasons.append("no bootstrap interval was computed, and the gate requires one")
        elif interval.low <= 0:
            reasons.append(
                f"the 95% interval of the improvement [{interval.low:+.4f}, "
                f"{interval.high:+.4f}] includes zero"
            )
    if reasons:
        return GateDecision(False, tuple(reasons), improvement, deltas, unmeasured)
    return GateDecision(
        promote=True,
        reasons=(
            f"{metric} improves by {improvement:+.4f} (> {rules.min_improvement:.4f}) and no "
            f"class drops by more than {rules.max_class_drop:.4f}",
        ),
        improvement=improvement,
        class_deltas=deltas,
        unmeasured_classes=unmeasured,
    )


def decide_parity(derived: ModelScore, parent: ModelScore, tolerance: float) -> GateDecision:
    """May a derived copy serve in its parent's place? Its score on the parent's test
    snapshot must be at least the parent's minus ``tolerance`` (a better score passes)."""
    if tolerance < 0:
        raise ValueError("the parity tolerance must not be negative")
    if derived.snapshot_id != parent.snapshot_id:
        return _refused(
            f"{derived.name} and its parent were scored on different test snapshots "
            f"({derived.snapshot_id} vs {parent.snapshot_id}); evaluate both on one",
            rule="parity",
        )
    change = derived.score - parent.score
    deltas, unmeasured = _class_deltas(derived, parent, 1)
    figures = (
        f"{derived.metric} {derived.score:.4f} against its parent {parent.name}'s "
        f"{parent.score:.4f} (change {change:+.4f}, tolerance {tolerance:.4f})"
    )
    passes = change >= -tolerance
    verdict = "within the parity tolerance" if passes else "below the parity tolerance"
    return GateDecision(passes, (f"{figures}: {verdict}",), change, deltas, unmeasured, "parity")


def _refused(reason: str, rule: str = "beat") -> GateDecision:
    """A refusal before any score is compared."""
    return GateDecision(False, (reason,), None, {}, rule=rule)


def _class_deltas(
    challenger: ModelScore, champion: ModelScore, min_boxes: int
) -> tuple[dict[str, float], tuple[str, ...]]:
    """Per-class changes of classes with enough test support; the rest are listed as
    unmeasured."""
    deltas: dict[str, float] = {}
    unmeasured: list[str] = []
    for name in sorted(set(challenger.per_class) | set(champion.per_class)):
        new, old = challenger.per_class.get(name), champion.per_class.get(name)
        support = max(new.support if new else 0, old.support if old else 0)
        if support < min_boxes:
            unmeasured.append(name)
            continue
        deltas[name] = (new.score if new else 0.0) - (old.score if old else 0.0)
    return deltas, tuple(unmeasured)
