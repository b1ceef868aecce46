"""A promotion is bound to the comparison that justified it: the champion moves only from
the version that comparison scored (a compare-and-swap), so one promoted meanwhile by
someone else is never replaced unseen."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.support.models_page import ModelsSetup, another_model
from wildloop.errors import Conflict
from wildloop.evaluation.comparison import compare_models
from wildloop.evaluation.promotion import CHAMPION_CHANGED, promote_compared
from wildloop.registry import aliases
from wildloop.store.tables import AuditEntry


def _compared(setup: ModelsSetup, challenger: int) -> dict[str, Any]:
    result = compare_models(setup.project, challenger, setup.champion_now(), figures=False)
    assert result.decision.promote, result.decision.reasons
    return result.as_dict()


def _promotions_from(setup: ModelsSetup, version_id: int) -> int:
    with setup.project.db.session() as session:
        return int(
            session.scalar(
                select(func.count()).where(
                    AuditEntry.action == "model.promote",
                    AuditEntry.before["model_version_id"].as_integer() == version_id,
                )
            )
            or 0
        )


def test_a_champion_promoted_between_compare_and_swap_is_not_replaced(
    better_challenger: ModelsSetup,
) -> None:
    setup = better_challenger
    v3 = another_model(setup, "v3", seed=3)
    stale = _compared(setup, setup.challenger)  # v2 against v1
    promote_compared(setup.project, _compared(setup, v3))  # meanwhile v3 replaces v1
    assert setup.champion_now() == v3
    with pytest.raises(Conflict, match=CHAMPION_CHANGED) as refused:
        promote_compared(setup.project, stale)
    assert f"compared with version {setup.champion}, the champion is now {v3}" in str(refused.value)
    assert setup.champion_now() == v3
    with setup.project.db.session() as session:
        gate_entries = session.scalar(
            select(func.count()).where(
                AuditEntry.action.like("model.gate.%"),
                AuditEntry.entity_id == str(setup.challenger),
            )
        )
    assert gate_entries == 0  # the refused swap left no trace of a decision


def test_two_racing_promotions_from_one_champion_move_it_once(
    better_challenger: ModelsSetup,
) -> None:
    setup = better_challenger
    v1, v2 = setup.champion, setup.challenger
    v3 = another_model(setup, "v3", seed=3)
    comparisons = {v2: _compared(setup, v2), v3: _compared(setup, v3)}
    for round_ in range(4):
        with setup.project.db.session() as session:
            if aliases.resolve(session, "champion") != v1:
                aliases.move_alias(session, "champion", v1, None, f"round {round_}")
        start = threading.Barrier(2)
        outcomes: dict[int, str] = {}

        def promote(challenger: int, start: threading.Barrier, outcomes: dict[int, str]) -> None:
            start.wait()
            try:
                promote_compared(setup.project, comparisons[challenger])
                outcomes[challenger] = "promoted"
            except Conflict as exc:
                outcomes[challenger] = str(exc)

        threads = [threading.Thread(target=promote, args=(c, start, outcomes)) for c in (v2, v3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        winners = [c for c, outcome in outcomes.items() if outcome == "promoted"]
        losers = [outcome for outcome in outcomes.values() if outcome != "promoted"]
        assert len(winners) == 1 and len(losers) == 1, outcomes
        assert CHAMPION_CHANGED in losers[0]
        assert setup.champion_now() == winners[0]
        assert _promotions_from(setup, v1) == round_ + 1  # one move away from v1 per round
