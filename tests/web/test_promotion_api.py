"""Requests never compute: a comparison and a promotion over HTTP go through the compare
job (202 with the job and a status URL while it runs), and a promotion is bound to the
comparison it names (409 when the champion changed since)."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.support.models_page import ModelsSetup, another_model
from tests.support.review import logged_in_clients
from wildloop.evaluation.compare_job import KIND as COMPARE
from wildloop.registry import aliases
from wildloop.store.tables import Job
from wildloop.web.app import create_app


def wait_done(client: TestClient, url: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while (response := client.get(url)).status_code == 202:
        assert time.monotonic() < deadline, "the comparison did not finish"
        time.sleep(0.1)
    assert response.status_code == 200
    return response.json()


def test_comparison_and_promotion_queue_the_job_and_never_compute_in_the_request(
    better_challenger: ModelsSetup, start_executor
) -> None:
    setup = better_challenger
    with logged_in_clients(create_app(setup.project, secret="test-secret")) as clients:
        admin = clients("ada")
        # No worker runs yet: a request that computed would answer 200 here.
        asked = admin.get("/api/v1/comparison")
        assert asked.status_code == 202 and asked.json()["state"] == "computing"
        pending = admin.post("/api/v1/promotion", json={"model": "challenger"})
        assert pending.status_code == 202
        assert pending.json()["job_id"] == asked.json()["job_id"]  # one job for both
        assert pending.json()["status_url"] == (
            f"/api/v1/comparison?challenger={setup.challenger}&champion={setup.champion}"
        )
        assert setup.champion_now() == setup.champion
        with setup.project.db.session() as session:
            states = session.scalars(select(Job.state).where(Job.kind == COMPARE)).all()
        assert states == ["queued"]

        start_executor(setup.project, workers=0, lanes=(COMPARE,))
        done = wait_done(admin, pending.json()["status_url"])
        assert done["state"] == "done" and done["comparison"]["decision"]["promote"]
        promoted = admin.post(
            "/api/v1/promotion", json={"model": "challenger", "comparison_job": done["job_id"]}
        )
        assert promoted.status_code == 200 and promoted.json()["promoted"]
        assert setup.champion_now() == setup.challenger


def test_a_promotion_bound_to_a_comparison_of_a_replaced_champion_is_refused_with_409(
    better_challenger: ModelsSetup, clients
) -> None:
    setup = better_challenger
    admin = clients("ada")
    job = admin.get("/api/v1/comparison").json()["job_id"]
    wait_done(admin, "/api/v1/comparison")  # v2 against v1, on screen
    v3 = another_model(setup, "v3", seed=3)
    with setup.project.db.session() as session:  # meanwhile someone makes v3 champion
        aliases.move_alias(session, "champion", v3, None, "promoted elsewhere")
    stale = admin.post("/api/v1/promotion", json={"model": "challenger", "comparison_job": job})
    assert stale.status_code == 409
    assert "the champion changed while comparing; compare again" in stale.text
    assert setup.champion_now() == v3
    # Without a bound comparison the request queues the one against the new champion.
    fresh = admin.post("/api/v1/promotion", json={"model": "challenger"})
    assert fresh.status_code == 202 and fresh.json()["job_id"] != job
    assert fresh.json()["status_url"].endswith(f"champion={v3}")
