"""The loop job's promotion is bound to its comparison too, and a resumed loop picks up at
the step after the last one it recorded (no training here: the earlier steps are given)."""

from __future__ import annotations

from sqlalchemy import func, select, update

from tests.support.models_page import ModelsSetup, another_model
from wildloop.datasets.snapshots import list_snapshots
from wildloop.evaluation.comparison import compare_models
from wildloop.evaluation.promotion import CHAMPION_CHANGED
from wildloop.jobs.local import run_job
from wildloop.registry import aliases
from wildloop.store.tables import Job
from wildloop.training.loop_job import LoopReport, LoopStep, start_loop_job


def loop_at_the_gate(setup: ModelsSetup) -> int:
    """A loop job whose snapshot, train, evaluate and gate steps are already recorded, as
    after a worker died right after the gate."""
    comparison = compare_models(
        setup.project, setup.challenger, setup.champion, figures=False
    ).as_dict()
    test = list_snapshots(setup.project, "test")[0]
    report = LoopReport(
        [
            LoopStep("snapshot", "done", 0.1, "given", {"test": {"id": test.id}}),
            LoopStep("train", "done", 0.1, "given", {}),
            LoopStep("evaluate", "done", 0.1, "given", comparison),
            LoopStep("gate", "done", 0.0, "given", comparison["decision"]),
        ],
        challenger_id=setup.challenger,
    )
    job_id = start_loop_job(setup.project, reprocess=False)
    with setup.project.db.session() as session:
        session.execute(update(Job).where(Job.id == job_id).values(result=report.as_dict()))
    return job_id


def test_a_resumed_loop_promotes_from_its_comparison_without_redoing_steps(
    better_challenger: ModelsSetup,
) -> None:
    setup = better_challenger
    status = run_job(setup.project, loop_at_the_gate(setup))
    assert status["state"] == "succeeded", status["error"]
    steps = [(s["step"], s["status"]) for s in status["result"]["steps"]]
    assert steps[4:] == [("promote", "done"), ("reprocess", "skipped")]
    assert status["result"]["promoted"] and setup.champion_now() == setup.challenger
    with setup.project.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 1  # no child needed


def test_the_loop_job_refuses_to_replace_a_champion_it_did_not_compare(
    better_challenger: ModelsSetup,
) -> None:
    setup = better_challenger
    job_id = loop_at_the_gate(setup)
    v3 = another_model(setup, "v3", seed=3)
    with setup.project.db.session() as session:  # promoted by someone else meanwhile
        aliases.move_alias(session, "champion", v3, None, "elsewhere")
    status = run_job(setup.project, job_id)
    assert status["state"] == "failed" and CHAMPION_CHANGED in status["error"]
    assert setup.champion_now() == v3
