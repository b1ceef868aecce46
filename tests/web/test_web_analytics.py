"""The analytics API (JSON and CSV) and page, on the hand-computed fixture and on a project
with a champion whose predictions can be counted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update

from tests.support.analytics import CLASSES, build_analytics_project
from tests.support.review import add_users, logged_in_clients
from wildloop.composition import register_job_kinds
from wildloop.jobs.executor import run_job
from wildloop.store.tables import AnalyticsDetection, AnalyticsState, Job
from wildloop.web.app import create_app


def test_json_csv_and_page_agree_with_the_fixture(make_project: Any, tmp_path: Path) -> None:
    project = make_project(CLASSES)
    build_analytics_project(project, tmp_path / "photos")
    add_users(project, {"viewer1": "viewer"})
    with logged_in_clients(create_app(project, secret="test-secret")) as client:
        assert client(None).get("/api/v1/analytics").status_code == 401
        viewer = client("viewer1")
        body = viewer.get("/api/v1/analytics?interval=30&period=month").json()
        assert (body["media"], body["events"], body["source"]) == (7, 5, "labels")
        assert body["diel"]["deer"][6] == 3
        csv = viewer.get("/api/v1/analytics/rates.csv")
        assert csv.headers["content-type"].startswith("text/csv")
        assert "deer,(all),3,45,6.6667" in csv.text.splitlines()
        february = viewer.get("/api/v1/analytics?since=2024-02-01&until=2024-03-01").json()
        assert february["media"] == 1
        page = viewer.get("/analytics?interval=60")
        assert page.status_code == 200
        assert "in 4 independent events (60 min)" in page.text  # 06:45 joins at 60 min
        # Diel: 24 bars for deer and for fox; photos per month: deer Jan and Feb, fox Jan.
        assert page.text.count("<rect") == 24 * 2 + 3
        assert "http://" not in page.text and "https://" not in page.text  # nothing fetched


def test_predictions_count_only_when_asked_and_are_marked(app_client: Any) -> None:
    client = app_client("ada")
    labels = client.get("/api/v1/analytics").json()
    both = client.get("/api/v1/analytics?source=labels%2Bpredictions").json()
    assert labels["media_predicted"] == 0
    assert both["media_predicted"] > 0
    assert both["media"] == labels["media"] + both["media_predicted"]
    rows = client.get("/api/v1/analytics/counts.csv?source=labels%2Bpredictions").text
    assert rows.splitlines()[0] == "period,class,camera,media,media_predicted,events,animals"


def test_per_event_over_http_and_on_the_page(make_project: Any, tmp_path: Path) -> None:
    project = make_project(CLASSES)
    build_analytics_project(project, tmp_path / "photos")
    add_users(project, {"viewer1": "viewer"})
    with logged_in_clients(create_app(project, secret="test-secret")) as client:
        viewer = client("viewer1")
        served = viewer.get("/api/v1/analytics").json()
        assert (served["per"], served["computed"]) == ("detection", "maintained")
        # The fixture's photos have no sequences: each photo is an event of its own.
        per_event = viewer.get("/api/v1/analytics?per=event").json()
        assert (per_event["per"], per_event["events"], per_event["computed"]) == (
            "event",
            7,
            "exact",
        )
        assert "sequence" in per_event["computed_note"]
        rows = viewer.get("/api/v1/analytics/counts.csv?per=event").text.splitlines()
        assert "2024-01-01,deer,camA,3,0,3,3" in rows
        page = viewer.get("/analytics?per=event")
        assert '<option value="event" selected>' in page.text
        assert "in 7 events (sequences" in page.text


def test_sums_missing_after_an_upgrade_are_built_by_a_job_the_report_asks_for(
    make_project: Any, tmp_path: Path
) -> None:
    """A project upgraded with labels has no sums: the report is exact meanwhile, the first
    request queues one ``analytics-rebuild`` job (a second reuses it), and once it has run
    the report is served from the sums with the same figures."""
    project = make_project(CLASSES)
    build_analytics_project(project, tmp_path / "photos")
    with project.db.session() as session:
        session.execute(update(AnalyticsState).values(built=False))  # as after an upgrade
        session.execute(delete(AnalyticsDetection))
    add_users(project, {"viewer1": "viewer"})
    register_job_kinds()
    with logged_in_clients(create_app(project, secret="test-secret")) as client:
        viewer = client("viewer1")
        exact = viewer.get("/api/v1/analytics").json()
        assert exact["computed"] == "exact" and "building them" in exact["computed_note"]
        viewer.get("/api/v1/analytics")
        with project.db.session() as session:
            jobs = session.scalars(select(Job.id).where(Job.kind == "analytics-rebuild")).all()
        assert len(jobs) == 1
        assert run_job(project, jobs[0], workers=1)["state"] == "succeeded"
        served = viewer.get("/api/v1/analytics").json()
        assert served["computed"] == "maintained"
        assert (served["media"], served["events"]) == (exact["media"], exact["events"]) == (7, 5)
