"""The analytics report on a hand-computed fixture (tests/support/analytics.py)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.analytics import CLASSES, build_analytics_project
from wildloop.analytics.report import AnalyticsQuery, Source, activity_report
from wildloop.domain.activity import Period
from wildloop.errors import BadInput
from wildloop.individuals.profiles import assign, create_individual
from wildloop.media.cameras import CameraChange, update_camera
from wildloop.project import Project
from wildloop.store.tables import LabelBox, LabelRevision, Media
from wildloop.users.roles import Actor, Role


@pytest.fixture
def analytics_project(make_project: Any, tmp_path: Path) -> Project:
    project: Project = make_project(CLASSES)
    build_analytics_project(project, tmp_path / "photos")
    return project


def _report(project: Project, **kw: Any) -> Any:
    with project.db.session() as session:
        return activity_report(
            session, project.classes, project.config.thresholds, AnalyticsQuery(**kw)
        )


def test_report_matches_the_hand_computed_figures(analytics_project: Project) -> None:
    r = _report(analytics_project)
    # camA deer 06:00, 06:10 (one event), 06:45 (35 min later: a second); camA fox; camB
    # deer; camC fox 23:59 and 00:20 (21 min apart across midnight: one event).
    assert (r.media, r.events, r.media_predicted) == (7, 5, 0)
    assert r.diel["deer"][6] == 3 and sum(r.diel["deer"]) == 3
    assert r.diel["fox"][22] == 1 and r.diel["fox"][23] == 1
    rates = {(x["class"], x["camera"]): (x["events"], x["trap_nights"]) for x in r.rates}
    # Effort runs from first to last photo: camA Jan 10-20 (10 nights), camB Feb 1-5 (4),
    # camC Jan 15 - Feb 15 (31); unreviewed and empty photos count as effort.
    assert rates[("deer", "camA")] == (2, 10)
    assert rates[("deer", "camB")] == (1, 4)
    assert rates[("deer", "camC")] == (0, 31)
    assert rates[("deer", "(all)")] == (3, 45)
    deer_all = next(x for x in r.rates if (x["class"], x["camera"]) == ("deer", "(all)"))
    assert deer_all["per_100_trap_nights"] == pytest.approx(100 * 3 / 45, abs=1e-3)
    occupancy = {
        (o["class"], o["period"]): (o["sites_detected"], o["sites_surveyed"]) for o in r.occupancy
    }
    assert occupancy == {
        ("deer", "2024-01-01"): (1, 2),
        ("deer", "2024-02-01"): (1, 2),
        ("fox", "2024-01-01"): (2, 2),
        ("fox", "2024-02-01"): (0, 2),
    }
    counts = {(c["period"], c["class"], c["camera"]): (c["media"], c["events"]) for c in r.counts}
    assert counts == {
        ("2024-01-01", "deer", "camA"): (3, 2),
        ("2024-01-01", "fox", "camA"): (1, 1),
        ("2024-01-01", "fox", "camC"): (2, 1),
        ("2024-02-01", "deer", "camB"): (1, 1),
    }
    assert "north,2024-02-01,deer,1" in r.csv("sites")


def test_interval_window_and_period_change_the_figures(analytics_project: Project) -> None:
    assert _report(analytics_project, interval_minutes=60).events == 4  # 06:45 joins
    assert _report(analytics_project, interval_minutes=0).events == 7
    february = _report(analytics_project, since=_t("2024-02-01"), until=_t("2024-03-01"))
    assert (february.media, february.events) == (1, 1)
    days = _report(analytics_project, period=Period.DAY)
    assert {c["period"] for c in days.counts} == {
        "2024-01-10",
        "2024-01-15",
        "2024-01-16",
        "2024-02-01",
    }


def test_clock_offsets_move_diel_activity(analytics_project: Project) -> None:
    with analytics_project.db.session() as session:
        update_camera(session, "camB", CameraChange(clock_offset_seconds=3600), None)
    r = _report(analytics_project)
    assert r.diel["deer"][6] == 2 and r.diel["deer"][7] == 1  # camB's 06:20 is really 07:20


def test_bad_queries_are_refused() -> None:
    with pytest.raises(BadInput):
        AnalyticsQuery(interval_minutes=-1)
    with pytest.raises(BadInput):
        AnalyticsQuery(since=_t("2024-02-01"), until=_t("2024-01-01"))


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_an_empty_project_reports_nothing_with_every_column(make_project: Any) -> None:
    r = _report(make_project(CLASSES), source=Source.LABELS_AND_PREDICTIONS)
    assert (r.media, r.events, r.rates, r.occupancy) == (0, 0, [], [])
    assert r.csv("rates") == "class,camera,events,trap_nights,per_100_trap_nights\n"


def test_individuals_seen_per_period_and_site(analytics_project: Project) -> None:
    project = analytics_project
    rita = Actor(project.author("rita"), "rita", Role.REVIEWER)

    def box_at(when: str) -> int:
        with project.db.session() as s:
            return int(
                s.scalars(
                    select(LabelBox.id)
                    .join(LabelRevision, LabelRevision.id == LabelBox.revision_id)
                    .join(Media, Media.id == LabelRevision.media_id)
                    .where(Media.captured_at == datetime.fromisoformat(when))
                ).one()
            )

    with project.db.session() as s:
        ada = create_individual(s, rita, name="Ada", class_name="deer", classes=project.classes)
        bo = create_individual(s, rita, name="Bo", class_name="deer", classes=project.classes)
        for individual, when, source in (
            (ada.id, "2024-01-10 06:00", "person"),
            (ada.id, "2024-02-01 06:20", "person"),
            (bo.id, "2024-01-10 06:45", "person"),
            (bo.id, "2024-01-10 06:10", "suggestion"),  # not confirmed: not counted
        ):
            assign(s, rita, individual, box_at(when), classes=project.classes, source=source)
    rows = {
        (r["period"], r["class"], r["site"]): (r["individuals"], r["sightings"])
        for r in _report(project).individuals
    }
    assert rows == {
        ("2024-01-01", "deer", "north"): (2, 2),
        ("2024-01-01", "deer", "(all)"): (2, 2),
        ("2024-02-01", "deer", "north"): (1, 1),
        ("2024-02-01", "deer", "(all)"): (1, 1),
    }
    weekly = {(r["period"], r["site"]) for r in _report(project, period=Period.WEEK).individuals}
    assert ("2024-01-08", "north") in weekly and ("2024-01-29", "north") in weekly
    assert _report(project).csv("individuals").splitlines()[0] == (
        "period,class,site,individuals,sightings"
    )
