"""Changing what splits are grouped by: a plan first, the moves only when confirmed.

Splits are frozen, so a new grouping never applies by itself: new sequences keep following
``splits.group_by`` as it was when the project's sequences were made. ``plan_regroup`` says
what would move (sequences, media and reviewed media per from -> to split, and whether a
frozen test snapshot loses items or gains ones that training may already have seen);
``apply_regroup`` moves them, saves the new grouping and audits it, in one transaction.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from wildloop import audit
from wildloop.domain.splits import GroupBy, Split, assign_split, straddling
from wildloop.errors import Conflict
from wildloop.media.split_groups import sequence_groups
from wildloop.project import Project
from wildloop.store.tables import Media, MediaSequence, Snapshot, SnapshotItem

CHUNK = 1000


@dataclass
class RegroupPlan:
    by: GroupBy
    current: GroupBy
    moves: dict[int, str] = field(default_factory=dict)  # sequence id -> new split
    sequences: Counter[tuple[str, str]] = field(default_factory=Counter)
    media: Counter[tuple[str, str]] = field(default_factory=Counter)
    reviewed: Counter[tuple[str, str]] = field(default_factory=Counter)
    test_items_leaving: int = 0
    reviewed_entering_test: int = 0
    groups_in_two_splits_after: int = 0
    media_after: Counter[str] = field(default_factory=Counter)  # split -> media once applied

    @property
    def empty_splits_after(self) -> list[str]:
        """Splits left without media: too few groups for the ratios (e.g. two locations)."""
        if not self.media_after:
            return []
        return [str(s) for s in Split if not self.media_after[str(s)]]

    @property
    def touches_test_snapshot(self) -> bool:
        return self.test_items_leaving > 0 or self.reviewed_entering_test > 0

    def as_dict(self) -> dict[str, Any]:
        def table(counts: Counter[tuple[str, str]]) -> list[dict[str, Any]]:
            return [{"from": a, "to": b, "count": n} for (a, b), n in sorted(counts.items())]

        return {
            "group_by": str(self.by),
            "current": str(self.current),
            "sequences_moved": sum(self.sequences.values()),
            "media_moved": sum(self.media.values()),
            "reviewed_moved": sum(self.reviewed.values()),
            "sequences": table(self.sequences),
            "media": table(self.media),
            "reviewed": table(self.reviewed),
            "test_snapshot_items_leaving_test": self.test_items_leaving,
            "reviewed_items_entering_test": self.reviewed_entering_test,
            "groups_in_two_splits_after": self.groups_in_two_splits_after,
            "media_per_split_after": {str(s): self.media_after[str(s)] for s in Split},
            "empty_splits_after": self.empty_splits_after,
        }


def plan_regroup(project: Project, session: Session, by: GroupBy) -> RegroupPlan:
    """What regrouping by ``by`` would move; changes nothing."""
    settings = project.config.splits
    ratios, salt = settings.ratios(), settings.salt
    plan = RegroupPlan(by=by, current=settings.group_by)
    media_counts = {
        row.sequence_id: (row.n, row.reviewed or 0)
        for row in session.execute(
            select(
                Media.sequence_id,
                func.count().label("n"),
                func.sum(case((Media.reviewed.is_(True), 1), else_=0)).label("reviewed"),
            )
            .where(Media.status == "ok", Media.sequence_id.is_not(None))
            .group_by(Media.sequence_id)
        )
    }
    after = []
    for seq in sequence_groups(session):
        new = str(assign_split(seq.group(by), ratios, salt))
        after.append((seq.group(by), new))
        n, reviewed = media_counts.get(seq.id, (0, 0))
        plan.media_after[new] += n
        if new == seq.split:
            continue
        plan.moves[seq.id] = new
        plan.sequences[seq.split, new] += 1
        plan.media[seq.split, new] += n
        plan.reviewed[seq.split, new] += int(reviewed)
    plan.groups_in_two_splits_after = len(straddling(after))
    plan.reviewed_entering_test = sum(
        n for (a, b), n in plan.reviewed.items() if b == Split.TEST and a != Split.TEST
    )
    plan.test_items_leaving = _test_items_leaving(session, plan.moves)
    return plan


def apply_regroup(
    project: Project,
    session: Session,
    plan: RegroupPlan,
    *,
    actor_id: int | None,
    allow_test_change: bool = False,
) -> None:
    """Move the planned sequences and their media, save the grouping, audit the change."""
    if plan.touches_test_snapshot and not allow_test_change:
        raise Conflict(
            f"regrouping would take {plan.test_items_leaving} items out of a frozen test "
            f"snapshot and bring {plan.reviewed_entering_test} reviewed items into test; "
            "scores on the old test snapshot would no longer compare with new ones. Pass "
            "--allow-test-change to regroup anyway, then make a new test snapshot and "
            "evaluate the champion on it"
        )
    by_target: dict[str, list[int]] = {}
    for sequence_id, split in plan.moves.items():
        by_target.setdefault(split, []).append(sequence_id)
    for split, ids in by_target.items():
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            session.execute(
                update(MediaSequence).where(MediaSequence.id.in_(chunk)).values(split=split)
            )
            session.execute(update(Media).where(Media.sequence_id.in_(chunk)).values(split=split))
    audit.record(
        session,
        actor_id=actor_id,
        action="splits.regroup",
        entity="project",
        entity_id=project.config.name,
        before={"group_by": str(plan.current)},
        after=plan.as_dict(),
        reason="test snapshot change confirmed" if plan.touches_test_snapshot else None,
    )
    session.flush()
    project.config.splits.group_by = plan.by
    project.save_config()


def _test_items_leaving(session: Session, moves: dict[int, str]) -> int:
    """Media of frozen test snapshots whose sequence would leave the test split."""
    leaving = [sid for sid, split in moves.items() if split != Split.TEST]
    if not leaving:
        return 0
    count = 0
    for start in range(0, len(leaving), CHUNK):
        chunk = leaving[start : start + CHUNK]
        count += (
            session.scalar(
                select(func.count(func.distinct(SnapshotItem.media_id)))
                .join(Snapshot, Snapshot.id == SnapshotItem.snapshot_id)
                .join(Media, Media.id == SnapshotItem.media_id)
                .where(Snapshot.purpose == "test", Media.sequence_id.in_(chunk))
            )
            or 0
        )
    return count
