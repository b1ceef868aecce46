"""The likely-label-errors page in headless Chromium, by keyboard only: both opinions on
screen, one issue changed to the suggested class with s, the next kept with a."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.label_issues import plant_issue
from tests.web.test_web_browser import browser, log_in, running, tab
from wildloop.review.labels import current_labels
from wildloop.store.tables import AuditEntry, LabelIssue

pytestmark = [pytest.mark.slow, pytest.mark.browser]
__all__ = ["browser"]


@pytest.fixture
def page(browser: Any, review_setup: Any) -> Iterator[Any]:
    with running(review_setup.project) as url, tab(browser, url) as opened:
        yield opened


def test_decide_two_label_issues_by_keyboard(page: Any, review_setup: Any) -> None:
    project = review_setup.project
    ids = review_setup.ids()
    first = plant_issue(project, ids[0], "remy", rank=1)
    second = plant_issue(project, ids[1], "remy", rank=2, given="pig", suggested="fawn")
    log_in(page, "rita", "/label-issues")
    page.goto(f"{page.base}/label-issues")
    page.wait_for_selector(".labelissue")
    assert page.locator(".labelissue").count() == 2
    tile = page.text_content(f".labelissue[data-issue='{first}']") or ""
    assert "given: doe" in tile and "by remy" in tile and "suggested: buck (85%)" in tile
    page.keyboard.press("j")
    page.wait_for_selector(f".labelissue.selected[data-issue='{second}']")
    page.keyboard.press("k")
    page.wait_for_selector(f".labelissue.selected[data-issue='{first}']")
    page.keyboard.press("s")
    page.wait_for_function("document.querySelectorAll('.labelissue').length === 1")
    page.wait_for_selector(f".labelissue.selected[data-issue='{second}']")
    page.keyboard.press("a")
    page.wait_for_function("document.querySelectorAll('.labelissue').length === 0")
    with project.db.session() as session:
        decided = dict(session.execute(select(LabelIssue.id, LabelIssue.status)).all())
        changed = current_labels(session, ids[0])
        kept = current_labels(session, ids[1])
        audited = session.scalars(
            select(AuditEntry.entity_id).where(AuditEntry.action == "label_issues.decide")
        ).all()
    assert decided == {first: "changed", second: "kept"}
    assert changed is not None and changed.boxes[0].class_id == project.classes.id_of("buck")
    assert kept is not None and kept.boxes[0].class_id == project.classes.id_of("pig")
    assert sorted(int(a) for a in audited) == sorted([first, second])
    page.reload()
    page.wait_for_selector("#tiles")
    assert "No open label issues" in (page.text_content("#tiles") or "")
    page.goto(f"{page.base}/grid")
    page.click("#byissue")
    page.wait_for_url("**/label-issues")
