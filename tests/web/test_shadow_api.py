"""Shadow runs over HTTP: the summary, the share (admins only, audited), a refresh of the
figures as a job, keyset pages of the disagreements, and the Models page's panel and list.
The two models' predictions are recorded in the real tables (the Models page fixtures)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.support.models_page import ModelsSetup, better_challenger, clients  # noqa: F401
from wildloop.jobs.local import run_job
from wildloop.project import Project
from wildloop.store.tables import AuditEntry, ShadowComparison


def _judge(client: TestClient, project: Project) -> dict[str, Any]:
    job_id = client.post("/api/v1/shadow/refresh").json()["job_id"]
    assert run_job(project, job_id)["state"] == "succeeded"
    return client.get("/api/v1/shadow").json()


def test_summary_share_refresh_and_pages(
    better_challenger: ModelsSetup,  # noqa: F811
    clients: Callable[..., TestClient],  # noqa: F811
) -> None:
    setup = better_challenger
    admin, reviewer, viewer = clients("ada"), clients("rita"), clients("vic")
    summary = viewer.get("/api/v1/shadow").json()
    assert summary["share"] == 0.0 and summary["figures"] is None
    assert summary["challenger"]["id"] == setup.challenger
    assert summary["champion"]["id"] == setup.champion

    assert reviewer.put("/api/v1/shadow", json={"share": 0.3}).status_code == 403
    assert admin.put("/api/v1/shadow", json={"share": 0.3}).json()["share"] == 0.3
    assert Project.open(setup.project.root).config.shadow.share == 0.3
    assert viewer.post("/api/v1/shadow/refresh").status_code == 403

    figures = _judge(reviewer, setup.project)["figures"]
    assert figures["compared"] > 0 and 0 < figures["agreed"] < figures["compared"]
    with setup.project.db.session() as session:
        rows = session.scalars(select(ShadowComparison)).all()
        assert len(rows) == figures["compared"]
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "shadow.set")).one()
    wrong = sorted(r.media_id for r in rows if r.outcome != "agree")

    seen, after = [], None
    while True:
        url = "/api/v1/shadow/disagreements?limit=4" + (f"&after={after}" if after else "")
        page = viewer.get(url).json()
        seen += [item["media_id"] for item in page["items"]]
        after = page["next"]
        if after is None:
            break
    assert seen == wrong
    kinds = {r.outcome for r in rows if r.outcome != "agree"}
    one = sorted(kinds)[0]
    only = viewer.get(f"/api/v1/shadow/disagreements?outcome={one}&limit=500").json()["items"]
    assert {i["outcome"] for i in only} == {one} and len(only) == sum(
        r.outcome == one for r in rows
    )

    # The grid shows the same items (and its batch actions reach them by that filter).
    grid = viewer.get("/api/v1/media?shadow=disagree&limit=500").json()["items"]
    assert sorted(i["id"] for i in grid) == wrong
    of_one = viewer.get(f"/api/v1/media?shadow={one}&limit=500").json()["items"]
    assert sorted(i["id"] for i in of_one) == sorted(i["media_id"] for i in only)
    marked = reviewer.post(
        "/api/v1/batch", json={"filter": {"shadow": "disagree"}, "action": "mark", "kind": "missed"}
    ).json()
    assert sorted(marked["applied"]) == wrong
    assert 'name="shadow"' in viewer.get("/grid?shadow=disagree").text

    # A second refresh judges nothing twice.
    again = _judge(reviewer, setup.project)["figures"]
    assert again["compared"] == figures["compared"]

    html = viewer.get("/models").text
    assert 'id="shadow-card"' in html and 'href="/models/shadow"' in html
    assert f"{100 * figures['agreement']:.1f}%" in html
    listing = viewer.get("/models/shadow").text
    assert 'href="/grid?shadow=disagree"' in listing
    for media_id in wrong[:5]:
        assert f'href="/media/{media_id}"' in listing

    # The test models have no files to run: an on-demand run has nothing to queue.
    assert admin.post("/api/v1/shadow/run", json={"limit": 10}).json() == {
        "job_id": None,
        "items": 0,
    }
    assert reviewer.post("/api/v1/shadow/run", json={}).status_code == 403
