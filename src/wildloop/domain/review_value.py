"""How much reviewing an item is worth, and in what order to review: pure rules.

An unreviewed item is worth a person's time when the model is unsure of it (a small margin
between its two best classes, a score near the class's threshold), when models or frames
disagree about it (the champion against the challenger, a frame against the rest of its
burst), or when it looks like nothing reviewed so far (far from every reviewed item in
embedding space). Each signal that fires adds to the item's value and one short reason, so a
reviewer sees why the item is there. ``diverse_order`` then spreads the best items over
bursts and cameras, so no single burst or camera fills a batch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

NOTHING = "nothing"  # what a frame with no box above its threshold shows
LOOKAHEAD = 1000  # items examined per batch at most (see _one_batch)


@dataclass(frozen=True)
class Weights:
    """What each signal is worth at its strongest, and where it starts to count."""

    margin: float = 1.0
    margin_below: float = 0.25  # a top-two margin under this counts as uncertain
    threshold: float = 0.6
    threshold_within: float = 0.15  # a top score this close to its threshold counts
    burst: float = 1.0
    challenger: float = 1.0
    novelty: float = 1.0
    novelty_from: float = 0.3  # cosine distance to the nearest reviewed item that counts


# What the image queue weighs by: margin, challenger and novelty, without the burst and the
# near-threshold signals. On mct-real (bench/embedder_comparison.py: a crop classifier
# retrained per round, labels to reach 95% of the full-pool accuracy) these weights were
# picked on seeds 0-4 and then needed 0.41x random's labels on held-out seeds 5-9 and 0.42x
# on fresh seeds 10-29, against 0.49x and 0.69x with every signal at 1.
QUEUE_WEIGHTS = Weights(burst=0.0, threshold=0.0)


@dataclass(frozen=True)
class ItemSignals:
    """What is known about one unreviewed item. Classes are names (for the reasons);
    ``None`` means unknown or absent (no box, no other frame, no challenger, no vector)."""

    media_id: int
    group: str  # its burst (or the item itself when it has none)
    camera: str
    top_class: str | None = None
    top_score: float | None = None
    second_score: float | None = None  # best score of any other class in the item
    threshold: float = 0.5
    burst_class: str | None = None  # what most other frames of its burst show (or NOTHING)
    challenger_class: str | None = None  # the challenger's top class, when it saw the item
    challenger_saw: bool = False
    novelty: float | None = None  # cosine distance to the nearest reviewed item, 0..2


@dataclass(frozen=True)
class Valued:
    media_id: int
    group: str
    camera: str
    value: float
    reasons: tuple[str, ...]


def value_of(item: ItemSignals, weights: Weights = Weights()) -> Valued:
    """The item's value (0 when no signal fires) and one reason per signal that fired."""
    parts: list[tuple[float, str]] = []
    if item.top_score is not None:
        margin = item.top_score - (item.second_score or 0.0)
        if item.second_score is not None and margin < weights.margin_below:
            strength = 1.0 - max(margin, 0.0) / weights.margin_below
            parts.append((weights.margin * strength, f"margin {margin:.2f}"))
        distance = abs(item.top_score - item.threshold)
        if distance < weights.threshold_within:
            strength = 1.0 - distance / weights.threshold_within
            parts.append(
                (
                    weights.threshold * strength,
                    f"score {item.top_score:.2f} near threshold {item.threshold:.2f}",
                )
            )
    says = item.top_class or NOTHING
    if item.burst_class is not None and item.burst_class != says:
        parts.append(
            (weights.burst, f"disagrees with its burst ({says} here, {item.burst_class} there)")
        )
    if item.challenger_saw and (item.challenger_class or NOTHING) != says:
        parts.append(
            (
                weights.challenger,
                f"challenger says {item.challenger_class or 'nothing'}, "
                f"champion {item.top_class or 'nothing'}",
            )
        )
    if item.novelty is not None and item.novelty >= weights.novelty_from:
        strength = min(1.0, (item.novelty - weights.novelty_from) / (1.0 - weights.novelty_from))
        parts.append(
            (
                weights.novelty * max(strength, 0.05),
                f"unlike anything reviewed ({item.novelty:.2f})",
            )
        )
    parts = [(v, r) for v, r in parts if v > 0]  # a signal weighed at 0 gives no reason
    value = round(sum(v for v, _ in parts), 6)
    return Valued(item.media_id, item.group, item.camera, value, tuple(r for _, r in parts))


def diverse_order(
    items: Iterable[Valued],
    limit: int,
    batch_size: int = 20,
    per_group: int = 1,
    camera_share: float = 0.5,
) -> list[Valued]:
    """The ``limit`` items to review first, batch by batch: each batch takes the most valuable
    items with at most ``per_group`` from one burst and ``camera_share`` of the batch from one
    camera; only when those caps leave a batch short is it filled with the next best (after
    the diverse picks, so the head of every batch is spread out).

    A batch examines at most ``LOOKAHEAD`` items (those passed over earlier first, then the
    rest in value order), so its cost does not grow with the archive."""
    ranked = sorted(items, key=lambda v: (-v.value, v.media_id))
    per_camera = max(1, int(batch_size * camera_share))
    out: list[Valued] = []
    carry: list[Valued] = []  # passed over by earlier batches; all outrank ranked[pos:]
    pos = 0
    while len(out) < limit and (carry or pos < len(ranked)):
        size = min(batch_size, limit - len(out))
        budget = max(LOOKAHEAD, 50 * size)
        filling = _Batch(per_group, per_camera)
        batch, skipped = filling.taken, filling.skipped
        seen = 0
        while seen < len(carry) and len(batch) < size and seen < budget:
            filling.consider(carry[seen])
            seen += 1
        carry_rest = carry[seen:]
        examined = seen
        while pos < len(ranked) and len(batch) < size and examined < budget and not carry_rest:
            filling.consider(ranked[pos])
            pos += 1
            examined += 1
        short = size - len(batch)
        if short > 0:  # caps left the batch short: the next best, after the diverse picks
            pool = skipped + carry_rest
            while len(pool) < short and pos < len(ranked):
                pool.append(ranked[pos])
                pos += 1
            batch.extend(pool[:short])
            carry = pool[short:]
        else:
            carry = skipped + carry_rest
        out.extend(batch)
    return out


class _Batch:
    """A batch being filled: takes an item while its burst and camera are under their caps."""

    def __init__(self, per_group: int, per_camera: int) -> None:
        self.per_group, self.per_camera = per_group, per_camera
        self.groups: Counter[str] = Counter()
        self.cameras: Counter[str] = Counter()
        self.taken: list[Valued] = []
        self.skipped: list[Valued] = []

    def consider(self, item: Valued) -> None:
        if self.groups[item.group] < self.per_group and self.cameras[item.camera] < self.per_camera:
            self.taken.append(item)
            self.groups[item.group] += 1
            self.cameras[item.camera] += 1
        else:
            self.skipped.append(item)
