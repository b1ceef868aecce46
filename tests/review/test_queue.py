"""The value-ordered queue over a real project: reasons, diversity, refresh, the API and CLI."""

from __future__ import annotations

from sqlalchemy import select
from typer.testing import CliRunner

from tests.support.review import add_champion, refreshed
from tests.support.web import ReviewSetup
from wildloop.cli.app import app
from wildloop.domain.labels import LabelSet
from wildloop.review.labels import save_labels
from wildloop.review.queue import value_queue
from wildloop.store.tables import Job, Media, ModelAlias


def test_queue_orders_unreviewed_items_by_value_with_reasons_and_spread(
    review_setup: ReviewSetup,
) -> None:
    project = review_setup.project
    # A request computes nothing: the first one finds no order and submits its job, once.
    first = value_queue(project, limit=500)
    assert first.items == [] and first.refreshing is not None and first.computed_at is None
    assert value_queue(project, limit=500).refreshing == first.refreshing
    with project.db.session() as session:
        assert session.get_one(Job, first.refreshing).kind == "review-queue"
    queue = refreshed(project, limit=500)
    with project.db.session() as session:
        sequences = dict(session.execute(select(Media.id, Media.sequence_id)).all())
    assert {q.media_id for q in queue} == set(review_setup.ids())  # nothing reviewed yet
    values = [q.value for q in queue]
    assert all(bool(q.reasons) == (q.value > 0) for q in queue)
    distinct = len(set(sequences.values()))
    head = [sequences[q.media_id] for q in queue[:distinct]]
    assert len(set(head)) == distinct  # the first batch spreads over every burst
    assert values[0] == max(values)
    # The image queue weighs bursts and thresholds at 0 (QUEUE_WEIGHTS, measured): the
    # uncertainty of the top two classes is what fires here, and no zero-weight reason shows.
    reasons = [r for q in queue for r in q.reasons]
    assert any(r.startswith("margin") for r in reasons)
    assert not any(r.startswith(("disagrees with its burst", "score ")) for r in reasons)

    # A challenger that sees things differently adds its own reason.
    challenger = add_champion(project, review_setup.items, seed=7, name="fake-v2")
    with project.db.session() as session:
        session.add(ModelAlias(alias="challenger", model_version_id=challenger))
    stale = value_queue(project, limit=500)  # the last order, while the new one is computed
    assert stale.refreshing is not None and stale.items == queue
    queue = refreshed(project, limit=500)
    assert any(r.startswith("challenger says") for q in queue for r in q.reasons)

    # A reviewed item leaves the queue at once.
    top = queue[0].media_id
    with project.db.session() as session:
        save_labels(
            session,
            top,
            LabelSet(empty=True),
            author_id=project.author("rita"),
            classes=project.classes,
            expected_revision=0,
        )
    assert top not in {q.media_id for q in value_queue(project, limit=500).items}
    assert value_queue(project, limit=3, exclude=queue[1].media_id).items[0].media_id != top


def test_queue_api_and_cli_list_the_same_items(app_client, review_setup: ReviewSetup) -> None:
    project = review_setup.project
    first = app_client("vic").get("/api/v1/queue?limit=5").json()
    assert first["items"] == [] and first["refreshing"] is not None  # queued, not computed
    page = app_client("rita").get("/queue", follow_redirects=False)
    assert page.headers["location"] == "/grid?reviewed=no"
    # The CLI is no request: it runs the queued refresh itself, then lists the order.
    result = CliRunner().invoke(app, ["queue", "--limit", "5", "--project", str(project.root)])
    assert result.exit_code == 0, result.output
    listed = [int(line.split()[0]) for line in result.output.splitlines()]
    with project.db.session() as session:
        assert session.get_one(Job, first["refreshing"]).state == "succeeded"
    body = app_client("vic").get("/api/v1/queue?limit=5").json()
    assert len(body["items"]) == 5 and body["items"][0]["reasons"]
    assert body["refreshing"] is None and body["computed_at"]
    assert [i["media_id"] for i in body["items"]] == listed
    page = app_client("rita").get("/queue", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == f"/media/{listed[0]}#value"
    assert body["items"][0]["reasons"][0] in result.output.splitlines()[0]
