"""The review screen's "next most valuable" mode in headless Chromium, by keyboard only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.review import refreshed
from tests.web.test_web_browser import browser, log_in, running, shot, tab
from wildloop.store.tables import Media

pytestmark = [pytest.mark.slow, pytest.mark.browser]
__all__ = ["browser"]


@pytest.fixture
def page(browser: Any, review_setup: Any) -> Iterator[Any]:
    with running(review_setup.project) as url, tab(browser, url) as opened:
        yield opened


def test_value_mode_shows_why_and_advances_to_the_next_most_valuable(page, review_setup):
    project = review_setup.project
    first, second = (q.media_id for q in refreshed(project, limit=2))
    log_in(page, "rita", "/grid")
    page.click("#byvalue")
    page.wait_for_function(f"document.getElementById('title').textContent === '#{first}'")
    page.wait_for_function("document.getElementById('why').textContent.startsWith('why: ')")
    assert page.url.endswith(f"/media/{first}#value")
    shot(page, "review-value-mode")
    page.keyboard.press("e")  # no animal: saved, and on to the next most valuable
    page.wait_for_function(f"document.getElementById('title').textContent === '#{second}'")
    with project.db.session() as session:
        assert session.get(Media, first).reviewed
    page.keyboard.press("v")  # skip: the next most valuable other than the one on screen
    page.wait_for_function(f"document.getElementById('title').textContent !== '#{second}'")
    assert page.url.endswith("#value")
