"""The event view in headless Chromium, by keyboard only: open it from the review screen,
see the suggestion without it being applied, label the whole burst with one key, meet a
conflict, and move on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from tests.crops.test_crop_storage import _process
from tests.support.engine import ingest_dir
from tests.support.review import add_users, db_state
from tests.support.web import USERS
from tests.web.test_web_browser import browser, log_in, running, shot, tab
from wildloop.crops.index import submit_crop_index
from wildloop.domain.labels import LabelSet
from wildloop.jobs.local import run_job
from wildloop.review.labels import save_labels
from wildloop.store.tables import CropEmbedding, Media

pytestmark = [pytest.mark.slow, pytest.mark.browser]
__all__ = ["browser"]


@pytest.fixture
def page(browser: Any, review_setup: Any) -> Iterator[Any]:
    with running(review_setup.project) as url, tab(browser, url) as opened:
        yield opened


def _frames(project: Any, event_id: int) -> list[tuple[int, bool, int]]:
    with project.db.session() as session:
        return [
            tuple(r)
            for r in session.execute(
                select(Media.id, Media.reviewed, Media.label_revision)
                .where(Media.sequence_id == event_id)
                .order_by(Media.captured_at, Media.id)
            )
        ]


def test_label_a_whole_event_by_keyboard(page, review_setup):
    project = review_setup.project
    with project.db.session() as session:
        first, event_id = session.execute(
            select(Media.id, Media.sequence_id).order_by(Media.id).limit(1)
        ).one()
    frames = _frames(project, event_id)
    log_in(page, "rita", f"/media/{first}")
    page.wait_for_function(f"document.getElementById('title').textContent === '#{first}'")
    before = db_state(project)
    page.keyboard.press("Shift+E")  # the item's event
    page.wait_for_url(f"**/events/{event_id}")
    page.wait_for_selector(".evframe")
    assert page.locator(".evframe").count() == len(frames)
    suggestion = page.text_content("#suggestion")
    assert suggestion.startswith("suggested: ")
    shot(page, "event-view")
    assert db_state(project) == before  # shown, never applied by itself

    # Someone saves a frame meanwhile: the key is refused whole, with the reason shown.
    with project.db.session() as session:
        save_labels(
            session,
            frames[-1][0],
            LabelSet(empty=True),
            author_id=project.author("remy"),
            classes=project.classes,
            expected_revision=0,
        )
    stale = db_state(project)
    page.keyboard.press("e")
    page.wait_for_function("!document.getElementById('banner').hidden")
    assert "Conflict" in page.text_content("#banner")
    assert db_state(project) == stale
    # The view reloaded with the fresh revisions: the same key now labels every frame and
    # moves on to the next event with a frame to review.
    page.keyboard.press("e")
    page.wait_for_function(f"!location.pathname.endsWith('/events/{event_id}')")
    after = _frames(project, event_id)
    assert all(reviewed for _, reviewed, _ in after)
    assert [rev for _, _, rev in after[:-1]] == [1] * (len(frames) - 1)

    # Accept the next event's suggestion with Enter, then come back with the arrow key.
    next_id = int(page.url.rsplit("/", 1)[1])
    page.wait_for_function(f"document.getElementById('title').textContent === 'Event {next_id}'")
    page.keyboard.press("Enter")
    page.wait_for_function(f"!location.pathname.endsWith('/events/{next_id}')")
    assert all(reviewed for _, reviewed, _ in _frames(project, next_id))
    page.keyboard.press("ArrowLeft")  # events are in id order: back to the one just labelled
    page.wait_for_function(f"document.getElementById('title').textContent === 'Event {next_id}'")
    assert page.url.endswith(f"/events/{next_id}")


def test_more_like_this_opens_a_batch_from_the_review_screen(browser, project, scenes, tmp_path):
    scenes(bursts=3, seed=5)
    ingest_dir(project, tmp_path / "scenes")
    project.config.crops.embed = True
    project.config.crops.min_score = 0.3
    _process(project)
    add_users(project, USERS)
    assert run_job(project, submit_crop_index(project))["state"] == "succeeded"
    with project.db.session() as session:
        query = session.scalar(select(CropEmbedding.media_id).order_by(CropEmbedding.media_id))
    with running(project) as url, tab(browser, url) as page:
        log_in(page, "rita", f"/media/{query}")
        page.wait_for_function(f"document.getElementById('title').textContent === '#{query}'")
        page.keyboard.press("x")
        page.wait_for_url(f"**/media/{query}/similar")
        page.wait_for_selector(".tile")
        ids = [int(t.get_attribute("data-id")) for t in page.locator(".tile").all()]
        assert ids and query not in ids
        shot(page, "more-like-this")
        page.keyboard.press("Control+a")  # the grid's own selection and batch keys
        page.keyboard.press("e")
        page.wait_for_selector("#toast:not([hidden])")
        assert f"applied to {len(ids)}" in (page.locator("#toast").text_content() or "")
    with project.db.session() as session:
        reviewed = set(session.scalars(select(Media.id).where(Media.reviewed.is_(True))))
    assert reviewed == set(ids)
