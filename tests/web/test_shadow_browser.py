"""The Models page's shadow-run panel in headless Chromium: the figures a job stored, the
link to the disagreements, and from there the review screen of one of them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.models_page import ModelsSetup, better_challenger  # noqa: F401
from tests.web.test_web_browser import ARTIFACTS, browser, log_in, running, tab  # noqa: F401
from wildloop.jobs.local import run_job
from wildloop.processing.shadow import request_agreement

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_the_panel_shows_agreement_and_links_to_the_disagreements(
    browser: Any,  # noqa: F811
    better_challenger: ModelsSetup,  # noqa: F811
) -> None:
    project = better_challenger.project
    with project.db.session() as session:
        job_id = request_agreement(session)
    assert job_id is not None and run_job(project, job_id)["state"] == "succeeded"
    with running(project) as base, tab(browser, base) as page:
        log_in(page, "ada", "/models")
        panel = page.locator("#shadow-card")
        assert "Shadow run" in panel.inner_text()
        agreement = page.locator("#shadow-agreement").inner_text()
        assert "%" in agreement and " of " in agreement
        first = page.locator("#shadow-classes tbody tr").first.locator("td")
        assert first.nth(1).inner_text().isdigit() and first.nth(2).inner_text().isdigit()
        ARTIFACTS.mkdir(exist_ok=True)
        panel.screenshot(path=str(ARTIFACTS / "models-shadow.png"))

        page.fill('#shadow-form input[name="share"]', "0.2")
        page.click('#shadow-form button[type="submit"]')
        page.locator("#flash").filter(has_text="20%").wait_for()
        assert page.locator("#shadow-share").inner_text().startswith("20%")

        page.click("#shadow-disagreements")
        page.wait_for_url(f"{base}/models/shadow")
        rows = page.locator("#disagreements tbody tr[data-media]")
        assert rows.count() > 0
        listed = sorted(int(m) for m in rows.evaluate_all("rs => rs.map(r => r.dataset.media)"))
        page.click("#open-in-grid")
        page.wait_for_url(f"{base}/grid?shadow=disagree")
        page.locator("#grid .tile").first.wait_for()
        tiles = page.locator("#grid .tile").evaluate_all("ts => ts.map(t => t.dataset.id)")
        assert sorted(int(t) for t in tiles) == listed
        page.go_back()
        media_id = rows.first.get_attribute("data-media")
        rows.first.locator("a").click()
        page.wait_for_url(f"{base}/media/{media_id}*")
        assert page.locator("#stage, main").count() > 0
