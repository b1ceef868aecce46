"""Shadow runs: which new items get a challenger job, at what priority, and that the
challenger follows its alias. Real projects, a real (untrained) ONNX detector, real jobs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.support.detectors import untrained_onnx, untrained_pt  # noqa: F401 (fixtures)
from tests.support.engine import ingest_dir, invoke
from wildloop.domain.shadow import shadowed
from wildloop.errors import BadInput
from wildloop.jobs.local import LocalExecutor
from wildloop.jobs.records import job_status
from wildloop.models.registration import register_model
from wildloop.processing.predict_job import (
    submit_arrivals,
    submit_process,
    submit_shadow,
    submit_shadow_recent,
)
from wildloop.processing.shadow import set_share
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.store.tables import AuditEntry, Job, JobChunk, Media, PredictionSet
from wildloop.synthetic.scenes import Frame


def _pair(project: Project, onnx: Path) -> tuple[int, int]:
    champion = register_model(project, onnx, "champ", imgsz=160)
    challenger = register_model(project, onnx, "chall", imgsz=128)
    with project.db.session() as session:
        aliases.promote(session, champion.id, None, reason="test")
        aliases.move_alias(session, "challenger", challenger.id, None, "test")
    return champion.id, challenger.id


def _shadow_jobs(project: Project) -> list[Job]:
    with project.db.session() as session:
        jobs = list(session.scalars(select(Job).where(Job.kind == "shadow").order_by(Job.id)))
        session.expunge_all()
    return jobs


def _job_media(project: Project, job_id: int) -> list[int]:
    with project.db.session() as session:
        payloads = session.scalars(select(JobChunk.payload).where(JobChunk.job_id == job_id))
        return sorted(m for p in payloads for m in p["media_ids"])


def _sha(project: Project) -> dict[int, str]:
    with project.db.session() as session:
        return dict(session.execute(select(Media.id, Media.sha256)).all())


@pytest.fixture
def setup(
    project: Project,
    scenes: Callable[..., list[Frame]],
    tmp_path: Path,
    untrained_onnx: Path,  # noqa: F811
) -> tuple[Project, int, int, list[int]]:
    scenes(bursts=6, seed=4)
    ingest_dir(project, tmp_path / "scenes")
    champion, challenger = _pair(project, untrained_onnx)
    return project, champion, challenger, sorted(_sha(project))


def test_share_one_zero_and_half_select_stably(setup: tuple[Project, int, int, list[int]]) -> None:
    project, _, challenger, ids = setup
    assert len(ids) >= 18
    set_share(project, 0.0)
    champion_job = submit_arrivals(project, ids)
    assert champion_job is not None and _shadow_jobs(project) == []  # off: no second job

    set_share(project, 1.0)
    submit_arrivals(project, ids)
    [everything] = _shadow_jobs(project)
    assert _job_media(project, everything.id) == ids
    assert everything.params["model_version_id"] == challenger
    assert everything.params["model"] == str(challenger)  # pinned, not the alias

    set_share(project, 0.5)
    first = submit_shadow(project, ids)
    second = submit_shadow(project, list(reversed(ids)))
    assert first is not None and second is not None
    half = _job_media(project, first.job_id)
    sha = _sha(project)
    assert half == _job_media(project, second.job_id)  # stable whatever the order
    assert half == [m for m in ids if shadowed(sha[m], 0.5)]
    assert 0 < len(half) < len(ids)
    # Raising the share only adds items.
    more = submit_shadow(project, ids, share=0.8)
    assert more is not None and set(half) <= set(_job_media(project, more.job_id))


def test_process_of_new_items_shadows_and_the_new_challenger_takes_over(
    setup: tuple[Project, int, int, list[int]],
    untrained_onnx: Path,  # noqa: F811
) -> None:
    project, _, challenger, ids = setup
    set_share(project, 1.0)
    submitted = submit_process(project)  # `ingest --process`, `wildloop process`
    assert sorted(submitted.media_ids) == ids
    [shadow] = _shadow_jobs(project)
    assert shadow.params["model_version_id"] == challenger

    newer = register_model(project, untrained_onnx, "chall-2", imgsz=96)
    with project.db.session() as session:
        aliases.move_alias(session, "challenger", newer.id, None, "newer")
    submit_shadow_recent(project, limit=5)
    latest = _shadow_jobs(project)[-1]
    assert latest.params["model_version_id"] == newer.id
    assert _job_media(project, latest.id) == ids[-5:]


def test_no_shadow_without_a_distinct_challenger(
    setup: tuple[Project, int, int, list[int]],
) -> None:
    project, champion, _, ids = setup
    set_share(project, 1.0)
    with project.db.session() as session:
        aliases.move_alias(session, "challenger", champion, None, "same as champion")
    assert submit_shadow(project, ids) is None
    assert _shadow_jobs(project) == []


def test_share_is_validated_saved_and_audited(project: Project) -> None:
    with pytest.raises(BadInput, match="from 0 to 1"):
        set_share(project, 1.5)
    set_share(project, 0.25, project.author("ada"))
    assert Project.open(project.root).config.shadow.share == 0.25
    assert "[shadow]" in (project.root / "wildloop.toml").read_text()
    with project.db.session() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "shadow.set")).one()
        assert entry.after == {"share": 0.25}
    with pytest.raises(BadInput, match="limit"):
        submit_shadow_recent(project, limit=0)


def test_the_champions_job_is_served_before_an_older_shadow_job(
    setup: tuple[Project, int, int, list[int]],
    start_executor: Callable[..., LocalExecutor],
) -> None:
    project, champion, challenger, ids = setup
    set_share(project, 1.0)
    project.config.inference.chunk_size = 6  # whole bursts of 3: several chunks per job
    shadow = submit_shadow(project, ids)  # queued first: the older job
    champion_job = submit_arrivals(project, ids)
    assert shadow is not None and champion_job is not None
    assert shadow.job_id < champion_job.job_id
    start_executor(project, workers=1)  # one worker: strictly one chunk at a time
    with project.db.session() as session:
        for _ in range(600):
            states = {job_status(session, j)["state"] for j in (shadow.job_id, champion_job.job_id)}
            if states == {"succeeded"}:
                break
            session.expire_all()
            time.sleep(0.1)
        assert states == {"succeeded"}
        first, last = func.min(JobChunk.claimed_at), func.max(JobChunk.claimed_at)
        claimed = {
            row.job_id: (row.first, row.last)
            for row in session.execute(
                select(JobChunk.job_id, first.label("first"), last.label("last"))
                .where(JobChunk.job_id.in_([shadow.job_id, champion_job.job_id]))
                .group_by(JobChunk.job_id)
            )
        }
        # The older shadow job's first chunk was taken after the champion's last one.
        assert claimed[shadow.job_id][0] > claimed[champion_job.job_id][1]
        made = dict(
            session.execute(
                select(PredictionSet.model_version_id, PredictionSet.media_id).where(
                    PredictionSet.media_id == ids[0]
                )
            ).all()
        )
    assert set(made) == {champion, challenger}  # the challenger's own set beside the champion's


def test_cli_sets_the_share_runs_and_reports(setup: tuple[Project, int, int, list[int]]) -> None:
    project, champion, challenger, _ = setup
    invoke(project, "shadow", "set", "--share", "1")
    assert Project.open(project.root).config.shadow.share == 1.0
    ran = json.loads(invoke(project, "shadow", "run", "--limit", "9", "--json"))
    assert ran["ran"] == 9
    assert ran["challenger"]["id"] == challenger and ran["champion"]["id"] == champion
    # The champion has not run yet: nothing both predicted, nothing judged.
    assert ran["figures"]["shadowed"] == 9 and ran["figures"]["compared"] == 0
    status = json.loads(invoke(project, "shadow", "status", "--json"))
    assert status["share"] == 1.0 and status["figures"] == ran["figures"]
    page = json.loads(invoke(project, "shadow", "disagreements", "--json"))
    assert page == {"items": [], "next": None}
    invoke(project, "shadow", "set", "--share", "2", code=2)  # refused by the option's range
    queued = invoke(project, "process", "--no-wait")
    assert "items with the challenger chall queued as job" in queued
