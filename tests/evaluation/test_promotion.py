"""Gated promotion, the retraining log and the triggers, on stored predictions."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.support.loop import ingest_frames, label_frames, model_from_truth
from wildloop.datasets.snapshots import SnapshotData, create_snapshot, load_snapshot
from wildloop.errors import BadInput
from wildloop.evaluation.promotion import promote_challenger
from wildloop.jobs.records import cancel_job
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.store.tables import AuditEntry, Job, ModelVersion
from wildloop.synthetic.scenes import SceneGenerator
from wildloop.training.retraining_log import as_csv, retraining_log, write_chart
from wildloop.training.triggers import check_triggers, run_triggers


@pytest.fixture
def test_set(project: Project, scenes, tmp_path: Path) -> tuple[Project, SnapshotData]:
    frames = scenes(bursts=40, seed=21)
    ids = ingest_frames(project, frames, tmp_path / "scenes")
    label_frames(project, frames, ids)
    info, _ = create_snapshot(project, "test")
    return project, load_snapshot(project, info.id)


def champion(project: Project) -> int | None:
    with project.db.session() as session:
        return aliases.resolve(session, "champion")


def gate_actions(project: Project) -> list[tuple[str, str | None]]:
    with project.db.session() as session:
        return [
            (e.action, e.reason)
            for e in session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action.like("model.gate.%"))
                .order_by(AuditEntry.id)
            )
        ]


def test_gate_promotes_a_better_model_and_refuses_a_weakened_one(test_set) -> None:
    project, data = test_set
    first = model_from_truth(project, data, "v1", keep=0.7, jitter=0.06, seed=1, source="trained")
    result = promote_challenger(project, first, reprocess=False, figures=False)
    assert result.promoted and "no champion yet" in result.reasons[0]
    assert champion(project) == first

    better = model_from_truth(project, data, "v2", keep=0.95, jitter=0.02, seed=2, source="trained")
    result = promote_challenger(project, better, reprocess=False, figures=False)
    assert result.promoted and result.previous_champion_id == first
    assert result.comparison.interval is not None and result.comparison.interval.low > 0
    assert champion(project) == better

    weakened = model_from_truth(
        project,
        data,
        "v3-weak",
        keep=0.5,
        relabel=0.3,
        jitter=0.1,
        false_alarms=0.5,
        seed=3,
        source="trained",
    )
    result = promote_challenger(project, weakened, reprocess=False, figures=False)
    assert not result.promoted
    assert any("does not beat" in r for r in result.reasons)
    assert champion(project) == better  # the champion stays
    # Champion and challenger were scored on the same test items.
    comparison = result.comparison
    assert comparison.champion is not None
    assert comparison.champion.snapshot_id == comparison.challenger.snapshot_id == data.info.id
    assert [a for a, _ in gate_actions(project)] == [
        "model.gate.pass",
        "model.gate.pass",
        "model.gate.refuse",
    ]


def test_force_needs_a_reason_and_the_reason_is_logged(test_set) -> None:
    project, data = test_set
    good = model_from_truth(project, data, "good", keep=0.95, seed=1, source="trained")
    promote_challenger(project, good, reprocess=False, figures=False)
    weak = model_from_truth(project, data, "weak", keep=0.4, relabel=0.4, seed=2, source="trained")
    with pytest.raises(BadInput, match="--force needs --reason"):
        promote_challenger(project, weak, force=True, reprocess=False, figures=False)
    assert champion(project) == good
    result = promote_challenger(
        project,
        weak,
        force=True,
        reason="new camera site, accepted knowingly",
        reprocess=False,
        figures=False,
    )
    assert result.promoted and result.forced
    assert champion(project) == weak
    assert gate_actions(project)[-1] == (
        "model.gate.override",
        "new camera site, accepted knowingly",
    )
    with project.db.session() as session:
        promote = session.scalar(
            select(AuditEntry)
            .where(AuditEntry.action == "model.promote")
            .order_by(AuditEntry.id.desc())
        )
        assert promote is not None and "gate overridden: new camera site" in (promote.reason or "")


def test_retraining_log_rows_come_from_records(test_set, tmp_path: Path) -> None:
    project, data = test_set
    training, _ = create_snapshot(project, "training")
    v1 = model_from_truth(project, data, "v1", keep=0.7, seed=1, source="trained")
    v2 = model_from_truth(project, data, "v2", keep=0.95, seed=2, source="trained")
    v3 = model_from_truth(project, data, "v3", keep=0.9, seed=3, source="trained")
    extra = SceneGenerator(project.classes.names, seed=77).write(tmp_path / "more", 8)
    ids = ingest_frames(project, extra, tmp_path / "more")
    label_frames(project, extra, ids)
    training2, _ = create_snapshot(project, "training")
    with project.db.session() as session:
        session.execute(
            update(ModelVersion).where(ModelVersion.id == v1).values(snapshot_id=training.id)
        )
        session.execute(
            update(ModelVersion)
            .where(ModelVersion.id.in_([v2, v3]))  # v3: trained again on the same snapshot
            .values(snapshot_id=training2.id)
        )
    # The new items changed the test split too; both models are judged on the frozen one.
    promote_challenger(project, v1, reprocess=False, figures=False, snapshot=data.info.id)
    promote_challenger(project, v2, reprocess=False, figures=False, snapshot=data.info.id)
    rows = {r["version"]: r for r in retraining_log(project)}
    assert rows["v1"]["items"] == training.counts["items"]
    added = training2.counts["items"] - training.counts["items"]
    assert added > 0 and rows["v2"]["items_added"] == added
    assert rows["v1"]["items_added"] == rows["v1"]["items"]
    assert rows["v3"]["items"] == training2.counts["items"] and rows["v3"]["items_added"] == 0
    assert rows["v2"]["champion"] and not rows["v1"]["champion"]
    assert rows["v2"]["map50_95"] > rows["v1"]["map50_95"]
    assert rows["v2"]["test_snapshot"] == data.info.name
    assert "promoted" in rows["v2"]["notes"]
    text = as_csv(list(rows.values()))
    assert text.splitlines()[0].startswith("date,version,snapshot,items,items_added")
    chart = write_chart(project, list(rows.values()), tmp_path / "log.png")
    assert chart.read_bytes()[:4] == b"\x89PNG"


def test_trigger_after_n_new_reviewed_items(project: Project, scenes, tmp_path: Path) -> None:
    frames = scenes(bursts=6, seed=4)
    ids = ingest_frames(project, frames, tmp_path / "scenes")
    project.config.triggers.after_reviewed = 10_000
    check = check_triggers(project)
    assert check.due is None and check.new_reviewed == 0
    label_frames(project, frames, ids)
    check = check_triggers(project)
    reviewed_train = check.new_reviewed
    assert reviewed_train > 0 and check.due is None
    project.config.triggers.after_reviewed = reviewed_train
    check, started = run_triggers(project)
    assert check.due == "reviewed" and started is not None
    with project.db.session() as session:
        job = session.get(Job, started.job_id)
        assert job is not None and job.params["trigger"] == "reviewed" and job.kind == "train"
    again, second = run_triggers(project)
    assert second is None and "already in progress" in again.reason
    # Once that training has succeeded, only items new since its snapshot count.
    with project.db.session() as session:
        session.execute(update(Job).where(Job.id == started.job_id).values(state="succeeded"))
    assert check_triggers(project).new_reviewed == 0


def test_scheduled_trigger_fires_once_per_cron_period(
    project: Project, scenes, tmp_path: Path
) -> None:
    frames = scenes(bursts=6, seed=6)
    ids = ingest_frames(project, frames, tmp_path / "scenes")
    label_frames(project, frames, ids)
    project.config.triggers.after_reviewed = 0
    project.config.triggers.schedule = "0 * * * *"  # hourly
    check, started = run_triggers(project)
    assert check.due == "schedule" and started is not None
    with project.db.session() as session:
        created = session.get(Job, started.job_id).created_at  # type: ignore[union-attr]
        cancel_job(session, started.job_id)
        session.execute(update(Job).where(Job.id == started.job_id).values(state="succeeded"))
    more = SceneGenerator(project.classes.names, seed=31).write(tmp_path / "more", 4)
    more_ids = ingest_frames(project, more, tmp_path / "more")
    label_frames(project, more, more_ids)
    same_hour = created.replace(minute=59, second=0)
    if same_hour > created:
        assert check_triggers(project, same_hour).due is None
    next_hour = created.replace(minute=0, second=0) + timedelta(hours=1, minutes=1)
    assert check_triggers(project, next_hour).due == "schedule"
    project.config.triggers.schedule = "not a cron"
    with pytest.raises(BadInput, match="not a cron"):
        check_triggers(project)
