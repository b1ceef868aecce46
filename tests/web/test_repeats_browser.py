"""The repeat-detections page in headless Chromium, by keyboard only: move with j/k, decide
one group false positive with f and another real with r."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.review import plant_static_box
from tests.web.test_web_browser import browser, log_in, running, tab
from wildloop.review import repeat_decisions
from wildloop.store.tables import Media, RepeatDecision

pytestmark = [pytest.mark.slow, pytest.mark.browser]
__all__ = ["browser"]
RULE = "?min_frames=5&min_bursts=2"


@pytest.fixture
def page(browser: Any, review_setup: Any) -> Iterator[Any]:
    with running(review_setup.project) as url, tab(browser, url) as opened:
        yield opened


def test_decide_repeat_groups_by_keyboard(page: Any, review_setup: Any) -> None:
    project = review_setup.project
    first = plant_static_box(project, review_setup.model_id)
    with project.db.session() as session:
        cameras = session.scalars(select(Media.camera_id).distinct()).all()
        camera_of_first = session.scalar(select(Media.camera_id).where(Media.id == first[0]))
        other = next(c for c in cameras if c is not None and c != camera_of_first)
    plant_static_box(project, review_setup.model_id, other)
    log_in(page, "rita", "/repeats")
    page.goto(f"{page.base}/repeats{RULE}")
    page.wait_for_selector(".evframe.repeat")
    assert page.locator(".evframe.repeat").count() == 2
    assert page.locator(".evframe.repeat .evimg img").count() >= 2  # example crops
    groups = page.locator(".evframe.repeat").evaluate_all("els => els.map(e => e.dataset.group)")
    page.keyboard.press("j")
    page.wait_for_selector(f".evframe.repeat.selected[data-group='{groups[1]}']")
    page.keyboard.press("f")
    page.wait_for_function("document.querySelectorAll('.evframe.repeat').length === 1")
    page.keyboard.press("r")
    page.wait_for_function("document.querySelectorAll('.evframe.repeat').length === 0")
    with project.db.session() as session:
        rows = session.execute(select(RepeatDecision.group_key, RepeatDecision.decision))
        decided = {r.group_key: r.decision for r in rows}
    assert decided == {int(groups[1]): "false_positive", int(groups[0]): "real"}
    page.reload()
    page.wait_for_selector("#tiles")
    assert "No undecided repeat detections" in page.text_content("#tiles")


def test_a_large_decision_shows_its_job_progress_live(
    page: Any,
    review_setup: Any,
    start_executor: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Over SYNC_FRAMES frames (lowered here) the f key answers at once; the page shows the
    job queued, then done with the frames it labelled, without a reload."""
    monkeypatch.setattr(repeat_decisions, "SYNC_FRAMES", 3)
    project = review_setup.project
    planted = plant_static_box(project, review_setup.model_id)
    log_in(page, "rita", "/repeats")
    page.goto(f"{page.base}/repeats{RULE}")
    page.wait_for_selector(".evframe.repeat")
    page.keyboard.press("f")
    page.wait_for_function("document.querySelectorAll('.evframe.repeat').length === 0")
    job = page.wait_for_selector("#decision-jobs .job")
    assert "queued" in job.text_content() and f"/ {len(planted)} frames" in job.text_content()
    start_executor(project)
    page.wait_for_selector("#decision-jobs .done", timeout=30_000)
    line = page.text_content("#decision-jobs .done")
    assert "succeeded" in line and f"{len(planted)} frames labelled" in line
    assert page.locator("#decision-jobs .job").count() == 0
